//go:build linux

package runc

import (
	"context"
	"errors"
	"io"

	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// ErrTooLarge is returned by StreamIn when the stream holds more file data
// than the container's disk limit (or the backend's disk capacity).
var ErrTooLarge = errors.New("runc backend: stream too large")

// StreamIn extracts the tar stream r into dstPath (created if missing), a
// path under /home/vcap or /tmp as the container sees it. Extraction runs
// on the host, confined to the container's disk directory with os.Root (so
// symlinks the container's processes plant cannot lead it out), and every
// entry is owned by the container's user. Entries with absolute names,
// names or hard links escaping dstPath, and symlinks pointing outside
// dstPath fail with ErrInvalidPath. File modes are kept (minus
// setuid/setgid). Extraction stops with ErrTooLarge past the disk limit
// (or ENOSPC at the quota image's end).
func (c *container) StreamIn(ctx context.Context, dstPath string, r io.Reader) error {
	rel, err := c.resolve(dstPath)
	if err != nil {
		return err
	}
	c.mu.Lock()
	err = c.checkAlive()
	limit := c.rec.DiskLimitBytes
	uid := int(c.rec.UID)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = c.b.cap.DiskBytes
	}
	return host.StreamIn(ctx, c.disk, rel, dstPath, r, host.ExtractOptions{Limit: limit, TooLarge: ErrTooLarge, Chown: true, UID: uid})
}

// StreamOut returns a tar stream of srcPath (under /home/vcap or /tmp as
// the container sees it): a directory's entries are named relative to it
// (so StreamIn of the stream recreates the contents), a file is one entry
// named by its base name. Symlinks are archived as symlinks, never
// followed. It works on stopped containers too.
func (c *container) StreamOut(ctx context.Context, srcPath string) (io.ReadCloser, error) {
	rel, err := c.resolve(srcPath)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	err = c.checkAlive()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return host.StreamOut(ctx, c.disk, rel, srcPath)
}

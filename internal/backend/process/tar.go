package process

import (
	"context"
	"errors"
	"io"
	"path/filepath"

	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// ErrTooLarge is returned by StreamIn when the stream holds more file data
// than the container's disk limit (or the backend's disk capacity).
var ErrTooLarge = errors.New("process backend: stream too large")

// StreamIn extracts the tar stream r into dstPath (created if missing),
// which must lie inside the container. Entries with absolute names, names
// or hard links escaping dstPath, and symlinks pointing outside dstPath fail
// with ErrInvalidPath; nothing is ever written outside dstPath, even through
// symlinks already there. File modes are kept (minus setuid/setgid);
// ownership is not. Extraction stops with ErrTooLarge past the disk limit.
func (c *container) StreamIn(ctx context.Context, dstPath string, r io.Reader) error {
	dst, err := c.resolve(dstPath)
	if err != nil {
		return err
	}
	c.mu.Lock()
	err = c.checkAlive()
	limit := c.rec.DiskLimitBytes
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = c.b.cap.DiskBytes
	}
	rel, _ := filepath.Rel(c.dir, dst)
	return host.StreamIn(ctx, c.dir, rel, dstPath, r, host.ExtractOptions{Limit: limit, TooLarge: ErrTooLarge})
}

// StreamOut returns a tar stream of srcPath: a directory's entries are
// named relative to it (so StreamIn of the stream recreates the contents),
// a file is one entry named by its base name. Symlinks are archived as
// symlinks, never followed.
func (c *container) StreamOut(ctx context.Context, srcPath string) (io.ReadCloser, error) {
	src, err := c.resolve(srcPath)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	err = c.checkAlive()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(c.dir, src)
	return host.StreamOut(ctx, c.dir, rel, srcPath)
}

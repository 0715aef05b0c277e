package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Limits on keys, so every key maps to a valid path on every filesystem.
const (
	MaxKeyLength     = 1024
	MaxSegmentLength = 200
)

// blobSuffix ends every blob file's name. It holds a character keys cannot
// contain, so a blob file never collides with a directory made for a
// longer key ("a" and "a/b" can both hold blobs) nor with a temp file.
const blobSuffix = "@blob"

// tempPattern names Put's temp files: "<base>@blob.<random>.tmp".
const tempSuffix = ".tmp"

// ValidateKey reports whether key is a valid blob key; the error wraps
// ErrInvalidKey.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > MaxKeyLength {
		return fmt.Errorf("%w: key is longer than %d bytes", ErrInvalidKey, MaxKeyLength)
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, key, seg)
		case len(seg) > MaxSegmentLength:
			return fmt.Errorf("%w: %q has a segment longer than %d bytes", ErrInvalidKey, key, MaxSegmentLength)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q contains %q (allowed: a-z 0-9 . _ -)", ErrInvalidKey, key, c)
			}
		}
	}
	return nil
}

// Local is a Store in a directory: the blob of key "packages/x" is the file
// <dir>/packages/x@blob. Put writes a temp file beside it, syncs it and
// renames it into place, so readers see the old or the whole new blob, also
// across processes sharing the directory (an NFS mount included).
type Local struct {
	dir string
}

var _ Store = (*Local)(nil)

// NewLocal opens (creating if needed) the blobstore rooted at dir.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("local blobstore: directory is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local blobstore %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("local blobstore: create %s: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("local blobstore %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local blobstore: %s is not a directory", abs)
	}
	return &Local{dir: abs}, nil
}

// Dir is the root directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, filepath.FromSlash(key)) + blobSuffix, nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put stores r under key atomically and returns the bytes written.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (n int64, err error) {
	p, err := l.path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(p)+".*"+tempSuffix)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	n, err = io.Copy(f, ctxReader{ctx: ctx, r: r})
	if err != nil {
		return 0, fmt.Errorf("put %s: write: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("put %s: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("put %s: close: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return 0, fmt.Errorf("put %s: rename: %w", key, err)
	}
	syncDir(dir)
	return n, nil
}

// syncDir makes a rename durable; filesystems that cannot sync a directory
// are not an error.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// isMissing reports errors that mean "no blob there".
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get opens the blob under key; the caller closes it.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(p)
	if isMissing(err) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return f, nil
}

// Exists reports whether key holds a blob.
func (l *Local) Exists(ctx context.Context, key string) (bool, error) {
	p, err := l.path(key)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("exists %s: %w", key, err)
	}
	fi, err := os.Stat(p)
	if isMissing(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("exists %s: %w", key, err)
	}
	return fi.Mode().IsRegular(), nil
}

// Delete removes key; an absent key is not an error. Directories left empty
// stay (a concurrent Put may be about to use them).
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(p); err != nil && !isMissing(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// RemoveStaleTemp deletes temp files of Puts that died (a crash between
// create and rename) and are older than olderThan. It returns how many it
// removed.
func (l *Local) RemoveStaleTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err := filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if isMissing(err) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || !strings.HasSuffix(name, tempSuffix) || !strings.Contains(name, blobSuffix+".") {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.ModTime().After(cutoff) {
			return nil
		}
		if err := os.Remove(path); err == nil {
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("remove stale temp files: %w", err)
	}
	return removed, nil
}

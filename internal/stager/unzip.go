package stager

import (
	"archive/tar"
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// ErrBadPackage wraps every reason an app package is refused: not a zip,
// an entry escaping the app, too many files, too many bytes.
var ErrBadPackage = errors.New("invalid app package")

const (
	maxEntryNameLen   = 4096
	maxSymlinkTarget  = 4096
	defaultFileMode   = 0o644
	defaultDirMode    = 0o755
	minimumFileAccess = 0o600
)

// zipEpoch replaces missing or pre-1980 modification times (zip cannot
// express earlier ones anyway).
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipLimits bounds an unpacked package.
type zipLimits struct {
	// MaxFiles bounds the number of entries (files, directories, links).
	MaxFiles int
	// MaxBytes bounds the total unpacked size of the files.
	MaxBytes int64
}

// zipStats describes a converted package.
type zipStats struct {
	Files int
	Bytes int64
}

func badPackage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPackage, fmt.Sprintf(format, args...))
}

// cleanEntryName checks a zip entry name and returns it cleaned and
// slash-separated, or "" for the root itself. It refuses absolute paths,
// drive letters, NUL bytes and any ".." element: the Zip Slip family.
func cleanEntryName(name string) (string, error) {
	if len(name) > maxEntryNameLen {
		return "", badPackage("entry name longer than %d bytes", maxEntryNameLen)
	}
	if strings.ContainsRune(name, 0) {
		return "", badPackage("entry name %q contains a NUL byte", name)
	}
	// Zips made on Windows sometimes use backslashes.
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") {
		return "", badPackage("entry %q has an absolute path", name)
	}
	if len(n) >= 2 && n[1] == ':' {
		return "", badPackage("entry %q has a drive letter", name)
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", badPackage("entry %q escapes the app directory", name)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	if !fs.ValidPath(c) {
		return "", badPackage("entry %q is not a valid path", name)
	}
	return c, nil
}

// zipConverter turns a zip into a tar stream while checking every entry.
type zipConverter struct {
	tw       *tar.Writer
	lim      zipLimits
	stats    zipStats
	seen     map[string]bool // every entry and implied directory written
	dirs     map[string]bool // directories (explicit or implied)
	symlinks map[string]bool
}

// zipToTar reads the zip archive r (of size bytes) and writes its entries
// to w as a tar stream with the same relative names, after checking each:
// no absolute paths or "..", no symbolic link pointing outside the app, no
// entry under a symbolic link, no special files, no duplicates, at most
// lim.MaxFiles entries and lim.MaxBytes unpacked bytes. Parent directories
// are written before their contents. Files keep their permission bits
// (made at least owner read/write); directories are 0755.
func zipToTar(r io.ReaderAt, size int64, w io.Writer, lim zipLimits) (zipStats, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return zipStats{}, badPackage("not a valid zip archive: %v", err)
	}
	if lim.MaxFiles > 0 && len(zr.File) > lim.MaxFiles {
		return zipStats{}, badPackage("%d files is more than the limit of %d", len(zr.File), lim.MaxFiles)
	}
	c := &zipConverter{
		tw:       tar.NewWriter(w),
		lim:      lim,
		seen:     make(map[string]bool),
		dirs:     make(map[string]bool),
		symlinks: make(map[string]bool),
	}
	for _, f := range zr.File {
		if err := c.entry(f); err != nil {
			return c.stats, err
		}
	}
	if err := c.tw.Close(); err != nil {
		return c.stats, fmt.Errorf("writing the package stream: %w", err)
	}
	return c.stats, nil
}

func (c *zipConverter) entry(f *zip.File) error {
	name, err := cleanEntryName(f.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return nil // the root directory itself
	}
	mode := f.Mode()
	isDir := mode.IsDir() || strings.HasSuffix(f.Name, "/") || strings.HasSuffix(f.Name, `\`)
	if c.seen[name] {
		if isDir && c.dirs[name] {
			return nil // an explicit entry for a directory already implied
		}
		return badPackage("duplicate entry %q", name)
	}
	if err := c.checkAncestors(name); err != nil {
		return err
	}
	if err := c.count(); err != nil {
		return err
	}
	mtime := f.Modified
	if mtime.Before(zipEpoch) {
		mtime = zipEpoch
	}
	switch {
	case isDir:
		return c.writeDir(name, mtime)
	case mode&fs.ModeSymlink != 0:
		return c.writeSymlink(f, name, mtime)
	case mode.IsRegular():
		return c.writeFile(f, name, mode, mtime)
	default:
		return badPackage("entry %q is a special file (%v), which a package cannot hold", name, mode.Type())
	}
}

// checkAncestors refuses an entry below a symbolic link and writes the
// directories above it that the zip did not list.
func (c *zipConverter) checkAncestors(name string) error {
	var parents []string
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if c.symlinks[d] {
			return badPackage("entry %q is below the symbolic link %q", name, d)
		}
		if c.seen[d] && !c.dirs[d] {
			return badPackage("entry %q is below the file %q", name, d)
		}
		parents = append(parents, d)
	}
	for i := len(parents) - 1; i >= 0; i-- {
		d := parents[i]
		if c.seen[d] {
			continue
		}
		if err := c.count(); err != nil {
			return err
		}
		if err := c.writeDir(d, zipEpoch); err != nil {
			return err
		}
	}
	return nil
}

// count counts one more entry (listed, or a directory it implies) against
// the limit.
func (c *zipConverter) count() error {
	c.stats.Files++
	if c.lim.MaxFiles > 0 && c.stats.Files > c.lim.MaxFiles {
		return badPackage("more than the limit of %d files", c.lim.MaxFiles)
	}
	return nil
}

func (c *zipConverter) writeDir(name string, mtime time.Time) error {
	c.seen[name] = true
	c.dirs[name] = true
	return c.header(&tar.Header{
		Typeflag: tar.TypeDir,
		Name:     name + "/",
		Mode:     defaultDirMode,
		ModTime:  mtime,
	})
}

func (c *zipConverter) writeSymlink(f *zip.File, name string, mtime time.Time) error {
	if f.UncompressedSize64 > maxSymlinkTarget {
		return badPackage("symbolic link %q has a target longer than %d bytes", name, maxSymlinkTarget)
	}
	rc, err := f.Open()
	if err != nil {
		return badPackage("reading %q: %v", name, err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxSymlinkTarget+1))
	rc.Close()
	if err != nil {
		return badPackage("reading %q: %v", name, err)
	}
	target := string(b)
	if len(b) > maxSymlinkTarget {
		return badPackage("symbolic link %q has a target longer than %d bytes", name, maxSymlinkTarget)
	}
	if target == "" || strings.ContainsRune(target, 0) {
		return badPackage("symbolic link %q has an invalid target", name)
	}
	if strings.HasPrefix(target, "/") || strings.HasPrefix(target, `\`) || (len(target) >= 2 && target[1] == ':') {
		return badPackage("symbolic link %q points to the absolute path %q", name, target)
	}
	resolved := path.Join(path.Dir(name), strings.ReplaceAll(target, `\`, "/"))
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return badPackage("symbolic link %q points outside the app (%q)", name, target)
	}
	c.seen[name] = true
	c.symlinks[name] = true
	return c.header(&tar.Header{
		Typeflag: tar.TypeSymlink,
		Name:     name,
		Linkname: target,
		Mode:     0o777,
		ModTime:  mtime,
	})
}

func (c *zipConverter) writeFile(f *zip.File, name string, mode fs.FileMode, mtime time.Time) error {
	size := f.UncompressedSize64
	remaining := c.lim.MaxBytes - c.stats.Bytes
	if c.lim.MaxBytes > 0 && (size > uint64(remaining)) {
		return badPackage("unpacked size is more than the limit of %d bytes (at %q)", c.lim.MaxBytes, name)
	}
	if size > 1<<62 {
		return badPackage("entry %q is too large", name)
	}
	perm := mode.Perm()
	if perm == 0 {
		perm = defaultFileMode
	}
	perm |= minimumFileAccess
	rc, err := f.Open()
	if err != nil {
		return badPackage("reading %q: %v", name, err)
	}
	defer rc.Close()
	c.seen[name] = true
	if err := c.header(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     int64(perm),
		Size:     int64(size),
		ModTime:  mtime,
	}); err != nil {
		return err
	}
	// archive/zip checks the CRC and that the data is exactly the declared
	// size; the tar writer refuses more than the header's size.
	src := &readErrTracker{r: io.LimitReader(rc, int64(size)+1)}
	n, err := io.Copy(c.tw, src)
	c.stats.Bytes += n
	switch {
	case src.err != nil:
		return badPackage("reading %q: %v", name, src.err)
	case errors.Is(err, tar.ErrWriteTooLong):
		return badPackage("entry %q holds more data than its declared size", name)
	case err != nil:
		return fmt.Errorf("writing %q to the package stream: %w", name, err)
	case n != int64(size):
		return badPackage("entry %q is shorter than its declared size", name)
	}
	return nil
}

// readErrTracker remembers the first read error other than io.EOF, so a
// copy can tell a corrupt archive from a failing destination.
type readErrTracker struct {
	r   io.Reader
	err error
}

func (t *readErrTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

func (c *zipConverter) header(h *tar.Header) error {
	h.Format = tar.FormatPAX
	if err := c.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing %q to the package stream: %w", h.Name, err)
	}
	return nil
}

// Package pkgzip validates uploaded app packages (zips) before anything is
// stored: no entry may escape the app directory (.., absolute paths,
// symlinks pointing outside), only files, directories and symlinks are
// allowed, and the file count and the unpacked size are bounded — the
// declared sizes and the bytes actually inflated are both counted, so a zip
// bomb is stopped after at most the limit is read.
package pkgzip

import (
	"archive/zip"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// ErrInvalid wraps every reason a package is rejected.
var ErrInvalid = errors.New("invalid package")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Limits bound a package.
type Limits struct {
	// MaxFiles is the most entries (files, directories and symlinks).
	MaxFiles int
	// MaxBytes is the most unpacked bytes.
	MaxBytes int64
}

// MaxSymlinkTarget bounds a symlink's target length.
const MaxSymlinkTarget = 4096

// Entry is one validated zip entry.
type Entry struct {
	File *zip.File
	// Name is the cleaned relative path (no leading "./", no trailing "/").
	Name string
	// Mode is the permission bits plus ModeDir or ModeSymlink.
	Mode fs.FileMode
	Size int64
	// SHA1 is the hex sha1 of a regular file's content.
	SHA1 string
	// Target is a symlink's target.
	Target string
}

// IsDir reports whether the entry is a directory.
func (e *Entry) IsDir() bool { return e.Mode&fs.ModeDir != 0 }

// IsSymlink reports whether the entry is a symbolic link.
func (e *Entry) IsSymlink() bool { return e.Mode&fs.ModeSymlink != 0 }

// CleanPath validates a relative path inside the app and returns it
// cleaned. It rejects empty and absolute paths, ".." segments, backslashes,
// drive letters and control characters.
func CleanPath(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty path")
	case len(p) > 4096:
		return "", errors.New("path longer than 4096 bytes")
	case strings.ContainsAny(p, "\x00\\"):
		return "", fmt.Errorf("path %q contains a NUL or a backslash", p)
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("path %q is absolute", p)
	case len(p) >= 2 && p[1] == ':':
		return "", fmt.Errorf("path %q has a drive letter", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("path %q contains a control character", p)
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("path %q escapes the app directory", p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// CheckSymlink validates a symlink at name pointing to target: the target
// must be relative and resolve inside the app directory.
func CheckSymlink(name, target string) error {
	switch {
	case target == "":
		return fmt.Errorf("symlink %q has an empty target", name)
	case len(target) > MaxSymlinkTarget:
		return fmt.Errorf("symlink %q has a target longer than %d bytes", name, MaxSymlinkTarget)
	case strings.ContainsAny(target, "\x00\\"):
		return fmt.Errorf("symlink %q has a target with a NUL or a backslash", name)
	case strings.HasPrefix(target, "/"):
		return fmt.Errorf("symlink %q points to absolute path %q outside the app", name, target)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink %q points to %q outside the app", name, target)
	}
	return nil
}

// Budget is what the zip may still use, after matched resources.
type Budget struct {
	Files int
	Bytes int64
}

// Validate checks every entry of zr within b and returns the entries with
// their content hashes. It reads each file completely (bounded by the
// remaining byte budget). Directory entries for "." are dropped.
func Validate(zr *zip.Reader, b Budget) ([]Entry, error) {
	if len(zr.File) > b.Files {
		return nil, invalid("the package has %d entries, more than the limit of %d files", len(zr.File), b.Files)
	}
	var declared uint64
	for _, f := range zr.File {
		declared += f.UncompressedSize64
		if declared > uint64(b.Bytes) {
			return nil, invalid("the package unpacks to more than the limit of %d bytes", b.Bytes)
		}
	}
	seen := make(map[string]bool, len(zr.File))
	out := make([]Entry, 0, len(zr.File))
	remaining := b.Bytes
	for _, f := range zr.File {
		name, err := CleanPath(strings.TrimSuffix(f.Name, "/"))
		if f.Name == "/" || f.Name == "./" {
			name, err = "", nil
		}
		if err != nil {
			return nil, invalid("zip entry %q: %v", f.Name, err)
		}
		mode := f.Mode()
		isDir := mode.IsDir() || strings.HasSuffix(f.Name, "/")
		if name == "" {
			if !isDir {
				return nil, invalid("zip entry %q has no name", f.Name)
			}
			continue
		}
		if seen[name] {
			return nil, invalid("zip entry %q appears more than once", name)
		}
		seen[name] = true
		perm := mode.Perm()
		switch {
		case isDir:
			if perm == 0 {
				perm = 0o755
			}
			out = append(out, Entry{File: f, Name: name, Mode: fs.ModeDir | perm | 0o700})
		case mode&fs.ModeSymlink != 0:
			target, err := readBounded(f, MaxSymlinkTarget)
			if err != nil {
				return nil, invalid("zip entry %q: %v", name, err)
			}
			if err := CheckSymlink(name, string(target)); err != nil {
				return nil, invalid("%v", err)
			}
			out = append(out, Entry{File: f, Name: name, Mode: fs.ModeSymlink | 0o777, Target: string(target)})
		case mode.IsRegular():
			if perm == 0 {
				perm = 0o644
			}
			h := sha1.New()
			n, err := copyBounded(h, f, remaining)
			if err != nil {
				return nil, invalid("zip entry %q: %v", name, err)
			}
			remaining -= n
			out = append(out, Entry{File: f, Name: name, Mode: perm | 0o400, Size: n, SHA1: hex.EncodeToString(h.Sum(nil))})
		default:
			return nil, invalid("zip entry %q is a %s; only files, directories and symlinks are allowed", name, typeName(mode))
		}
	}
	// A file may not sit below a path that is a file or a symlink.
	isDir := make(map[string]bool, len(out))
	for _, e := range out {
		isDir[e.Name] = e.IsDir()
	}
	for _, e := range out {
		for dir := path.Dir(e.Name); dir != "."; dir = path.Dir(dir) {
			if d, ok := isDir[dir]; ok && !d {
				return nil, invalid("zip entry %q is below %q, which is not a directory", e.Name, dir)
			}
		}
	}
	return out, nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// copyBounded copies f's content to w, failing when it is longer than
// limit bytes or damaged.
func copyBounded(w io.Writer, f *zip.File, limit int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, zipErr(err)
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, limit+1))
	if err != nil {
		return n, zipErr(err)
	}
	if n > limit {
		return n, errors.New("the package unpacks to more than the size limit")
	}
	return n, nil
}

func readBounded(f *zip.File, limit int64) ([]byte, error) {
	var sb strings.Builder
	if _, err := copyBounded(&sb, f, limit); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

func zipErr(err error) error {
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return errors.New("content does not match its checksum (damaged zip)")
	case errors.Is(err, zip.ErrFormat), errors.Is(err, zip.ErrAlgorithm):
		return fmt.Errorf("not a valid zip entry: %v", err)
	}
	return fmt.Errorf("read: %v", err)
}

// OpenError explains why a file is not a zip at all.
func OpenError(err error) error {
	return invalid("the uploaded bits are not a valid zip file (%v)", err)
}

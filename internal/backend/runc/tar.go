//go:build linux

package runc

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ingot-paas/ingot/internal/backend"
)

// maxTarEntries bounds the number of entries one StreamIn extracts.
const maxTarEntries = 1_000_000

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
	root, err := os.OpenRoot(c.disk)
	if err != nil {
		return fmt.Errorf("stream in: %w", err)
	}
	defer root.Close()
	if err := mkdirAllOwned(root, rel, uid); err != nil {
		return fmt.Errorf("stream in: create %s: %w", dstPath, err)
	}
	sub, err := root.OpenRoot(rel)
	if err != nil {
		return fmt.Errorf("stream in: open %s: %w", dstPath, rootErr(err))
	}
	defer sub.Close()
	if err := extractTar(ctx, sub, r, limit, uid); err != nil {
		return fmt.Errorf("stream in to %s: %w", dstPath, err)
	}
	return nil
}

// mkdirAllOwned creates every missing directory of rel under root, owned
// by uid.
func mkdirAllOwned(root *os.Root, rel string, uid int) error {
	if rel == "." || rel == "" {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == "" || part == "." {
			continue
		}
		cur = path.Join(cur, part)
		err := root.Mkdir(cur, 0o755)
		switch {
		case err == nil:
			if err := root.Lchown(cur, uid, uid); err != nil {
				return rootErr(err)
			}
		case errors.Is(err, fs.ErrExist):
			fi, err := root.Stat(cur)
			if err != nil {
				return rootErr(err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", cur)
			}
		default:
			return rootErr(err)
		}
	}
	return nil
}

// rootErr maps os.Root's "path escapes from parent" to ErrInvalidPath.
func rootErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %v", backend.ErrInvalidPath, err)
	}
	return err
}

// cleanName validates a tar entry name and returns it cleaned and relative
// ("." for the destination itself).
func cleanName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty entry name", backend.ErrInvalidPath)
	}
	if strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: absolute entry name %q", backend.ErrInvalidPath, name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: entry %q escapes the destination", backend.ErrInvalidPath, name)
	}
	return filepath.FromSlash(clean), nil
}

type dirMode struct {
	name string
	mode fs.FileMode
}

// extractTar writes r's entries under root, bounded to limit bytes of file
// data. It never writes outside root.
func extractTar(ctx context.Context, root *os.Root, r io.Reader, limit uint64, uid int) error {
	tr := tar.NewReader(r)
	var dirs []dirMode
	var total uint64
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= maxTarEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, maxTarEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := mkdirAllOwned(root, name, uid); err != nil {
					return fmt.Errorf("create dir %s: %w", name, err)
				}
			}
			dirs = append(dirs, dirMode{name, mode | fs.FileMode(hdr.Mode)&fs.ModeSticky})
		case tar.TypeReg, tar.TypeRegA:
			if name == "." {
				return fmt.Errorf("%w: file entry %q names the destination", backend.ErrInvalidPath, hdr.Name)
			}
			if err := prepare(root, name, uid); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("create %s: %w", name, rootErr(err))
			}
			w, err := io.Copy(f, io.LimitReader(tr, int64(min(limit-total, 1<<62))+1))
			total += uint64(w)
			if err == nil && total > limit {
				err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
			}
			if err == nil {
				err = f.Chown(uid, uid)
			}
			if err == nil {
				err = f.Chmod(mode)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if name == "." {
				return fmt.Errorf("%w: symlink entry %q names the destination", backend.ErrInvalidPath, hdr.Name)
			}
			if err := checkLinkTarget(name, hdr.Linkname); err != nil {
				return err
			}
			if err := prepare(root, name, uid); err != nil {
				return err
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("symlink %s: %w", name, rootErr(err))
			}
			if err := root.Lchown(name, uid, uid); err != nil {
				return fmt.Errorf("chown %s: %w", name, rootErr(err))
			}
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil || target == "." {
				return fmt.Errorf("%w: hard link %q → %q escapes the destination", backend.ErrInvalidPath, hdr.Name, hdr.Linkname)
			}
			if err := prepare(root, name, uid); err != nil {
				return err
			}
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("link %s: %w", name, rootErr(err))
			}
		default:
			// Devices, fifos and the like have no place in a droplet.
			continue
		}
	}
	// Directory modes last, so read-only directories could be filled.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
			return fmt.Errorf("chmod %s: %w", dirs[i].name, rootErr(err))
		}
	}
	return nil
}

// checkLinkTarget rejects a symlink at name whose target is absolute or
// resolves (lexically) outside the destination.
func checkLinkTarget(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return fmt.Errorf("%w: symlink %q → %q points outside the destination", backend.ErrInvalidPath, name, target)
	}
	resolved := path.Clean(path.Join(path.Dir(filepath.ToSlash(name)), target))
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("%w: symlink %q → %q points outside the destination", backend.ErrInvalidPath, name, target)
	}
	return nil
}

// prepare creates name's parent and removes whatever non-directory is at
// name, so the new entry replaces it instead of writing through it.
func prepare(root *os.Root, name string, uid int) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := mkdirAllOwned(root, dir, uid); err != nil {
			return fmt.Errorf("create dir %s: %w", dir, err)
		}
	}
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("stat %s: %w", name, rootErr(err))
	case fi.IsDir():
		return fmt.Errorf("%w: entry %s would replace a directory", backend.ErrInvalidPath, name)
	}
	if err := root.Remove(name); err != nil {
		return fmt.Errorf("replace %s: %w", name, rootErr(err))
	}
	return nil
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
	root, err := os.OpenRoot(c.disk)
	if err != nil {
		return nil, fmt.Errorf("stream out: %w", err)
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("stream out %s: %w", srcPath, rootErr(err))
	}
	var sub *os.Root
	if fi.IsDir() {
		sub, err = root.OpenRoot(rel)
	} else {
		sub, err = root.OpenRoot(path.Dir(rel))
	}
	root.Close()
	if err != nil {
		return nil, fmt.Errorf("stream out %s: %w", srcPath, rootErr(err))
	}
	pr, pw := io.Pipe()
	go func() {
		defer sub.Close()
		tw := tar.NewWriter(pw)
		var err error
		if fi.IsDir() {
			err = writeTree(ctx, tw, sub)
		} else {
			err = writeEntry(tw, sub, path.Base(rel), fi)
		}
		if cerr := tw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func writeTree(ctx context.Context, tw *tar.Writer, root *os.Root) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return err
		}
		return writeEntry(tw, root, p, fi)
	})
}

func writeEntry(tw *tar.Writer, root *os.Root, name string, fi fs.FileInfo) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		l, err := root.Readlink(name)
		if err != nil {
			return err
		}
		link = l
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = filepath.ToSlash(name)
	if fi.IsDir() {
		if name == "." {
			hdr.Name = "./"
		} else {
			hdr.Name += "/"
		}
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}

package host

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

// MaxTarEntries bounds the number of entries one extraction takes.
const MaxTarEntries = 1_000_000

// ExtractOptions says how Extract writes a stream.
type ExtractOptions struct {
	// Limit bounds the bytes of file data extracted.
	Limit uint64
	// TooLarge is the error (a backend's sentinel) wrapped when the stream
	// holds more than Limit bytes or MaxTarEntries entries.
	TooLarge error
	// Chown: every entry, and every directory made for one, is owned by
	// UID:UID. Otherwise ownership is the extracting process's.
	Chown bool
	UID   int
}

// StreamIn extracts the tar stream r into rel (a slash-separated path
// relative to dir, created if missing), confined to dir with os.Root so
// that nothing, not even through symlinks already there, is written
// outside it. dst names the destination in errors (the path as the
// container sees it).
func StreamIn(ctx context.Context, dir, rel, dst string, r io.Reader, opts ExtractOptions) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("stream in: %w", err)
	}
	defer root.Close()
	if err := mkdirAll(root, rel, opts); err != nil {
		return fmt.Errorf("stream in: create %s: %w", dst, err)
	}
	sub, err := root.OpenRoot(rel)
	if err != nil {
		return fmt.Errorf("stream in: open %s: %w", dst, RootErr(err))
	}
	defer sub.Close()
	if err := Extract(ctx, sub, r, opts); err != nil {
		return fmt.Errorf("stream in to %s: %w", dst, err)
	}
	return nil
}

// mkdirAll creates rel under root with its missing parents (owned as opts
// says); errors escaping root are ErrInvalidPath.
func mkdirAll(root *os.Root, rel string, opts ExtractOptions) error {
	if !opts.Chown {
		return RootErr(root.MkdirAll(rel, 0o755))
	}
	return mkdirAllOwned(root, rel, opts.UID)
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
				return RootErr(err)
			}
		case errors.Is(err, fs.ErrExist):
			fi, err := root.Stat(cur)
			if err != nil {
				return RootErr(err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", cur)
			}
		default:
			return RootErr(err)
		}
	}
	return nil
}

// RootErr maps os.Root's "path escapes from parent" to ErrInvalidPath.
func RootErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %v", backend.ErrInvalidPath, err)
	}
	return err
}

// CleanName validates a tar entry name and returns it cleaned and relative
// ("." for the destination itself).
func CleanName(name string) (string, error) {
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

// Extract writes r's entries under root, bounded to opts.Limit bytes of
// file data. It never writes outside root. Entries with absolute names,
// names or hard links escaping root, and symlinks pointing outside it fail
// with ErrInvalidPath. File modes are kept (minus setuid/setgid); devices,
// fifos and the like are skipped.
func Extract(ctx context.Context, root *os.Root, r io.Reader, opts ExtractOptions) error {
	tr := tar.NewReader(r)
	var dirs []dirMode
	var total uint64
	limit := opts.Limit
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= MaxTarEntries {
			return fmt.Errorf("%w: more than %d entries", opts.TooLarge, MaxTarEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name, err := CleanName(hdr.Name)
		if err != nil {
			return err
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := mkdirAll(root, name, opts); err != nil {
					return fmt.Errorf("create dir %s: %w", name, err)
				}
			}
			dirs = append(dirs, dirMode{name, mode | fs.FileMode(hdr.Mode)&fs.ModeSticky})
		case tar.TypeReg, tar.TypeRegA:
			if name == "." {
				return fmt.Errorf("%w: file entry %q names the destination", backend.ErrInvalidPath, hdr.Name)
			}
			if err := prepare(root, name, opts); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("create %s: %w", name, RootErr(err))
			}
			w, err := io.Copy(f, io.LimitReader(tr, int64(min(limit-total, 1<<62))+1))
			total += uint64(w)
			if err == nil && total > limit {
				err = fmt.Errorf("%w: more than %d bytes", opts.TooLarge, limit)
			}
			if err == nil && opts.Chown {
				err = f.Chown(opts.UID, opts.UID)
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
			if err := prepare(root, name, opts); err != nil {
				return err
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("symlink %s: %w", name, RootErr(err))
			}
			if opts.Chown {
				if err := root.Lchown(name, opts.UID, opts.UID); err != nil {
					return fmt.Errorf("chown %s: %w", name, RootErr(err))
				}
			}
		case tar.TypeLink:
			target, err := CleanName(hdr.Linkname)
			if err != nil || target == "." {
				return fmt.Errorf("%w: hard link %q → %q escapes the destination", backend.ErrInvalidPath, hdr.Name, hdr.Linkname)
			}
			if err := prepare(root, name, opts); err != nil {
				return err
			}
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("link %s: %w", name, RootErr(err))
			}
		default:
			// Devices, fifos and the like have no place in a droplet.
			continue
		}
	}
	// Directory modes last, so read-only directories could be filled.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
			return fmt.Errorf("chmod %s: %w", dirs[i].name, RootErr(err))
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
func prepare(root *os.Root, name string, opts ExtractOptions) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := mkdirAll(root, dir, opts); err != nil {
			return fmt.Errorf("create dir %s: %w", dir, err)
		}
	}
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("stat %s: %w", name, RootErr(err))
	case fi.IsDir():
		return fmt.Errorf("%w: entry %s would replace a directory", backend.ErrInvalidPath, name)
	}
	if err := root.Remove(name); err != nil {
		return fmt.Errorf("replace %s: %w", name, RootErr(err))
	}
	return nil
}

// StreamOut returns a tar stream of rel (a slash-separated path relative
// to dir, read through os.Root): a directory's entries are named relative
// to it (so StreamIn of the stream recreates the contents), a file is one
// entry named by its base name. Symlinks are archived as symlinks, never
// followed; ownership is not recorded. src names the source in errors.
func StreamOut(ctx context.Context, dir, rel, src string) (io.ReadCloser, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("stream out: %w", err)
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("stream out %s: %w", src, RootErr(err))
	}
	var sub *os.Root
	if fi.IsDir() {
		sub, err = root.OpenRoot(rel)
	} else {
		sub, err = root.OpenRoot(filepath.Dir(rel))
	}
	root.Close()
	if err != nil {
		return nil, fmt.Errorf("stream out %s: %w", src, RootErr(err))
	}
	pr, pw := io.Pipe()
	go func() {
		defer sub.Close()
		tw := tar.NewWriter(pw)
		var err error
		if fi.IsDir() {
			err = writeTree(ctx, tw, sub)
		} else {
			err = writeEntry(tw, sub, filepath.Base(rel), fi)
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

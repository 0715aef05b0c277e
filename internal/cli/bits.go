package cli

import (
	"archive/zip"
	"crypto/sha1" //nolint:gosec // the v3 resource_matches API is keyed by SHA-1
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ingot-paas/ingot/pkg/client"
)

// Bounds of an app's bits.
const (
	maxAppFiles = 200000
	// defaultArchiveFileMode is the mode of archive entries without one
	// (as the cf CLI does).
	defaultArchiveFileMode = 0o744
	// creatorUnix is the zip "version made by" host of Unix.
	creatorUnix = 3
)

// ErrNoAppFiles is returned when the app path holds no files to push.
var ErrNoAppFiles = errors.New("no app files found")

// appFile is one file or directory of the app's bits.
type appFile struct {
	// rel is the slash-separated path inside the app.
	rel  string
	dir  bool
	mode fs.FileMode
	size int64
	sha1 string
	// open returns the content.
	open func() (io.ReadCloser, error)
}

// appBits is the set of files to push, sorted by path.
type appBits struct {
	files  []appFile
	closer io.Closer
}

// Close releases an opened archive.
func (b *appBits) Close() error {
	if b.closer != nil {
		return b.closer.Close()
	}
	return nil
}

// isArchivePath tells whether the app path is an archive whose contents
// are pushed.
func isArchivePath(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".zip", ".jar", ".war":
		return true
	}
	return false
}

// gatherBits collects the files of an app directory (honouring
// .cfignore) or of a .zip/.jar/.war archive, with SHA-1 and mode.
func gatherBits(src string) (*appBits, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("app path: %w", err)
	}
	var b *appBits
	switch {
	case st.IsDir():
		b, err = gatherDir(src)
	case isArchivePath(src):
		b, err = gatherArchive(src)
	default:
		return nil, fmt.Errorf("app path %s is neither a directory nor a .zip, .jar or .war archive", src)
	}
	if err != nil {
		return nil, err
	}
	hasFile := false
	for _, f := range b.files {
		if !f.dir {
			hasFile = true
			break
		}
	}
	if !hasFile {
		b.Close()
		return nil, fmt.Errorf("%w in %s", ErrNoAppFiles, src)
	}
	sort.Slice(b.files, func(i, j int) bool { return b.files[i].rel < b.files[j].rel })
	return b, nil
}

func gatherDir(root string) (*appBits, error) {
	ign, err := loadCfignore(root)
	if err != nil {
		return nil, err
	}
	b := &appBits{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		relOS, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(relOS)
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			// Follow links to files; links to directories could loop.
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !isDir && !d.Type().IsRegular() {
			return nil // sockets, devices, pipes
		}
		if ign.Match(rel, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if len(b.files) >= maxAppFiles {
			return fmt.Errorf("app has more than %d files", maxAppFiles)
		}
		if isDir {
			b.files = append(b.files, appFile{rel: rel, dir: true, mode: 0o755})
			return nil
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sum, err := sha1File(p)
		if err != nil {
			return err
		}
		b.files = append(b.files, appFile{
			rel: rel, mode: st.Mode().Perm(), size: st.Size(), sha1: sum,
			open: func() (io.ReadCloser, error) { return os.Open(p) },
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read app directory %s: %w", root, err)
	}
	return b, nil
}

func sha1File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha1.New() //nolint:gosec // API contract
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// safeArchiveName cleans an archive entry name; ok is false for names that
// would escape the app root.
func safeArchiveName(name string) (string, bool) {
	if name == "" || strings.Contains(name, `\`) || strings.HasPrefix(name, "/") {
		return "", false
	}
	clean := path.Clean(name)
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

func gatherArchive(p string) (*appBits, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", p, err)
	}
	b := &appBits{closer: zr}
	seen := map[string]bool{}
	for _, zf := range zr.File {
		rel, ok := safeArchiveName(zf.Name)
		if !ok {
			zr.Close()
			return nil, fmt.Errorf("archive %s: unsafe entry name %q", p, zf.Name)
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		if len(b.files) >= maxAppFiles {
			zr.Close()
			return nil, fmt.Errorf("archive %s has more than %d entries", p, maxAppFiles)
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir() || strings.HasSuffix(zf.Name, "/"):
			b.files = append(b.files, appFile{rel: rel, dir: true, mode: 0o755})
			continue
		case mode&fs.ModeSymlink != 0 || !mode.IsRegular():
			continue
		}
		perm := mode.Perm()
		if zf.CreatorVersion>>8 != creatorUnix || perm == 0 {
			// Archives made on other systems carry no Unix modes.
			perm = defaultArchiveFileMode
		}
		h := sha1.New() //nolint:gosec // API contract
		rc, err := zf.Open()
		if err != nil {
			zr.Close()
			return nil, fmt.Errorf("archive %s: open %s: %w", p, zf.Name, err)
		}
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			zr.Close()
			return nil, fmt.Errorf("archive %s: read %s: %w", p, zf.Name, err)
		}
		b.files = append(b.files, appFile{
			rel: rel, mode: perm, size: n, sha1: hex.EncodeToString(h.Sum(nil)),
			open: zf.Open,
		})
	}
	return b, nil
}

// resources lists the non-empty files for resource matching.
func (b *appBits) resources() []client.Resource {
	var out []client.Resource
	for _, f := range b.files {
		if f.dir || f.size == 0 {
			continue
		}
		out = append(out, client.Resource{
			Path:        f.rel,
			Mode:        strconv.FormatUint(uint64(f.mode.Perm()), 8),
			Checksum:    client.ResourceChecksum{Value: f.sha1},
			SizeInBytes: f.size,
		})
	}
	return out
}

// fileCount is the number of files (not directories).
func (b *appBits) fileCount() int {
	n := 0
	for _, f := range b.files {
		if !f.dir {
			n++
		}
	}
	return n
}

// matchKey identifies a matched resource.
func matchKey(p, sum string) string { return p + "\x00" + sum }

// writeZip writes the directories and every file not in matched to w, and
// returns how many files it wrote.
func (b *appBits) writeZip(w io.Writer, matched map[string]bool) (int, error) {
	zw := zip.NewWriter(w)
	written := 0
	for _, f := range b.files {
		if !f.dir && matched[matchKey(f.rel, f.sha1)] {
			continue
		}
		hdr := &zip.FileHeader{Name: f.rel, Method: zip.Deflate}
		if f.dir {
			hdr.Name += "/"
			hdr.Method = zip.Store
			hdr.SetMode(fs.ModeDir | f.mode)
			if _, err := zw.CreateHeader(hdr); err != nil {
				return written, fmt.Errorf("zip %s: %w", f.rel, err)
			}
			continue
		}
		hdr.SetMode(f.mode)
		dst, err := zw.CreateHeader(hdr)
		if err != nil {
			return written, fmt.Errorf("zip %s: %w", f.rel, err)
		}
		src, err := f.open()
		if err != nil {
			return written, fmt.Errorf("zip %s: %w", f.rel, err)
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err != nil {
			return written, fmt.Errorf("zip %s: %w", f.rel, err)
		}
		written++
	}
	if err := zw.Close(); err != nil {
		return written, fmt.Errorf("finish zip: %w", err)
	}
	return written, nil
}

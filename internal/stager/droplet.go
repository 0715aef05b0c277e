package stager

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// StagingInfoFile is the name of the staging info in a droplet.
const StagingInfoFile = "staging_info.yml"

// StagingInfo is staging_info.yml at the root of a droplet.
type StagingInfo struct {
	DetectedBuildpack string `yaml:"detected_buildpack" json:"detected_buildpack"`
	StartCommand      string `yaml:"start_command" json:"start_command"`
	// BuildpackPath is the host path of a custom buildpack.
	BuildpackPath string `yaml:"buildpack_path,omitempty" json:"buildpack_path,omitempty"`

	processTypes map[string]string
}

// ParseStagingInfo reads staging_info.yml.
func ParseStagingInfo(data []byte) (*StagingInfo, error) {
	if len(data) > 1<<20 {
		return nil, errors.New("staging info larger than 1 MiB")
	}
	var si StagingInfo
	if err := yaml.Unmarshal(data, &si); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", StagingInfoFile, err)
	}
	return &si, nil
}

// spooled is a droplet or cache written to a temporary file.
type spooled struct {
	f      *os.File
	size   int64
	digest string // sha256, hex
}

func (s *spooled) remove() {
	if s == nil || s.f == nil {
		return
	}
	name := s.f.Name()
	_ = s.f.Close()
	_ = os.Remove(name)
}

// errLimit is returned by limitedWriter past its limit.
var errLimit = errors.New("size limit exceeded")

// spoolWriter counts, hashes and bounds what goes into a temporary file.
type spoolWriter struct {
	f     *os.File
	h     hash.Hash
	n     int64
	limit int64
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if w.limit > 0 && w.n+int64(len(p)) > w.limit {
		return 0, errLimit
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// spool runs fill with a writer into a new temporary file (at most limit
// bytes) and returns the file, rewound, with its size and sha256.
func (st *staging) spool(pattern string, limit int64, fill func(w io.Writer) error) (*spooled, error) {
	f, err := os.CreateTemp(st.s.cfg.TempDir, pattern)
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file: %w", err)
	}
	sw := &spoolWriter{f: f, h: sha256.New(), limit: limit}
	sp := &spooled{f: f}
	if err := fill(sw); err != nil {
		sp.remove()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		sp.remove()
		return nil, fmt.Errorf("rewinding a temporary file: %w", err)
	}
	sp.size = sw.n
	sp.digest = hex.EncodeToString(sw.h.Sum(nil))
	return sp, nil
}

// packageDroplet writes the droplet tgz (app/, deps/, tmp/, logs/,
// staging_info.yml) to a temporary file. info is called once app/ has been
// read, with its Procfile's process types.
func (st *staging) packageDroplet(ctx context.Context, info func(procfile map[string]string) (*StagingInfo, error)) (*spooled, error) {
	limit := st.dkMB << 20
	sp, err := st.spool("ingot-droplet-*.tgz", limit, func(w io.Writer) error {
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		tw := tar.NewWriter(gz)
		var procfileData []byte
		var sawProcfile bool
		err := st.copyTree(ctx, st.path(dirApp), dirApp+"/", tw, func(rel string, h *tar.Header, r io.Reader) (io.Reader, error) {
			if rel != "Procfile" || h.Typeflag != tar.TypeReg {
				return r, nil
			}
			sawProcfile = true
			b, err := io.ReadAll(io.LimitReader(r, MaxProcfileBytes+1))
			if err != nil {
				return nil, err
			}
			procfileData = b
			if int64(len(b)) > MaxProcfileBytes {
				return io.MultiReader(bytes.NewReader(b), r), nil
			}
			return bytes.NewReader(b), nil
		})
		if err != nil {
			return err
		}
		var procfile map[string]string
		if sawProcfile {
			if procfile, err = ParseProcfile(procfileData); err != nil {
				return fmt.Errorf("reading the app's Procfile: %w", err)
			}
		}
		if err := st.copyTree(ctx, st.path(dirDeps), dirDeps+"/", tw, nil); err != nil {
			return err
		}
		now := time.Now()
		for _, d := range []string{dirTmp, dirLogs} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		si, err := info(procfile)
		if err != nil {
			return err
		}
		data, err := yaml.Marshal(si)
		if err != nil {
			return fmt.Errorf("writing %s: %w", StagingInfoFile, err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: StagingInfoFile, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
	if errors.Is(err, errLimit) {
		return nil, failf(ErrDropletTooLarge, "the droplet is larger than the disk limit of %d MB", st.dkMB)
	}
	if err != nil {
		return nil, fmt.Errorf("packaging the droplet: %w", err)
	}
	return sp, nil
}

// visitFunc may replace the reader of a regular file's content.
type visitFunc func(rel string, h *tar.Header, r io.Reader) (io.Reader, error)

// copyTree copies the tree at src in the container into tw, renaming its
// entries to prefix + their path relative to src.
func (st *staging) copyTree(ctx context.Context, src, prefix string, tw *tar.Writer, visit visitFunc) error {
	rc, err := st.c.StreamOut(ctx, src)
	if err != nil {
		return fmt.Errorf("reading %s from the staging container: %w", path.Base(src), err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	rel := entryRelativizer(path.Base(src))
	wroteRoot := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s from the staging container: %w", path.Base(src), err)
		}
		r, ok := rel(h.Name)
		if !ok {
			return fmt.Errorf("reading %s from the staging container: unexpected entry %q", path.Base(src), h.Name)
		}
		if r == "" {
			if h.Typeflag == tar.TypeDir && !wroteRoot && prefix != "" {
				wroteRoot = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: h.Mode, ModTime: h.ModTime}); err != nil {
					return err
				}
			}
			continue
		}
		out := &tar.Header{
			Name:     prefix + r,
			Mode:     h.Mode,
			ModTime:  h.ModTime,
			Typeflag: h.Typeflag,
		}
		var body io.Reader
		switch h.Typeflag {
		case tar.TypeDir:
			out.Name += "/"
		case tar.TypeSymlink:
			out.Linkname = h.Linkname
		case tar.TypeLink:
			lr, ok := rel(h.Linkname)
			if !ok || lr == "" {
				continue
			}
			out.Linkname = prefix + lr
		case tar.TypeReg:
			out.Size = h.Size
			body = io.LimitReader(tr, h.Size)
			if visit != nil {
				if body, err = visit(r, h, body); err != nil {
					return fmt.Errorf("reading %s: %w", r, err)
				}
			}
		default:
			continue // devices, fifos: not part of a droplet
		}
		if !wroteRoot && prefix != "" {
			wroteRoot = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: 0o755, ModTime: time.Now()}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return err
			}
		}
	}
	if !wroteRoot && prefix != "" {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: 0o755, ModTime: time.Now()})
	}
	return nil
}

// entryRelativizer returns a function mapping the entry names of a tar
// stream of the directory base to paths relative to that directory ("" for
// the directory itself). Backends name entries either after the directory
// ("app/x", as `tar -C parent app` and Garden do) or relative to it ("./x"
// or "x"); the first entry tells which.
func entryRelativizer(base string) func(string) (string, bool) {
	decided, prefixed := false, false
	return func(name string) (string, bool) {
		n := strings.TrimPrefix(name, "/")
		n = path.Clean(n)
		if n == "." {
			decided = true
			return "", true
		}
		if !decided {
			decided = true
			prefixed = n == base || strings.HasPrefix(n, base+"/")
		}
		if prefixed {
			if n == base {
				return "", true
			}
			if !strings.HasPrefix(n, base+"/") {
				return "", false
			}
			n = strings.TrimPrefix(n, base+"/")
		}
		if n == ".." || strings.HasPrefix(n, "../") {
			return "", false
		}
		return n, true
	}
}

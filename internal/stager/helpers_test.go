package stager

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/process"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

// logRecorder is a logs.Publisher that keeps every line.
type logRecorder struct {
	mu    sync.Mutex
	lines []messages.LogLine
}

func (r *logRecorder) Publish(subject string, data []byte) error {
	var l messages.LogLine
	if err := messages.Decode(data, &l); err != nil {
		return err
	}
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) text(appGUID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, l := range r.lines {
		if l.AppGUID == appGUID {
			b.WriteString(l.Stream + " " + l.Message + "\n")
		}
	}
	return b.String()
}

type harness struct {
	t       *testing.T
	stager  *Stager
	backend *process.Backend
	logs    *logRecorder
	blobs   *blobServer
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	be, err := process.New(process.Config{RootDir: t.TempDir(), MemoryBytes: 8 << 30, DiskBytes: 64 << 30}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("process backend: %v", err)
	}
	t.Cleanup(func() { _ = be.Close() })
	rec := &logRecorder{}
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	s, err := New(cfg, Deps{Backend: be, Logs: logs.NewEmitter(rec, slog.New(slog.DiscardHandler))}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	blobs := newBlobServer(t)
	return &harness{t: t, stager: s, backend: be, logs: rec, blobs: blobs}
}

// stage stages the zip pkg for app and returns the result.
func (h *harness) stage(app string, pkg []byte, mod func(*messages.StagingRequest)) *messages.StagingResult {
	h.t.Helper()
	build := app + "-build-" + time.Now().Format("150405.000000000")
	build = strings.ReplaceAll(build, ".", "")
	h.blobs.put("/packages/"+build, pkg)
	req := &messages.StagingRequest{
		AppGUID:           app,
		AppName:           app,
		BuildGUID:         build,
		Stack:             "host",
		PackageURI:        h.blobs.url("/packages/" + build + "?signature=secret"),
		DropletUploadURI:  h.blobs.url("/droplets/" + build + "?signature=secret"),
		BuildpackCacheURI: h.blobs.url("/caches/" + app),
		Env:               map[string]string{"GREETING": "hi"},
		// MemoryMB and DiskMB 0: the stager's defaults.
	}
	if mod != nil {
		mod(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := h.stager.Stage(ctx, req)
	if res.BuildGUID != req.BuildGUID {
		h.t.Errorf("result build guid %q, want %q", res.BuildGUID, req.BuildGUID)
	}
	// The staging container is always destroyed.
	if _, err := h.backend.Lookup("staging-" + req.BuildGUID); err == nil {
		h.t.Errorf("staging container staging-%s still exists", req.BuildGUID)
	}
	return res
}

// blobServer is an in-memory stand-in for the controller's signed blob URLs.
type blobServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	blobs map[string][]byte
	ctype map[string]string
	gets  map[string]int
	puts  map[string]int
}

func newBlobServer(t *testing.T) *blobServer {
	b := &blobServer{blobs: map[string][]byte{}, ctype: map[string]string{}, gets: map[string]int{}, puts: map[string]int{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			b.gets[r.URL.Path]++
			data, ok := b.blobs[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(data)
		case http.MethodPut:
			b.puts[r.URL.Path]++
			if strings.HasPrefix(r.URL.Path, "/broken/") {
				http.Error(w, "blobstore is on fire", http.StatusInternalServerError)
				return
			}
			data, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			b.blobs[r.URL.Path] = data
			b.ctype[r.URL.Path] = r.Header.Get("Content-Type")
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *blobServer) url(p string) string { return b.srv.URL + p }

func (b *blobServer) put(p string, data []byte) {
	b.mu.Lock()
	b.blobs[p] = data
	b.mu.Unlock()
}

func (b *blobServer) get(p string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.blobs[p]
	return d, ok
}

func (b *blobServer) counts(p string) (gets, puts int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gets[p], b.puts[p]
}

// zipDir zips a directory tree, keeping modes and symbolic links.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fh, err := zip.FileInfoHeader(fi)
		if err != nil {
			return err
		}
		fh.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			fh.Name += "/"
		} else {
			fh.Method = zip.Deflate
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			_, err = w.Write([]byte(target))
			return err
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = w.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("zipping %s: %v", dir, err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipFiles zips name → content pairs (a name ending in "/" is a
// directory; content starting with "@link:" makes a symbolic link).
func zipFiles(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate}
		switch {
		case strings.HasSuffix(name, "/"):
			fh.SetMode(fs.ModeDir | 0o755)
		case strings.HasPrefix(content, "@link:"):
			fh.SetMode(fs.ModeSymlink | 0o777)
			content = strings.TrimPrefix(content, "@link:")
		default:
			fh.SetMode(0o644)
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type tarEntry struct {
	typ  byte
	mode int64
	data string
	link string
}

// readTgz lists a tgz's entries by name.
func readTgz(t *testing.T, data []byte) map[string]tarEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("droplet is not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("droplet tar: %v", err)
		}
		e := tarEntry{typ: h.Typeflag, mode: h.Mode, link: h.Linkname}
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
			b, _ := io.ReadAll(tr)
			e.data = string(b)
		}
		out[h.Name] = e
	}
}

// droplet returns the uploaded droplet of a result, checked against its
// digest, size and content type.
func (h *harness) droplet(res *messages.StagingResult) map[string]tarEntry {
	h.t.Helper()
	if res.Error != "" {
		h.t.Fatalf("staging failed: %s\nlog:\n%s", res.Error, h.logs.text(appOf(res)))
	}
	p := "/droplets/" + res.BuildGUID
	data, ok := h.blobs.get(p)
	if !ok {
		h.t.Fatalf("no droplet uploaded to %s", p)
	}
	if int64(len(data)) != res.DropletSize {
		h.t.Errorf("droplet size %d, result says %d", len(data), res.DropletSize)
	}
	if got := sha256Hex(data); got != res.DropletDigest {
		h.t.Errorf("droplet digest %s, result says %s", got, res.DropletDigest)
	}
	h.blobs.mu.Lock()
	ct := h.blobs.ctype[p]
	h.blobs.mu.Unlock()
	if ct != "application/gzip" {
		h.t.Errorf("droplet content type %q", ct)
	}
	return readTgz(h.t, data)
}

func appOf(res *messages.StagingResult) string {
	app, _, _ := strings.Cut(res.BuildGUID, "-build-")
	return app
}

func stagingInfo(t *testing.T, d map[string]tarEntry) *StagingInfo {
	t.Helper()
	e, ok := d[StagingInfoFile]
	if !ok {
		t.Fatalf("droplet has no %s", StagingInfoFile)
	}
	si, err := ParseStagingInfo([]byte(e.data))
	if err != nil {
		t.Fatal(err)
	}
	return si
}

// writeBuildpack writes a custom buildpack with the given bin scripts.
func writeBuildpack(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my-buildpack")
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte("#!/usr/bin/env bash\nset -euo pipefail\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var _ backend.Backend = (*process.Backend)(nil)

// runDroplet starts a staged droplet the way a DEA does, in a fresh
// container (so nothing of the staging paths is left), and returns the
// body of GET / once it answers 200.
func (h *harness) runDroplet(t *testing.T, res *messages.StagingResult, memMB int) string {
	t.Helper()
	data, ok := h.blobs.get("/droplets/" + res.BuildGUID)
	if !ok {
		t.Fatal("no droplet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	handle := "run-" + res.BuildGUID
	c, err := h.backend.Create(ctx, backend.ContainerSpec{Handle: handle, MemoryLimitBytes: uint64(memMB) << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.backend.Destroy(context.Background(), handle) })
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StreamIn(ctx, c.HomeDir(), gz); err != nil {
		t.Fatalf("droplet into a container: %v", err)
	}
	pm, err := c.NetIn(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.StreamOut(ctx, c.HomeDir()+"/"+StagingInfoFile)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(tr)
	rc.Close()
	si, err := ParseStagingInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	home := c.HomeDir()
	// As the DEA does: profile scripts sourced from the container's home,
	// no DEPS_DIR (scripts fall back to $HOME/../deps), then cd app.
	launcher := `mkdir -p "$TMPDIR"; for i in app/.profile.d/*.sh; do if [ -r "$i" ]; then . "$i"; fi; done; cd app || exit 1; exec bash -c "$1"`
	out := &tailBuffer{max: 8 << 10}
	p, err := c.Run(ctx, backend.ProcessSpec{
		Path: "bash",
		Args: []string{"-c", launcher, "launcher", si.StartCommand},
		Env: []string{
			"HOME=" + home + "/app", "TMPDIR=" + home + "/tmp",
			"PORT=" + strconv.Itoa(int(pm.ContainerPort)), "MEMORY_LIMIT=" + strconv.Itoa(memMB) + "m",
			"CF_INSTANCE_INDEX=3",
		},
		Dir: home,
	}, backend.ProcessIO{Stdout: out, Stderr: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	exited := make(chan int, 1)
	go func() {
		st, _ := p.Wait()
		exited <- st
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/", pm.HostPort)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET / = %d %s", resp.StatusCode, b)
			}
			return string(b)
		}
		select {
		case st := <-exited:
			t.Fatalf("app exited with %d before answering; output:\n%s", st, out.lastLines(30))
		case <-ctx.Done():
			t.Fatalf("app did not answer; output:\n%s", out.lastLines(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

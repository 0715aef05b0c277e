package backendtest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/testutil"
)

// create makes a container and destroys it when the test ends.
func create(t *testing.T, b backend.Backend, spec backend.ContainerSpec) backend.Container {
	t.Helper()
	c, err := b.Create(testutil.Context(t), spec)
	if err != nil {
		t.Fatalf("create %s: %v", spec.Handle, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitFor)
		defer cancel()
		if err := b.Destroy(ctx, spec.Handle); err != nil && !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("destroy %s: %v", spec.Handle, err)
		}
	})
	return c
}

// run starts bash -c script in c.
func run(t *testing.T, c backend.Container, script string, env []string, dir string, out, errw io.Writer) backend.Process {
	t.Helper()
	p, err := c.Run(testutil.Context(t), backend.ProcessSpec{Path: "bash", Args: []string{"-c", script}, Env: env, Dir: dir},
		backend.ProcessIO{Stdout: out, Stderr: errw})
	if err != nil {
		t.Fatalf("run %q: %v", script, err)
	}
	return p
}

// waitExit waits for p with a timeout.
func waitExit(t *testing.T, p backend.Process) int {
	t.Helper()
	type res struct {
		code int
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		code, err := p.Wait()
		ch <- res{code, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("wait: %v", r.err)
		}
		return r.code
	case <-time.After(testutil.WaitFor):
		t.Fatalf("process %s did not exit", p.ID())
		return -1
	}
}

// tarEntry describes one entry of a test archive.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	body     string
	linkname string
}

func buildTar(t *testing.T, entries []tarEntry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.linkname, Size: int64(len(e.body)), ModTime: time.Now()}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatalf("tar body %s: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// readTar lists a tar stream: name → entry (dirs without trailing slash).
func readTar(t *testing.T, r io.Reader) map[string]tarEntry {
	t.Helper()
	out := map[string]tarEntry{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read tar body: %v", err)
		}
		name := hdr.Name
		for len(name) > 1 && name[len(name)-1] == '/' {
			name = name[:len(name)-1]
		}
		if len(name) > 2 && name[:2] == "./" {
			name = name[2:]
		}
		out[name] = tarEntry{name: name, typ: hdr.Typeflag, mode: int64(fs.FileMode(hdr.Mode).Perm()), body: string(body), linkname: hdr.Linkname}
	}
}

func streamOutNames(t *testing.T, c backend.Container, src string) []string {
	t.Helper()
	rc, err := c.StreamOut(testutil.Context(t), src)
	if err != nil {
		t.Fatalf("stream out %s: %v", src, err)
	}
	defer rc.Close()
	var names []string
	for n := range readTar(t, rc) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// readFile reads one file of a container through StreamOut.
func readFile(t *testing.T, c backend.Container, p string) (string, bool) {
	t.Helper()
	rc, err := c.StreamOut(testutil.Context(t), p)
	if err != nil {
		return "", false
	}
	defer rc.Close()
	for _, e := range readTar(t, rc) {
		return e.body, true
	}
	return "", false
}

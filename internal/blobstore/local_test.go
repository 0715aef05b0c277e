package blobstore_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/blobstore"
	"github.com/ingot-paas/ingot/internal/blobstore/blobstoretest"
)

func newLocal(t *testing.T) *blobstore.Local {
	t.Helper()
	l, err := blobstore.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("new local: %v", err)
	}
	return l
}

func TestLocalConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store { return newLocal(t) })
}

// files lists every regular file under dir, relative and slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func TestLocalLeavesNoTempFiles(t *testing.T) {
	l := newLocal(t)
	ctx := t.Context()
	if _, err := l.Put(ctx, "packages/ok", strings.NewReader("ok")); err != nil {
		t.Fatalf("put: %v", err)
	}
	broken := io.MultiReader(strings.NewReader("partial"), iotestErrReader{})
	if _, err := l.Put(ctx, "packages/broken", broken); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	got := files(t, l.Dir())
	if len(got) != 1 || !strings.HasPrefix(got[0], "packages/ok") {
		t.Fatalf("files after puts = %v, want only the blob of packages/ok", got)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestLocalStaysInsideDir(t *testing.T) {
	parent := t.TempDir()
	l, err := blobstore.NewLocal(filepath.Join(parent, "blobs"))
	if err != nil {
		t.Fatalf("new local: %v", err)
	}
	for _, k := range []string{"../escape", "a/../../escape", "/tmp/escape"} {
		if _, err := l.Put(t.Context(), k, strings.NewReader("x")); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Fatalf("put %q: %v, want ErrInvalidKey", k, err)
		}
	}
	for _, f := range files(t, parent) {
		t.Fatalf("file written: %s", f)
	}
}

func TestLocalPersistsAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	a, err := blobstore.NewLocal(dir)
	if err != nil {
		t.Fatalf("new local: %v", err)
	}
	if _, err := a.Put(t.Context(), "droplets/d", strings.NewReader("droplet")); err != nil {
		t.Fatalf("put: %v", err)
	}
	b, err := blobstore.NewLocal(dir)
	if err != nil {
		t.Fatalf("second new local: %v", err)
	}
	rc, err := b.Get(t.Context(), "droplets/d")
	if err != nil {
		t.Fatalf("get through second instance: %v", err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if string(got) != "droplet" {
		t.Fatalf("got %q", got)
	}
}

func TestNewLocalRejectsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blobstore.NewLocal(f); err == nil {
		t.Fatal("NewLocal on a regular file succeeded")
	}
	if _, err := blobstore.NewLocal(""); err == nil {
		t.Fatal("NewLocal with an empty dir succeeded")
	}
}

func TestLocalRemoveStaleTemp(t *testing.T) {
	l := newLocal(t)
	ctx := t.Context()
	if _, err := l.Put(ctx, "packages/keep", bytes.NewReader([]byte("keep"))); err != nil {
		t.Fatalf("put: %v", err)
	}
	dir := filepath.Join(l.Dir(), "packages")
	stale := filepath.Join(dir, "dead@blob.123456.tmp")
	fresh := filepath.Join(dir, "live@blob.654321.tmp")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	n, err := l.RemoveStaleTemp(ctx, time.Hour)
	if err != nil {
		t.Fatalf("remove stale temp: %v", err)
	}
	if n != 1 {
		t.Fatalf("removed %d files, want 1", n)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh temp removed: %v", err)
	}
	if ok, err := l.Exists(ctx, "packages/keep"); err != nil || !ok {
		t.Fatalf("blob removed by cleanup: %v %v", ok, err)
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "packages/abc-123", "x/y.z/_w"} {
		if err := blobstore.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "a//b", "../x", "/abs", "A", "a/"} {
		if err := blobstore.ValidateKey(k); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"a", "a/b", "../x", "a//b", "/abs", "packages/x-1.2_3"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if blobstore.ValidateKey(key) != nil {
			return
		}
		// A valid key is a clean, relative path that stays inside the root.
		clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(key)))
		if clean != key || strings.HasPrefix(key, "/") || clean == ".." || strings.HasPrefix(clean, "../") || filepath.IsAbs(key) {
			t.Fatalf("valid key %q is not a clean relative path (clean %q)", key, clean)
		}
	})
}

package host

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ingot-paas/ingot/internal/backend"
)

var errTestTooLarge = errors.New("test: stream too large")

func TestCleanName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a/b", "a/b", true}, {"./a/./b/", "a/b", true}, {"./", ".", true}, {"a/../b", "b", true},
		{"/a", "", false}, {"../a", "", false}, {"a/../../b", "", false}, {"..", "", false}, {"", "", false},
	} {
		got, err := CleanName(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("CleanName(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, backend.ErrInvalidPath) {
			t.Errorf("CleanName(%q) error %v is not ErrInvalidPath", tc.in, err)
		}
	}
}

func tarOf(t *testing.T, hdrs ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bytes.Repeat([]byte("a"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestStreamInOut(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	in := tarOf(t,
		&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "app/run.sh", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 4},
		&tar.Header{Name: "app/link", Typeflag: tar.TypeSymlink, Linkname: "run.sh"},
		&tar.Header{Name: "app/hard", Typeflag: tar.TypeLink, Linkname: "app/run.sh"},
		&tar.Header{Name: "app/fifo", Typeflag: tar.TypeFifo, Mode: 0o644},
	)
	if err := StreamIn(ctx, dir, "home/x", "/home/x", in, ExtractOptions{Limit: 1 << 20, TooLarge: errTestTooLarge}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "home/x/app/run.sh"))
	if err != nil || fi.Mode() != 0o755 {
		t.Fatalf("run.sh: %v, %v (setuid must be dropped)", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "home/x/app/link")); err != nil || l != "run.sh" {
		t.Errorf("link = %q, %v", l, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "home/x/app/fifo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fifo extracted: %v", err)
	}
	rc, err := StreamOut(ctx, dir, "home/x", "/home/x")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	names := map[string]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Uname != "" {
			t.Errorf("%s: ownership recorded (%d %q)", hdr.Name, hdr.Uid, hdr.Uname)
		}
		names[hdr.Name] = hdr.Typeflag
	}
	want := map[string]byte{"./": tar.TypeDir, "app/": tar.TypeDir, "app/run.sh": tar.TypeReg, "app/hard": tar.TypeReg, "app/link": tar.TypeSymlink}
	if len(names) != len(want) {
		t.Errorf("stream out = %v, want %v", names, want)
	}
	for n, typ := range want {
		if names[n] != typ {
			t.Errorf("stream out %s: type %c, want %c", n, names[n], typ)
		}
	}
	one, err := StreamOut(ctx, dir, "home/x/app/run.sh", "run.sh")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if hdr, err := tar.NewReader(one).Next(); err != nil || hdr.Name != "run.sh" {
		t.Errorf("stream out of a file: %v, %v", hdr, err)
	}
	if _, err := StreamOut(ctx, dir, "home/missing", "/home/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stream out of a missing path = %v", err)
	}
}

func TestExtractRejects(t *testing.T) {
	for name, hdrs := range map[string][]*tar.Header{
		"absolute":      {{Name: "/etc/x", Typeflag: tar.TypeReg}},
		"dotdot":        {{Name: "a/../../x", Typeflag: tar.TypeReg}},
		"symlink out":   {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../x"}},
		"symlink abs":   {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		"hard link out": {{Name: "h", Typeflag: tar.TypeLink, Linkname: "../x"}},
		"file as dest":  {{Name: ".", Typeflag: tar.TypeReg}},
		"replace a dir": {{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "d", Typeflag: tar.TypeReg}},
		// A symlink planted by the container's processes is not followed out.
		"through a planted link": {{Name: "planted/x", Typeflag: tar.TypeReg, Size: 1}},
	} {
		dir := t.TempDir()
		outside := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dir, "planted")); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = Extract(context.Background(), root, tarOf(t, hdrs...), ExtractOptions{Limit: 1 << 20, TooLarge: errTestTooLarge})
		root.Close()
		if !errors.Is(err, backend.ErrInvalidPath) {
			t.Errorf("%s: Extract = %v, want ErrInvalidPath", name, err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("%s: written outside: %v", name, entries)
		}
	}
}

func TestExtractLimit(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	in := tarOf(t, &tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 600}, &tar.Header{Name: "b", Typeflag: tar.TypeReg, Mode: 0o644, Size: 600})
	if err := Extract(context.Background(), root, in, ExtractOptions{Limit: 1000, TooLarge: errTestTooLarge}); !errors.Is(err, errTestTooLarge) {
		t.Errorf("Extract past the limit = %v, want the TooLarge error", err)
	}
}

// TestExtractChown: with Chown every entry, and the directories made for
// them, belong to the container's user (needs root).
func TestExtractChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	const uid = 23456
	dir := t.TempDir()
	in := tarOf(t,
		&tar.Header{Name: "d/e/f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		&tar.Header{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "e/f"},
		&tar.Header{Name: "g/", Typeflag: tar.TypeDir, Mode: 0o700},
	)
	if err := StreamIn(context.Background(), dir, "home/sub", "/home/vcap/sub", in, ExtractOptions{Limit: 1 << 20, TooLarge: errTestTooLarge, Chown: true, UID: uid}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"home", "home/sub", "home/sub/d", "home/sub/d/e", "home/sub/d/e/f", "home/sub/d/l", "home/sub/g"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != uid {
			t.Errorf("%s owned by %d:%d, want %d", p, st.Uid, st.Gid, uid)
		}
	}
}

// FuzzExtractTar feeds arbitrary archives to the extractor: it must never
// panic and never write outside its destination.
func FuzzExtractTar(f *testing.F) {
	add := func(entries ...*tar.Header) {
		var buf strings.Builder
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			_ = tw.WriteHeader(h)
			if h.Typeflag == tar.TypeReg {
				_, _ = tw.Write([]byte(strings.Repeat("a", int(h.Size))))
			}
		}
		_ = tw.Close()
		f.Add([]byte(buf.String()))
	}
	add(&tar.Header{Name: "a/b", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	add(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: ".."}, &tar.Header{Name: "l/x", Typeflag: tar.TypeReg, Size: 1})
	add(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o500}, &tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Size: 2})
	add(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"})
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, err := os.MkdirTemp(base, "x")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(parent)
		dst := filepath.Join(parent, "dst")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		_ = Extract(context.Background(), root, strings.NewReader(string(data)), ExtractOptions{Limit: 64 << 10, TooLarge: errTestTooLarge})
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("extraction wrote outside its destination: %v", entries)
		}
		_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

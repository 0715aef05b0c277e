package pkgzip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io/fs"
	"strings"
	"testing"
)

type zentry struct {
	name string
	mode fs.FileMode
	body string
}

func makeZip(t testing.TB, entries ...zentry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lyingZip has one entry whose header claims declared bytes while the
// deflate stream inflates to actual bytes.
func lyingZip(t testing.TB, declared uint64, actual int) []byte {
	t.Helper()
	payload := bytes.Repeat([]byte{'a'}, actual)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(payload)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bomb.txt", Method: zip.Deflate,
		CRC32: crc32.ChecksumIEEE(payload), CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared}
	h.SetMode(0o644)
	w, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

func open(t testing.TB, data []byte) *zip.Reader {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		t.Fatalf("open zip: %v", err)
	}
	return zr
}

func TestValidateGood(t *testing.T) {
	data := makeZip(t,
		zentry{name: "./"},
		zentry{name: "bin/", mode: fs.ModeDir | 0o755},
		zentry{name: "bin/run", mode: 0o755, body: "#!/bin/sh\necho hi\n"},
		zentry{name: "index.html", body: "hello"},
		zentry{name: "current", mode: fs.ModeSymlink | 0o777, body: "bin/run"},
		zentry{name: "bin/up", mode: fs.ModeSymlink | 0o777, body: "../index.html"},
		zentry{name: "empty.txt", body: ""},
	)
	entries, err := Validate(open(t, data), Budget{Files: 100, Bytes: 1 << 20})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	byName := map[string]Entry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	if len(byName) != 6 {
		t.Fatalf("got entries %v", byName)
	}
	sum := sha1.Sum([]byte("hello"))
	if e := byName["index.html"]; e.SHA1 != hex.EncodeToString(sum[:]) || e.Size != 5 || e.Mode.Perm() != 0o644 {
		t.Fatalf("index.html: %+v", e)
	}
	if e := byName["bin/run"]; e.Mode.Perm() != 0o755 {
		t.Fatalf("bin/run lost its exec bit: %v", e.Mode)
	}
	if e := byName["current"]; !e.IsSymlink() || e.Target != "bin/run" {
		t.Fatalf("symlink: %+v", e)
	}
	if e := byName["bin"]; !e.IsDir() {
		t.Fatalf("dir: %+v", e)
	}
}

func TestValidateRejects(t *testing.T) {
	big := strings.Repeat("x", 2000)
	var many []zentry
	for i := 0; i < 11; i++ {
		many = append(many, zentry{name: "f" + string(rune('a'+i)), body: "x"})
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"dot dot", makeZip(t, zentry{name: "../evil", body: "x"}), "escapes the app directory"},
		{"nested dot dot", makeZip(t, zentry{name: "a/../../evil", body: "x"}), "escapes the app directory"},
		{"absolute", makeZip(t, zentry{name: "/etc/passwd", body: "x"}), "is absolute"},
		{"backslash", makeZip(t, zentry{name: `..\evil`, body: "x"}), "backslash"},
		{"drive letter", makeZip(t, zentry{name: "C:/evil", body: "x"}), "drive letter"},
		{"symlink absolute", makeZip(t, zentry{name: "l", mode: fs.ModeSymlink | 0o777, body: "/etc/passwd"}), "outside the app"},
		{"symlink escaping", makeZip(t, zentry{name: "a/l", mode: fs.ModeSymlink | 0o777, body: "../../x"}), "outside the app"},
		{"device", makeZip(t, zentry{name: "dev", mode: fs.ModeDevice | 0o644}), "only files, directories and symlinks"},
		{"too many files", makeZip(t, many...), "more than the limit of 10 files"},
		{"too big declared", makeZip(t, zentry{name: "a", body: big}), "more than the limit of 1000 bytes"},
		{"lying header (bomb)", lyingZip(t, 10, 1<<20), "not a valid zip entry"},
		{"duplicate", makeZip(t, zentry{name: "a", body: "1"}, zentry{name: "./a", body: "2"}), "appears more than once"},
		{"file under file", makeZip(t, zentry{name: "a", body: "1"}, zentry{name: "a/b", body: "2"}), "which is not a directory"},
		{"file under symlink", makeZip(t, zentry{name: "l", mode: fs.ModeSymlink | 0o777, body: "d"}, zentry{name: "l/b", body: "2"}), "which is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(open(t, tc.data), Budget{Files: 10, Bytes: 1000})
			if err == nil {
				t.Fatalf("Validate succeeded, want error containing %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestValidateCountsRealBytes(t *testing.T) {
	// Declared sizes within budget, several files that together exceed it.
	var es []zentry
	for i := 0; i < 5; i++ {
		es = append(es, zentry{name: "f" + string(rune('a'+i)), body: strings.Repeat("y", 300)})
	}
	_, err := Validate(open(t, makeZip(t, es...)), Budget{Files: 10, Bytes: 1000})
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("want a size limit error, got %v", err)
	}
}

func TestNotAZip(t *testing.T) {
	_, err := zip.NewReader(bytes.NewReader([]byte("this is not a zip")), 17)
	if err == nil {
		t.Fatal("garbage opened as a zip")
	}
	if e := OpenError(err); !errors.Is(e, ErrInvalid) || !strings.Contains(e.Error(), "not a valid zip file") {
		t.Fatalf("OpenError: %v", e)
	}
}

func TestCleanPath(t *testing.T) {
	good := map[string]string{"a": "a", "./a/b/": "a/b", "a//b": "a/b", "a/./b": "a/b", ".": "", "a..b": "a..b"}
	for in, want := range good {
		got, err := CleanPath(in)
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "..", "../a", "a/..", "/a", "a\\b", "C:x", "a\x00b", "a\nb"} {
		if _, err := CleanPath(bad); err == nil {
			t.Errorf("CleanPath(%q) accepted", bad)
		}
	}
}

func FuzzValidatePackageZip(f *testing.F) {
	f.Add(makeZip(f, zentry{name: "a", body: "hello"}, zentry{name: "d/", mode: fs.ModeDir | 0o755}))
	f.Add(makeZip(f, zentry{name: "l", mode: fs.ModeSymlink | 0o777, body: "../x"}))
	f.Add(makeZip(f, zentry{name: "../x", body: "x"}))
	f.Add(lyingZip(f, 10, 5000))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return
		}
		b := Budget{Files: 20, Bytes: 1 << 16}
		entries, err := Validate(zr, b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(entries) > b.Files {
			t.Fatalf("%d entries over the limit", len(entries))
		}
		var total int64
		for _, e := range entries {
			if c, err := CleanPath(e.Name); err != nil || c != e.Name {
				t.Fatalf("entry name %q not clean: %v", e.Name, err)
			}
			if e.IsSymlink() {
				if err := CheckSymlink(e.Name, e.Target); err != nil {
					t.Fatalf("escaping symlink accepted: %v", err)
				}
			}
			total += e.Size
		}
		if total > b.Bytes {
			t.Fatalf("accepted %d bytes over the limit", total)
		}
	})
}

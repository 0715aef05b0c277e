package stager

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing"
)

type zipEntry struct {
	name    string
	mode    fs.FileMode
	content string
}

func buildZip(t testing.TB, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		fh.SetMode(e.mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func convert(data []byte, lim zipLimits) (map[string]*tar.Header, map[string]string, zipStats, error) {
	var out bytes.Buffer
	stats, err := zipToTar(bytes.NewReader(data), int64(len(data)), &out, lim)
	if err != nil {
		return nil, nil, stats, err
	}
	hdrs := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, stats, err
		}
		b, _ := io.ReadAll(tr)
		hdrs[h.Name] = h
		contents[h.Name] = string(b)
	}
	return hdrs, contents, stats, nil
}

func TestZipToTar(t *testing.T) {
	data := buildZip(t, []zipEntry{
		{name: "./", mode: fs.ModeDir | 0o755},
		{name: "src/", mode: fs.ModeDir | 0o700},
		{name: "src/main.go", mode: 0o600, content: "package main"},
		{name: "bin/run", mode: 0o755, content: "#!/bin/sh"},
		{name: "deep/a/b/c.txt", mode: 0, content: "implied parents"},
		{name: "link", mode: fs.ModeSymlink | 0o777, content: "src/main.go"},
		{name: "up/link", mode: fs.ModeSymlink | 0o777, content: "../src"},
		{name: `win\style.txt`, mode: 0o644, content: "backslashes"},
	})
	hdrs, contents, stats, err := convert(data, zipLimits{MaxFiles: 100, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		typ  byte
		mode int64
	}{
		"src/":           {tar.TypeDir, 0o755},
		"src/main.go":    {tar.TypeReg, 0o600},
		"bin/":           {tar.TypeDir, 0o755},
		"bin/run":        {tar.TypeReg, 0o755},
		"deep/":          {tar.TypeDir, 0o755},
		"deep/a/":        {tar.TypeDir, 0o755},
		"deep/a/b/":      {tar.TypeDir, 0o755},
		"deep/a/b/c.txt": {tar.TypeReg, 0o644},
		"link":           {tar.TypeSymlink, 0o777},
		"up/":            {tar.TypeDir, 0o755},
		"up/link":        {tar.TypeSymlink, 0o777},
		"win/":           {tar.TypeDir, 0o755},
		"win/style.txt":  {tar.TypeReg, 0o644},
	}
	for name, w := range want {
		h, ok := hdrs[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if h.Typeflag != w.typ || h.Mode != w.mode {
			t.Errorf("%s: type %c mode %o, want %c %o", name, h.Typeflag, h.Mode, w.typ, w.mode)
		}
	}
	if len(hdrs) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(hdrs), len(want), hdrs)
	}
	if contents["deep/a/b/c.txt"] != "implied parents" || hdrs["link"].Linkname != "src/main.go" {
		t.Errorf("contents wrong: %v", contents)
	}
	if stats.Bytes != int64(len("package main#!/bin/shimplied parentsbackslashes")) {
		t.Errorf("stats = %+v", stats)
	}
}

func TestZipToTarRejects(t *testing.T) {
	tests := []struct {
		name    string
		entries []zipEntry
		lim     zipLimits
		want    string
	}{
		{"parent dir", []zipEntry{{name: "../evil", mode: 0o644, content: "x"}}, zipLimits{}, "escapes the app directory"},
		{"nested parent", []zipEntry{{name: "a/../../evil", mode: 0o644}}, zipLimits{}, "escapes the app directory"},
		{"backslash parent", []zipEntry{{name: `..\evil`, mode: 0o644}}, zipLimits{}, "escapes the app directory"},
		{"absolute", []zipEntry{{name: "/etc/passwd", mode: 0o644}}, zipLimits{}, "absolute path"},
		{"drive letter", []zipEntry{{name: "C:/windows/x", mode: 0o644}}, zipLimits{}, "drive letter"},
		{"nul", []zipEntry{{name: "a\x00b", mode: 0o644}}, zipLimits{}, "NUL byte"},
		{"absolute symlink", []zipEntry{{name: "l", mode: fs.ModeSymlink | 0o777, content: "/etc/passwd"}}, zipLimits{}, "absolute path"},
		{"escaping symlink", []zipEntry{{name: "a/l", mode: fs.ModeSymlink | 0o777, content: "../../x"}}, zipLimits{}, "points outside the app"},
		{"empty symlink", []zipEntry{{name: "l", mode: fs.ModeSymlink | 0o777}}, zipLimits{}, "invalid target"},
		{"through symlink", []zipEntry{
			{name: "l", mode: fs.ModeSymlink | 0o777, content: "d"},
			{name: "l/x", mode: 0o644, content: "x"},
		}, zipLimits{}, "below the symbolic link"},
		{"below a file", []zipEntry{{name: "f", mode: 0o644}, {name: "f/x", mode: 0o644}}, zipLimits{}, "below the file"},
		{"duplicate", []zipEntry{{name: "f", mode: 0o644}, {name: "./f", mode: 0o644}}, zipLimits{}, "duplicate entry"},
		{"device", []zipEntry{{name: "dev", mode: fs.ModeDevice | 0o644}}, zipLimits{}, "special file"},
		{"too many files", []zipEntry{{name: "a", mode: 0o644}, {name: "b", mode: 0o644}, {name: "c", mode: 0o644}}, zipLimits{MaxFiles: 2}, "more than the limit of 2"},
		{"implied dirs count", []zipEntry{{name: "a/b/c", mode: 0o644}}, zipLimits{MaxFiles: 2}, "more than the limit of 2 files"},
		{"too many bytes", []zipEntry{{name: "a", mode: 0o644, content: "12345"}, {name: "b", mode: 0o644, content: "678"}}, zipLimits{MaxBytes: 7}, "more than the limit of 7 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := convert(buildZip(t, tt.entries), tt.lim)
			if err == nil {
				t.Fatalf("accepted, want %q", tt.want)
			}
			if !errors.Is(err, ErrBadPackage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want ErrBadPackage with %q", err, tt.want)
			}
		})
	}
}

// TestZipToTarLyingSize: an entry whose data is longer than its declared
// size (a zip bomb trick) is refused, not written past the limit.
func TestZipToTarLyingSize(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "bomb", Method: zip.Store}
	fh.SetMode(0o644)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: fh.Name, Method: zip.Store, CompressedSize64: 10, UncompressedSize64: 3, CRC32: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("0123456789"))
	_ = zw.Close()
	_, _, _, err = convert(buf.Bytes(), zipLimits{MaxBytes: 100})
	if !errors.Is(err, ErrBadPackage) {
		t.Fatalf("error %v, want ErrBadPackage", err)
	}
}

// FuzzExtractZip: whatever the input, zipToTar never panics, and what it
// accepts stays inside the app and within the limits.
func FuzzExtractZip(f *testing.F) {
	f.Add(buildZip(f, []zipEntry{{name: "a.txt", mode: 0o644, content: "hello"}}))
	f.Add(buildZip(f, []zipEntry{{name: "../evil", mode: 0o644, content: "x"}}))
	f.Add(buildZip(f, []zipEntry{{name: "d/", mode: fs.ModeDir | 0o755}, {name: "d/l", mode: fs.ModeSymlink | 0o777, content: "../x"}}))
	f.Add(buildZip(f, []zipEntry{{name: "l", mode: fs.ModeSymlink | 0o777, content: "a/../.."}, {name: "l/x", mode: 0o644}}))
	f.Add([]byte("PK\x03\x04 not really"))
	lim := zipLimits{MaxFiles: 50, MaxBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		stats, err := zipToTar(bytes.NewReader(data), int64(len(data)), &out, lim)
		if err != nil {
			return
		}
		if stats.Files > lim.MaxFiles || stats.Bytes > lim.MaxBytes {
			t.Fatalf("limits exceeded: %+v", stats)
		}
		tr := tar.NewReader(&out)
		var total int64
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("accepted zip produced a bad tar: %v", err)
			}
			name := strings.TrimSuffix(h.Name, "/")
			if !fs.ValidPath(name) || name == "." {
				t.Fatalf("entry %q is not a local path", h.Name)
			}
			if h.Typeflag == tar.TypeSymlink {
				if strings.HasPrefix(h.Linkname, "/") {
					t.Fatalf("symlink %q to absolute %q", h.Name, h.Linkname)
				}
				r := path.Join(path.Dir(name), strings.ReplaceAll(h.Linkname, `\`, "/"))
				if r == ".." || strings.HasPrefix(r, "../") {
					t.Fatalf("symlink %q escapes via %q", h.Name, h.Linkname)
				}
			}
			n, _ := io.Copy(io.Discard, tr)
			total += n
		}
		if total > lim.MaxBytes {
			t.Fatalf("tar holds %d bytes, limit %d", total, lim.MaxBytes)
		}
	})
}

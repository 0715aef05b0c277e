package cli

import (
	"archive/zip"
	"bytes"
	"crypto/sha1" //nolint:gosec // API contract
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // API contract
	return hex.EncodeToString(sum[:])
}

// writeTree creates files (path → content; a trailing "/" makes a dir)
// with mode 0644, or 0755 for names ending in ".sh".
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func readZip(t *testing.T, data []byte) (map[string]string, map[string]os.FileMode) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files, modes := map[string]string{}, map[string]os.FileMode{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[zf.Name] = string(b)
		modes[zf.Name] = zf.Mode()
	}
	return files, modes
}

func TestGatherDirHonoursCfignoreAndHashes(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"main.go":          "package main",
		"run.sh":           "#!/bin/sh\nexec ./app",
		"static/index.htm": "<h1>hi</h1>",
		"static/empty.txt": "",
		"logs/today.log":   "noise",
		"notes.tmp":        "tmp",
		"keep.tmp":         "kept",
		".git/HEAD":        "ref: main",
		"manifest.yml":     "applications: []",
		".cfignore":        "logs/\n*.tmp\n!keep.tmp\n",
		"emptydir/":        "",
	})
	if err := os.Symlink(filepath.Join(root, "main.go"), filepath.Join(root, "link.go")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(root, "loop")); err != nil {
		t.Fatal(err)
	}
	b, err := gatherBits(root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got []string
	for _, f := range b.files {
		got = append(got, f.rel)
	}
	want := "emptydir,keep.tmp,link.go,main.go,run.sh,static,static/empty.txt,static/index.htm"
	if strings.Join(got, ",") != want {
		t.Fatalf("files = %v, want %s", got, want)
	}
	res := b.resources()
	byPath := map[string]string{}
	for _, r := range res {
		byPath[r.Path] = r.Mode + " " + r.Checksum.Value
		if r.Path == "main.go" && r.SizeInBytes != int64(len("package main")) {
			t.Errorf("main.go size %d", r.SizeInBytes)
		}
	}
	if _, ok := byPath["static/empty.txt"]; ok {
		t.Error("empty file sent for resource matching")
	}
	if byPath["main.go"] != "644 "+sha1Hex("package main") {
		t.Errorf("main.go resource = %q", byPath["main.go"])
	}
	if byPath["run.sh"] != "755 "+sha1Hex("#!/bin/sh\nexec ./app") {
		t.Errorf("run.sh resource = %q", byPath["run.sh"])
	}
	if b.fileCount() != 6 {
		t.Errorf("fileCount = %d", b.fileCount())
	}

	var buf bytes.Buffer
	n, err := b.writeZip(&buf, map[string]bool{matchKey("main.go", sha1Hex("package main")): true})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("wrote %d files, want 5", n)
	}
	files, modes := readZip(t, buf.Bytes())
	if _, ok := files["main.go"]; ok {
		t.Error("matched file main.go was zipped")
	}
	if files["run.sh"] != "#!/bin/sh\nexec ./app" || modes["run.sh"].Perm() != 0o755 {
		t.Errorf("run.sh = %q mode %v", files["run.sh"], modes["run.sh"])
	}
	if files["link.go"] != "package main" {
		t.Errorf("symlinked file content %q", files["link.go"])
	}
	if !modes["emptydir/"].IsDir() {
		t.Errorf("emptydir/ missing or not a dir: %v", modes)
	}
}

func TestGatherArchive(t *testing.T) {
	dir := t.TempDir()
	jar := filepath.Join(dir, "app.jar")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, content string, mode os.FileMode) {
		h := &zip.FileHeader{Name: name}
		if mode != 0 {
			h.SetMode(mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, content)
	}
	add("META-INF/", "", os.ModeDir|0o755)
	add("META-INF/MANIFEST.MF", "Main-Class: App\n", 0)
	add("App.class", "cafebabe", 0o644)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jar, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := gatherBits(jar)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res := b.resources()
	if len(res) != 2 || res[0].Path != "App.class" || res[0].Mode != "644" || res[1].Mode != "744" ||
		res[0].Checksum.Value != sha1Hex("cafebabe") {
		t.Fatalf("resources = %+v", res)
	}
	var out bytes.Buffer
	if _, err := b.writeZip(&out, nil); err != nil {
		t.Fatal(err)
	}
	files, _ := readZip(t, out.Bytes())
	if files["META-INF/MANIFEST.MF"] != "Main-Class: App\n" || files["App.class"] != "cafebabe" {
		t.Fatalf("repacked = %v", files)
	}
}

func TestGatherRejects(t *testing.T) {
	dir := t.TempDir()
	// An archive entry escaping the root.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("../evil")
	_, _ = io.WriteString(w, "x")
	zw.Close()
	evil := filepath.Join(dir, "evil.zip")
	if err := os.WriteFile(evil, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gatherBits(evil); err == nil || !strings.Contains(err.Error(), "unsafe entry") {
		t.Errorf("evil zip: %v", err)
	}
	// A directory with nothing to push.
	empty := filepath.Join(dir, "empty")
	writeTree(t, empty, map[string]string{".git/HEAD": "x", "sub/": ""})
	if _, err := gatherBits(empty); !errors.Is(err, ErrNoAppFiles) {
		t.Errorf("empty dir: %v", err)
	}
	// A plain file that is not an archive.
	plain := filepath.Join(dir, "app.txt")
	_ = os.WriteFile(plain, []byte("x"), 0o644)
	if _, err := gatherBits(plain); err == nil {
		t.Error("plain file accepted")
	}
	if _, err := gatherBits(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path accepted")
	}
}

package host

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ingot-paas/ingot/internal/backend"
)

func TestDirUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	used, err := DirUsage(dir, MaxDiskWalkEntries)
	if err != nil || used < 64<<10 || used > 1<<20 {
		t.Errorf("DirUsage = %d, %v; want about 64 KiB (symlinks not followed)", used, err)
	}
	if some, err := DirUsage(dir, 1); err != nil || some >= used {
		t.Errorf("DirUsage bounded to one entry = %d, %v; want less than %d", some, err, used)
	}
}

func TestRemoveTreeReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if err := os.MkdirAll(filepath.Join(dir, "ro", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ro", "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "ro"), 0o500); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir left: %v", err)
	}
}

type testRecord struct {
	Handle string `json:"handle"`
	N      int    `json:"n"`
}

func TestLoadRecords(t *testing.T) {
	root := t.TempDir()
	write := func(handle, data string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(root, handle), 0o755); err != nil {
			t.Fatal(err)
		}
		if data != "" {
			if err := os.WriteFile(filepath.Join(root, handle, "container.json"), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := WriteJSON(filepath.Join(root, "ignored-file"), testRecord{Handle: "x"}, 0o600); err != nil {
		t.Fatal(err)
	}
	write("good", "")
	if err := WriteJSON(filepath.Join(root, "good", "container.json"), testRecord{Handle: "good", N: 7}, 0o600); err != nil {
		t.Fatal(err)
	}
	write("empty", "")
	write("garbage", "{not json")
	write("other", `{"handle":"someone-else"}`)
	write(".hidden", `{"handle":".hidden"}`)
	var missing []string
	found, err := LoadRecords(root, "container.json", func(r *testRecord) string { return r.Handle },
		func(name, dir string) { missing = append(missing, name) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Rec != (testRecord{Handle: "good", N: 7}) || found[0].Dir != filepath.Join(root, "good") {
		t.Errorf("found %+v", found)
	}
	if !slices.Equal(missing, []string{"empty"}) {
		t.Errorf("missing = %v, want [empty]", missing)
	}
	if _, err := os.Stat(filepath.Join(root, "good", "container.json.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteJSON left its temporary file: %v", err)
	}
	if _, err := LoadRecords(filepath.Join(root, "nope"), "container.json", func(r *testRecord) string { return r.Handle },
		func(string, string) {}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("LoadRecords of a missing root succeeded")
	}
}

func TestCheckSpec(t *testing.T) {
	errInvalid := errors.New("invalid")
	capacity := backend.Capacity{MemoryBytes: 100, DiskBytes: 200}
	for _, tc := range []struct {
		spec backend.ContainerSpec
		want error
	}{
		{backend.ContainerSpec{Handle: "ok-1.x_y", MemoryLimitBytes: 100, DiskLimitBytes: 200}, nil},
		{backend.ContainerSpec{Handle: ""}, errInvalid},
		{backend.ContainerSpec{Handle: ".."}, errInvalid},
		{backend.ContainerSpec{Handle: "a/b"}, errInvalid},
		{backend.ContainerSpec{Handle: string(make([]byte, 129))}, errInvalid},
		{backend.ContainerSpec{Handle: "m", MemoryLimitBytes: 101}, backend.ErrNoCapacity},
		{backend.ContainerSpec{Handle: "d", DiskLimitBytes: 201}, backend.ErrNoCapacity},
	} {
		err := CheckSpec(tc.spec, capacity, errInvalid)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("CheckSpec(%+v) = %v, want %v", tc.spec, err, tc.want)
		}
	}
}

func TestCapacity(t *testing.T) {
	if m, d, err := Capacity(t.TempDir(), 5, 6); m != 5 || d != 6 || err != nil {
		t.Errorf("Capacity with both set = %d, %d, %v", m, d, err)
	}
	if m, d, err := Capacity(t.TempDir(), 0, 0); m == 0 || d == 0 || err != nil {
		t.Errorf("Capacity of the host = %d, %d, %v", m, d, err)
	}
	if _, _, err := Capacity(filepath.Join(t.TempDir(), "missing"), 1, 0); err == nil {
		t.Error("Capacity of a missing root dir succeeded")
	}
}

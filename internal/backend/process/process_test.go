package process

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/backendtest"
)

func testConfig(root string) Config {
	return Config{
		RootDir:           root,
		MonitorInterval:   50 * time.Millisecond,
		DiskCheckInterval: 200 * time.Millisecond,
		StopGrace:         time.Second,
	}
}

func newTestBackend(t *testing.T, root string) *Backend {
	t.Helper()
	b, err := New(testConfig(root), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	roots := map[*testing.T]string{}
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		mu.Lock()
		root, ok := roots[t]
		if !ok {
			root = t.TempDir()
			roots[t] = root
		}
		mu.Unlock()
		return newTestBackend(t, root)
	})
}

func TestParseStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 1 0 123456 1000000 300 18446744073709551615"
	p, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if p.pid != 4242 || p.ppid != 1 || p.pgrp != 4242 || p.state != 'S' || p.utime != 250 || p.stime != 50 ||
		p.cutime != 7 || p.cstime != 3 || p.start != 123456 || p.rss != 300*uint64(os.Getpagesize()) {
		t.Errorf("parsed %+v", p)
	}
	if p.cpu() != 3100*time.Millisecond {
		t.Errorf("cpu = %v", p.cpu())
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1 2", "1 (y) S a 1 1 0 -1 0 0 0 0 0 1 1 1 1 20 0 1 0 1 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 1 0 0 1 1 1 1 20 0 1 0 1 1 1 1"))
	f.Add([]byte("2 ()) R 1 2 2"))
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = parseStat(data) })
}

func TestCleanName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a/b", "a/b", true}, {"./a/./b/", "a/b", true}, {"./", ".", true}, {"a/../b", "b", true},
		{"/a", "", false}, {"../a", "", false}, {"a/../../b", "", false}, {"..", "", false}, {"", "", false},
	} {
		got, err := cleanName(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("cleanName(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, backend.ErrInvalidPath) {
			t.Errorf("cleanName(%q) error %v is not ErrInvalidPath", tc.in, err)
		}
	}
}

func TestStopKillsGrandchildThatLeftTheGroup(t *testing.T) {
	b := newTestBackend(t, t.TempDir())
	defer b.Close()
	ctx := context.Background()
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "setsid"})
	if err != nil {
		t.Fatal(err)
	}
	// python3 starts a child in a new session (another group), which
	// ignores SIGTERM and writes its pid.
	script := `python3 -c '
import os, signal, time
pid = os.fork()
if pid == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open("grandchild.pid", "w").write(str(os.getpid()))
    time.sleep(600)
else:
    os.waitpid(pid, 0)
'`
	p, err := c.Run(ctx, backend.ProcessSpec{Path: "bash", Args: []string{"-c", script}}, backend.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(c.HomeDir(), "grandchild.pid")
	var pid int
	deadline := time.Now().Add(20 * time.Second)
	for pid == 0 {
		if data, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		if time.Now().After(deadline) {
			t.Fatal("grandchild never wrote its pid")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Stop(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if st, ok := readStat(pid); ok && !st.zombie() {
		t.Errorf("grandchild %d in another session survived Stop (state %c)", pid, st.state)
	}
	if err := b.Destroy(ctx, "setsid"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.cfg.RootDir, "setsid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir left after Destroy: %v", err)
	}
}

func TestDiskQuotaKills(t *testing.T) {
	b := newTestBackend(t, t.TempDir())
	defer b.Close()
	ctx := context.Background()
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "disk", DiskLimitBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(ctx, "disk")
	p, err := c.Run(ctx, backend.ProcessSpec{Path: "bash", Args: []string{"-c", "head -c 32M /dev/zero > big; sleep 120"}}, backend.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := p.Wait(); code != 128+int(syscall.SIGKILL) {
		t.Errorf("exit status %d, want 137", code)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Events) == 0 || info.Events[0] != EventDiskQuotaExceeded || info.State != "stopped" {
		t.Errorf("Info = %+v, want disk quota event and stopped", info)
	}
}

func TestStreamInBoundedByDiskLimit(t *testing.T) {
	b := newTestBackend(t, t.TempDir())
	defer b.Close()
	ctx := context.Background()
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "small", DiskLimitBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(ctx, "small")
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		_ = tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3 << 20})
		_, err := io.Copy(tw, strings.NewReader(strings.Repeat("x", 3<<20)))
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	if err := c.StreamIn(ctx, c.HomeDir(), pr); !errors.Is(err, ErrTooLarge) {
		t.Errorf("StreamIn = %v, want ErrTooLarge", err)
	}
}

func TestInvalidInput(t *testing.T) {
	b := newTestBackend(t, t.TempDir())
	defer b.Close()
	ctx := context.Background()
	for _, h := range []string{"", "..", "a/b", ".hidden", strings.Repeat("x", 200)} {
		if _, err := b.Create(ctx, backend.ContainerSpec{Handle: h}); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("Create(%q) = %v, want ErrInvalidSpec", h, err)
		}
	}
	if _, err := b.Create(ctx, backend.ContainerSpec{Handle: "huge", MemoryLimitBytes: b.cap.MemoryBytes + 1}); !errors.Is(err, backend.ErrNoCapacity) {
		t.Errorf("Create over capacity = %v, want ErrNoCapacity", err)
	}
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(ctx, "ok")
	if _, err := c.Run(ctx, backend.ProcessSpec{Path: "true", Dir: "/etc"}, backend.ProcessIO{}); !errors.Is(err, backend.ErrInvalidPath) {
		t.Errorf("Run with Dir /etc = %v, want ErrInvalidPath", err)
	}
	if _, err := c.NetIn(61001, 61002); !errors.Is(err, ErrPortUnavailable) {
		t.Errorf("NetIn with different ports = %v, want ErrPortUnavailable", err)
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
		_ = extractTar(context.Background(), root, strings.NewReader(string(data)), 64<<10)
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

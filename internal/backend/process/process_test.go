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
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/backendtest"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
	"github.com/ingot-paas/ingot/internal/backend/internal/testutil"
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
	root := testutil.RootPerTest()
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return newTestBackend(t, root(t))
	})
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
	if st, ok := host.ReadStat(pid); ok && !st.Zombie() {
		t.Errorf("grandchild %d in another session survived Stop (state %c)", pid, st.State)
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

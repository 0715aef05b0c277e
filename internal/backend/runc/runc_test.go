//go:build linux

package runc

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/backendtest"
	"github.com/ingot-paas/ingot/internal/backend/internal/testutil"
)

// skipUnlessRunc skips t where the backend cannot run (not root, or no
// runc); CI installs runc and runs as root.
func skipUnlessRunc(t testing.TB) {
	t.Helper()
	if err := Available(""); err != nil {
		t.Skipf("runc backend tests skipped: %v", err)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("INGOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func testConfig(root string) Config {
	return Config{
		RootDir:           root,
		StopGrace:         time.Second,
		MonitorInterval:   50 * time.Millisecond,
		DiskCheckInterval: 200 * time.Millisecond,
		// Away from the default range, which the process backend's tests
		// (and other DEAs) on the same host use.
		PortRangeStart: 29101,
		PortRangeEnd:   29400,
	}
}

func newTestBackend(t testing.TB, cfg Config) *Backend {
	t.Helper()
	b, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	skipUnlessRunc(t)
	root := testutil.RootPerTest()
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return newTestBackend(t, testConfig(root(t)))
	})
}

func TestHostStackPath(t *testing.T) {
	got := hostStackPath("/usr/local/go/bin:/root/go/bin:relative:/usr/bin:/opt/x/bin:/bin:/usr/bin/")
	want := "/usr/local/go/bin:/usr/bin:/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/sbin"
	if got != want {
		t.Errorf("hostStackPath = %q, want %q", got, want)
	}
}

func TestBuildEnv(t *testing.T) {
	got := buildEnv("/p", []string{"A=1", "B=2", "bad", "=x"}, []string{"B=3", "HOME=/h", "C=a=b"})
	want := []string{"A=1", "B=3", "HOME=/h", "C=a=b", "PATH=/p", "USER=vcap", "LANG=C.UTF-8", "TMPDIR=/tmp"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("buildEnv = %v, want %v", got, want)
	}
}

func TestCPUShares(t *testing.T) {
	for _, tc := range []struct {
		spec backend.ContainerSpec
		want uint64
	}{
		{backend.ContainerSpec{}, 1024},
		{backend.ContainerSpec{MemoryLimitBytes: 256 << 20}, 32},
		{backend.ContainerSpec{MemoryLimitBytes: 8 << 20}, 2},
		{backend.ContainerSpec{MemoryLimitBytes: 64 << 30}, 1024},
		{backend.ContainerSpec{MemoryLimitBytes: 256 << 20, CPUShares: 512}, 512},
	} {
		if got := cpuShares(tc.spec); got != tc.want {
			t.Errorf("cpuShares(%+v) = %d, want %d", tc.spec, got, tc.want)
		}
	}
}

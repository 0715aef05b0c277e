//go:build linux

package runc

import (
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/backendtest"
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
		return newTestBackend(t, testConfig(root))
	})
}

package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/process"
	"github.com/ingot-paas/ingot/internal/backend/runc"
)

// BenchmarkInstanceStart measures what a backend adds to an instance
// start, the way the DEA starts one: create the container (memory limit,
// disk quota), stream the app in, map a port, run the app, and wait until
// it accepts connections on its port. The app is e2e/testdata/runcprobe
// (a small Go HTTP server). Destroying the container is not timed.
//
//	go test ./bench -run '^$' -bench InstanceStart -benchtime 20x
//
// The runc case needs root and runc (it is skipped otherwise). Compare
// its start-ms with the process case's: the difference is the latency
// runc adds per instance (create-ms is the container create alone);
// runc-no-disk-quota shows what the ext4 quota image (mkfs, loop mount)
// costs.
func BenchmarkInstanceStart(b *testing.B) {
	tarball := probeTar(b)
	b.Run("process", func(b *testing.B) {
		be, err := process.New(process.Config{RootDir: b.TempDir(), StopGrace: time.Second, PortRangeStart: 29501, PortRangeEnd: 29700}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		defer be.Close()
		benchStart(b, be, tarball, 256<<20)
	})
	for _, tc := range []struct {
		name string
		disk uint64
	}{{"runc", 256 << 20}, {"runc-no-disk-quota", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			if err := runc.Available(""); err != nil {
				b.Skipf("runc backend unavailable: %v", err)
			}
			be, err := runc.New(runc.Config{RootDir: b.TempDir(), StopGrace: time.Second, PortRangeStart: 29501, PortRangeEnd: 29700, UIDBase: 90000}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			benchStart(b, be, tarball, tc.disk)
		})
	}
}

// probeTar builds runcprobe and returns a tar holding app/runcprobe.
func probeTar(b *testing.B) []byte {
	b.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		b.Skipf("go not installed: %v", err)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "runcprobe")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(repoRoot(), "e2e", "testdata", "runcprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build runcprobe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "app/runcprobe", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))})
	_, _ = tw.Write(data)
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchStart(b *testing.B, be backend.Backend, tarball []byte, disk uint64) {
	ctx := context.Background()
	var creates, starts []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c, err := be.Create(ctx, backend.ContainerSpec{
			Handle:           fmt.Sprintf("bench-start-%d", i),
			MemoryLimitBytes: 64 << 20,
			DiskLimitBytes:   disk,
			CPUShares:        8,
		})
		if err != nil {
			b.Fatal(err)
		}
		created := time.Since(t0)
		if err := c.StreamIn(ctx, c.HomeDir(), bytes.NewReader(tarball)); err != nil {
			b.Fatal(err)
		}
		pm, err := c.NetIn(0, 0)
		if err != nil {
			b.Fatal(err)
		}
		port := strconv.Itoa(int(pm.HostPort))
		home := c.HomeDir()
		proc, err := c.Run(ctx, backend.ProcessSpec{
			Path: home + "/app/runcprobe",
			Env:  []string{"PORT=" + port, "HOME=" + home + "/app"},
			Dir:  home + "/app",
		}, backend.ProcessIO{})
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), time.Second)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the app never listened on %s: %v", port, err)
			}
			time.Sleep(time.Millisecond)
		}
		started := time.Since(t0)
		b.StopTimer()
		creates = append(creates, created)
		starts = append(starts, started)
		_ = proc.Signal(os.Kill)
		if err := be.Destroy(ctx, c.Handle()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(ms(median(creates)), "create-ms")
	b.ReportMetric(ms(median(starts)), "start-ms")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

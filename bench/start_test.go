package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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

// startProbe creates a container, streams runcprobe in, maps a port and
// runs the app; it returns once the app accepts connections.
func startProbe(b *testing.B, be backend.Backend, tarball []byte, handle string, disk uint64) (c backend.Container, port string, created time.Duration) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now()
	c, err := be.Create(ctx, backend.ContainerSpec{
		Handle:           handle,
		MemoryLimitBytes: 64 << 20,
		DiskLimitBytes:   disk,
		CPUShares:        8,
	})
	if err != nil {
		b.Fatal(err)
	}
	created = time.Since(t0)
	if err := c.StreamIn(ctx, c.HomeDir(), bytes.NewReader(tarball)); err != nil {
		b.Fatal(err)
	}
	pm, err := c.NetIn(0, 0)
	if err != nil {
		b.Fatal(err)
	}
	port = strconv.Itoa(int(pm.HostPort))
	home := c.HomeDir()
	if _, err := c.Run(ctx, backend.ProcessSpec{
		Path: home + "/app/runcprobe",
		Env:  []string{"PORT=" + port, "HOME=" + home + "/app"},
		Dir:  home + "/app",
	}, backend.ProcessIO{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), time.Second)
		if err == nil {
			conn.Close()
			return c, port, created
		}
		if time.Now().After(deadline) {
			b.Fatalf("the app never listened on %s: %v", port, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func benchStart(b *testing.B, be backend.Backend, tarball []byte, disk uint64) {
	ctx := context.Background()
	var creates, starts []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c, _, created := startProbe(b, be, tarball, fmt.Sprintf("bench-start-%d", i), disk)
		started := time.Since(t0)
		b.StopTimer()
		creates = append(creates, created)
		starts = append(starts, started)
		if err := be.Destroy(ctx, c.Handle()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(ms(median(creates)), "create-ms")
	b.ReportMetric(ms(median(starts)), "start-ms")
}

// BenchmarkNeighbourUnderBurner is the latency of an HTTP request to one
// app while another app on the same backend burns every CPU (2 goroutines
// per core), against the same request with the burner idle. On runc the
// apps' cgroups split the CPU by their shares; the process backend leaves
// it to the host scheduler.
//
//	go test ./bench -run '^$' -bench NeighbourUnderBurner -benchtime 500x
func BenchmarkNeighbourUnderBurner(b *testing.B) {
	tarball := probeTar(b)
	backends := map[string]func(b *testing.B) backend.Backend{
		"process": func(b *testing.B) backend.Backend {
			be, err := process.New(process.Config{RootDir: b.TempDir(), StopGrace: time.Second, PortRangeStart: 29501, PortRangeEnd: 29700}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = be.Close() })
			return be
		},
		"runc": func(b *testing.B) backend.Backend {
			if err := runc.Available(""); err != nil {
				b.Skipf("runc backend unavailable: %v", err)
			}
			be, err := runc.New(runc.Config{RootDir: b.TempDir(), StopGrace: time.Second, PortRangeStart: 29501, PortRangeEnd: 29700, UIDBase: 90000}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = be.Close() })
			return be
		},
	}
	for _, name := range []string{"process", "runc"} {
		for _, burn := range []bool{false, true} {
			label := name + "/idle"
			if burn {
				label = name + "/burning"
			}
			b.Run(label, func(b *testing.B) {
				be := backends[name](b)
				ctx := context.Background()
				victim, vport, _ := startProbe(b, be, tarball, "victim", 0)
				defer be.Destroy(ctx, victim.Handle())
				burner, bport, _ := startProbe(b, be, tarball, "burner", 0)
				defer be.Destroy(ctx, burner.Handle())
				hc := &http.Client{Timeout: 10 * time.Second}
				get := func(port, path string) {
					resp, err := hc.Get("http://127.0.0.1:" + port + path)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if burn {
					get(bport, "/burn?seconds=600")
					time.Sleep(200 * time.Millisecond)
				}
				var lat []time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					get(vport, "/")
					lat = append(lat, time.Since(t0))
				}
				b.StopTimer()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			})
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

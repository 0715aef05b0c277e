//go:build linux

package runc

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	procbackend "github.com/ingot-paas/ingot/internal/backend/process"
)

// benchBackends returns the backends to compare: runc (when it can run
// here) and the process backend.
func benchBackends(b *testing.B) map[string]backend.Backend {
	out := map[string]backend.Backend{}
	pb, err := procbackend.New(procbackend.Config{RootDir: b.TempDir(), StopGrace: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pb.Close() })
	out["process"] = pb
	if Available("") == nil {
		rb, err := New(testConfig(b.TempDir()), slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rb.Close() })
		out["runc"] = rb
	}
	return out
}

// BenchmarkCreateRunDestroy is the whole life of a container: create (and
// start), run `true` to completion, destroy. With runc, disk-quota adds the
// loop-mounted image a container with a disk limit gets.
func BenchmarkCreateRunDestroy(b *testing.B) {
	backends := benchBackends(b)
	cases := []struct {
		name, backend string
		disk          uint64
	}{
		{"process", "process", 0},
		{"runc", "runc", 0},
		{"runc-disk-quota", "runc", 1 << 30},
	}
	for _, tc := range cases {
		be, ok := backends[tc.backend]
		if !ok {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				h := fmt.Sprintf("bench-%d", i)
				c, err := be.Create(ctx, backend.ContainerSpec{Handle: h, MemoryLimitBytes: 256 << 20, DiskLimitBytes: tc.disk})
				if err != nil {
					b.Fatal(err)
				}
				p, err := c.Run(ctx, backend.ProcessSpec{Path: "true"}, backend.ProcessIO{})
				if err != nil {
					b.Fatal(err)
				}
				if code, err := p.Wait(); code != 0 || err != nil {
					b.Fatalf("true: %d %v", code, err)
				}
				if err := be.Destroy(ctx, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCreateDestroy is the container overhead alone, which is what an
// instance start adds before its start command runs.
func BenchmarkCreateDestroy(b *testing.B) {
	for name, be := range benchBackends(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				h := fmt.Sprintf("bench-cd-%d", i)
				if _, err := be.Create(ctx, backend.ContainerSpec{Handle: h, MemoryLimitBytes: 256 << 20}); err != nil {
					b.Fatal(err)
				}
				if err := be.Destroy(ctx, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRun is one process run to completion in an existing container.
func BenchmarkRun(b *testing.B) {
	for name, be := range benchBackends(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			c, err := be.Create(ctx, backend.ContainerSpec{Handle: "bench-run"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = be.Destroy(context.Background(), "bench-run") })
			for b.Loop() {
				p, err := c.Run(ctx, backend.ProcessSpec{Path: "true"}, backend.ProcessIO{})
				if err != nil {
					b.Fatal(err)
				}
				if code, err := p.Wait(); code != 0 || err != nil {
					b.Fatalf("true: %d %v", code, err)
				}
			}
		})
	}
}

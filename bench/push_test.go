// Package bench holds ingot's end-to-end benchmarks. BenchmarkPush measures
// push-to-first-200 of the example apps through the real platform, split
// into upload, staging and start:
//
//	go test ./bench -run '^$' -bench Push -benchtime 3x
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/internal/platform"
)

// stampWriter records when each marker line first appears in the CLI's
// output.
type stampWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	markers []string
	seen    map[string]time.Time
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.buf.Write(p)
	for _, m := range w.markers {
		if _, ok := w.seen[m]; !ok && strings.Contains(w.buf.String(), m) {
			w.seen[m] = now
		}
	}
	return len(p), nil
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func BenchmarkPush(b *testing.B) {
	for _, ex := range []string{"static", "go"} {
		b.Run(ex, func(b *testing.B) { benchPush(b, ex) })
	}
}

func benchPush(b *testing.B, example string) {
	b.Setenv("INGOT_HOME", b.TempDir())
	ctx := context.Background()
	p, err := platform.Start(ctx, platform.Options{
		DataDir: b.TempDir(), APIAddr: "127.0.0.1:0", RouterAddr: "127.0.0.1:0",
		NATSAddr: "127.0.0.1:0", Domain: "apps.bench", Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	if err := platform.ConfigureCLI(ctx, p); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(repoRoot(), "examples", example)
	hc := &http.Client{Timeout: 5 * time.Second}
	var upload, staging, start, total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("%s-bench-%d", example, i)
		w := &stampWriter{markers: []string{"Packaging files", "Staging app", "Waiting for app"}, seen: map[string]time.Time{}}
		first200 := make(chan time.Time, 1)
		pollCtx, cancel := context.WithCancel(ctx)
		go func() {
			for pollCtx.Err() == nil {
				req, _ := http.NewRequestWithContext(pollCtx, http.MethodGet, p.RouterURL+"/", nil)
				req.Host = name + "." + p.Domain
				if resp, err := hc.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						first200 <- time.Now()
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		t0 := time.Now()
		root := cli.NewRootCommand()
		root.SetArgs([]string{"push", name, "-p", dir, "--no-manifest", "-m", "64M"})
		root.SetOut(w)
		root.SetErr(w)
		if code := cli.Execute(ctx, root); code != 0 {
			cancel()
			b.Fatalf("push failed:\n%s", w.buf.String())
		}
		var t200 time.Time
		select {
		case t200 = <-first200:
		case <-time.After(30 * time.Second):
			cancel()
			b.Fatalf("%s never answered 200", name)
		}
		cancel()
		tUp, tStage, tStart := w.seen["Packaging files"], w.seen["Staging app"], w.seen["Waiting for app"]
		if tUp.IsZero() || tStage.IsZero() || tStart.IsZero() {
			b.Fatalf("push output lacks a phase marker:\n%s", w.buf.String())
		}
		upload += tStage.Sub(tUp)
		staging += tStart.Sub(tStage)
		start += t200.Sub(tStart)
		total += t200.Sub(t0)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(upload.Milliseconds())/n, "upload-ms")
	b.ReportMetric(float64(staging.Milliseconds())/n, "staging-ms")
	b.ReportMetric(float64(start.Milliseconds())/n, "start-ms")
	b.ReportMetric(float64(total.Milliseconds())/n, "push-to-200-ms")
}

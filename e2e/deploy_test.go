package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadLoop sends GETs to host through the router until stop is called
// (bounded in count and time) and counts answers that are not 200 with
// the wanted body prefix.
type loadLoop struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	bodies     map[string]int
	stopc      chan struct{}
	done       chan struct{}
}

func (e *env) startLoad(host string) *loadLoop {
	l := &loadLoop{stopc: make(chan struct{}), done: make(chan struct{}), bodies: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		deadline := time.Now().Add(3 * time.Minute)
		for n := 0; n < 100000 && time.Now().Before(deadline); n++ {
			select {
			case <-l.stopc:
				return
			default:
			}
			req, _ := http.NewRequest(http.MethodGet, e.p.RouterURL+"/", nil)
			req.Host = host + "." + e.p.Domain
			resp, err := client.Do(req)
			if err != nil {
				l.fail(err.Error())
				continue
			}
			buf := make([]byte, 64)
			k, _ := resp.Body.Read(buf)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				l.fail(resp.Status + " " + resp.Header.Get("X-Cf-Routererror"))
				continue
			}
			l.ok.Add(1)
			l.mu.Lock()
			l.bodies[strings.TrimSpace(string(buf[:k]))]++
			l.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return l
}

func (l *loadLoop) fail(why string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+why)
	}
	l.mu.Unlock()
}

// stop ends the loop and returns (successes, failures).
func (l *loadLoop) stop(t *testing.T) (int64, int64) {
	close(l.stopc)
	<-l.done
	ok, failed := l.ok.Load(), l.failed.Load()
	t.Logf("load: %d ok, %d failed %v; bodies %v", ok, failed, l.failures, l.bodies)
	return ok, failed
}

// TestRollingPushAndRollback pushes a 3-instance app, then a new version
// with --strategy rolling and a rollback to the first, with requests
// flowing through the router the whole time: none fails.
func TestRollingPushAndRollback(t *testing.T) {
	e := startPlatform(t, startOpts{})
	dir := example(t, "static")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("version one\n")
	e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"), "-i", "3")
	e.waitStatus("static-hello", "/", http.StatusOK, 30*time.Second)

	load := e.startLoad("static-hello")
	write("version two\n")
	out := e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"), "--strategy", "rolling")
	if !strings.Contains(out, "to deploy (rolling") {
		t.Errorf("rolling push output:\n%s", out)
	}
	eventually(t, 10*time.Second, "version two served", func() bool {
		_, body, _ := e.get("static-hello", "/")
		return strings.HasPrefix(body, "version two")
	})
	out = e.mustIngot("restart", "static-hello", "--strategy", "rolling")
	if !strings.Contains(out, "to deploy (rolling") {
		t.Errorf("rolling restart output:\n%s", out)
	}
	if ok, failed := load.stop(t); failed != 0 || ok == 0 {
		t.Errorf("rolling push and restart: %d requests failed (%d ok)", failed, ok)
	}
	for _, s := range e.webStats("static-hello") {
		if s.State != "RUNNING" {
			t.Errorf("after the rolling restart instance %d is %s", s.Index, s.State)
		}
	}

	// Two droplets, the newest current; roll back to the first.
	out = e.mustIngot("app", "static-hello", "--droplets")
	if !regexp.MustCompile(`(?m)^1 .*\(current\)$`).MatchString(out) || !regexp.MustCompile(`(?m)^2 `).MatchString(out) {
		t.Fatalf("droplets listing:\n%s", out)
	}
	load = e.startLoad("static-hello")
	out = e.mustIngot("rollback", "static-hello")
	if !strings.Contains(out, "to droplet #2") {
		t.Errorf("rollback output:\n%s", out)
	}
	eventually(t, 10*time.Second, "version one served again", func() bool {
		_, body, _ := e.get("static-hello", "/")
		return strings.HasPrefix(body, "version one")
	})
	if ok, failed := load.stop(t); failed != 0 || ok == 0 {
		t.Errorf("rollback: %d requests failed (%d ok)", failed, ok)
	}
	out = e.mustIngot("app", "static-hello", "--droplets")
	if !regexp.MustCompile(`(?m)^2 .*\(current\)$`).MatchString(out) {
		t.Fatalf("after the rollback, droplet #2 is not current:\n%s", out)
	}
	// Mistakes: a droplet number that does not exist, a bad strategy.
	if out, err := e.ingot("rollback", "static-hello", "--to", "9"); err == nil || !strings.Contains(out, "no droplet #9") {
		t.Errorf("rollback --to 9: %v\n%s", err, out)
	}
	if out, err := e.ingot("restart", "static-hello", "--strategy", "blue-green"); err == nil || !strings.Contains(out, "--strategy must be") {
		t.Errorf("restart --strategy blue-green: %v\n%s", err, out)
	}
}

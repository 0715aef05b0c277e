package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend/runc"
	"github.com/ingot-paas/ingot/internal/platform"
)

// needRunc skips a test that needs the runc backend where it cannot run.
func needRunc(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("the runc backend needs root (running as uid %d): run the runc e2e tests as root", os.Geteuid())
	}
	if err := runc.Available(""); err != nil {
		t.Skipf("runc backend unavailable: %v", err)
	}
}

// startRuncPlatform boots a platform whose DEA runs the runc backend.
func startRuncPlatform(t *testing.T) *env {
	t.Helper()
	needRunc(t)
	e := startPlatform(t, startOpts{backend: platform.BackendRunc})
	if len(e.p.Backends) != 1 || e.p.Backends[0].Kind != platform.BackendRunc {
		t.Fatalf("DEA backends = %+v, want one runc", e.p.Backends)
	}
	return e
}

// TestRuncPushExamples pushes every example app to a DEA on the runc
// backend: buildpacks run inside a staging container on the host stack,
// and the apps serve from their own containers.
func TestRuncPushExamples(t *testing.T) {
	pushExamples(t, startRuncPlatform(t))
}

// probeResult is runcprobe's answer.
type probeResult struct {
	OK    bool   `json:"ok"`
	Err   string `json:"err"`
	Data  string `json:"data"`
	Count int64  `json:"count"`
}

// probe asks the runcprobe app named app for path.
func (e *env) probe(app, path string) probeResult {
	e.t.Helper()
	code, body, _ := e.get(app, path)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s%s = %d %q", app, path, code, body)
	}
	var r probeResult
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		e.t.Fatalf("GET %s%s: %v in %q", app, path, err, body)
	}
	return r
}

// probeApp is one deployment of runcprobe.
type probeApp struct {
	name, memory, disk, args string
}

// buildProbe compiles e2e/testdata/runcprobe on the host (the binary
// buildpack runs it as is).
func buildProbe(t *testing.T) string {
	t.Helper()
	needTool(t, "go")
	dir := copyDir(t, filepath.Join(repoRoot(t), "e2e", "testdata", "runcprobe"))
	run(t, dir, "go", "build", "-o", "runcprobe", ".")
	return filepath.Join(dir, "runcprobe")
}

// pushProbe pushes bin as app a with the binary buildpack and returns the
// push output and error (an app that crashes at start fails the push).
func (e *env) pushProbe(bin string, a probeApp) (string, error) {
	e.t.Helper()
	dir := e.t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "build"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "build", "runcprobe"), data, 0o755); err != nil {
		e.t.Fatal(err)
	}
	manifest := fmt.Sprintf(`applications:
- name: %s
  memory: %s
  disk_quota: %s
  instances: 1
  path: build
  buildpacks:
  - binary_buildpack
  command: ./runcprobe %s
`, a.name, a.memory, a.disk, a.args)
	mf := filepath.Join(dir, "manifest.yml")
	if err := os.WriteFile(mf, []byte(manifest), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return e.ingot("push", "-f", mf)
}

// TestRuncIsolationAndLimits runs runcprobe apps side by side on one runc
// DEA: a victim holding a secret, a prober trying to reach it and to
// exhaust its own limits, and an app that is OOM-killed at every start.
// After each attack the victim must still serve.
func TestRuncIsolationAndLimits(t *testing.T) {
	needRunc(t)
	bin := buildProbe(t)
	e := startRuncPlatform(t)
	secret := fmt.Sprintf("s3cret-%d", time.Now().UnixNano())
	for _, a := range []probeApp{
		{name: "victim", memory: "64M", disk: "128M", args: "-secret " + secret},
		{name: "prober", memory: "256M", disk: "128M"},
	} {
		if out, err := e.pushProbe(bin, a); err != nil {
			t.Fatalf("push %s: %v\n%s", a.name, err, out)
		}
		e.waitStatus(a.name, "/", http.StatusOK, 30*time.Second)
	}
	victimServes := func(t *testing.T) {
		t.Helper()
		if code, body, _ := e.with(t).get("victim", "/"); code != http.StatusOK {
			t.Fatalf("the victim stopped serving: %d %q", code, body)
		}
	}
	victim := e.probe("victim", "/whoami").Data
	prober := e.probe("prober", "/whoami").Data
	field := func(s, k string) string {
		for _, f := range strings.Fields(s) {
			if v, ok := strings.CutPrefix(f, k+"="); ok {
				return v
			}
		}
		t.Fatalf("no %s in %q", k, s)
		return ""
	}

	t.Run("each app runs as its own unprivileged user with HOME in the container", func(t *testing.T) {
		if field(victim, "uid") == field(prober, "uid") || field(victim, "uid") == "0" || field(prober, "uid") == "0" {
			t.Fatalf("victim %q and prober %q: want distinct non-root uids", victim, prober)
		}
		if got := field(prober, "home"); got != "/home/vcap/app" {
			t.Errorf("HOME = %q, want /home/vcap/app", got)
		}
	})

	t.Run("cannot see other processes", func(t *testing.T) {
		e := e.with(t)
		r := e.probe("prober", "/ps")
		if !r.OK {
			t.Fatalf("ps: %s", r.Err)
		}
		if strings.Contains(r.Data, secret) || strings.Contains(r.Data, "e2e.test") || r.Count > 5 {
			t.Fatalf("the prober sees %d processes, want only its own container's:\n%s", r.Count, r.Data)
		}
		t.Logf("the prober sees %d processes:\n%s", r.Count, r.Data)
		if !strings.Contains(r.Data, "runcprobe") {
			t.Fatalf("the prober does not see itself:\n%s", r.Data)
		}
	})

	t.Run("cannot read another app's files or the DEA's data dir", func(t *testing.T) {
		e := e.with(t)
		// The victim's secret on the host, where the test (root) finds it.
		found, _ := filepath.Glob(filepath.Join(e.dataDir, "dea", "runc", "*", "disk", "home", "app", "secret.txt"))
		if len(found) != 1 {
			t.Fatalf("victim's secret.txt on the host: found %v", found)
		}
		if data, err := os.ReadFile(found[0]); err != nil || string(data) != secret {
			t.Fatalf("host copy of the secret: %q, %v", data, err)
		}
		for _, p := range []string{found[0], filepath.Dir(found[0]), e.dataDir, filepath.Join(e.dataDir, "dea"), filepath.Join(e.dataDir, "admin.json")} {
			if r := e.probe("prober", "/read?path="+p); r.OK || strings.Contains(r.Data, secret) {
				t.Errorf("the prober read %s: %+v", p, r)
			}
		}
		if r := e.probe("prober", "/read?path=/home/vcap/app/secret.txt"); r.OK {
			t.Errorf("the prober has the victim's secret in its own home: %+v", r)
		}
		if r := e.probe("victim", "/read?path=/home/vcap/app/secret.txt"); !r.OK || r.Data != secret {
			t.Errorf("the victim cannot read its own secret: %+v", r)
		}
	})

	t.Run("cannot write to the stack", func(t *testing.T) {
		e := e.with(t)
		for _, p := range []string{"/usr/bin/ingot-probe", "/usr/local/go/bin/ingot-probe", "/etc/ingot-probe", "/bin/ingot-probe", "/ingot-probe"} {
			if r := e.probe("prober", "/write?path="+p); r.OK {
				t.Errorf("the prober wrote %s", p)
			}
		}
		if r := e.probe("prober", "/write?path=/home/vcap/app/mine.txt"); !r.OK {
			t.Errorf("the prober cannot write its own home: %s", r.Err)
		}
		if r := e.probe("prober", "/write?path=/tmp/mine.txt"); !r.OK {
			t.Errorf("the prober cannot write its own /tmp: %s", r.Err)
		}
	})

	t.Run("cannot bind another app's port", func(t *testing.T) {
		e := e.with(t)
		port := field(victim, "port")
		r := e.probe("prober", "/bind?port="+port)
		if r.OK {
			t.Fatalf("the prober bound the victim's port %s", port)
		}
		if !strings.Contains(r.Err, "operation not permitted") && !strings.Contains(r.Err, "permission denied") {
			t.Errorf("binding the victim's port %s failed with %q, want the port filter's EPERM (not just address in use)", port, r.Err)
		}
		if r := e.probe("prober", "/bind?port=0"); !r.OK {
			t.Errorf("binding an ephemeral port outside the DEA's range failed: %s", r.Err)
		}
		victimServes(t)
	})

	t.Run("a disk-filling app is stopped at its disk quota", func(t *testing.T) {
		e := e.with(t)
		r := e.probe("prober", "/fill?mb=400")
		if r.OK || !strings.Contains(r.Err, "no space left on device") {
			t.Fatalf("writing 400 MB with a 128M quota: %+v, want ENOSPC", r)
		}
		if r.Count > 128<<20 {
			t.Errorf("wrote %d bytes past a 128M quota", r.Count)
		}
		t.Logf("the quota stopped the writer after %d MB", r.Count>>20)
		victimServes(t)
	})

	t.Run("a CPU burner does not starve its neighbour", func(t *testing.T) {
		e := e.with(t)
		if r := e.probe("prober", "/burn?seconds=8"); !r.OK {
			t.Fatalf("burn: %s", r.Err)
		}
		var lat []time.Duration
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			start := time.Now()
			victimServes(t)
			lat = append(lat, time.Since(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		// A figure, not an assertion (speed is for benchmarks).
		t.Logf("victim latency through the router under the burner (%d requests): p50 %s, max %s", len(lat), lat[len(lat)/2], lat[len(lat)-1])
	})

	t.Run("a fork bomb hits the pids limit and the DEA stays healthy", func(t *testing.T) {
		e := e.with(t)
		r := e.probe("prober", "/forkbomb")
		if r.Err == "" && !r.OK {
			t.Logf("fork bomb: %+v", r)
		}
		if r.OK || !strings.Contains(r.Err, "resource temporarily unavailable") {
			t.Fatalf("fork bomb: %+v, want EAGAIN from the pids limit", r)
		}
		if r.Count > 1024 {
			t.Errorf("the fork bomb started %d processes, more than the pids limit 1024", r.Count)
		}
		t.Logf("the fork bomb stopped after %d children", r.Count)
		victimServes(t)
		if st := e.webStats("victim"); len(st) != 1 || st[0].State != "RUNNING" {
			t.Fatalf("victim stats after the fork bomb: %+v", st)
		}
		e.mustIngot("stop", "prober")
		e.waitStatus("prober", "/", http.StatusNotFound, 30*time.Second)
	})

	t.Run("an app past its memory limit is OOM-killed and reported", func(t *testing.T) {
		e := e.with(t)
		out, err := e.pushProbe(bin, probeApp{name: "oomer", memory: "64M", disk: "128M", args: "-alloc-mb 256"})
		t.Logf("push of the OOM app (expected to fail to start): %v\n%s", err, out)
		var last string
		eventually(t, 60*time.Second, "the OOM app reported CRASHED with out of memory", func() bool {
			st := e.webStats("oomer")
			if len(st) == 0 {
				return false
			}
			last = fmt.Sprintf("%s %q", st[0].State, st[0].Details)
			return st[0].State == "CRASHED" && strings.Contains(st[0].Details, "out of memory")
		})
		t.Logf("oomer stats: %s", last)
		victimServes(t)
	})
}

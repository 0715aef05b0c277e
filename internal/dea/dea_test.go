package dea

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

func routeFor(instanceGUID string) func([]byte) bool {
	return func(b []byte) bool {
		var r messages.RouterRegister
		return json.Unmarshal(b, &r) == nil && r.PrivateInstanceID == instanceGUID
	}
}

func TestStartRunStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{mod: func(c *Config) { c.RegisterInterval = time.Hour }})
	d := webApp(t)
	msg := startMsg(d, "app-run", 0)
	msg.VCAPServices = json.RawMessage(`{"postgres":[{"name":"db","label":"postgres","credentials":{"uri":"postgres://u:p@db/x"}}]}`)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}

	hb := h.running(msg.InstanceGUID)
	if hb.AppGUID != "app-run" || hb.Version != "droplet-1" || hb.Index != 0 || hb.Host != "127.0.0.1" || hb.Port == 0 ||
		hb.MemQuota != 256<<20 || hb.DiskQuota != 512<<20 || hb.FDSQuota != 16384 || hb.StartedAt.IsZero() || hb.ProcessType != "web" {
		t.Errorf("running heartbeat = %+v", hb)
	}
	reg := decode[messages.RouterRegister](t, h.waitMsg(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID)))
	if reg.Host != "127.0.0.1" || int(reg.Port) != hb.Port || !slices.Equal(reg.URIs, msg.URIs) || reg.App != "app-run" ||
		reg.PrivateInstanceIndex != "0" || reg.Tags["component"] != "dea-"+h.dea.ID() {
		t.Errorf("router.register = %+v", reg)
	}

	// The app serves on its port.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", hb.Port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from ingot\n" {
		t.Errorf("app served %q", body)
	}

	// The app saw the right environment (it printed it to stdout).
	h.waitLog("app-run", "APP/PROC/WEB", "profile=sourced")
	env := map[string]string{}
	for _, l := range h.logLines("app-run", "APP/PROC/WEB") {
		if k, v, ok := strings.Cut(l.Message, "="); ok && l.Stream == "OUT" {
			env[k] = v
		}
	}
	home := env["HOME"]
	port := fmt.Sprint(hb.Port)
	for k, want := range map[string]string{
		"PORT": port, "VCAP_APP_PORT": port, "VCAP_APP_HOST": "0.0.0.0", "MEMORY_LIMIT": "256m",
		"CF_INSTANCE_INDEX": "0", "CF_INSTANCE_GUID": msg.InstanceGUID, "CF_INSTANCE_IP": "127.0.0.1",
		"CF_INSTANCE_PORT": port, "CF_INSTANCE_ADDR": "127.0.0.1:" + port,
		"CF_INSTANCE_PORTS": fmt.Sprintf(`[{"external":%s,"internal":%s}]`, port, port),
		"USER_VAR":          "user value", "DATABASE_URL": "postgres://u:p@db/x", "LANG": "C.UTF-8",
		"VCAP_SERVICES": string(msg.VCAPServices),
	} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	if !strings.HasSuffix(home, "/app") || env["TMPDIR"] != strings.TrimSuffix(home, "/app")+"/tmp" {
		t.Errorf("HOME = %q, TMPDIR = %q", home, env["TMPDIR"])
	}
	var vcap map[string]any
	if err := json.Unmarshal([]byte(env["VCAP_APPLICATION"]), &vcap); err != nil {
		t.Fatalf("VCAP_APPLICATION %q: %v", env["VCAP_APPLICATION"], err)
	}
	for k, want := range map[string]any{
		"instance_id": msg.InstanceGUID, "instance_index": 0.0, "host": "0.0.0.0", "port": float64(hb.Port),
		"application_id": "app-run", "application_name": "myapp", "cf_api": "http://api.test", "space_name": "dev",
		"limits": map[string]any{"mem": 256.0, "disk": 512.0, "fds": 16384.0},
	} {
		if fmt.Sprint(vcap[k]) != fmt.Sprint(want) {
			t.Errorf("VCAP_APPLICATION.%s = %v, want %v", k, vcap[k], want)
		}
	}
	for _, k := range []string{"started_at", "started_at_timestamp", "state_timestamp"} {
		if vcap[k] == nil {
			t.Errorf("VCAP_APPLICATION lacks %s", k)
		}
	}
	for _, line := range []string{
		"Cell " + h.dea.ID() + " creating container for instance " + msg.InstanceGUID,
		"Cell " + h.dea.ID() + " successfully created container for instance " + msg.InstanceGUID,
		"Starting health monitoring of container", "Container became healthy",
	} {
		h.waitLog("app-run", messages.SourceCell, line)
	}

	// Advertise shows the reservation.
	h.waitMsg(bus.SubjectDEAAdvertise, func(b []byte) bool {
		a := decode[messages.DEAAdvertise](t, b)
		return a.AvailableMemoryMB == 4096-256 && a.AvailableDiskMB == 8192-512 && a.AppIDToCount["app-run"] == 1
	})

	// Duplicate starts are no-ops.
	dup := *msg
	if r := h.start(&dup); !r.Accepted {
		t.Errorf("duplicate guid start refused: %+v", r)
	}
	again := *msg
	again.InstanceGUID = newGUID("inst")
	if r := h.start(&again); !r.Accepted {
		t.Errorf("duplicate app+version+index start refused: %+v", r)
	}
	if cs, _ := h.backend.List(context.Background()); len(cs) != 1 {
		t.Errorf("%d containers after duplicate starts, want 1", len(cs))
	}

	// router.start: re-register at once (the interval is an hour).
	before := len(h.rec.find(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID)))
	h.publish(bus.SubjectRouterStart, &messages.RouterStart{ID: "r1", MinimumRegisterIntervalInSeconds: 3600})
	eventually(t, "re-register after router.start", func() bool {
		return len(h.rec.find(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID))) > before
	})

	// dea.update: the removed route goes, the new set is registered.
	h.publish(bus.SubjectDEAUpdate, &messages.UpdateRoutes{AppGUID: "app-run", URIs: []string{"other.ingot.test"}})
	un := decode[messages.RouterRegister](t, h.waitMsg(bus.SubjectRouterUnregister, routeFor(msg.InstanceGUID)))
	if !slices.Equal(un.URIs, []string{"myapp.ingot.test"}) {
		t.Errorf("unregister after update = %v", un.URIs)
	}
	h.waitMsg(bus.SubjectRouterRegister, func(b []byte) bool {
		r := decode[messages.RouterRegister](t, b)
		return r.PrivateInstanceID == msg.InstanceGUID && slices.Equal(r.URIs, []string{"other.ingot.test"})
	})

	// healthmanager.start: a full heartbeat at once; dea.locate: an advert.
	nHB := len(h.rec.find(bus.SubjectDEAHeartbeat, nil))
	h.publish(bus.SubjectHMStart, struct{}{})
	eventually(t, "heartbeat after healthmanager.start", func() bool { return len(h.rec.find(bus.SubjectDEAHeartbeat, nil)) > nHB })

	// Usage is reported.
	h.waitMsg(bus.SubjectDEAHeartbeat, func(b []byte) bool {
		hb := decode[messages.Heartbeat](t, b)
		return len(hb.Instances) == 1 && hb.Instances[0].Usage.MemoryBytes > 0 && hb.Instances[0].Usage.DiskBytes > 0
	})

	// dea.stop: unregister, STOPPED, container gone, capacity back.
	h.publish(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: "app-run", Indices: []int{0}})
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonStopped || ex.DEA != h.dea.ID() || ex.Version != "droplet-1" || ex.Index != 0 {
		t.Errorf("droplet.exited = %+v", ex)
	}
	h.waitMsg(bus.SubjectRouterUnregister, func(b []byte) bool {
		r := decode[messages.RouterRegister](t, b)
		return r.PrivateInstanceID == msg.InstanceGUID && slices.Equal(r.URIs, []string{"other.ingot.test"})
	})
	h.waitLog("app-run", messages.SourceCell, "Cell "+h.dea.ID()+" stopping instance "+msg.InstanceGUID)
	eventually(t, "container destroyed", func() bool {
		cs, _ := h.backend.List(context.Background())
		return len(cs) == 0
	})
	h.waitMsg(bus.SubjectDEAAdvertise, func(b []byte) bool {
		a := decode[messages.DEAAdvertise](t, b)
		return a.AvailableMemoryMB == 4096 && len(a.AppIDToCount) == 0
	})
	// The droplet was downloaded once, for both starts.
	if n := d.gets.Load(); n != 1 {
		t.Errorf("droplet downloaded %d times", n)
	}
	// Stopping again is a no-op.
	h.publish(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: "app-run"})
}

func TestBadDigestCrashes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	msg := startMsg(d, "app-digest", 0)
	msg.DropletDigest = strings.Repeat("ab", 32)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonCrashed || !strings.Contains(ex.ExitDescription, "digest mismatch") {
		t.Errorf("droplet.exited = %+v", ex)
	}
	// The crash shows in a heartbeat once, then the instance is gone.
	h.waitMsg(bus.SubjectDEAHeartbeat, func(b []byte) bool {
		hb := decode[messages.Heartbeat](t, b)
		return len(hb.Instances) == 1 && hb.Instances[0].State == messages.StateCrashed
	})
	h.waitMsg(bus.SubjectDEAAdvertise, func(b []byte) bool {
		return decode[messages.DEAAdvertise](t, b).AvailableMemoryMB == 4096
	})
}

func TestStartRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{mod: func(c *Config) { c.MemoryMB = 300 }})
	d := webApp(t)
	for _, tc := range []struct {
		name string
		mod  func(*messages.StartInstance)
		want string
	}{
		{"memory", func(m *messages.StartInstance) { m.MemoryMB = 512 }, "insufficient resources"},
		{"disk", func(m *messages.StartInstance) { m.DiskMB = 1 << 20 }, "insufficient resources"},
		{"stack", func(m *messages.StartInstance) { m.Stack = "windows" }, "stack"},
		{"invalid", func(m *messages.StartInstance) { m.MemoryMB = 0 }, "memory_mb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := startMsg(d, "app-refuse", 0)
			tc.mod(msg)
			r := h.start(msg)
			if r.Accepted || !strings.Contains(r.Error, tc.want) {
				t.Errorf("reply = %+v, want refusal with %q", r, tc.want)
			}
		})
	}
	if d.gets.Load() != 0 {
		t.Error("a refused start downloaded the droplet")
	}
}

func TestCrashOnExit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	msg := startMsg(d, "app-exit", 2)
	msg.StartCommand = "echo going down; exit 1"
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonCrashed || ex.ExitStatus != 1 || ex.ExitDescription != "APP/PROC/WEB: Exited with status 1" || ex.Index != 2 || ex.CrashTimestamp == 0 {
		t.Errorf("droplet.exited = %+v", ex)
	}
	h.waitLog("app-exit", "APP/PROC/WEB", "going down")
	h.waitLog("app-exit", messages.SourceCell, "Exit status 1")
}

func TestEmptyStartCommandCrashes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := serveDroplet(t, map[string]string{"app/index.html": "x"})
	msg := startMsg(d, "app-nocmd", 0)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonCrashed || !strings.Contains(ex.ExitDescription, "Start command not specified") {
		t.Errorf("droplet.exited = %+v", ex)
	}
}

func TestNeverHealthy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	msg := startMsg(d, "app-deaf", 0)
	msg.StartCommand = "sleep 600"
	msg.HealthCheck = messages.HealthCheck{Type: messages.HealthCheckPort, TimeoutSeconds: 2}
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	// While starting, the heartbeat explains what fails.
	starting := h.waitMsg(bus.SubjectDEAHeartbeat, func(b []byte) bool {
		hb := decode[messages.Heartbeat](t, b)
		return len(hb.Instances) == 1 && hb.Instances[0].State == messages.StateStarting && hb.Instances[0].Details != ""
	})
	port := decode[messages.Heartbeat](t, starting).Instances[0].Port
	ex := h.exited(msg.InstanceGUID)
	want := fmt.Sprintf("Instance never healthy after 2s: Failed to make TCP connection to port %d: connection refused", port)
	if ex.Reason != messages.ReasonCrashed || ex.ExitDescription != want {
		t.Errorf("droplet.exited = %+v, want description %q", ex, want)
	}
	if len(h.rec.find(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID))) != 0 {
		t.Error("an instance that never became healthy was registered")
	}
}

func TestHTTPHealthCheck(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	good := startMsg(d, "app-http", 0)
	good.HealthCheck = messages.HealthCheck{Type: messages.HealthCheckHTTP, Endpoint: "/health"}
	bad := startMsg(d, "app-http", 1)
	bad.HealthCheck = messages.HealthCheck{Type: messages.HealthCheckHTTP, Endpoint: "/missing", TimeoutSeconds: 2}
	for _, m := range []*messages.StartInstance{good, bad} {
		if r := h.start(m); !r.Accepted {
			t.Fatalf("start refused: %+v", r)
		}
	}
	h.running(good.InstanceGUID)
	ex := h.exited(bad.InstanceGUID)
	if !strings.Contains(ex.ExitDescription, "Failed to make HTTP request to '/missing'") || !strings.Contains(ex.ExitDescription, "received status code 404") {
		t.Errorf("droplet.exited = %+v", ex)
	}
}

func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	msg := startMsg(d, "app-oom", 0)
	msg.MemoryMB = 64
	msg.HealthCheck = messages.HealthCheck{Type: messages.HealthCheckProcess}
	msg.StartCommand = `python3 -c 'import time; b = b"x" * (200 << 20); time.sleep(120)'`
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonCrashed || !strings.Contains(ex.ExitDescription, "out of memory") || ex.ExitStatus != 137 {
		t.Errorf("droplet.exited = %+v", ex)
	}
	h.waitLog("app-oom", messages.SourceCell, "Exit status 137 (out of memory)")
}

func TestShutdownStopsEverything(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	msg := startMsg(d, "app-shut", 0)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	h.running(msg.InstanceGUID)
	h.waitMsg(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID))
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonDEAShutdown {
		t.Errorf("droplet.exited = %+v", ex)
	}
	h.waitMsg(bus.SubjectRouterUnregister, routeFor(msg.InstanceGUID))
	sd := decode[messages.DEAShutdown](t, h.waitMsg(bus.SubjectDEAShutdown, nil))
	if sd.ID != h.dea.ID() {
		t.Errorf("dea.shutdown = %+v", sd)
	}
	if cs, _ := h.backend.List(context.Background()); len(cs) != 0 {
		t.Errorf("%d containers left after shutdown", len(cs))
	}
}

// fakeStager is the boundary to the real stager: it records requests and
// holds each until released.
type fakeStager struct {
	got     chan *messages.StagingRequest
	release chan struct{}
}

func (f *fakeStager) Stage(ctx context.Context, req *messages.StagingRequest) *messages.StagingResult {
	f.got <- req
	select {
	case <-f.release:
	case <-ctx.Done():
		return &messages.StagingResult{BuildGUID: req.BuildGUID, Error: ctx.Err().Error()}
	}
	return &messages.StagingResult{BuildGUID: req.BuildGUID, DetectedBuildpack: "fake", StartCommand: "run", DropletDigest: strings.Repeat("0", 64)}
}

func TestStagingGoesToStager(t *testing.T) {
	t.Parallel()
	st := &fakeStager{got: make(chan *messages.StagingRequest, 4), release: make(chan struct{})}
	h := newHarness(t, harnessOpts{stager: st, mod: func(c *Config) { c.MaxConcurrentStaging = 1 }})
	req := &messages.StagingRequest{AppGUID: "app-stage", BuildGUID: "build-1", PackageURI: "http://x/p", DropletUploadURI: "http://x/d", MemoryMB: 1024, DiskMB: 2048}
	stage := func(r *messages.StagingRequest) chan messages.StagingResult {
		out := make(chan messages.StagingResult, 1)
		data, _ := json.Marshal(r)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			raw, err := h.bus.Request(ctx, bus.StagingStartSubject(h.dea.ID()), data)
			var res messages.StagingResult
			if err != nil {
				res.Error = "request: " + err.Error()
			} else {
				_ = json.Unmarshal(raw, &res)
			}
			out <- res
		}()
		return out
	}
	first := stage(req)
	select {
	case got := <-st.got:
		if got.BuildGUID != "build-1" || got.AppGUID != "app-stage" {
			t.Errorf("stager got %+v", got)
		}
	case <-time.After(waitFor):
		t.Fatal("the stager never got the request")
	}
	// Staging memory is reserved while it runs.
	h.waitMsg(bus.SubjectDEAAdvertise, func(b []byte) bool {
		return decode[messages.DEAAdvertise](t, b).AvailableMemoryMB == 4096-1024
	})
	// A second staging beyond MaxConcurrentStaging is refused at once.
	second := *req
	second.BuildGUID = "build-2"
	res2 := <-stage(&second)
	if res2.BuildGUID != "build-2" || !strings.Contains(res2.Error, "too many concurrent stagings") {
		t.Errorf("second staging = %+v", res2)
	}
	close(st.release)
	res := <-first
	if res.Error != "" || res.BuildGUID != "build-1" || res.DetectedBuildpack != "fake" {
		t.Errorf("staging result = %+v", res)
	}
	h.waitMsg(bus.SubjectDEAAdvertise, func(b []byte) bool {
		return decode[messages.DEAAdvertise](t, b).AvailableMemoryMB == 4096
	})
	// An invalid request gets an error result.
	bad := <-stage(&messages.StagingRequest{AppGUID: "app-stage", BuildGUID: "build-3"})
	if !strings.Contains(bad.Error, "package_uri") {
		t.Errorf("invalid staging = %+v", bad)
	}
}

// A restart for the same index sent the moment droplet.exited goes out
// must start a new instance, not be taken for a duplicate of the one that
// just crashed (regression: the health manager's immediate restart was
// swallowed and the app stayed down).
func TestRestartRightAfterCrashIsNotADuplicate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	first := startMsg(d, "app-flap", 0)
	first.StartCommand = "exit 1"
	second := startMsg(d, "app-flap", 0)
	replies := make(chan messages.StartReply, 1)
	sub, err := h.bus.Subscribe(bus.SubjectDropletExited, "", func(m *bus.Msg) {
		var ex messages.DropletExited
		if json.Unmarshal(m.Data, &ex) != nil || ex.InstanceGUID != first.InstanceGUID {
			return
		}
		go func() { replies <- h.start(second) }()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if r := h.start(first); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	if r := <-replies; !r.Accepted {
		t.Fatalf("restart refused: %+v", r)
	}
	h.running(second.InstanceGUID)
}

// A start for an index whose instance is being stopped (a restart) starts
// a new instance instead of being taken for a duplicate.
func TestStartWhileStoppingIsNotADuplicate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{mod: func(c *Config) { c.StopTimeout = 5 * time.Second }})
	d := webApp(t)
	first := startMsg(d, "app-restart", 0)
	// Ignore SIGTERM so the stop takes a while.
	first.StartCommand = `trap "" TERM; exec python3 -m http.server $PORT`
	if r := h.start(first); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	h.running(first.InstanceGUID)
	h.publish(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: "app-restart", InstanceGUIDs: []string{first.InstanceGUID}})
	second := startMsg(d, "app-restart", 0)
	eventually(t, "the stop to be under way", func() bool {
		h.dea.mu.Lock()
		defer h.dea.mu.Unlock()
		in := h.dea.instances[first.InstanceGUID]
		return in == nil || in.stopping()
	})
	if r := h.start(second); !r.Accepted {
		t.Fatalf("restart refused: %+v", r)
	}
	h.running(second.InstanceGUID)
}

func TestStartRefusedWhenReservationsFillTheDEA(t *testing.T) {
	t.Parallel()
	// Placement works from advertisements that may be stale: the DEA
	// checks its own free capacity at every start.
	h := newHarness(t, harnessOpts{mod: func(c *Config) { c.MemoryMB = 600 }})
	d := webApp(t)
	first, second, third := startMsg(d, "app-full", 0), startMsg(d, "app-full", 1), startMsg(d, "app-full", 2)
	for _, m := range []*messages.StartInstance{first, second} {
		if r := h.start(m); !r.Accepted {
			t.Fatalf("start %d: %+v", m.Index, r)
		}
	}
	if r := h.start(third); r.Accepted || !strings.Contains(r.Error, "insufficient resources") {
		t.Fatalf("third start = %+v, want refused for memory", r)
	}
	h.running(first.InstanceGUID)
	h.publish(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: "app-full", InstanceGUIDs: []string{first.InstanceGUID}})
	h.exited(first.InstanceGUID)
	// The reservation is freed once the container is gone.
	eventually(t, "memory freed", func() bool {
		h.dea.mu.Lock()
		defer h.dea.mu.Unlock()
		mem, _ := h.dea.availableLocked()
		return mem >= 600-256
	})
	third.InstanceGUID = newGUID("inst")
	if r := h.start(third); !r.Accepted {
		t.Fatalf("start after a stop freed memory = %+v", r)
	}
}

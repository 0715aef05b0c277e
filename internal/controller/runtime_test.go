package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

type statsJSON struct {
	Resources []struct {
		Type          string `json:"type"`
		Index         int    `json:"index"`
		State         string `json:"state"`
		Host          string `json:"host"`
		Uptime        int64  `json:"uptime"`
		MemQuota      uint64 `json:"mem_quota"`
		DiskQuota     uint64 `json:"disk_quota"`
		FDSQuota      uint64 `json:"fds_quota"`
		Details       *string
		InstancePorts []struct {
			External int `json:"external"`
			Internal int `json:"internal"`
		} `json:"instance_ports"`
		Usage struct {
			Time string  `json:"time"`
			CPU  float64 `json:"cpu"`
			Mem  uint64  `json:"mem"`
			Disk uint64  `json:"disk"`
		} `json:"usage"`
	} `json:"resources"`
}

func (h *harness) stats(proc string) statsJSON {
	h.t.Helper()
	var s statsJSON
	h.do("GET", "/v3/processes/"+proc+"/stats", nil, 200, &s)
	return s
}

func (h *harness) waitStates(proc string, want ...string) statsJSON {
	h.t.Helper()
	var s statsJSON
	eventually(h.t, 10*time.Second, "states "+strings.Join(want, ","), func() bool {
		s = h.stats(proc)
		if len(s.Resources) != len(want) {
			return false
		}
		for i, r := range s.Resources {
			if r.State != want[i] {
				return false
			}
		}
		return true
	})
	return s
}

func TestStartStatsStopRestart(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-a")
	app := h.createApp("runner")
	proc := h.webProcess(app)
	drop := h.stagedDroplet(app, nil)
	route := h.createRoute("runner", "")
	h.mapRoute(route, app)

	// Stopped app: DOWN entries.
	if s := h.stats(proc); len(s.Resources) != 1 || s.Resources[0].State != "DOWN" {
		t.Fatalf("stopped stats: %+v", s)
	}

	var a appJSON
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, &a)
	if a.State != "STARTED" {
		t.Fatalf("start: %+v", a)
	}
	s := h.waitStates(proc, "RUNNING")
	r := s.Resources[0]
	if r.Type != "web" || r.Host != "127.0.0.1" || r.MemQuota != 256<<20 || r.DiskQuota != 1024<<20 || r.FDSQuota == 0 || len(r.InstancePorts) != 1 || r.Uptime < 1 || r.Usage.Mem == 0 {
		t.Fatalf("running stats: %+v", r)
	}
	starts := dea.startsFor(app)
	if len(starts) != 1 {
		t.Fatalf("starts: %+v", starts)
	}
	st := starts[0]
	if st.Version != drop || st.Index != 0 || st.MemoryMB != 256 || st.DiskMB != 1024 || st.ProcessType != "web" || st.Stack != "host" ||
		st.HealthCheck.Type != "port" || len(st.URIs) != 1 || st.URIs[0] != "runner.apps.localhost" || !strings.Contains(st.DropletURI, "/internal/v1/droplets/"+drop) {
		t.Fatalf("start message: %+v", st)
	}
	va := st.VCAPApplication
	if va["application_id"] != app || va["space_name"] != "dev" || va["organization_name"] != "ingot" || va["version"] != drop {
		t.Fatalf("vcap_application: %v", va)
	}
	// The droplet URL works for the DEA.
	if status, _, data := h.raw("GET", st.DropletURI, "", nil, false); status != 200 || !strings.HasPrefix(string(data), "droplet-") {
		t.Fatalf("droplet download by DEA: %d", status)
	}

	// The embedded process instances of cf apps (API 3.211).
	var procs list[struct {
		GUID             string `json:"guid"`
		ProcessInstances []struct {
			Index int    `json:"index"`
			State string `json:"state"`
		} `json:"process_instances"`
	}]
	h.do("GET", "/v3/processes?embed=process_instances&space_guids="+h.defaultSpace(), nil, 200, &procs)
	if len(procs.Resources) != 1 || len(procs.Resources[0].ProcessInstances) != 1 || procs.Resources[0].ProcessInstances[0].State != "RUNNING" {
		t.Fatalf("embedded instances: %+v", procs)
	}

	// Stop: dea.stop for the app, stats DOWN at once.
	stops := h.record(bus.SubjectDEAStop)
	h.do("POST", "/v3/apps/"+app+"/actions/stop", nil, 200, &a)
	if a.State != "STOPPED" {
		t.Fatalf("stop: %+v", a)
	}
	eventually(t, 5*time.Second, "dea.stop", func() bool {
		for _, m := range stops.all() {
			var st messages.StopInstances
			if json.Unmarshal(m, &st) == nil && st.AppGUID == app && len(st.InstanceGUIDs) == 0 {
				return true
			}
		}
		return false
	})
	h.waitStates(proc, "DOWN")
	eventually(t, 5*time.Second, "instances gone from the DEA", func() bool { return len(dea.running(app)) == 0 })

	// Restart from stopped starts again with a fresh instance.
	h.do("POST", "/v3/apps/"+app+"/actions/restart", nil, 200, nil)
	h.waitStates(proc, "RUNNING")
	if n := len(dea.startsFor(app)); n != 2 {
		t.Fatalf("starts after restart: %d", n)
	}
	// Restart while running replaces the instance, even when the DEA stops
	// the old one slowly (and treats an early start as a duplicate).
	dea.set(func(d *fakeDEA) { d.stopDelay = 300 * time.Millisecond })
	h.do("POST", "/v3/apps/"+app+"/actions/restart", nil, 200, nil)
	eventually(t, 5*time.Second, "third start", func() bool { return len(dea.startsFor(app)) == 3 })
	h.waitStates(proc, "RUNNING")
	eventually(t, 5*time.Second, "old instance stopped", func() bool { return len(dea.running(app)) == 1 })
}

func TestScale(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-s")
	app := h.createApp("scaler")
	proc := h.webProcess(app)
	h.stagedDroplet(app, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	h.waitStates(proc, "RUNNING")

	var p struct {
		Instances  int   `json:"instances"`
		MemoryInMB int64 `json:"memory_in_mb"`
	}
	h.do("POST", "/v3/apps/"+app+"/processes/web/actions/scale", map[string]any{"instances": 3}, 202, &p)
	if p.Instances != 3 {
		t.Fatalf("scale response: %+v", p)
	}
	h.waitStates(proc, "RUNNING", "RUNNING", "RUNNING")
	stops := h.record(bus.SubjectDEAStop)
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": 1, "memory_in_mb": 512}, 202, &p)
	if p.Instances != 1 || p.MemoryInMB != 512 {
		t.Fatalf("scale down response: %+v", p)
	}
	h.waitStates(proc, "RUNNING")
	eventually(t, 5*time.Second, "extra instances stopped", func() bool {
		for _, in := range dea.running(app) {
			if in.Index > 0 {
				return false
			}
		}
		return len(dea.running(app)) == 1
	})
	eventually(t, 5*time.Second, "stop message recorded", func() bool { return len(stops.all()) > 0 })
	var st messages.StopInstances
	json.Unmarshal(stops.all()[0], &st)
	if len(st.InstanceGUIDs) != 2 {
		t.Fatalf("scale-down stop: %+v", st)
	}
	for _, body := range []map[string]any{{"instances": -1}, {"memory_in_mb": 0}, {"disk_in_mb": -5}} {
		h.fail("POST", "/v3/processes/"+proc+"/actions/scale", body, 422)
	}
	h.fail("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": "many"}, 422)
	if _, _, d := h.fail("GET", "/v3/processes/nope", nil, 404); d != "Process not found" {
		t.Fatalf("unknown process: %q", d)
	}
	// Process PATCH: command and health check.
	var pp struct {
		Command     *string `json:"command"`
		HealthCheck struct {
			Type string `json:"type"`
			Data struct {
				Timeout  *int    `json:"timeout"`
				Endpoint *string `json:"endpoint"`
			} `json:"data"`
		} `json:"health_check"`
	}
	h.do("PATCH", "/v3/processes/"+proc, map[string]any{"command": "./serve", "health_check": map[string]any{"type": "http", "data": map[string]any{"timeout": 30, "endpoint": "/health"}}}, 200, &pp)
	if pp.Command == nil || *pp.Command != "./serve" || pp.HealthCheck.Type != "http" || *pp.HealthCheck.Data.Timeout != 30 || *pp.HealthCheck.Data.Endpoint != "/health" {
		t.Fatalf("patched process: %+v", pp)
	}
	pp.Command, pp.HealthCheck.Data.Endpoint, pp.HealthCheck.Data.Timeout = nil, nil, nil
	h.do("PATCH", "/v3/processes/"+proc, map[string]any{"command": nil, "health_check": map[string]any{"type": "process"}}, 200, &pp)
	if pp.Command != nil || pp.HealthCheck.Type != "process" || pp.HealthCheck.Data.Endpoint != nil {
		t.Fatalf("reset process: %+v", pp)
	}
	h.fail("PATCH", "/v3/processes/"+proc, map[string]any{"health_check": map[string]any{"type": "tcp"}}, 422)
	h.fail("PATCH", "/v3/processes/"+proc, map[string]any{"health_check": map[string]any{"type": "port", "data": map[string]any{"endpoint": "/x"}}}, 422)
	// Sidecars, deployments and route-service bindings are empty lists.
	var l list[ref]
	h.do("GET", "/v3/processes/"+proc+"/sidecars", nil, 200, &l)
	h.do("GET", "/v3/deployments?app_guids="+app+"&order_by=-created_at&page=1&per_page=1&status_values=ACTIVE", nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("deployments: %+v", l)
	}
	// `cf routes` asks for route-service bindings (regression: 404 made it fail).
	h.do("GET", "/v3/service_route_bindings?include=service_instance&route_guids=x", nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("service route bindings: %+v", l)
	}
}

func TestPlacementFailuresAndCrashes(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-full")
	dea.set(func(d *fakeDEA) { d.refuse = true })
	app := h.createApp("homeless")
	proc := h.webProcess(app)
	h.stagedDroplet(app, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	s := h.waitStates(proc, "DOWN")
	eventually(t, 5*time.Second, "insufficient resources", func() bool {
		s = h.stats(proc)
		return s.Resources[0].Details != nil
	})
	if *s.Resources[0].Details != "insufficient resources: DEA dea-full refused: no room" {
		t.Fatalf("details: %q", *s.Resources[0].Details)
	}

	// A crash shows as CRASHED with the reason.
	dea.set(func(d *fakeDEA) { d.refuse, d.crashOnStart = false, true })
	h.do("POST", "/v3/apps/"+app+"/actions/restart", nil, 200, nil)
	eventually(t, 5*time.Second, "crashed", func() bool {
		s = h.stats(proc)
		return s.Resources[0].State == "CRASHED"
	})
	if s.Resources[0].Details == nil || !strings.Contains(*s.Resources[0].Details, "Exited with status 1") {
		t.Fatalf("crash details: %+v", s.Resources[0])
	}
	// Too big for any DEA.
	h.do("POST", "/v3/apps/"+app+"/actions/stop", nil, 200, nil)
	dea.set(func(d *fakeDEA) { d.crashOnStart = false })
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"memory_in_mb": 100000}, 202, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	eventually(t, 5*time.Second, "insufficient resources for a big app", func() bool {
		s = h.stats(proc)
		return s.Resources[0].Details != nil && *s.Resources[0].Details == "insufficient resources: memory (needs 100000 MB, the most any DEA has free is 8192 MB)"
	})
}

func TestHealthManagerRequests(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-hm")
	app := h.createApp("healed")
	proc := h.webProcess(app)
	drop := h.stagedDroplet(app, nil)
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": 2}, 202, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	h.waitStates(proc, "RUNNING", "RUNNING")

	hm := func(req messages.HMRequest) {
		t.Helper()
		if err := h.bus.PublishJSON(bus.SubjectHMRequests, &req); err != nil {
			t.Fatal(err)
		}
	}
	// A START for a stale version, an index out of range, or a running
	// index is ignored.
	hm(messages.HMRequest{Op: messages.OpStart, AppGUID: app, Version: "old-droplet", Indices: []int{0}, Reason: "MISSING"})
	hm(messages.HMRequest{Op: messages.OpStart, AppGUID: app, Version: drop, Indices: []int{5}, Reason: "MISSING"})
	hm(messages.HMRequest{Op: messages.OpStart, AppGUID: app, Version: drop, Indices: []int{1}, Reason: "MISSING"})
	// A STOP of a wanted instance is ignored.
	var keep string
	for _, in := range dea.running(app) {
		keep = in.InstanceGUID
	}
	hm(messages.HMRequest{Op: messages.OpStop, AppGUID: app, Version: drop, InstanceGUIDs: []string{keep}, Reason: "EXTRA"})
	time.Sleep(500 * time.Millisecond) // give ignored requests a chance to (wrongly) act
	if n := len(dea.startsFor(app)); n != 2 {
		t.Fatalf("ignored STARTs placed instances: %d starts", n)
	}
	if n := len(dea.running(app)); n != 2 {
		t.Fatalf("ignored STOP stopped an instance: %d running", n)
	}

	// A crashed index: the HM's START is placed.
	var crashed messages.InstanceHeartbeat
	for _, in := range dea.running(app) {
		if in.Index == 1 {
			crashed = in
		}
	}
	dea.set(func(d *fakeDEA) { delete(d.instances, crashed.InstanceGUID) })
	h.bus.PublishJSON(bus.SubjectDropletExited, &messages.DropletExited{DEA: "dea-hm", AppGUID: app, Version: drop, InstanceGUID: crashed.InstanceGUID, Index: 1, Reason: messages.ReasonCrashed, ExitDescription: "boom"})
	h.waitStates(proc, "RUNNING", "CRASHED")
	hm(messages.HMRequest{Op: messages.OpStart, AppGUID: app, Version: drop, Indices: []int{1}, Reason: "CRASHED"})
	h.waitStates(proc, "RUNNING", "RUNNING")
	if n := len(dea.startsFor(app)); n != 3 {
		t.Fatalf("starts after HM START: %d", n)
	}

	// A duplicate of index 0 (an instance the controller never placed)
	// is stopped; the original is kept.
	dup := messages.InstanceHeartbeat{AppGUID: app, ProcessType: "web", Version: drop, InstanceGUID: "dup-0", Index: 0, State: messages.StateStarting, StartedAt: time.Now()}
	dea.set(func(d *fakeDEA) { d.instances["dup-0"] = dup })
	eventually(t, 5*time.Second, "duplicate seen", func() bool { _, ok := h.c.rt.findInstance("dup-0"); return ok })
	hm(messages.HMRequest{Op: messages.OpStop, AppGUID: app, Version: drop, InstanceGUIDs: []string{"dup-0"}, Reason: "DUPLICATE"})
	eventually(t, 5*time.Second, "duplicate stopped", func() bool {
		for _, in := range dea.running(app) {
			if in.InstanceGUID == "dup-0" {
				return false
			}
		}
		return true
	})
	if n := len(dea.running(app)); n != 2 {
		t.Fatalf("running after duplicate stop: %d", n)
	}
	// An old version's instance is stopped.
	old := messages.InstanceHeartbeat{AppGUID: app, ProcessType: "web", Version: "old", InstanceGUID: "old-0", Index: 0, State: messages.StateRunning}
	dea.set(func(d *fakeDEA) { d.instances["old-0"] = old })
	eventually(t, 5*time.Second, "old seen", func() bool { _, ok := h.c.rt.findInstance("old-0"); return ok })
	hm(messages.HMRequest{Op: messages.OpStop, AppGUID: app, Version: drop, InstanceGUIDs: []string{"old-0"}, Reason: "OLD_VERSION"})
	eventually(t, 5*time.Second, "old version stopped", func() bool { return len(dea.running(app)) == 2 })
	// Any instance of a deleted app is stopped.
	stops := h.record(bus.SubjectDEAStop)
	hm(messages.HMRequest{Op: messages.OpStop, AppGUID: "ghost-app", Version: "v", InstanceGUIDs: []string{"ghost-0"}, Reason: "UNKNOWN_APP"})
	eventually(t, 5*time.Second, "stop for unknown app", func() bool {
		for _, m := range stops.all() {
			var st messages.StopInstances
			if json.Unmarshal(m, &st) == nil && st.AppGUID == "ghost-app" && len(st.InstanceGUIDs) == 1 {
				return true
			}
		}
		return false
	})
}

func TestDesiredState(t *testing.T) {
	h := newHarness(t)
	running := h.createApp("desired")
	drop := h.stagedDroplet(running, nil)
	h.do("POST", "/v3/processes/"+h.webProcess(running)+"/actions/scale", map[string]any{"instances": 4}, 202, nil)
	h.do("POST", "/v3/apps/"+running+"/actions/start", nil, 200, nil)
	h.createApp("no-droplet")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, err := h.bus.Request(ctx, bus.SubjectDesiredState, []byte("{}"))
	if err != nil {
		t.Fatalf("desired state request: %v", err)
	}
	var rep messages.DesiredStateReply
	if err := messages.Decode(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Apps) != 1 {
		t.Fatalf("desired apps: %+v", rep.Apps)
	}
	d := rep.Apps[0]
	if d.AppGUID != running || d.State != "STARTED" || d.Version != drop || d.Instances != 4 || d.UpdatedAt.IsZero() || rep.GeneratedAt.IsZero() {
		t.Fatalf("desired app: %+v", d)
	}
}

func TestRestartResumesStartedApps(t *testing.T) {
	h := newHarness(t)
	dataDir := t.TempDir()
	h.restart(dataDir)
	dea := newFakeDEA(t, h, "dea-r")
	app := h.createApp("survivor")
	h.stagedDroplet(app, nil)
	proc := h.webProcess(app)
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": 2}, 202, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	h.waitStates(proc, "RUNNING", "RUNNING")
	// One instance dies with the controller away.
	h.stopFn()
	var victim string
	for _, in := range dea.running(app) {
		if in.Index == 1 {
			victim = in.InstanceGUID
		}
	}
	dea.set(func(d *fakeDEA) { delete(d.instances, victim) })
	h.start(dataDir)
	// The new controller places only the missing index.
	h.waitStates(proc, "RUNNING", "RUNNING")
	eventually(t, 10*time.Second, "one more start", func() bool { return len(dea.startsFor(app)) == 3 })
	time.Sleep(300 * time.Millisecond)
	if n := len(dea.startsFor(app)); n != 3 {
		t.Fatalf("starts after resume: %d (duplicated index 0?)", n)
	}
}

func TestPlacementSpreadsAcrossDEAs(t *testing.T) {
	h := newHarness(t)
	a := newFakeDEA(t, h, "dea-z1")
	b := newFakeDEA(t, h, "dea-z2")
	app := h.createApp("spread")
	proc := h.webProcess(app)
	h.stagedDroplet(app, nil)
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": 4}, 202, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	h.waitStates(proc, "RUNNING", "RUNNING", "RUNNING", "RUNNING")
	// Anti-affinity with optimistic reservations: two each, even though
	// all four were placed before either DEA advertised again.
	if na, nb := len(a.running(app)), len(b.running(app)); na != 2 || nb != 2 {
		t.Fatalf("instances per DEA: %d and %d, want 2 and 2", na, nb)
	}
}

// TestPlacementAcrossZones: instances spread over zones first, then over
// the DEAs of a zone. 3 DEAs in 2 zones, 6 instances: 3 per zone (the lone
// DEA of z2 runs 3, z1's two share theirs); 4 DEAs in 2 zones, 8
// instances: 4 per zone and 2 per DEA.
func TestPlacementAcrossZones(t *testing.T) {
	cases := []struct {
		name      string
		zones     []string // one DEA per entry
		instances int
		perDEA    []int // expected, in DEA order; -1 = any (checked per zone)
	}{
		{"3 DEAs in 2 zones", []string{"z1", "z1", "z2"}, 6, []int{-1, -1, 3}},
		{"4 DEAs in 2 zones", []string{"z1", "z1", "z2", "z2"}, 8, []int{2, 2, 2, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var deas []*fakeDEA
			for i, z := range tc.zones {
				d := newFakeDEA(t, h, fmt.Sprintf("dea-%s-%d", z, i))
				d.set(func(d *fakeDEA) { d.zone = z })
				deas = append(deas, d)
			}
			eventually(t, 5*time.Second, "zones advertised", func() bool {
				n := 0
				for _, c := range h.c.rt.candidates("") {
					if c.Zone != "" && c.Zone != "default" {
						n++
					}
				}
				return n == len(tc.zones)
			})
			app := h.createApp("zoned")
			proc := h.webProcess(app)
			h.stagedDroplet(app, nil)
			h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": tc.instances}, 202, nil)
			h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
			want := make([]string, tc.instances)
			for i := range want {
				want[i] = "RUNNING"
			}
			h.waitStates(proc, want...)
			perZone := map[string]int{}
			for i, d := range deas {
				n := len(d.running(app))
				perZone[tc.zones[i]] += n
				if tc.perDEA[i] >= 0 && n != tc.perDEA[i] {
					t.Errorf("DEA %d (zone %s) runs %d instances, want %d", i, tc.zones[i], n, tc.perDEA[i])
				}
			}
			for z, n := range perZone {
				if n != tc.instances/2 {
					t.Errorf("zone %s runs %d instances, want %d", z, n, tc.instances/2)
				}
			}
		})
	}
}

func TestRuntimeViewEvacuatingDEALeavesThePool(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	v := newRuntimeView(10*time.Second, 10*time.Second)
	v.now = func() time.Time { return now }
	ad := func(id string) messages.DEAAdvertise {
		return messages.DEAAdvertise{ID: id, Stacks: []string{"host"}, AvailableMemoryMB: 1024, AvailableDiskMB: 1024}
	}
	v.advertise(ad("dea-1"))
	v.advertise(ad("dea-2"))
	v.heartbeat(messages.Heartbeat{DEA: "dea-1", Instances: []messages.InstanceHeartbeat{{
		AppGUID: "app", ProcessType: "web", Version: "v1", InstanceGUID: "g0", Index: 0, State: messages.StateRunning}}})
	v.evacuating("dea-1")
	// An advertisement still in flight does not bring it back.
	v.advertise(ad("dea-1"))
	if cs := v.candidates("app"); len(cs) != 1 || cs[0].ID != "dea-2" {
		t.Fatalf("candidates = %+v, want only dea-2", cs)
	}
	// Its instances stay in view, reported EVACUATING: not live, so the
	// index is free for a replacement.
	v.heartbeat(messages.Heartbeat{DEA: "dea-1", Instances: []messages.InstanceHeartbeat{{
		AppGUID: "app", ProcessType: "web", Version: "v1", InstanceGUID: "g0", Index: 0, State: messages.StateEvacuating}}})
	if v.occupied("app", "web", "v1", 0) {
		t.Fatal("an evacuating instance occupies its index")
	}
	if ins := v.instances("app"); len(ins) != 1 || ins[0].State != messages.StateEvacuating {
		t.Fatalf("instances = %+v", ins)
	}
	// Once gone for good, it may come back as a new DEA.
	v.removeDEA("dea-1")
	v.advertise(ad("dea-1"))
	if cs := v.candidates("app"); len(cs) != 2 {
		t.Fatalf("candidates after the DEA came back = %d, want 2", len(cs))
	}
}

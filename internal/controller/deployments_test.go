package controller

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

type deploymentJSON struct {
	GUID   string `json:"guid"`
	State  string `json:"state"`
	Status struct {
		Value   string            `json:"value"`
		Reason  string            `json:"reason"`
		Details map[string]string `json:"details"`
	} `json:"status"`
	Strategy        string `json:"strategy"`
	Droplet         ref    `json:"droplet"`
	PreviousDroplet ref    `json:"previous_droplet"`
	Links           map[string]struct {
		Href string `json:"href"`
	} `json:"links"`
}

// extraDroplet stores another STAGED droplet of the app without making it
// current.
func (h *harness) extraDroplet(appGUID string) string {
	h.t.Helper()
	ctx := context.Background()
	guid := newGUID()
	content := []byte("droplet-" + guid)
	if _, err := h.blobs.Put(ctx, "droplets/"+guid, bytes.NewReader(content)); err != nil {
		h.t.Fatal(err)
	}
	d := &store.Droplet{Meta: store.Meta{GUID: guid}, AppGUID: appGUID, State: store.DropletStaged, Digest: "def",
		Size: int64(len(content)), StartCommand: "./run", ProcessTypes: map[string]string{"web": "./run"}, Stack: "host"}
	if err := h.store.Droplets().Create(ctx, d); err != nil {
		h.t.Fatal(err)
	}
	return guid
}

// watchCapacity samples the fake DEA until stop is called and returns the
// fewest RUNNING instances of the app it saw.
func watchCapacity(d *fakeDEA, app string) (stop func() int) {
	var low atomic.Int64
	low.Store(1 << 30)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			n := int64(len(d.running(app)))
			if n < low.Load() {
				low.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() int { close(done); wg.Wait(); return int(low.Load()) }
}

func (h *harness) waitDeployment(guid string) deploymentJSON {
	h.t.Helper()
	var d deploymentJSON
	eventually(h.t, 20*time.Second, "deployment "+guid+" to finish", func() bool {
		h.do("GET", "/v3/deployments/"+guid, nil, 200, &d)
		return d.Status.Value == store.DeploymentFinalized
	})
	return d
}

func TestRollingDeployment(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-roll")
	app := h.createApp("rolling")
	proc := h.webProcess(app)
	old := h.stagedDroplet(app, nil)
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": 3}, 202, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	h.waitStates(proc, "RUNNING", "RUNNING", "RUNNING")

	// The CLI's lookup finds no active deployment.
	var l list[deploymentJSON]
	h.do("GET", "/v3/deployments?app_guids="+app+"&status_values=ACTIVE", nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("active deployments before any: %+v", l.Resources)
	}

	// A rolling deployment of a new droplet: never fewer than 3 running.
	next := h.extraDroplet(app)
	low := watchCapacity(dea, app)
	var d deploymentJSON
	h.do("POST", "/v3/deployments", map[string]any{
		"droplet": map[string]string{"guid": next}, "strategy": "rolling",
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}},
	}, 201, &d)
	if d.Status.Value != "ACTIVE" || d.Status.Reason != "DEPLOYING" || d.Droplet.GUID != next || d.PreviousDroplet.GUID != old || d.Links["cancel"].Href == "" {
		t.Fatalf("created deployment: %+v", d)
	}
	d = h.waitDeployment(d.GUID)
	if d.Status.Reason != "DEPLOYED" {
		t.Fatalf("deployment ended %s: %v", d.Status.Reason, d.Status.Details)
	}
	eventually(t, 5*time.Second, "old instances to stop", func() bool { return len(dea.running(app)) == 3 })
	if n := low(); n < 3 {
		t.Errorf("capacity dropped to %d running instances during the deployment", n)
	}
	a, _ := h.store.Apps().Get(context.Background(), app)
	if a.DropletGUID != next {
		t.Fatalf("current droplet %s, want %s", a.DropletGUID, next)
	}
	for _, in := range dea.running(app) {
		if in.Version != a.RunVersion() || store.DropletOfVersion(in.Version) != next {
			t.Fatalf("instance %d runs %s after the deployment, want %s", in.Index, in.Version, a.RunVersion())
		}
	}
	h.waitStates(proc, "RUNNING", "RUNNING", "RUNNING")

	// A rolling restart (no droplet): a new version of the same droplet.
	before := a.RunVersion()
	low = watchCapacity(dea, app)
	h.do("POST", "/v3/deployments", map[string]any{
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}},
	}, 201, &d)
	if d = h.waitDeployment(d.GUID); d.Status.Reason != "DEPLOYED" {
		t.Fatalf("rolling restart ended %s: %v", d.Status.Reason, d.Status.Details)
	}
	eventually(t, 5*time.Second, "old instances to stop", func() bool { return len(dea.running(app)) == 3 })
	if n := low(); n < 3 {
		t.Errorf("capacity dropped to %d during the rolling restart", n)
	}
	a, _ = h.store.Apps().Get(context.Background(), app)
	if a.DropletGUID != next || a.RunVersion() == before {
		t.Fatalf("after the rolling restart: droplet %s version %s (was %s)", a.DropletGUID, a.RunVersion(), before)
	}

	// Listing: two finalized deployments, none active.
	h.do("GET", "/v3/deployments?app_guids="+app+"&order_by=-created_at", nil, 200, &l)
	if len(l.Resources) != 2 || l.Resources[0].GUID != d.GUID {
		t.Fatalf("deployments: %+v", l.Resources)
	}
}

func TestRollingDeploymentFailureKeepsOldVersion(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-fail")
	app := h.createApp("failing")
	proc := h.webProcess(app)
	old := h.stagedDroplet(app, nil)
	h.do("POST", "/v3/processes/"+proc+"/actions/scale", map[string]any{"instances": 2}, 202, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	h.waitStates(proc, "RUNNING", "RUNNING")
	oldVersion := dea.running(app)[0].Version

	// The new version crashes at once: the deployment is canceled and the
	// old version keeps serving.
	dea.set(func(d *fakeDEA) { d.crashOnStart = true })
	bad := h.extraDroplet(app)
	low := watchCapacity(dea, app)
	var d deploymentJSON
	h.do("POST", "/v3/deployments", map[string]any{
		"droplet":       map[string]string{"guid": bad},
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}},
	}, 201, &d)
	d = h.waitDeployment(d.GUID)
	if d.Status.Reason != "CANCELED" || d.Status.Details["error"] == "" {
		t.Fatalf("failed deployment: %+v", d.Status)
	}
	if n := low(); n < 2 {
		t.Errorf("capacity dropped to %d during the failed deployment", n)
	}
	a, _ := h.store.Apps().Get(context.Background(), app)
	if a.DropletGUID != old || a.RunVersion() != oldVersion {
		t.Fatalf("after the failure the app runs %s/%s, want %s/%s", a.DropletGUID, a.RunVersion(), old, oldVersion)
	}
	for _, in := range dea.running(app) {
		if in.Version != oldVersion {
			t.Fatalf("a new-version instance is left: %+v", in)
		}
	}
	h.waitStates(proc, "RUNNING", "RUNNING")

	// The failure is in the app's log.
	found := false
	for _, e := range h.logs.Read(app, logsQueryAll()) {
		if bytes.Contains([]byte(e.Message), []byte("Deployment failed")) {
			found = true
		}
	}
	if !found {
		t.Error("the app's log does not say the deployment failed")
	}
	_ = messages.StateRunning
}

func TestDeploymentBadInput(t *testing.T) {
	h := newHarness(t)
	newFakeDEA(t, h, "dea-bad")
	app := h.createApp("bad-input")
	other := h.createApp("other")
	otherDrop := h.stagedDroplet(other, nil)
	rel := map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}}
	cases := []struct {
		name string
		body map[string]any
		want string
	}{
		{"no droplet at all", map[string]any{"relationships": rel}, "Invalid droplet"},
		{"another app's droplet", map[string]any{"relationships": rel, "droplet": map[string]string{"guid": otherDrop}}, "Unable to assign current droplet"},
		{"unknown strategy", map[string]any{"relationships": rel, "strategy": "canary-ish"}, "Strategy 'canary-ish' is not supported"},
		{"no app", map[string]any{}, "Relationships app is required"},
		{"missing app", map[string]any{"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": "nope"}}}}, "Unable to use app"},
		{"max in flight 0", map[string]any{"relationships": rel, "options": map[string]any{"max_in_flight": 0}}, "Max in flight"},
	}
	for _, tc := range cases {
		code, _, detail := h.fail("POST", "/v3/deployments", tc.body, 422)
		_ = code
		if !bytes.Contains([]byte(detail), []byte(tc.want)) {
			t.Errorf("%s: detail %q, want it to contain %q", tc.name, detail, tc.want)
		}
	}
	h.fail("GET", "/v3/deployments/nope", nil, 404)
	var l list[deploymentJSON]
	h.do("GET", "/v3/deployments?app_guids="+app, nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("bad requests left deployments: %+v", l.Resources)
	}
	a, _ := h.store.Apps().Get(context.Background(), app)
	if a.State != store.AppStopped || a.DropletGUID != "" {
		t.Fatalf("bad requests changed the app: %+v", a)
	}
}

// TestDropletsKeptForRollback: staging keeps the newest DropletsKept
// droplets (and the current one, however old), deleting older ones with
// their blobs.
func TestDropletsKeptForRollback(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DropletsKept = 2 })
	newFakeDEA(t, h, "dea-keep")
	app := h.createApp("keeper")
	var staged []string
	for i := 0; i < 4; i++ {
		pkg := h.readyPackage(app)
		var b buildJSON
		h.do("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg}}, 201, &b)
		b = h.waitBuild(b.GUID)
		if b.State != "STAGED" || b.Droplet == nil {
			t.Fatalf("build %d: %+v", i, b)
		}
		staged = append(staged, b.Droplet.GUID)
		if i == 0 {
			// The first droplet is current: it must survive pruning.
			h.do("PATCH", "/v3/apps/"+app+"/relationships/current_droplet", map[string]any{"data": map[string]string{"guid": staged[0]}}, 200, nil)
		}
		time.Sleep(5 * time.Millisecond) // distinct creation times
	}
	var l list[ref]
	h.do("GET", "/v3/apps/"+app+"/droplets?states=STAGED", nil, 200, &l)
	have := map[string]bool{}
	for _, d := range l.Resources {
		have[d.GUID] = true
	}
	want := map[string]bool{staged[0]: true, staged[2]: true, staged[3]: true}
	if len(have) != len(want) {
		t.Fatalf("kept droplets %v, want the current one and the newest two %v (staged %v)", have, want, staged)
	}
	for g := range want {
		if !have[g] {
			t.Fatalf("droplet %s was pruned; kept %v", g, have)
		}
	}
	if ok, _ := h.blobs.Exists(context.Background(), "droplets/"+staged[1]); ok {
		t.Error("the pruned droplet's blob is still in the blobstore")
	}
}

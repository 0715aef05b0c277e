package healthmgr

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// harness runs an HM on embedded NATS with a fake clock, a fake controller
// (answering desired state, recording HM requests) and fake DEAs.
type harness struct {
	t       *testing.T
	clock   *FakeClock
	hm      *HM
	hmBus   *bus.NATS
	testBus *bus.NATS

	mu        sync.Mutex
	desired   []messages.DesiredApp
	requests  []messages.HMRequest
	sentinels int
	hmStarts  int
	ctrl      bus.Subscription
}

func newHarness(t *testing.T, cfg Config, desired ...messages.DesiredApp) *harness {
	t.Helper()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(e.Shutdown)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	connect := func(name string) *bus.NATS {
		b, err := bus.Connect(bus.Options{URL: e.URL(), Name: name}, log)
		if err != nil {
			t.Fatalf("connect %s: %v", name, err)
		}
		t.Cleanup(b.Close)
		return b
	}
	h := &harness{t: t, clock: NewFakeClock(t0), hmBus: connect("hm"), testBus: connect("test"), desired: desired}
	if _, err := h.testBus.Subscribe(bus.SubjectHMRequests, "", func(m *bus.Msg) {
		var req messages.HMRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			t.Errorf("bad hm request %s: %v", m.Data, err)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if req.Op == "SENTINEL" {
			h.sentinels++
			return
		}
		if err := req.Validate(); err != nil {
			t.Errorf("invalid hm request %+v: %v", req, err)
		}
		h.requests = append(h.requests, req)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.testBus.Subscribe(bus.SubjectHMStart, "", func(*bus.Msg) {
		h.mu.Lock()
		h.hmStarts++
		h.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	h.serveDesired()

	h.hm, err = New(cfg, Deps{Bus: h.hmBus, Clock: h.clock}, log)
	if err != nil {
		t.Fatalf("new hm: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.hm.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	eventually(t, "healthmanager.start", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.hmStarts > 0
	})
	h.idle()
	return h
}

// serveDesired makes the fake controller answer desired-state requests.
func (h *harness) serveDesired() {
	sub, err := h.testBus.Subscribe(bus.SubjectDesiredState, bus.QueueController, func(m *bus.Msg) {
		h.mu.Lock()
		reply := messages.DesiredStateReply{Apps: slices.Clone(h.desired), GeneratedAt: time.Now()}
		h.mu.Unlock()
		data, _ := json.Marshal(reply)
		_ = h.testBus.Respond(m, data)
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ctrl = sub
	h.flush()
}

func (h *harness) flush() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 10*time.Second)
	defer cancel()
	if err := h.testBus.Flush(ctx); err != nil {
		h.t.Fatalf("flush: %v", err)
	}
}

// controllerDown stops answering desired-state requests.
func (h *harness) controllerDown() {
	if err := h.ctrl.Unsubscribe(); err != nil {
		h.t.Fatal(err)
	}
	h.flush()
}

// idle waits until both HM loops wait on the clock.
func (h *harness) idle() {
	h.t.Helper()
	done := make(chan struct{})
	timer := time.AfterFunc(10*time.Second, func() { close(done) })
	defer timer.Stop()
	if !h.clock.WaitForWaiters(2, done) {
		h.t.Fatal("the HM loops did not settle")
	}
}

// step advances the clock by one 2 s interval and waits for the passes it
// triggers to finish.
func (h *harness) step() {
	h.t.Helper()
	h.clock.Advance(2 * time.Second)
	h.idle()
}

// heartbeat publishes a full heartbeat of dea and waits until the HM
// applied it.
func (h *harness) heartbeat(dea string, ins ...messages.InstanceHeartbeat) {
	h.t.Helper()
	hb := messages.Heartbeat{DEA: dea, Instances: ins}
	if err := h.testBus.PublishJSON(bus.SubjectDEAHeartbeat, hb); err != nil {
		h.t.Fatal(err)
	}
	now := h.clock.Now()
	eventually(h.t, "heartbeat applied", func() bool {
		a := h.hm.Actual()
		if !a.DEAs[dea].Equal(now) {
			return false
		}
		var got []string
		for _, in := range a.Instances {
			if in.DEA == dea {
				got = append(got, in.InstanceGUID+"/"+in.State)
			}
		}
		var want []string
		for _, in := range ins {
			want = append(want, in.InstanceGUID+"/"+in.State)
		}
		slices.Sort(got)
		slices.Sort(want)
		return slices.Equal(got, want)
	})
}

func (h *harness) exited(ex messages.DropletExited) {
	h.t.Helper()
	if err := h.testBus.PublishJSON(bus.SubjectDropletExited, ex); err != nil {
		h.t.Fatal(err)
	}
}

// sync makes sure every request the HM published so far has been recorded:
// a sentinel sent on the HM's own connection arrives after them.
func (h *harness) sync() {
	h.t.Helper()
	h.mu.Lock()
	want := h.sentinels + 1
	h.mu.Unlock()
	if err := h.hmBus.PublishJSON(bus.SubjectHMRequests, messages.HMRequest{Op: "SENTINEL"}); err != nil {
		h.t.Fatal(err)
	}
	eventually(h.t, "sentinel", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.sentinels >= want
	})
}

func (h *harness) recorded() []messages.HMRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

func describe(rs []messages.HMRequest) []string {
	out := []string{}
	for _, r := range rs {
		if r.Op == messages.OpStart {
			out = append(out, fmt.Sprintf("START %s %s %v %s", r.AppGUID, r.Version, r.Indices, r.Reason))
		} else {
			out = append(out, fmt.Sprintf("STOP %s %v %s", r.AppGUID, r.InstanceGUIDs, r.Reason))
		}
	}
	return out
}

// wantRecorded waits until exactly want has been recorded.
func (h *harness) wantRecorded(want ...string) {
	h.t.Helper()
	if want == nil {
		want = []string{}
	}
	eventually(h.t, fmt.Sprintf("requests %v (have %v)", want, describe(h.recorded())), func() bool {
		return slices.Equal(describe(h.recorded()), want)
	})
	h.sync()
	if got := describe(h.recorded()); !slices.Equal(got, want) {
		h.t.Fatalf("requests:\n got  %v\n want %v", got, want)
	}
}

func hbRunning(app, version string, index int, guid string) messages.InstanceHeartbeat {
	return messages.InstanceHeartbeat{AppGUID: app, Version: version, InstanceGUID: guid, Index: index,
		State: messages.StateRunning, StateTimestamp: float64(t0.Unix())}
}

// warmUp heartbeats through the 6 s freshness window.
func (h *harness) warmUp(dea string, ins ...messages.InstanceHeartbeat) {
	h.t.Helper()
	for i := 0; i < 3; i++ {
		h.heartbeat(dea, ins...)
		h.step()
	}
	h.heartbeat(dea, ins...)
}

func TestRunCrashRestartsAtOnceThenBacksOff(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 1))
	h.warmUp("dea-1", hbRunning("app", "v1", 0, "g0"))
	h.sync()
	h.wantRecorded()

	crash := func(guid string) {
		h.exited(messages.DropletExited{DEA: "dea-1", AppGUID: "app", Version: "v1", InstanceGUID: guid, Index: 0,
			Reason: messages.ReasonCrashed, ExitStatus: 1})
	}
	// Crashes 1-3 restart at once, with no clock movement.
	var want []string
	for i := 1; i <= 3; i++ {
		crash(fmt.Sprint("g", i-1))
		want = append(want, "START app v1 [0] CRASHED")
		h.wantRecorded(want...)
		if got := h.hm.CrashCount("app", 0); got != i {
			t.Fatalf("crash count = %d, want %d", got, i)
		}
	}
	// The 4th waits 2 s.
	crash("g3")
	eventually(t, "4th crash recorded", func() bool { return h.hm.CrashCount("app", 0) == 4 })
	h.idle()
	h.wantRecorded(want...)
	h.step()
	want = append(want, "START app v1 [0] CRASHED")
	h.wantRecorded(want...)

	// A repeated report of the same crash does not count again.
	h.heartbeat("dea-1", messages.InstanceHeartbeat{AppGUID: "app", Version: "v1", InstanceGUID: "g3", Index: 0,
		State: messages.StateCrashed})
	if got := h.hm.CrashCount("app", 0); got != 4 {
		t.Fatalf("crash count after a heartbeat repeating the crash = %d, want 4", got)
	}
	crash("g3")
	eventually(t, "repeated exit applied", func() bool { return len(h.hm.Actual().Instances) == 0 })
	if got := h.hm.CrashCount("app", 0); got != 4 {
		t.Fatalf("crash count after a repeated exit = %d, want 4", got)
	}
	h.wantRecorded(want...)

	// A crash seen only in a heartbeat (its droplet.exited was lost) counts.
	h.heartbeat("dea-1", messages.InstanceHeartbeat{AppGUID: "app", Version: "v1", InstanceGUID: "g4", Index: 0,
		State: messages.StateCrashed})
	if got := h.hm.CrashCount("app", 0); got != 5 {
		t.Fatalf("crash count after a crash seen in a heartbeat = %d, want 5", got)
	}
}

func TestRunStartsMissingIndexOnceWithinKeepAlive(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 2))
	one := hbRunning("app", "v1", 0, "g0")
	// Nothing is done before actual state is fresh.
	for i := 0; i < 2; i++ {
		h.heartbeat("dea-1", one)
		h.step()
		h.wantRecorded()
	}
	h.heartbeat("dea-1", one)
	h.step() // t0+6s: fresh
	h.wantRecorded("START app v1 [1] MISSING")
	req := h.recorded()[0]
	if req.Key != "app-v1-1" {
		t.Fatalf("key = %q, want app-v1-1", req.Key)
	}
	// Still missing, but not re-sent within the 10 s keep-alive.
	for i := 0; i < 4; i++ {
		h.heartbeat("dea-1", one)
		h.step()
		h.wantRecorded("START app v1 [1] MISSING")
	}
	h.heartbeat("dea-1", one)
	h.step() // 10 s after the first send
	h.wantRecorded("START app v1 [1] MISSING", "START app v1 [1] MISSING")
}

func TestRunStopsExtraAndDuplicate(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 1))
	dup := hbRunning("app", "v1", 0, "g-dup")
	dup.StateTimestamp = float64(t0.Add(time.Minute).Unix())
	for i := 0; i < 2; i++ {
		h.heartbeat("dea-1", hbRunning("app", "v1", 0, "g0"), hbRunning("app", "v1", 1, "g1"))
		h.heartbeat("dea-2", dup)
		h.step()
		h.wantRecorded()
	}
	h.heartbeat("dea-1", hbRunning("app", "v1", 0, "g0"), hbRunning("app", "v1", 1, "g1"))
	h.heartbeat("dea-2", dup)
	h.step() // fresh
	h.wantRecorded("STOP app [g-dup] DUPLICATE", "STOP app [g1] EXTRA")
}

func TestRunStaleDesiredStateMeansNoActions(t *testing.T) {
	h := newHarness(t, Config{DesiredStaleAfter: 3 * time.Second}, started("app", "v1", 2))
	h.controllerDown()
	h.warmUp("dea-1", hbRunning("app", "v1", 0, "g0"))
	for i := 0; i < 3; i++ {
		h.heartbeat("dea-1", hbRunning("app", "v1", 0, "g0"))
		h.step()
	}
	h.wantRecorded()
	// The controller comes back: the next fetch makes desired state fresh.
	h.serveDesired()
	h.heartbeat("dea-1", hbRunning("app", "v1", 0, "g0"))
	h.step()
	h.step()
	h.wantRecorded("START app v1 [1] MISSING")
}

func TestRunRestartsAtOnceAfterDEAShutdown(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 1))
	h.warmUp("dea-1", hbRunning("app", "v1", 0, "g0"))
	h.exited(messages.DropletExited{DEA: "dea-1", AppGUID: "app", Version: "v1", InstanceGUID: "g0", Index: 0,
		Reason: messages.ReasonDEAShutdown})
	h.wantRecorded("START app v1 [0] MISSING")
	if got := h.hm.CrashCount("app", 0); got != 0 {
		t.Fatalf("a shutdown counted as a crash: %d", got)
	}
}

func TestRunEvacuationStartsReplacementAndKeepsIt(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 2))
	h.warmUp("dea-1", hbRunning("app", "v1", 0, "g0"), hbRunning("app", "v1", 1, "g1"))
	h.wantRecorded()
	// dea-1 evacuates: g0 keeps running (and heartbeating, EVACUATING)
	// while a replacement starts elsewhere at once.
	h.exited(messages.DropletExited{DEA: "dea-1", AppGUID: "app", Version: "v1", InstanceGUID: "g0", Index: 0,
		Reason: messages.ReasonDEAEvacuation})
	h.wantRecorded("START app v1 [0] MISSING")
	evac := hbRunning("app", "v1", 0, "g0")
	evac.State = messages.StateEvacuating
	h.heartbeat("dea-1", evac, hbRunning("app", "v1", 1, "g1"))
	replacement := hbRunning("app", "v1", 0, "g0-new")
	replacement.StateTimestamp = float64(h.clock.Now().Unix())
	h.heartbeat("dea-2", replacement)
	// Neither the evacuating instance nor its newer replacement is
	// stopped, and nothing more is started.
	for i := 0; i < 7; i++ {
		h.heartbeat("dea-1", evac, hbRunning("app", "v1", 1, "g1"))
		h.heartbeat("dea-2", replacement)
		h.step()
	}
	h.wantRecorded("START app v1 [0] MISSING")
	if got := h.hm.CrashCount("app", 0); got != 0 {
		t.Fatalf("an evacuation counted as a crash: %d", got)
	}
}

func TestRunInstancesOfSilentDEAAreRestarted(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 2))
	h.heartbeat("dea-2", hbRunning("app", "v1", 1, "g1"))
	h.warmUp("dea-1", hbRunning("app", "v1", 0, "g0"))
	h.wantRecorded()
	// dea-2 heartbeated last at t0; at t0+8s its instance counts as gone.
	h.step()
	h.wantRecorded("START app v1 [1] MISSING")
}

func TestRunIgnoresMalformedMessages(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 1))
	for _, subj := range []string{bus.SubjectDEAHeartbeat, bus.SubjectDropletExited} {
		for _, body := range []string{"not json", `{}`, `{"dea":"d","droplets":[{"index":-1}]}`} {
			if err := h.testBus.Publish(subj, []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.warmUp("dea-1", hbRunning("app", "v1", 0, "g0"))
	h.wantRecorded()
	if n := len(h.hm.Actual().Instances); n != 1 {
		t.Fatalf("instances after malformed messages = %d, want 1", n)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, Deps{}, nil); err == nil {
		t.Fatal("New without a bus succeeded")
	}
	if _, err := New(Config{BackoffInitial: time.Hour, BackoffMax: time.Minute}, Deps{Bus: &bus.NATS{}}, nil); err == nil {
		t.Fatal("New with a bad config succeeded")
	}
}

func TestRunPartialHeartbeats(t *testing.T) {
	h := newHarness(t, Config{}, started("app", "v1", 2))
	h.heartbeat("dea-1", hbRunning("app", "v1", 0, "g0"))
	partial := messages.Heartbeat{DEA: "dea-1", Partial: true, Instances: []messages.InstanceHeartbeat{
		{AppGUID: "app", Version: "v1", InstanceGUID: "g1", Index: 1, State: messages.StateStarting}}}
	if err := h.testBus.PublishJSON(bus.SubjectDEAHeartbeat, partial); err != nil {
		t.Fatal(err)
	}
	eventually(t, "partial heartbeat applied", func() bool { return len(h.hm.Actual().Instances) == 2 })
	// A full heartbeat a second later replaces the DEA's instances and
	// keeps when each was first seen.
	h.clock.Advance(time.Second)
	h.heartbeat("dea-1", hbRunning("app", "v1", 1, "g1"))
	for _, in := range h.hm.Actual().Instances {
		if in.InstanceGUID == "g1" && !in.FirstSeen.Equal(t0) {
			t.Fatalf("first seen of g1 = %v, want %v (kept from the partial heartbeat)", in.FirstSeen, t0)
		}
	}
}

// TestRunRealClock runs the HM on the system clock with short timers.
func TestRunRealClock(t *testing.T) {
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	b, err := bus.Connect(bus.Options{URL: e.URL()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	var (
		mu   sync.Mutex
		reqs []messages.HMRequest
	)
	_, err = b.Subscribe(bus.SubjectDesiredState, bus.QueueController, func(m *bus.Msg) {
		data, _ := json.Marshal(messages.DesiredStateReply{Apps: []messages.DesiredApp{
			{AppGUID: "app", State: AppStarted, Version: "v1", Instances: 2, UpdatedAt: time.Now().Add(-time.Hour)}}})
		_ = b.Respond(m, data)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Subscribe(bus.SubjectHMRequests, "", func(m *bus.Msg) {
		var r messages.HMRequest
		if json.Unmarshal(m.Data, &r) == nil {
			mu.Lock()
			reqs = append(reqs, r)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	hm, err := New(Config{HeartbeatInterval: 20 * time.Millisecond, AnalyzeInterval: 20 * time.Millisecond,
		DesiredRefreshInterval: 20 * time.Millisecond, ActionKeepAlive: time.Hour}, Deps{Bus: b}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hm.Run(ctx) }()
	go func() {
		for ctx.Err() == nil {
			_ = b.PublishJSON(bus.SubjectDEAHeartbeat, messages.Heartbeat{DEA: "dea-1", Instances: []messages.InstanceHeartbeat{
				{AppGUID: "app", Version: "v1", InstanceGUID: "g0", Index: 0, State: messages.StateRunning}}})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	eventually(t, "a START for index 1", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reqs) > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := describe(reqs); !slices.Equal(got, []string{"START app v1 [1] MISSING"}) {
		t.Fatalf("requests = %v", got)
	}
}

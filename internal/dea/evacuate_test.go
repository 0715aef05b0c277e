package dea

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/router"
)

// evacuating is a DEA configuration that evacuates on shutdown.
func evacuating(timeout time.Duration) func(*Config) {
	return func(c *Config) {
		c.Evacuate = true
		c.EvacuationTimeout = timeout
		c.EvacuationDrain = 50 * time.Millisecond
	}
}

// heartbeatState is a predicate on heartbeats of dea showing the instance
// in state.
func heartbeatState(dea, instanceGUID, state string) func([]byte) bool {
	return func(b []byte) bool {
		var hb messages.Heartbeat
		if json.Unmarshal(b, &hb) != nil || hb.DEA != dea {
			return false
		}
		for _, in := range hb.Instances {
			if in.InstanceGUID == instanceGUID && in.State == state {
				return true
			}
		}
		return false
	}
}

// ordered records every message of one subscription, in the order the
// server delivered them.
type ordered struct {
	mu   sync.Mutex
	msgs []*bus.Msg
}

func (o *ordered) add(m *bus.Msg) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, &bus.Msg{Subject: m.Subject, Data: append([]byte(nil), m.Data...)})
}

// first is the position of the first message on subject matching pred
// (-1: none).
func (o *ordered) first(subject string, pred func([]byte) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, m := range o.msgs {
		if m.Subject == subject && pred(m.Data) {
			return i
		}
	}
	return -1
}

// prober GETs an instance over and over and counts failures until stopped.
type prober struct {
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	ok, fail int
	lastErr  error
}

func probe(url string) *prober {
	p := &prober{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			p.mu.Lock()
			if err != nil {
				p.fail++
				p.lastErr = err
			} else {
				p.ok++
			}
			p.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return p
}

func (p *prober) finish() (ok, fail int, lastErr error) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.fail, p.lastErr
}

func TestEvacuationStopsOnlyOnceReplaced(t *testing.T) {
	t.Parallel()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	old := newHarness(t, harnessOpts{natsURL: e.URL(), mod: evacuating(waitFor)})
	other := newHarness(t, harnessOpts{natsURL: e.URL()})
	var seq ordered
	if _, err := old.bus.Subscribe(">", "", seq.add); err != nil {
		t.Fatal(err)
	}
	d := webApp(t)
	msg := startMsg(d, "app-evac", 0)
	if r := old.start(msg); !r.Accepted {
		t.Fatalf("start: %+v", r)
	}
	hb := old.running(msg.InstanceGUID)
	old.waitMsg(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID))

	stopped := make(chan error, 1)
	go func() { stopped <- old.stop() }()

	// The DEA leaves the pool and reports the instance evacuated, without
	// stopping it: it keeps serving and heartbeating, EVACUATING.
	sd := decode[messages.DEAShutdown](t, old.waitMsg(bus.SubjectDEAShutdown, nil))
	if sd.ID != old.dea.ID() || !sd.Evacuating {
		t.Fatalf("dea.shutdown = %+v, want evacuating", sd)
	}
	if ex := old.exited(msg.InstanceGUID); ex.Reason != messages.ReasonDEAEvacuation || ex.Index != 0 {
		t.Fatalf("droplet.exited = %+v", ex)
	}
	old.waitMsg(bus.SubjectDEAHeartbeat, heartbeatState(old.dea.ID(), msg.InstanceGUID, messages.StateEvacuating))
	p := probe(fmt.Sprintf("http://127.0.0.1:%d/health", hb.Port))
	eventually(t, "the evacuating instance serving", func() bool {
		ok, _, _ := func() (int, int, error) { p.mu.Lock(); defer p.mu.Unlock(); return p.ok, p.fail, p.lastErr }()
		return ok >= 3
	})
	if r := old.start(startMsg(d, "app-other", 0)); r.Accepted || r.Error == "" {
		t.Errorf("an evacuating DEA accepted a start: %+v", r)
	}

	// What the health manager and the controller do: start the index on
	// another DEA.
	rep := startMsg(d, "app-evac", 0)
	if r := other.start(rep); !r.Accepted {
		t.Fatalf("replacement start: %+v", r)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the evacuating DEA did not stop after its instance was replaced")
	}
	ok, fail, lastErr := p.finish()

	repRunning := seq.first(bus.SubjectDEAHeartbeat, heartbeatState(other.dea.ID(), rep.InstanceGUID, messages.StateRunning))
	unreg := seq.first(bus.SubjectRouterUnregister, routeFor(msg.InstanceGUID))
	if repRunning < 0 || unreg < 0 || repRunning > unreg {
		t.Fatalf("replacement RUNNING at message %d, old instance unregistered at %d: want the replacement first", repRunning, unreg)
	}
	// The direct probes served until the stop (the router test checks no
	// routed request fails).
	t.Logf("direct probes of the evacuated instance: %d ok, %d failed (expected once it stopped: %v)", ok, fail, lastErr)
	if ok < 3 {
		t.Errorf("only %d probes succeeded", ok)
	}
	if n := len(old.rec.find(bus.SubjectDropletExited, func(b []byte) bool {
		var ex messages.DropletExited
		return json.Unmarshal(b, &ex) == nil && ex.InstanceGUID == msg.InstanceGUID
	})); n != 1 {
		t.Errorf("droplet.exited for the evacuated instance: %d messages, want the one notice: %q", n, old.rec.find(bus.SubjectDropletExited, nil))
	}
	if last := decode[messages.DEAShutdown](t, old.waitMsg(bus.SubjectDEAShutdown, func(b []byte) bool {
		var sd messages.DEAShutdown
		return json.Unmarshal(b, &sd) == nil && !sd.Evacuating
	})); last.ID != old.dea.ID() {
		t.Errorf("final dea.shutdown = %+v", last)
	}
	// The replacement is untouched.
	other.running(rep.InstanceGUID)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", other.running(rep.InstanceGUID).Port))
	if err != nil {
		t.Fatalf("replacement: %v", err)
	}
	resp.Body.Close()
}

func TestEvacuationTimesOutWithoutAnotherDEA(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{mod: evacuating(500 * time.Millisecond)})
	var seq ordered
	if _, err := h.bus.Subscribe(">", "", seq.add); err != nil {
		t.Fatal(err)
	}
	d := webApp(t)
	msg := startMsg(d, "app-alone", 0)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start: %+v", r)
	}
	h.running(msg.InstanceGUID)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	// Reported evacuating, kept until the timeout, then stopped all the
	// same: routes withdrawn, process gone, one exit notice.
	evac := seq.first(bus.SubjectDEAHeartbeat, heartbeatState(h.dea.ID(), msg.InstanceGUID, messages.StateEvacuating))
	unreg := seq.first(bus.SubjectRouterUnregister, routeFor(msg.InstanceGUID))
	if evac < 0 || unreg < 0 || evac > unreg {
		t.Fatalf("EVACUATING heartbeat at %d, unregister at %d", evac, unreg)
	}
	exits := h.rec.find(bus.SubjectDropletExited, nil)
	if len(exits) != 1 || decode[messages.DropletExited](t, exits[0]).Reason != messages.ReasonDEAEvacuation {
		t.Fatalf("droplet.exited = %q, want one DEA_EVACUATION", exits)
	}
	h.waitLog("app-alone", messages.SourceCell, "stopping instance")
	if cs, _ := h.backend.List(t.Context()); len(cs) != 0 {
		t.Errorf("%d containers left", len(cs))
	}
}

func TestShutdownWithoutEvacuationIsImmediate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	d := webApp(t)
	msg := startMsg(d, "app-plain", 0)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start: %+v", r)
	}
	h.running(msg.InstanceGUID)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if ex := h.exited(msg.InstanceGUID); ex.Reason != messages.ReasonDEAShutdown {
		t.Fatalf("droplet.exited = %+v", ex)
	}
	if hs := h.rec.find(bus.SubjectDEAHeartbeat, heartbeatState(h.dea.ID(), msg.InstanceGUID, messages.StateEvacuating)); len(hs) != 0 {
		t.Error("a platform-wide stop evacuated")
	}
}

func TestEvacuationThroughTheRouterLosesNoRequest(t *testing.T) {
	t.Parallel()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	rb, err := bus.Connect(bus.Options{URL: e.URL(), Name: "router"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rb.Close)
	rt, err := router.New(router.Config{ListenAddr: "127.0.0.1:0"}, router.Deps{Bus: rb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rdone := make(chan struct{})
	go func() { _ = rt.Run(ctx); close(rdone) }()
	t.Cleanup(func() { cancel(); <-rdone })

	old := newHarness(t, harnessOpts{natsURL: e.URL(), mod: func(c *Config) {
		evacuating(waitFor)(c)
		c.EvacuationDrain = 500 * time.Millisecond
	}})
	other := newHarness(t, harnessOpts{natsURL: e.URL()})
	d := webApp(t)
	msg := startMsg(d, "app-routed", 0)
	if r := old.start(msg); !r.Accepted {
		t.Fatalf("start: %+v", r)
	}
	old.running(msg.InstanceGUID)

	var mu sync.Mutex
	ok, fail := 0, 0
	var lastErr error
	client := &http.Client{Timeout: 5 * time.Second}
	stop, done := make(chan struct{}), make(chan struct{})
	request := func() error {
		req, _ := http.NewRequest(http.MethodGet, "http://"+rt.Addr()+"/index.html", nil)
		req.Host = "myapp.ingot.test"
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	eventually(t, "the router routing the app", func() bool { return request() == nil })
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			err := request()
			mu.Lock()
			if err != nil {
				fail++
				lastErr = err
			} else {
				ok++
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	stopped := make(chan error, 1)
	go func() { stopped <- old.stop() }()
	old.exited(msg.InstanceGUID)
	rep := startMsg(d, "app-routed", 0)
	if r := other.start(rep); !r.Accepted {
		t.Fatalf("replacement start: %+v", r)
	}
	select {
	case <-stopped:
	case <-time.After(waitFor):
		t.Fatal("the evacuating DEA did not stop")
	}
	// Some more requests, all to the replacement.
	mu.Lock()
	base := ok
	mu.Unlock()
	eventually(t, "requests served after the evacuation", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ok >= base+20
	})
	close(stop)
	<-done
	t.Logf("requests through the router during the evacuation: %d ok, %d failed", ok, fail)
	if fail > 0 {
		t.Errorf("%d requests failed (last: %v)", fail, lastErr)
	}
}

// TestEvacuationWithoutPeerStopsAtOnce: with no other DEA heartbeating,
// an evacuating DEA does not wait out its timeout (there is nowhere to
// evacuate to): it stops its instances after a few heartbeat intervals.
func TestEvacuationWithoutPeerStopsAtOnce(t *testing.T) {
	t.Parallel()
	const timeout = time.Minute
	h := newHarness(t, harnessOpts{mod: evacuating(timeout)})
	d := webApp(t)
	msg := startMsg(d, "app-lonely", 0)
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start: %+v", r)
	}
	h.running(msg.InstanceGUID)
	began := time.Now()
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took >= timeout {
		t.Fatalf("the DEA waited %s, its whole evacuation timeout, with no other DEA", took)
	}
	h.waitLog("app-lonely", messages.SourceCell, "stopping instance")
	if cs, _ := h.backend.List(t.Context()); len(cs) != 0 {
		t.Errorf("%d containers left", len(cs))
	}
}

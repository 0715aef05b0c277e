package dea

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

func TestNATSOutageKeepsInstancesAndReannounces(t *testing.T) {
	t.Parallel()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := e.URL()[len("nats://"):]
	_, port, _ := net.SplitHostPort(addr)
	// The DEA reaches NATS through a proxy that the test can hold shut
	// after the restart, until it watches what the DEA sends.
	px := newGateProxy(t, addr)
	h := newHarness(t, harnessOpts{natsURL: "nats://" + px.addr(), mod: func(c *Config) {
		// Nothing is re-sent by timers during the test: only the
		// reconnect can announce the DEA again.
		c.AdvertiseInterval, c.HeartbeatInterval, c.RegisterInterval = time.Hour, time.Hour, time.Hour
	}})
	d := webApp(t)
	keep, crash := startMsg(d, "app-keep", 0), startMsg(d, "app-crash", 0)
	for _, m := range []*messages.StartInstance{keep, crash} {
		if r := h.start(m); !r.Accepted {
			t.Fatalf("start: %+v", r)
		}
	}
	keepPort := h.running(keep.InstanceGUID).Port
	h.running(crash.InstanceGUID)
	h.waitMsg(bus.SubjectRouterRegister, routeFor(keep.InstanceGUID))
	var crashPid int
	eventually(t, "the snapshot names the processes", func() bool {
		snap, err := readSnapshot(h.dataDir)
		if err != nil {
			return false
		}
		for _, si := range snap.Instances {
			if si.Start.InstanceGUID == crash.InstanceGUID && si.ProcessID != "" {
				crashPid, _ = strconv.Atoi(si.ProcessID)
			}
		}
		return crashPid > 0
	})

	// NATS goes away. The instances run on and serve; one crashes.
	px.shut()
	e.Shutdown()
	eventually(t, "the DEA's bus disconnected", func() bool { return !h.dea.deps.Bus.(*bus.NATS).Connected() })
	get(t, keepPort, "/health")
	_ = syscall.Kill(-crashPid, syscall.SIGKILL)
	eventually(t, "the crash noticed", func() bool {
		h.dea.mu.Lock()
		defer h.dea.mu.Unlock()
		in := h.dea.instances[crash.InstanceGUID]
		return in == nil || in.state == messages.StateCrashed
	})
	get(t, keepPort, "/health")

	// NATS comes back on the same address.
	e2, err := bus.StartEmbedded("127.0.0.1:" + port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e2.Shutdown)
	watch, err := bus.Connect(bus.Options{URL: e2.URL(), Name: "watch"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watch.Close)
	seen := &recorder{}
	for _, subj := range []string{bus.SubjectRouterRegister, bus.SubjectDEAHeartbeat, bus.SubjectDEAAdvertise, bus.SubjectDropletExited} {
		if _, err := watch.Subscribe(subj, "", seen.add); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := watch.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	px.open()
	// With every timer an hour away, only the reconnect announces the DEA.
	w := &harness{t: t, rec: seen}
	w.waitMsg(bus.SubjectRouterRegister, routeFor(keep.InstanceGUID))
	w.running(keep.InstanceGUID)
	w.waitMsg(bus.SubjectDEAAdvertise, nil)
	if ex := w.exited(crash.InstanceGUID); ex.Reason != messages.ReasonCrashed {
		t.Errorf("the crash during the outage was reported as %+v", ex)
	}
	h.dea.mu.Lock()
	in := h.dea.instances[keep.InstanceGUID]
	ok := in != nil && in.state == messages.StateRunning && !in.stopping()
	h.dea.mu.Unlock()
	if !ok {
		t.Fatal("the instance did not survive the outage")
	}
	get(t, keepPort, "/health")
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// gateProxy forwards TCP connections to target while open; while shut it
// refuses new ones and has cut the ones it had.
type gateProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
}

func newGateProxy(t *testing.T, target string) *gateProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.shut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *gateProxy) addr() string { return p.ln.Addr().String() }

func (p *gateProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

func (p *gateProxy) shut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *gateProxy) open() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = false
}

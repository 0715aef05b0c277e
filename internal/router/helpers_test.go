package router

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

const testAppGUID = "0b0c6d3e-6f1a-4c55-9d6a-1f3e4c5b6a7d"

func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type env struct {
	t      testing.TB
	nats   *bus.Embedded
	natsAt string
	rbus   *bus.NATS // the router's connection
	cbus   *bus.NATS // the test's connection (registrars, log readers)
	r      *Router
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

type envOpt struct {
	cfg     func(*Config)
	wrapBus func(bus.Bus) bus.Bus
	noLogs  bool
	// beforeRun runs once the buses are up, before the router starts.
	beforeRun func(*env)
}

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	log := testLogger(t)
	e := &env{t: t}
	var err error
	e.nats, err = bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if e.nats != nil {
			e.nats.Shutdown()
		}
	})
	u, _ := url.Parse(e.nats.URL())
	e.natsAt = u.Host
	if e.rbus, err = bus.Connect(bus.Options{URL: e.nats.URL(), Name: "router"}, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.rbus.Close)
	if e.cbus, err = bus.Connect(bus.Options{URL: e.nats.URL(), Name: "test"}, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cbus.Close)

	cfg := Config{ListenAddr: "127.0.0.1:0", PruneInterval: 50 * time.Millisecond}
	var b bus.Bus = e.rbus
	deps := Deps{Bus: b, Logs: logs.NewEmitter(e.rbus, log)}
	for _, o := range opts {
		if o.cfg != nil {
			o.cfg(&cfg)
		}
		if o.wrapBus != nil {
			deps.Bus = o.wrapBus(deps.Bus)
		}
		if o.noLogs {
			deps.Logs = nil
		}
	}
	for _, o := range opts {
		if o.beforeRun != nil {
			o.beforeRun(e)
		}
	}
	e.r, err = New(cfg, deps, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- e.r.Run(ctx) }()
	t.Cleanup(e.stop)
	// Run has subscribed once router.greet answers.
	eventually(t, "router subscribed", func() bool {
		rctx, c := context.WithTimeout(context.Background(), time.Second)
		defer c()
		_, err := e.cbus.Request(rctx, bus.SubjectRouterGreet, nil)
		return err == nil
	})
	e.client = &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16},
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// stop cancels the router and waits for Run to return.
func (e *env) stop() {
	e.t.Helper()
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("router Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Errorf("router Run did not return")
	}
}

func hostPort(t testing.TB, rawURL string) (string, uint16) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return h, uint16(port)
}

// publish sends a raw payload on subject and waits until NATS has it.
func (e *env) publish(subject string, v any) {
	e.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.cbus.Publish(subject, data); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.cbus.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// reg builds a registration for a backend server.
func reg(t testing.TB, srvURL string, instance, index string, uris ...string) messages.RouterRegister {
	t.Helper()
	h, p := hostPort(t, srvURL)
	return messages.RouterRegister{
		Host: h, Port: p, URIs: uris, App: testAppGUID,
		PrivateInstanceID: instance, PrivateInstanceIndex: index,
	}
}

// register publishes m and waits until requests to (host, path) see n
// endpoints.
func (e *env) register(m messages.RouterRegister, host, path string, n int) {
	e.t.Helper()
	e.publish(bus.SubjectRouterRegister, m)
	e.waitEndpoints(host, path, n)
}

func (e *env) waitEndpoints(host, path string, n int) {
	e.t.Helper()
	eventually(e.t, "route "+host+path+" with "+strconv.Itoa(n)+" endpoints", func() bool {
		p := e.r.reg.table().lookup(host, path)
		if n < 0 {
			return p == nil
		}
		// The pool must be the route asked for, not a shorter context
		// path that already matched.
		return p != nil && len(p.eps) == n && p.path == strings.TrimRight(path, "/")
	})
}

// get requests path on host through the router.
func (e *env) get(host, path string, hdr http.Header) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.r.Addr()+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, string(body)
}

// namedBackend answers every request with its name.
func namedBackend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

// deadURL is an address nothing listens on.
func deadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

package router

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

func TestRegisterAndRoute(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	e.register(reg(t, a.URL, "inst-a", "0", "myapp.example.com"), "myapp.example.com", "/", 1)

	res, body := e.get("myapp.example.com", "/hello", nil)
	if res.StatusCode != http.StatusOK || body != "a" {
		t.Fatalf("got %d %q, want 200 \"a\"", res.StatusCode, body)
	}
	if res.Header.Get("X-Vcap-Request-Id") == "" {
		t.Error("response has no X-Vcap-Request-Id")
	}
	if res.Header.Get(hdrRouterError) != "" {
		t.Errorf("unexpected router error %q", res.Header.Get(hdrRouterError))
	}
}

func TestUnknownRoute(t *testing.T) {
	e := newEnv(t)
	res, body := e.get("nope.example.com", "/", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	if got := res.Header.Get(hdrRouterError); got != "unknown_route" {
		t.Errorf("X-Cf-Routererror = %q, want unknown_route", got)
	}
	if want := "404 Not Found: Requested route ('nope.example.com') does not exist.\n"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}
}

func TestEmptyHost(t *testing.T) {
	e := newEnv(t)
	// HTTP/1.0 allows a request without Host.
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.r.Addr()+"/", nil)
	req.Host = ""
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.0", 1, 0
	rec := httptest.NewRecorder()
	e.r.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || rec.Header().Get(hdrRouterError) != "empty_host" {
		t.Fatalf("got %d %q, want 400 empty_host", rec.Code, rec.Header().Get(hdrRouterError))
	}
}

// A route whose last endpoint goes away answers 503 no_endpoints until it
// has been empty for the stale threshold; then it is forgotten (404).
func TestUnregisteredRouteIs404AtOnce(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	m := reg(t, a.URL, "inst-a", "0", "stopped.example.com")
	e.register(m, "stopped.example.com", "/", 1)

	e.publish(bus.SubjectRouterUnregister, m)
	e.waitEndpoints("stopped.example.com", "/", -1)
	res, _ := e.get("stopped.example.com", "/", nil)
	if res.StatusCode != http.StatusNotFound || res.Header.Get(hdrRouterError) != "unknown_route" {
		t.Fatalf("got %d %q, want 404 unknown_route", res.StatusCode, res.Header.Get(hdrRouterError))
	}
}

func TestPrunedRouteIs503ThenForgotten(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		c.StaleThreshold = 300 * time.Millisecond
		c.PruneInterval = 50 * time.Millisecond
	}})
	a := namedBackend(t, "a")
	m := reg(t, a.URL, "inst-a", "0", "gone.example.com")
	e.register(m, "gone.example.com", "/", 1)

	e.waitEndpoints("gone.example.com", "/", 0)
	res, body := e.get("gone.example.com", "/", nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get(hdrRouterError) != "no_endpoints" {
		t.Fatalf("got %d %q, want 503 no_endpoints", res.StatusCode, res.Header.Get(hdrRouterError))
	}
	if want := "503 Service Unavailable: Requested route ('gone.example.com') has no available endpoints.\n"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}

	e.waitEndpoints("gone.example.com", "/", -1)
	res, _ = e.get("gone.example.com", "/", nil)
	if res.StatusCode != http.StatusNotFound || res.Header.Get(hdrRouterError) != "unknown_route" {
		t.Fatalf("got %d %q, want 404 unknown_route", res.StatusCode, res.Header.Get(hdrRouterError))
	}
	if _, ok := e.r.Routes()["gone.example.com"]; ok {
		t.Error("emptied route still listed after the threshold")
	}
}

func TestDeadBackendIs502(t *testing.T) {
	e := newEnv(t)
	e.register(reg(t, deadURL(t), "inst-dead", "0", "dead.example.com"), "dead.example.com", "/", 1)
	res, body := e.get("dead.example.com", "/", nil)
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", res.StatusCode)
	}
	rerr := res.Header.Get(hdrRouterError)
	if !strings.HasPrefix(rerr, "endpoint_failure (") || !strings.Contains(rerr, "dial tcp") {
		t.Errorf("X-Cf-Routererror = %q, want endpoint_failure (dial tcp …)", rerr)
	}
	if want := "502 Bad Gateway: Registered endpoint failed to handle the request.\n"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}
}

func TestRetryOnDeadEndpointAndEject(t *testing.T) {
	e := newEnv(t)
	live := namedBackend(t, "live")
	e.publish(bus.SubjectRouterRegister, reg(t, deadURL(t), "inst-dead", "0", "retry.example.com"))
	e.register(reg(t, live.URL, "inst-live", "1", "retry.example.com"), "retry.example.com", "/", 2)

	for i := range 20 {
		res, body := e.get("retry.example.com", "/", nil)
		if res.StatusCode != http.StatusOK || body != "live" {
			t.Fatalf("request %d: got %d %q, want 200 live", i, res.StatusCode, body)
		}
	}
	// Round-robin put the dead endpoint first on every other request, so it
	// failed at least EjectAfterFailures times in a row.
	var ejected bool
	for _, ep := range e.r.Routes()["retry.example.com"] {
		if ep.PrivateInstanceID == "inst-dead" {
			ejected = ep.Ejected
		}
	}
	if !ejected {
		t.Error("dead endpoint was not ejected")
	}
}

func TestRoundRobin(t *testing.T) {
	e := newEnv(t)
	names := []string{"a", "b", "c"}
	for i, n := range names {
		s := namedBackend(t, n)
		e.register(reg(t, s.URL, "inst-"+n, string(rune('0'+i)), "rr.example.com"), "rr.example.com", "/", i+1)
	}
	counts := map[string]int{}
	for range 30 {
		res, body := e.get("rr.example.com", "/", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		counts[body]++
	}
	for _, n := range names {
		if counts[n] != 10 {
			t.Errorf("backend %s got %d of 30 requests, want 10 (%v)", n, counts[n], counts)
		}
	}
}

func TestContextPathRoutes(t *testing.T) {
	e := newEnv(t)
	api := namedBackend(t, "api")
	root := namedBackend(t, "root")
	deep := namedBackend(t, "deep")
	e.register(reg(t, root.URL, "r", "0", "ctx.example.com"), "ctx.example.com", "/", 1)
	e.register(reg(t, api.URL, "a", "0", "ctx.example.com/api/"), "ctx.example.com", "/api", 1)
	e.register(reg(t, deep.URL, "d", "0", "ctx.example.com/api/v2"), "ctx.example.com", "/api/v2", 1)
	e.register(reg(t, api.URL, "a2", "0", "onlypath.example.com/api"), "onlypath.example.com", "/api", 1)

	cases := []struct {
		host, path string
		want       string
		status     int
	}{
		{"ctx.example.com", "/api", "api", 200},
		{"ctx.example.com", "/api/x", "api", 200},
		{"ctx.example.com", "/API/x?q=1", "api", 200},
		{"ctx.example.com", "/apix", "root", 200},
		{"ctx.example.com", "/api/v2", "deep", 200},
		{"ctx.example.com", "/api/v2/users", "deep", 200},
		{"ctx.example.com", "/api/v20", "api", 200},
		{"ctx.example.com", "/", "root", 200},
		{"onlypath.example.com", "/api/x", "api", 200},
		{"onlypath.example.com", "/other", "", 404},
	}
	for _, c := range cases {
		res, body := e.get(c.host, c.path, nil)
		if res.StatusCode != c.status || (c.want != "" && body != c.want) {
			t.Errorf("%s%s: got %d %q, want %d %q", c.host, c.path, res.StatusCode, body, c.status, c.want)
		}
	}
}

func TestWildcardRoutes(t *testing.T) {
	e := newEnv(t)
	wild := namedBackend(t, "wild")
	exact := namedBackend(t, "exact")
	deeper := namedBackend(t, "deeper")
	e.register(reg(t, wild.URL, "w", "0", "*.wild.example.com"), "foo.wild.example.com", "/", 1)
	// The wildcard already answers for these hosts: wait for the new
	// routes themselves.
	for _, r := range []struct{ url, instance, uri, host string }{
		{exact.URL, "e", "exact.wild.example.com", "exact.wild.example.com"},
		{deeper.URL, "d", "*.sub.wild.example.com", "x.sub.wild.example.com"},
	} {
		e.publish(bus.SubjectRouterRegister, reg(t, r.url, r.instance, "0", r.uri))
		eventually(t, "route "+r.uri, func() bool {
			p := e.r.reg.table().lookup(r.host, "/")
			return p != nil && len(p.eps) == 1 && p.eps[0].instanceID == r.instance
		})
	}

	cases := []struct {
		host   string
		want   string
		status int
	}{
		{"foo.wild.example.com", "wild", 200},
		{"a.b.wild.example.com", "wild", 200},
		{"exact.wild.example.com", "exact", 200},
		{"x.sub.wild.example.com", "deeper", 200},
		{"sub.wild.example.com", "wild", 200},
		{"wild.example.com", "", 404},
		{"example.com", "", 404},
	}
	for _, c := range cases {
		res, body := e.get(c.host, "/", nil)
		if res.StatusCode != c.status || (c.want != "" && body != c.want) {
			t.Errorf("%s: got %d %q, want %d %q", c.host, res.StatusCode, body, c.status, c.want)
		}
	}
}

func TestHostCaseAndPortAndURINormalisation(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	e.register(reg(t, a.URL, "i", "0", "MyApp.Example.COM/?x=1"), "myapp.example.com", "/", 1)
	if _, ok := e.r.Routes()["myapp.example.com"]; !ok {
		t.Fatalf("route not normalised: %v", e.r.Routes())
	}
	for _, h := range []string{"MYAPP.example.com", "myapp.example.com:8080", "MyApp.Example.Com.:80"} {
		res, body := e.get(h, "/", nil)
		if res.StatusCode != 200 || body != "a" {
			t.Errorf("Host %q: got %d %q", h, res.StatusCode, body)
		}
	}
}

func TestUnregister(t *testing.T) {
	e := newEnv(t)
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	ma := reg(t, a.URL, "inst-a", "0", "un.example.com", "un2.example.com")
	mb := reg(t, b.URL, "inst-b", "1", "un.example.com")
	e.register(ma, "un.example.com", "/", 1)
	e.register(mb, "un.example.com", "/", 2)

	// An unregister naming another instance at the same address is ignored.
	wrong := ma
	wrong.PrivateInstanceID = "someone-else"
	e.publish(bus.SubjectRouterUnregister, wrong)
	// Unregister a from un.example.com only.
	only := ma
	only.URIs = []string{"un.example.com"}
	e.publish(bus.SubjectRouterUnregister, only)
	e.waitEndpoints("un.example.com", "/", 1)
	for range 4 {
		if _, body := e.get("un.example.com", "/", nil); body != "b" {
			t.Fatalf("got %q after unregistering a, want b", body)
		}
	}
	if _, body := e.get("un2.example.com", "/", nil); body != "a" {
		t.Errorf("un2 got %q, want a (not unregistered there)", body)
	}
}

func TestPruneStaleEndpoints(t *testing.T) {
	e := newEnv(t)
	short, long := namedBackend(t, "short"), namedBackend(t, "long")
	ms := reg(t, short.URL, "s", "0", "prune.example.com")
	ms.StaleThresholdInSeconds = 1
	ml := reg(t, long.URL, "l", "1", "prune.example.com")
	ml.StaleThresholdInSeconds = 3600 // above the global threshold → the global one (20 s)
	e.register(ms, "prune.example.com", "/", 1)
	e.register(ml, "prune.example.com", "/", 2)

	for _, ep := range e.r.Routes()["prune.example.com"] {
		want := time.Second
		if ep.PrivateInstanceID == "l" {
			want = DefaultStaleThreshold
		}
		if ep.StaleThreshold != want {
			t.Errorf("%s: stale threshold %v, want %v", ep.PrivateInstanceID, ep.StaleThreshold, want)
		}
	}
	e.waitEndpoints("prune.example.com", "/", 1)
	eps := e.r.Routes()["prune.example.com"]
	if len(eps) != 1 || eps[0].PrivateInstanceID != "l" {
		t.Fatalf("after pruning: %+v, want only l", eps)
	}
}

func TestNoPruningWhileBusDisconnected(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	m := reg(t, a.URL, "i", "0", "nats-down.example.com")
	m.StaleThresholdInSeconds = 1
	e.register(m, "nats-down.example.com", "/", 1)
	updated := e.r.Routes()["nats-down.example.com"][0].UpdatedAt

	e.nats.Shutdown()
	e.nats = nil
	eventually(t, "router bus disconnected", func() bool { return !e.rbus.Connected() })
	// Wait until the endpoint is past its threshold and two prune passes
	// have come and gone after that.
	eventually(t, "threshold passed", func() bool { return time.Since(updated) > 1500*time.Millisecond })
	skipped := e.r.pruneSkipped.Load()
	eventually(t, "two more prune passes", func() bool { return e.r.pruneSkipped.Load() >= skipped+2 })
	if got := len(e.r.Routes()["nats-down.example.com"]); got != 1 {
		t.Fatalf("endpoint pruned while the bus was down (%d left)", got)
	}
	// Apps keep serving while NATS is down.
	if res, body := e.get("nats-down.example.com", "/", nil); res.StatusCode != 200 || body != "a" {
		t.Fatalf("got %d %q while NATS is down", res.StatusCode, body)
	}

	// NATS comes back on the same address: pruning resumes.
	var err error
	e.nats, err = bus.StartEmbedded(e.natsAt)
	if err != nil {
		t.Fatalf("restart nats: %v", err)
	}
	e.waitEndpoints("nats-down.example.com", "/", 0)
}

func TestGreetReply(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.ID = "3-router-under-test" }})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, err := e.cbus.Request(ctx, bus.SubjectRouterGreet, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m messages.RouterStart
	if err := messages.Decode(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "3-router-under-test" || m.MinimumRegisterIntervalInSeconds != 5 ||
		m.PruneThresholdInSeconds != 20 || len(m.Hosts) != 1 || m.Hosts[0] != "127.0.0.1" {
		t.Errorf("greet reply = %+v", m)
	}
}

// hookBus captures OnReconnect hooks so a test can fire a reconnect.
type hookBus struct {
	bus.Bus
	mu    sync.Mutex
	hooks []func()
}

func (h *hookBus) OnReconnect(f func()) {
	h.mu.Lock()
	h.hooks = append(h.hooks, f)
	h.mu.Unlock()
	h.Bus.OnReconnect(f)
}

func (h *hookBus) fire() {
	h.mu.Lock()
	hooks := append([]func(){}, h.hooks...)
	h.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

func TestRouterStartPublishedAtStartAndReconnect(t *testing.T) {
	starts := make(chan messages.RouterStart, 10)
	hb := &hookBus{}
	e := newEnv(t,
		envOpt{wrapBus: func(b bus.Bus) bus.Bus { hb.Bus = b; return hb }},
		envOpt{beforeRun: func(e *env) {
			sub, err := e.cbus.Subscribe(bus.SubjectRouterStart, "", func(m *bus.Msg) {
				var s messages.RouterStart
				if json.Unmarshal(m.Data, &s) == nil {
					starts <- s
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sub.Unsubscribe() })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.cbus.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	)
	waitStart := func(what string) {
		t.Helper()
		select {
		case s := <-starts:
			if !strings.HasPrefix(s.ID, "0-") || s.PruneThresholdInSeconds != 20 {
				t.Errorf("%s: router.start = %+v", what, s)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no router.start %s", what)
		}
	}
	waitStart("at start")
	hb.fire()
	waitStart("after reconnect")
	_ = e
}

func TestInvalidRegistrationsDropped(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	for _, raw := range []string{`not json`, `{}`, `{"host":"127.0.0.1","port":1}`, `{"host":"h","uris":["x.example.com"]}`} {
		if err := e.cbus.Publish(bus.SubjectRouterRegister, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	// A route service or a TLS-only backend is refused rather than served
	// unprotected.
	rs := reg(t, a.URL, "i", "0", "rs.example.com")
	rs.RouteServiceURL = "https://rs.example.com"
	e.publish(bus.SubjectRouterRegister, rs)
	tlsOnly := reg(t, a.URL, "i", "0", "tls.example.com")
	tlsOnly.Port, tlsOnly.TLSPort = 0, 443
	e.publish(bus.SubjectRouterRegister, tlsOnly)
	// Bad uris are skipped; good ones in the same message are kept.
	e.register(reg(t, a.URL, "i", "0", "bad host.example.com", "*", "ok.example.com"), "ok.example.com", "/", 1)

	routes := e.r.Routes()
	if len(routes) != 1 {
		t.Fatalf("routes = %v, want only ok.example.com", routes)
	}
	if res, body := e.get("ok.example.com", "/", nil); res.StatusCode != 200 || body != "a" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t)
	if _, err := New(Config{ListenAddr: "127.0.0.1:0"}, Deps{}, nil); err == nil {
		t.Error("New without a bus succeeded")
	}
	bad := []Config{
		{ListenAddr: "127.0.0.1:0", MaxAttempts: -1},
		{ListenAddr: "127.0.0.1:0", DialTimeout: -time.Second},
		{ListenAddr: "127.0.0.1:0", StickyCookieNames: []string{"bad name"}},
		{ListenAddr: "not-an-address"},
	}
	for _, c := range bad {
		if r, err := New(c, Deps{Bus: e.rbus}, nil); err == nil {
			_ = r.ln.Close()
			t.Errorf("New(%+v) succeeded", c)
		}
	}
	if err := e.r.Run(context.Background()); err != ErrAlreadyRunning {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

// A register immediately followed by an unregister must not be reordered:
// the endpoint ends up gone, not lingering until it is pruned.
func TestRegisterUnregisterOrdering(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	base := reg(t, a.URL, "i", "0", "order.example.com")
	for i := range 50 {
		m := base
		m.Port = uint16(20000 + i)
		m.PrivateInstanceID = "i-" + strconv.Itoa(i)
		e.publish(bus.SubjectRouterRegister, m)
		e.publish(bus.SubjectRouterUnregister, m)
	}
	e.register(reg(t, a.URL, "sentinel", "0", "sentinel.example.com"), "sentinel.example.com", "/", 1)
	if eps := e.r.Routes()["order.example.com"]; len(eps) != 0 {
		t.Fatalf("%d endpoints left after register+unregister pairs", len(eps))
	}
}

// Requests keep succeeding while the route table churns underneath them.
func TestTrafficDuringRouteChurn(t *testing.T) {
	e := newEnv(t)
	a, b, c := namedBackend(t, "a"), namedBackend(t, "b"), namedBackend(t, "c")
	e.register(reg(t, a.URL, "ia", "0", "churn.example.com"), "churn.example.com", "/", 1)
	e.register(reg(t, b.URL, "ib", "1", "churn.example.com"), "churn.example.com", "/", 2)

	stop := make(chan struct{})
	churned := make(chan struct{})
	mc := reg(t, c.URL, "ic", "2", "churn.example.com", "other.example.com")
	go func() {
		defer close(churned)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			subject := bus.SubjectRouterRegister
			if i%2 == 1 {
				subject = bus.SubjectRouterUnregister
			}
			data, _ := json.Marshal(mc)
			_ = e.cbus.Publish(subject, data)
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				req, _ := http.NewRequest(http.MethodGet, "http://"+e.r.Addr()+"/", nil)
				req.Host = "churn.example.com"
				res, err := e.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("status %d during churn", res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-churned
}

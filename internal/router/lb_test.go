package router

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

func TestPickLeastConnection(t *testing.T) {
	eps := []*endpoint{
		newEndpoint("a:1", "app", "a", "0", nil),
		newEndpoint("b:1", "app", "b", "1", nil),
		newEndpoint("c:1", "app", "c", "2", nil),
	}
	p := &pool{eps: eps, leastConn: true}
	eps[0].active.Store(3)
	eps[1].active.Store(1)
	eps[2].active.Store(2)
	for range 5 {
		if got := p.pick("", nil, 0); got != eps[1] {
			t.Fatalf("picked %s, want b (fewest in flight)", got.addr)
		}
	}
	// Tried endpoints are skipped; ejected ones only as a last resort.
	if got := p.pick("", []*endpoint{eps[1]}, 0); got != eps[2] {
		t.Errorf("after trying b picked %s, want c", got.addr)
	}
	eps[2].ejectedUntil.Store(100)
	if got := p.pick("", []*endpoint{eps[1]}, 50); got != eps[0] {
		t.Errorf("with c ejected picked %s, want a", got.addr)
	}
	if got := p.pick("", []*endpoint{eps[0], eps[1]}, 50); got != eps[2] {
		t.Errorf("only c left (ejected): picked %v, want c", got)
	}
	// Sticky beats least-connection.
	if got := p.pick("a", nil, 0); got != eps[0] {
		t.Errorf("sticky a: picked %s", got.addr)
	}
	// Ties are shared in turn.
	for _, e := range eps {
		e.active.Store(0)
		e.ejectedUntil.Store(0)
	}
	seen := map[string]int{}
	for range 30 {
		seen[p.pick("", nil, 0).addr]++
	}
	for _, e := range eps {
		if seen[e.addr] != 10 {
			t.Errorf("idle endpoints shared unevenly: %v", seen)
			break
		}
	}
}

func TestLBAlgoOption(t *testing.T) {
	r := newRegistry(time.Minute, testLogger(t))
	m := &messages.RouterRegister{Host: "10.0.0.1", Port: 1, URIs: []string{"lc.example.com"},
		Options: map[string]string{"lb_algo": LBLeastConnection}}
	if err := r.register(m); err != nil {
		t.Fatal(err)
	}
	r.register(&messages.RouterRegister{Host: "10.0.0.2", Port: 1, URIs: []string{"rr.example.com"}})
	r.publish()
	if p := r.table().lookup("lc.example.com", "/"); p == nil || !p.leastConn {
		t.Fatalf("lc route: %+v, want least-connection", p)
	}
	if p := r.table().lookup("rr.example.com", "/"); p == nil || p.leastConn {
		t.Fatalf("rr route: %+v, want round-robin", p)
	}
	// A later registration can switch the route back; a bad value is
	// reported and changes nothing, but the endpoint is registered.
	m.Options["lb_algo"] = LBRoundRobin
	r.register(m)
	r.publish()
	if p := r.table().lookup("lc.example.com", "/"); p.leastConn {
		t.Error("route still least-connection after lb_algo round-robin")
	}
	bad := &messages.RouterRegister{Host: "10.0.0.3", Port: 1, URIs: []string{"lc.example.com"},
		Options: map[string]string{"lb_algo": "random"}}
	if err := r.register(bad); !errors.Is(err, ErrInvalidLBAlgo) {
		t.Errorf("bad lb_algo: err %v", err)
	}
	r.publish()
	if p := r.table().lookup("lc.example.com", "/"); p.leastConn || len(p.eps) != 2 {
		t.Errorf("after a bad lb_algo: leastConn %v, %d endpoints", p.leastConn, len(p.eps))
	}
	// The router default applies to routes without the option.
	r2 := newRegistry(time.Minute, testLogger(t))
	r2.defaultAlgo = LBLeastConnection
	r2.register(&messages.RouterRegister{Host: "10.0.0.2", Port: 1, URIs: []string{"d.example.com"}})
	r2.publish()
	if p := r2.table().lookup("d.example.com", "/"); !p.leastConn {
		t.Error("router default least-connection not applied")
	}
}

// Through the router: while one backend holds a slow request, every other
// request goes to the idle one.
func TestLeastConnectionThroughRouter(t *testing.T) {
	e := newEnv(t)
	arrived := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	fast := namedBackend(t, "fast")
	ms := reg(t, slow.URL, "i-slow", "0", "lc.example.com")
	ms.Options = map[string]string{"lb_algo": LBLeastConnection}
	mf := reg(t, fast.URL, "i-fast", "1", "lc.example.com")
	mf.Options = ms.Options
	e.register(ms, "lc.example.com", "/", 1)
	e.register(mf, "lc.example.com", "/", 2)

	// Round-robin would eventually send /slow to the slow backend; retry
	// until it lands there.
	held := make(chan struct{})
	go func() {
		defer close(held)
		for {
			res, body := e.get("lc.example.com", "/slow", nil)
			if res.StatusCode != 200 || body == "slow" {
				return
			}
		}
	}()
	<-arrived
	for i := range 10 {
		if _, body := e.get("lc.example.com", "/", nil); body != "fast" {
			t.Fatalf("request %d went to %q while slow had one in flight, want fast", i, body)
		}
	}
	once.Do(func() { close(release) })
	<-held
}

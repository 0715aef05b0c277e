package router

import (
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

func TestTableLookup(t *testing.T) {
	uris := []string{
		"a.example.com", "a.example.com/api", "a.example.com/api/v2",
		"*.example.com", "*.deep.example.com", "*.example.com/wapi",
		"path-only.example.com/p",
	}
	var pools []*pool
	var wild []bool
	for _, s := range uris {
		u, err := normalizeURI(s)
		if err != nil {
			t.Fatal(err)
		}
		pools = append(pools, &pool{uri: u.key(), host: u.host, path: u.path})
		wild = append(wild, u.wildcard)
	}
	tbl := buildTable(pools, wild)
	cases := []struct{ host, path, want string }{
		{"a.example.com", "/", "a.example.com"},
		{"a.example.com", "/api", "a.example.com/api"},
		{"a.example.com", "/api/v2/x", "a.example.com/api/v2"},
		{"a.example.com", "/api/v3", "a.example.com/api"},
		{"b.example.com", "/", "*.example.com"},
		{"b.example.com", "/wapi/x", "*.example.com/wapi"},
		{"x.y.example.com", "/", "*.example.com"},
		{"x.deep.example.com", "/", "*.deep.example.com"},
		{"deep.example.com", "/", "*.example.com"},
		{"example.com", "/", ""},
		{"path-only.example.com", "/p/q", "path-only.example.com/p"},
		// The exact host has no matching path: the wildcard serves it.
		{"path-only.example.com", "/other", "*.example.com"},
		{"other.org", "/", ""},
		{"", "/", ""},
	}
	for _, c := range cases {
		p := tbl.lookup(c.host, c.path)
		got := ""
		if p != nil {
			got = p.uri
		}
		if got != c.want {
			t.Errorf("lookup(%q, %q) = %q, want %q", c.host, c.path, got, c.want)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tbl := buildTable([]*pool{{host: "a.example.com"}, {host: "example.com", path: "/x"}}, []bool{false, true})
	allocs := testing.AllocsPerRun(100, func() {
		_ = tbl.lookup("a.example.com", "/x/y")
		_ = tbl.lookup("b.example.com", "/x/y")
		_ = tbl.lookup("nope.org", "/")
	})
	if allocs != 0 {
		t.Errorf("lookup allocated %v times", allocs)
	}
}

func TestPoolPick(t *testing.T) {
	now := time.Now().UnixNano()
	a := newEndpoint("10.0.0.1:1", "app", "ia", "0", nil)
	b := newEndpoint("10.0.0.2:1", "app", "ib", "1", nil)
	c := newEndpoint("10.0.0.3:1", "app", "ic", "2", nil)
	p := &pool{eps: []*endpoint{a, b, c}}

	seen := map[*endpoint]int{}
	for range 9 {
		seen[p.pick("", nil, now)]++
	}
	if seen[a] != 3 || seen[b] != 3 || seen[c] != 3 {
		t.Errorf("round-robin counts %d %d %d, want 3 each", seen[a], seen[b], seen[c])
	}
	if got := p.pick("ib", nil, now); got != b {
		t.Errorf("sticky pick = %v, want b", got.addr)
	}
	if got := p.pick("ib", []*endpoint{b}, now); got == b {
		t.Error("retry picked the endpoint already tried")
	}
	if got := p.pick("gone", nil, now); got == nil {
		t.Error("sticky to a gone instance picked nothing")
	}

	// Eject a: it is skipped, also as a sticky target, until ejection ends.
	for range 3 {
		a.connectFailed(now, 3, 10*time.Second)
	}
	if !a.ejected(now) {
		t.Fatal("a not ejected after 3 failures")
	}
	for range 6 {
		if p.pick("", nil, now) == a {
			t.Fatal("picked an ejected endpoint while others are healthy")
		}
	}
	if got := p.pick("ia", nil, now); got == a {
		t.Error("sticky pick chose an ejected endpoint")
	}
	// Everything else tried: the ejected one is still tried, not nothing.
	if got := p.pick("", []*endpoint{b, c}, now); got != a {
		t.Errorf("with only an ejected endpoint left, picked %v", got)
	}
	// After the ejection, one more failure ejects it again at once.
	later := now + int64(11*time.Second)
	if a.ejected(later) {
		t.Fatal("still ejected after EjectFor")
	}
	if !a.connectFailed(later, 3, 10*time.Second) {
		t.Error("a failure right after ejection did not re-eject")
	}
	a.succeeded()
	if a.ejected(later) || a.failures.Load() != 0 {
		t.Error("success did not clear the failure state")
	}
	if (&pool{}).pick("", nil, now) != nil {
		t.Error("empty pool picked something")
	}
}

func TestRegistryRefreshKeepsEndpointState(t *testing.T) {
	r := newRegistry(20*time.Second, testLogger(t))
	m := &messages.RouterRegister{Host: "10.0.0.1", Port: 8080, URIs: []string{"a.example.com"}, App: "app", PrivateInstanceID: "i1", PrivateInstanceIndex: "0"}
	if err := r.register(m); err != nil {
		t.Fatal(err)
	}
	r.publish()
	<-r.kick // the registration asked for the rebuild just done
	ep := r.table().lookup("a.example.com", "/").eps[0]
	ep.connectFailed(time.Now().UnixNano(), 1, time.Minute)

	// A refresh keeps the same endpoint (a registration does not un-eject)
	// and does not even need a new table.
	before := r.table()
	if err := r.register(m); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.kick:
		t.Error("a plain refresh asked for a table rebuild")
	default:
	}
	if r.table() != before || !r.table().lookup("a.example.com", "/").eps[0].ejected(time.Now().UnixNano()) {
		t.Error("refresh replaced the endpoint or cleared its ejection")
	}

	// A new instance on the same address is a new endpoint.
	m2 := *m
	m2.PrivateInstanceID = "i2"
	if err := r.register(&m2); err != nil {
		t.Fatal(err)
	}
	r.publish()
	got := r.table().lookup("a.example.com", "/").eps
	if len(got) != 1 || got[0].instanceID != "i2" || got[0].ejected(time.Now().UnixNano()) {
		t.Errorf("after re-registration with a new instance: %+v", got)
	}
}

func TestRegistryPruneWithClock(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	r := newRegistry(20*time.Second, testLogger(t))
	r.now = func() time.Time { return now }
	m := func(port uint16, stale int) *messages.RouterRegister {
		return &messages.RouterRegister{Host: "10.0.0.1", Port: port, URIs: []string{"p.example.com"}, StaleThresholdInSeconds: stale}
	}
	for _, reg := range []*messages.RouterRegister{m(1, 5), m(2, 0), m(3, 600)} {
		if err := r.register(reg); err != nil {
			t.Fatal(err)
		}
	}
	stale := map[string]time.Duration{}
	for _, e := range r.snapshot()["p.example.com"] {
		stale[e.Address] = e.StaleThreshold
	}
	if stale["10.0.0.1:1"] != 5*time.Second || stale["10.0.0.1:2"] != 20*time.Second || stale["10.0.0.1:3"] != 20*time.Second {
		t.Errorf("stale thresholds %v", stale)
	}

	now = now.Add(6 * time.Second)
	if eps, routes := r.prune(); eps != 1 || routes != 0 {
		t.Errorf("prune at 6s removed %d endpoints %d routes, want 1, 0", eps, routes)
	}
	now = now.Add(15 * time.Second)
	if eps, routes := r.prune(); eps != 2 || routes != 0 {
		t.Errorf("prune at 21s removed %d endpoints %d routes, want 2, 0", eps, routes)
	}
	r.publish()
	if p := r.table().lookup("p.example.com", "/"); p == nil || len(p.eps) != 0 {
		t.Fatalf("emptied route should stay as an empty pool (503), got %+v", p)
	}
	now = now.Add(20 * time.Second)
	if _, routes := r.prune(); routes != 1 {
		t.Errorf("empty route not forgotten after the threshold")
	}
	r.publish()
	if r.table().lookup("p.example.com", "/") != nil {
		t.Error("forgotten route still in the table")
	}

	// Registering again revives a route that is empty but not yet forgotten.
	if err := r.register(m(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := r.unregister(m(1, 0)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Second)
	if err := r.register(m(1, 0)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(15 * time.Second)
	if _, routes := r.prune(); routes != 0 {
		t.Error("revived route was forgotten")
	}
}

func TestRegistryFreshenWhileBusDown(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	r := newRegistry(20*time.Second, testLogger(t))
	r.now = func() time.Time { return now }
	if err := r.register(&messages.RouterRegister{Host: "10.0.0.1", Port: 1, URIs: []string{"f.example.com"}, StaleThresholdInSeconds: 5}); err != nil {
		t.Fatal(err)
	}
	// The bus is down for a minute: each suspended pass freshens.
	for range 12 {
		now = now.Add(5 * time.Second)
		r.freshen()
	}
	// Back up: registrars have a whole threshold to re-register.
	now = now.Add(4 * time.Second)
	if eps, _ := r.prune(); eps != 0 {
		t.Fatalf("pruned %d endpoints right after the bus came back", eps)
	}
	now = now.Add(2 * time.Second)
	if eps, _ := r.prune(); eps != 1 {
		t.Fatalf("endpoint not pruned a threshold after the bus came back")
	}
}

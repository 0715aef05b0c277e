package router

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape fetches /metrics and returns each sample line's value by its
// name{labels}, checking that every line is valid text exposition format.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	line := regexp.MustCompile(`^([a-z_]+(\{[a-z]+="[^"]*"\})?) ([0-9.e+]+)$`)
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# TYPE ") {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("bad exposition line %q", l)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = v
	}
	return out
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.MetricsAddr = "127.0.0.1:0" }})
	if e.r.MetricsAddr() == "" {
		t.Fatal("no metrics address")
	}
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	e.register(reg(t, a.URL, "ia", "0", "m.example.com"), "m.example.com", "/", 1)
	e.register(reg(t, b.URL, "ib", "1", "m.example.com"), "m.example.com", "/", 2)
	e.register(reg(t, a.URL, "ia", "0", "m.example.com/api"), "m.example.com", "/api", 1)
	e.register(reg(t, deadURL(t), "dead", "0", "dead.example.com"), "dead.example.com", "/", 1)
	for range 5 {
		e.get("m.example.com", "/", nil)
	}
	e.get("nope.example.com", "/", nil)
	e.get("dead.example.com", "/", nil)

	var m map[string]float64
	// finish() runs after the response is written: poll until all 7 are in.
	eventually(t, "7 requests counted", func() bool {
		m = scrape(t, e.r.MetricsAddr())
		return m[`ingot_router_request_duration_seconds_count`] == 7
	})
	want := map[string]float64{
		`ingot_router_requests_total{code="2xx"}`:                 5,
		`ingot_router_requests_total{code="4xx"}`:                 1,
		`ingot_router_requests_total{code="5xx"}`:                 1,
		`ingot_router_request_duration_seconds_bucket{le="+Inf"}`: 7,
		`ingot_router_backend_errors_total`:                       1,
		`ingot_router_backend_connect_errors_total`:               1,
		`ingot_router_routes`:                                     3,
		`ingot_router_endpoints`:                                  4,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if m[`ingot_router_request_duration_seconds_sum`] <= 0 {
		t.Error("duration sum is zero")
	}
	// Buckets are cumulative.
	prev := 0.0
	for _, le := range latencyBuckets {
		v := m[`ingot_router_request_duration_seconds_bucket{le="`+strconv.FormatFloat(le, 'g', -1, 64)+`"}`]
		if v < prev {
			t.Errorf("bucket %g = %v < previous %v", le, v, prev)
		}
		prev = v
	}
	if m[`ingot_router_backend_idle_connections`] < 1 {
		t.Error("no idle backend connection counted")
	}
	res, err := http.Get("http://" + e.r.MetricsAddr() + "/other")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("/other: %d", res.StatusCode)
	}
}

func TestMetricsObserve(t *testing.T) {
	var m metrics
	m.observe(200, 300*time.Microsecond)
	m.observe(302, 2*time.Millisecond)
	m.observe(503, 20*time.Second)
	m.observe(0, time.Millisecond)
	if m.byClass[1].Load() != 1 || m.byClass[2].Load() != 1 || m.byClass[4].Load() != 1 || m.byClass[5].Load() != 1 {
		t.Errorf("classes %v %v %v %v", m.byClass[1].Load(), m.byClass[2].Load(), m.byClass[4].Load(), m.byClass[5].Load())
	}
	if m.buckets[0].Load() != 1 || m.buckets[1].Load() != 1 || m.buckets[2].Load() != 1 || m.buckets[len(latencyBuckets)].Load() != 1 {
		t.Error("latency landed in the wrong buckets")
	}
	if allocs := testing.AllocsPerRun(100, func() { m.observe(200, time.Millisecond) }); allocs != 0 {
		t.Errorf("observe allocates %v", allocs)
	}
}

func TestMetricsOffByDefault(t *testing.T) {
	e := newEnv(t)
	if e.r.MetricsAddr() != "" {
		t.Errorf("metrics on at %s without MetricsAddr", e.r.MetricsAddr())
	}
}

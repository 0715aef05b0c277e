package router

import (
	"bufio"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the request duration
// histogram.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// latencyBucketsNano are latencyBuckets in nanoseconds, for the hot path.
var latencyBucketsNano = func() (b [len(latencyBuckets)]int64) {
	for i, s := range latencyBuckets {
		b[i] = int64(s * float64(time.Second))
	}
	return b
}()

// metrics are the router's counters: plain atomics, so a request pays a
// few uncontended adds; everything derived (routes, endpoints, idle
// connections) is computed at scrape time.
type metrics struct {
	byClass       [6]atomic.Uint64 // 1xx..5xx, then anything else
	buckets       [len(latencyBuckets) + 1]atomic.Uint64
	durationNanos atomic.Uint64
	connectErrors atomic.Uint64
	backendErrors atomic.Uint64 // requests answered 502 after a backend failure
	ejections     atomic.Uint64
	clientClosed  atomic.Uint64
}

// observe records one finished request.
func (m *metrics) observe(status int, d time.Duration) {
	class := status/100 - 1
	if class < 0 || class > 4 {
		class = 5
	}
	m.byClass[class].Add(1)
	n := int64(d)
	i := 0
	for i < len(latencyBucketsNano) && n > latencyBucketsNano[i] {
		i++
	}
	m.buckets[i].Add(1)
	if n > 0 {
		m.durationNanos.Add(uint64(n))
	}
}

var statusClasses = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// serveMetrics writes the Prometheus text exposition format (0.0.4).
func (r *Router) serveMetrics(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/metrics" {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	b := bufio.NewWriter(w)
	defer b.Flush()
	m := r.metrics

	head(b, "ingot_router_requests_total", "counter", "Requests answered, by status class.")
	for i, c := range statusClasses {
		sample(b, "ingot_router_requests_total", `code="`+c+`"`, m.byClass[i].Load())
	}

	head(b, "ingot_router_request_duration_seconds", "histogram", "Time from request start to the end of the response.")
	var cum uint64
	for i, le := range latencyBuckets {
		cum += m.buckets[i].Load()
		sample(b, "ingot_router_request_duration_seconds_bucket", `le="`+strconv.FormatFloat(le, 'g', -1, 64)+`"`, cum)
	}
	cum += m.buckets[len(latencyBuckets)].Load()
	sample(b, "ingot_router_request_duration_seconds_bucket", `le="+Inf"`, cum)
	b.WriteString("ingot_router_request_duration_seconds_sum " +
		strconv.FormatFloat(float64(m.durationNanos.Load())/1e9, 'f', 9, 64) + "\n")
	sample(b, "ingot_router_request_duration_seconds_count", "", cum)

	head(b, "ingot_router_backend_connect_errors_total", "counter", "Failed connects to backends (each retried on another endpoint when one is left).")
	sample(b, "ingot_router_backend_connect_errors_total", "", m.connectErrors.Load())
	head(b, "ingot_router_backend_errors_total", "counter", "Requests answered 502 because the backend failed.")
	sample(b, "ingot_router_backend_errors_total", "", m.backendErrors.Load())
	head(b, "ingot_router_endpoint_ejections_total", "counter", "Endpoints ejected after repeated connect failures.")
	sample(b, "ingot_router_endpoint_ejections_total", "", m.ejections.Load())
	head(b, "ingot_router_client_closed_total", "counter", "Requests whose client went away before the response.")
	sample(b, "ingot_router_client_closed_total", "", m.clientClosed.Load())
	head(b, "ingot_router_access_log_dropped_total", "counter", "Access log lines dropped because the log pipeline was behind.")
	sample(b, "ingot_router_access_log_dropped_total", "", uint64(r.acc.dropped.Load()))

	head(b, "ingot_router_connections_rejected_total", "counter", "Client connections closed at once because max_conns were open.")
	sample(b, "ingot_router_connections_rejected_total", "", uint64(r.loop.rejected.Load()))
	head(b, "ingot_router_client_connections", "gauge", "Open client connections served by the router's HTTP/1.1 loop.")
	sample(b, "ingot_router_client_connections", "", uint64(r.loop.active()))

	routes, endpoints, ejected, idle := r.tableStats()
	head(b, "ingot_router_routes", "gauge", "Routes in the routing table.")
	sample(b, "ingot_router_routes", "", uint64(routes))
	head(b, "ingot_router_endpoints", "gauge", "Endpoints in the routing table.")
	sample(b, "ingot_router_endpoints", "", uint64(endpoints))
	head(b, "ingot_router_endpoints_ejected", "gauge", "Endpoints currently ejected.")
	sample(b, "ingot_router_endpoints_ejected", "", uint64(ejected))
	head(b, "ingot_router_backend_idle_connections", "gauge", "Idle keep-alive connections to backends.")
	sample(b, "ingot_router_backend_idle_connections", "", uint64(idle))
	head(b, "ingot_router_requests_in_flight", "gauge", "Requests being served.")
	sample(b, "ingot_router_requests_in_flight", "", uint64(max(r.inflight.Load(), 0)))
}

// tableStats counts what the published table holds.
func (r *Router) tableStats() (routes, endpoints, ejected, idle int) {
	t := r.reg.table()
	now := time.Now().UnixNano()
	for _, m := range []map[string]*hostRoutes{t.exact, t.wild} {
		for _, h := range m {
			for _, p := range h.pools {
				routes++
				endpoints += len(p.eps)
				for _, e := range p.eps {
					if e.ejected(now) {
						ejected++
					}
					idle += e.idle.len()
				}
			}
		}
	}
	return routes, endpoints, ejected, idle
}

func head(b *bufio.Writer, name, typ, help string) {
	b.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

func sample(b *bufio.Writer, name, labels string, v uint64) {
	b.WriteString(name)
	if labels != "" {
		b.WriteString("{" + labels + "}")
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(v, 10))
	b.WriteByte('\n')
}

package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkLookup measures a lookup in a table of 10,000 routes with
// context paths and wildcards, the work done for every request.
func BenchmarkLookup(b *testing.B) {
	var pools []*pool
	var wild []bool
	for i := range 10000 {
		host := "app" + strconv.Itoa(i) + ".apps.example.com"
		pools = append(pools, &pool{uri: host, host: host})
		wild = append(wild, false)
		if i%10 == 0 {
			pools = append(pools, &pool{uri: host + "/api", host: host, path: "/api"})
			wild = append(wild, false)
		}
	}
	pools = append(pools, &pool{uri: "*.wild.example.com", host: "wild.example.com"})
	wild = append(wild, true)
	tbl := buildTable(pools, wild)
	hosts := []string{"app4242.apps.example.com", "app500.apps.example.com", "x.wild.example.com", "nope.example.com"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if tbl.lookup(requestHost(hosts[i%len(hosts)]), "/api/users/42") == nil && i%len(hosts) != 3 {
			b.Fatal("route not found")
		}
	}
}

// BenchmarkProxy measures a request through the router to a local backend
// over keep-alive connections on both sides.
func BenchmarkProxy(b *testing.B) {
	e := newEnv(b, envOpt{noLogs: true})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from the backend")
	}))
	b.Cleanup(s.Close)
	e.register(reg(b, s.URL, "bench-0", "0", "bench.example.com"), "bench.example.com", "/", 1)

	url := "http://" + e.r.Addr() + "/bench"
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = "bench.example.com"
		for pb.Next() {
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}

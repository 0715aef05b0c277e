package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// countingListener counts the connections a backend accepted.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func countingBackend(t *testing.T, h http.Handler) (*httptest.Server, *countingListener) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	cl := &countingListener{Listener: s.Listener}
	s.Listener = cl
	s.Start()
	t.Cleanup(s.Close)
	return s, cl
}

func endpointOf(t *testing.T, e *env, host string) *endpoint {
	t.Helper()
	p := e.r.reg.table().lookup(host, "/")
	if p == nil || len(p.eps) != 1 {
		t.Fatalf("route %s: want one endpoint", host)
	}
	return p.eps[0]
}

func TestIdlePoolPerEndpointIsBounded(t *testing.T) {
	const parallel, maxIdle = 8, 2
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.MaxIdleConnsPerEndpoint = maxIdle }})
	var arrived sync.WaitGroup
	arrived.Add(parallel)
	release := make(chan struct{})
	var first atomic.Bool
	s, cl := countingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived.Done()
			<-release
		}
		_, _ = io.WriteString(w, "ok")
		first.Store(true)
	}))
	e.register(reg(t, s.URL, "i", "0", "pool.example.com"), "pool.example.com", "/", 1)

	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			if res, _ := e.get("pool.example.com", "/hold", nil); res.StatusCode != 200 {
				t.Errorf("status %d", res.StatusCode)
			}
		})
	}
	arrived.Wait()
	close(release)
	wg.Wait()
	ep := endpointOf(t, e, "pool.example.com")
	if got := ep.idle.len(); got != maxIdle {
		t.Errorf("idle connections = %d, want the limit %d", got, maxIdle)
	}
	if got := cl.n.Load(); got != parallel {
		t.Errorf("backend accepted %d connections, want %d", got, parallel)
	}
	// Sequential requests reuse the pooled connections.
	for range 10 {
		e.get("pool.example.com", "/", nil)
	}
	if got := cl.n.Load(); got != parallel {
		t.Errorf("after sequential requests the backend accepted %d connections, want still %d", got, parallel)
	}
	if ep.active.Load() != 0 {
		t.Errorf("active = %d after all requests", ep.active.Load())
	}
}

// oneShotBackend answers each connection's first request and then closes
// it without saying so, as a backend with a short idle timeout does.
func oneShotBackend(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nshot")
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

func TestStaleIdleConnectionIsReplaced(t *testing.T) {
	e := newEnv(t)
	u, conns := oneShotBackend(t)
	e.register(reg(t, u, "i", "0", "stale.example.com"), "stale.example.com", "/", 1)
	for i := range 5 {
		res, body := e.get("stale.example.com", "/", nil)
		if res.StatusCode != 200 || body != "shot" {
			t.Fatalf("request %d: %d %q, want 200 shot", i, res.StatusCode, body)
		}
		// Let the backend's close reach the router's side first.
		eventually(t, "backend closed", func() bool { return conns.Load() == int64(i+1) })
	}
}

func TestFastPathBodiesAndMethods(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Len", strconv.FormatInt(r.ContentLength, 10))
			w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
			_, _ = w.Write(body)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			_, _ = io.WriteString(w, "data")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "42")
		case "/hop":
			w.Header().Set("Connection", "X-Private")
			w.Header().Set("X-Private", "secret")
			w.Header().Set("Keep-Alive", "timeout=5")
			_, _ = io.WriteString(w, "hop")
		default:
			_, _ = io.WriteString(w, "get")
		}
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "i", "0", "body.example.com"), "body.example.com", "/", 1)
	do := func(method, path string, body io.Reader, length int64) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+e.r.Addr()+path, body)
		req.Host = "body.example.com"
		if length >= 0 {
			req.ContentLength = length
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	read := func(res *http.Response) string {
		t.Helper()
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	res := do(http.MethodPost, "/echo", strings.NewReader("fixed-length"), 12)
	if b := read(res); b != "fixed-length" || res.Header.Get("X-Len") != "12" {
		t.Errorf("fixed body: %q len %s", b, res.Header.Get("X-Len"))
	}
	// An io.Reader of unknown length is sent chunked by the client.
	res = do(http.MethodPut, "/echo", io.MultiReader(strings.NewReader("chun"), strings.NewReader("ked")), -1)
	if b := read(res); b != "chunked" || res.Header.Get("X-TE") != "chunked" {
		t.Errorf("chunked body: %q te %q", b, res.Header.Get("X-TE"))
	}
	// A large upload goes through http.Transport, which reads the
	// response while sending.
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	res = do(http.MethodPost, "/echo", strings.NewReader(big), int64(len(big)))
	if b := read(res); b != big || res.Header.Get("X-Len") != strconv.Itoa(len(big)) {
		t.Errorf("large body: %d bytes back, len %s", len(b), res.Header.Get("X-Len"))
	}
	res = do(http.MethodPost, "/echo", nil, 0)
	if b := read(res); b != "" || res.Header.Get("X-Len") != "0" {
		t.Errorf("empty post: %q len %s", b, res.Header.Get("X-Len"))
	}
	res = do(http.MethodHead, "/", nil, 0)
	if b := read(res); b != "" || res.StatusCode != 200 {
		t.Errorf("HEAD: %d %q", res.StatusCode, b)
	}
	res = do(http.MethodGet, "/empty", nil, 0)
	if b := read(res); res.StatusCode != http.StatusNoContent || b != "" {
		t.Errorf("204: %d %q", res.StatusCode, b)
	}
	res = do(http.MethodGet, "/trailer", nil, 0)
	if b := read(res); b != "data" || res.Trailer.Get("X-Sum") != "42" {
		t.Errorf("trailer: %q %v", b, res.Trailer)
	}
	res = do(http.MethodGet, "/hop", nil, 0)
	if b := read(res); b != "hop" || res.Header.Get("X-Private") != "" || res.Header.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop headers forwarded: %v", res.Header)
	}
	// The fast path's requests shared one pooled backend connection.
	if got := endpointOf(t, e, "body.example.com").idle.len(); got != 1 {
		t.Errorf("idle connections = %d, want 1", got)
	}
}

func TestClientGoneMidResponseClosesBackendConn(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{})
	done := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done() // the router hung up
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "i", "0", "gone.example.com"), "gone.example.com", "/", 1)
	c, err := net.Dial("tcp", e.r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: gone.example.com\r\n\r\n")
	<-started
	c.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("backend request was not cancelled after the client left")
	}
	if got := endpointOf(t, e, "gone.example.com").idle.len(); got != 0 {
		t.Errorf("a half-read connection went back to the pool (%d idle)", got)
	}
}

func TestIDGen(t *testing.T) {
	g := newIDGen()
	seen := map[string]bool{}
	for range 10000 {
		id := g.next()
		if !uuidRE.MatchString(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("id %q is not a v4 uuid", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	if g2 := newIDGen(); g2.next()[:23] == g.next()[:23] {
		t.Error("two generators share a prefix")
	}
}

// Lookups keep working (and race-free) while registrations swap tables.
func TestTableSwapUnderConcurrentRegistration(t *testing.T) {
	r := newRegistry(time.Minute, testLogger(t))
	r.register(&messages.RouterRegister{Host: "10.0.0.1", Port: 1, URIs: []string{"stable.example.com"}})
	r.publish()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := &messages.RouterRegister{Host: "10.0.1." + strconv.Itoa(w), Port: uint16(1000 + i%50),
					URIs: []string{"churn" + strconv.Itoa(i%7) + ".example.com", "stable.example.com/p" + strconv.Itoa(i%5)}}
				if i%3 == 2 {
					_ = r.unregister(m)
				} else {
					_ = r.register(m)
				}
				r.publish()
			}
		})
	}
	for range 20000 {
		p := r.table().lookup("stable.example.com", "/x")
		if p == nil || len(p.eps) != 1 || p.eps[0].addr != "10.0.0.1:1" {
			t.Fatalf("stable route lost during churn: %+v", p)
		}
		_ = r.table().lookup("churn3.example.com", "/")
	}
	close(stop)
	wg.Wait()
}

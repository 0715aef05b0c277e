package router

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawClient is a client connection that speaks HTTP/1.1 by hand, so tests
// control framing, pipelining and connection reuse exactly.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawClient) send(raw string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, raw); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one response to a request of method.
func (rc *rawClient) read(method string) (*http.Response, string) {
	rc.t.Helper()
	res, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		rc.t.Fatalf("read body: %v", err)
	}
	res.Body.Close()
	return res, string(b)
}

// closed reports whether the router closed the connection.
func (rc *rawClient) closed() bool {
	_ = rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := rc.br.ReadByte()
	// EOF, or a reset when the router closed with the request unread.
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func get(host, path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + strings.Join(extra, "") + "\r\n"
}

func TestLoopKeepAliveReusesBothConnections(t *testing.T) {
	e := newEnv(t)
	s, cl := countingBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	e.register(reg(t, s.URL, "ka", "0", "ka.example.com"), "ka.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	for i := range 20 {
		p := "/r" + strconv.Itoa(i)
		rc.send(get("ka.example.com", p))
		res, body := rc.read("GET")
		if res.StatusCode != 200 || body != p || res.Close {
			t.Fatalf("request %d: %d %q close=%v", i, res.StatusCode, body, res.Close)
		}
		if res.Header.Get("X-Vcap-Request-Id") == "" || res.Header.Get("Date") == "" {
			t.Fatalf("response lacks X-Vcap-Request-Id or Date: %v", res.Header)
		}
	}
	if n := cl.n.Load(); n != 1 {
		t.Errorf("backend accepted %d connections for 20 requests, want 1", n)
	}
}

func TestLoopPipelinedRequestsAnsweredInOrder(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "pl", "0", "pipe.example.com"), "pipe.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("pipe.example.com", "/one") +
		"POST /two HTTP/1.1\r\nHost: pipe.example.com\r\nContent-Length: 3\r\n\r\nabc" +
		"HEAD /three HTTP/1.1\r\nHost: pipe.example.com\r\n\r\n" +
		get("nowhere.example.com", "/four") +
		"PUT /gone HTTP/1.1\r\nHost: nowhere.example.com\r\nContent-Length: 4\r\n\r\nbody" +
		get("pipe.example.com", "/five"))
	for _, want := range []struct{ method, status, body string }{
		{"GET", "200", "GET /one "},
		{"POST", "200", "POST /two abc"},
		{"HEAD", "200", ""},
		{"GET", "404", "404 Not Found: Requested route ('nowhere.example.com') does not exist.\n"},
		{"PUT", "404", "404 Not Found: Requested route ('nowhere.example.com') does not exist.\n"},
		{"GET", "200", "GET /five "},
	} {
		res, body := rc.read(want.method)
		if strconv.Itoa(res.StatusCode) != want.status || body != want.body {
			t.Fatalf("%s: got %d %q, want %s %q", want.method, res.StatusCode, body, want.status, want.body)
		}
	}
}

func TestLoopChunkedAndCloseDelimitedBodies(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		for _, part := range []string{"alpha-", "beta-", string(body)} {
			_, _ = io.WriteString(w, part)
			w.(http.Flusher).Flush() // chunked, in several chunks
		}
		w.Header().Set("X-Sum", strconv.Itoa(len(body)))
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "ch", "0", "chunk.example.com"), "chunk.example.com", "/", 1)

	// A backend that answers HTTP/1.0 style: no length, then closes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-")
				time.Sleep(20 * time.Millisecond)
				_, _ = io.WriteString(c, "close")
			}()
		}
	}()
	e.register(reg(t, "http://"+ln.Addr().String(), "cl", "0", "close.example.com"), "close.example.com", "/", 1)

	rc := dialRaw(t, e.r.Addr())
	// A chunked upload is net/http's: the connection is handed over and
	// keeps working.
	rc.send("POST /up HTTP/1.1\r\nHost: chunk.example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n2\r\n12\r\n0\r\n\r\n")
	res, body := rc.read("POST")
	if res.StatusCode != 200 || body != "alpha-beta-xyz12" || res.Trailer.Get("X-Sum") != "5" {
		t.Fatalf("chunked upload: %d %q trailer %v", res.StatusCode, body, res.Trailer)
	}
	rc2 := dialRaw(t, e.r.Addr())
	rc2.send("POST /up HTTP/1.1\r\nHost: chunk.example.com\r\nContent-Length: 2\r\n\r\nok")
	res, body = rc2.read("POST")
	if res.StatusCode != 200 || body != "alpha-beta-ok" || len(res.TransferEncoding) != 1 || res.Trailer.Get("X-Sum") != "2" {
		t.Fatalf("chunked response: %d %q te=%v trailer %v", res.StatusCode, body, res.TransferEncoding, res.Trailer)
	}
	for range 2 { // the close-delimited body is re-chunked: the client connection stays
		rc2.send(get("close.example.com", "/"))
		res, body = rc2.read("GET")
		if res.StatusCode != 200 || body != "until-close" || res.Close {
			t.Fatalf("close-delimited response: %d %q close=%v", res.StatusCode, body, res.Close)
		}
	}
}

func TestLoopResponsesWithoutBody(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		case "/100":
			w.WriteHeader(http.StatusContinue) // interim, not forwarded
			_, _ = io.WriteString(w, "after-100")
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "nb", "0", "nobody.example.com"), "nobody.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	for _, c := range []struct {
		method, path string
		status       int
		body, clen   string
	}{
		{"HEAD", "/", 200, "", "5"},
		{"GET", "/204", 204, "", ""},
		{"GET", "/304", 304, "", ""},
		{"GET", "/100", 200, "after-100", ""},
		{"GET", "/", 200, "hello", "5"},
	} {
		rc.send(c.method + " " + c.path + " HTTP/1.1\r\nHost: nobody.example.com\r\n\r\n")
		res, body := rc.read(c.method)
		if res.StatusCode != c.status || body != c.body || c.clen != "" && res.Header.Get("Content-Length") != c.clen {
			t.Fatalf("%s %s: %d %q %v", c.method, c.path, res.StatusCode, body, res.Header)
		}
	}
}

func TestLoopConnectionClose(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	e.register(reg(t, a.URL, "cc", "0", "close.example.com"), "close.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("close.example.com", "/", "Connection: close\r\n"))
	res, body := rc.read("GET")
	if res.StatusCode != 200 || body != "a" || !res.Close {
		t.Fatalf("got %d %q close=%v", res.StatusCode, body, res.Close)
	}
	if !rc.closed() {
		t.Error("the router kept the connection open after Connection: close")
	}
	// Router errors honour it too.
	rc = dialRaw(t, e.r.Addr())
	rc.send(get("missing.example.com", "/", "Connection: close\r\n"))
	if res, _ := rc.read("GET"); res.StatusCode != 404 || !res.Close || !rc.closed() {
		t.Errorf("404 with Connection: close: %d close=%v", res.StatusCode, res.Close)
	}
}

func TestLoopOversizeAndMalformedRequests(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	e.register(reg(t, a.URL, "big", "0", "big.example.com"), "big.example.com", "/", 1)

	// A head larger than the loop's buffer but within maxHeaderBytes is
	// proxied (net/http takes the connection).
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("big.example.com", "/", "X-Big: "+strings.Repeat("b", 3*loopReadBufSize)+"\r\n"))
	if res, body := rc.read("GET"); res.StatusCode != 200 || body != "a" {
		t.Fatalf("large head: %d %q", res.StatusCode, body)
	}
	// Over maxHeaderBytes: 431.
	rc = dialRaw(t, e.r.Addr())
	go func() {
		_, _ = io.WriteString(rc.c, get("big.example.com", "/", "X-Huge: "+strings.Repeat("h", maxHeaderBytes+8192)+"\r\n"))
	}()
	if res, _ := rc.read("GET"); res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversize head: %d, want 431", res.StatusCode)
	}
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: big.example.com\r\nNo colon here\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: big.example.com\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: big.example.com\r\nBad\x01: x\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\nHost: big.example.com\r\n\r\n",
		"BAD REQUEST LINE\r\n\r\n",
	} {
		rc := dialRaw(t, e.r.Addr())
		rc.send(raw)
		if res, _ := rc.read("GET"); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", raw, res.StatusCode)
		}
	}
}

func TestLoopExpectContinueAndLargeBodies(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "up", "0", "up.example.com"), "up.example.com", "/", 1)
	for _, n := range []int{1, maxFastBody, maxFastBody + 1, 1 << 20} {
		req, _ := http.NewRequest(http.MethodPut, "http://"+e.r.Addr()+"/", strings.NewReader(strings.Repeat("x", n)))
		req.Host = "up.example.com"
		if n > maxFastBody {
			req.Header.Set("Expect", "100-continue")
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != strconv.Itoa(n) {
			t.Fatalf("body of %d: %d %q", n, res.StatusCode, b)
		}
	}
}

func TestLoopWebsocketAfterKeepAliveRequest(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, data, err := c.Read(r.Context())
		if err == nil {
			_ = c.Write(r.Context(), typ, append([]byte("echo:"), data...))
		}
		_, _, _ = c.Read(r.Context())
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "ws", "0", "ws.example.com"), "ws.example.com", "/", 1)

	// One connection: a plain request served by the loop, then an upgrade
	// on the same connection, which net/http and the reverse proxy take.
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("ws.example.com", "/"))
	if res, body := rc.read("GET"); body != "plain" {
		t.Fatalf("plain request: %d %q", res.StatusCode, body)
	}
	rc.send(get("ws.example.com", "/socket", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
		"Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"))
	res, err := http.ReadResponse(rc.br, &http.Request{Method: "GET"})
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade on a reused connection: %v %v", res, err)
	}
	// A masked text frame "hi", then the unmasked echo.
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | 2, mask[0], mask[1], mask[2], mask[3], 'h' ^ mask[0], 'i' ^ mask[1]}
	rc.send(string(frame))
	got := make([]byte, 2+len("echo:hi"))
	if _, err := io.ReadFull(rc.br, got); err != nil {
		t.Fatal(err)
	}
	if got[0] != 0x81 || int(got[1]) != len("echo:hi") || string(got[2:]) != "echo:hi" {
		t.Fatalf("websocket frame % x", got)
	}
}

func TestLoopDrainClosesIdleConnections(t *testing.T) {
	e := newEnv(t)
	a := namedBackend(t, "a")
	e.register(reg(t, a.URL, "dr", "0", "drain.example.com"), "drain.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("drain.example.com", "/"))
	if res, _ := rc.read("GET"); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	start := time.Now()
	e.stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("drain with an idle keep-alive connection took %v", d)
	}
	if !rc.closed() {
		t.Error("idle keep-alive connection still open after shutdown")
	}
}

func TestLoopMaxConns(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.MaxConns = 2 }})
	a := namedBackend(t, "a")
	e.register(reg(t, a.URL, "mc", "0", "max.example.com"), "max.example.com", "/", 1)
	var held []*rawClient
	for range 2 {
		rc := dialRaw(t, e.r.Addr())
		rc.send(get("max.example.com", "/"))
		if res, _ := rc.read("GET"); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		held = append(held, rc)
	}
	over := dialRaw(t, e.r.Addr())
	over.send(get("max.example.com", "/"))
	if !over.closed() {
		t.Fatal("a connection over MaxConns was served")
	}
	if e.r.loop.rejected.Load() != 1 {
		t.Errorf("rejected = %d, want 1", e.r.loop.rejected.Load())
	}
	held[0].c.Close()
	eventually(t, "a slot to free up", func() bool { return e.r.loop.active() < 2 })
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("max.example.com", "/"))
	if res, _ := rc.read("GET"); res.StatusCode != 200 {
		t.Fatalf("after a slot freed: %d", res.StatusCode)
	}
}

func TestLoopBackendTimeoutAndHeaders(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.EndpointTimeout = 300 * time.Millisecond }})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "yes")
		fmt.Fprintf(w, "%s|%s|%s", r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Client-Hop"), r.Header.Get("Te"))
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "to", "0", "to.example.com"), "to.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("to.example.com", "/slow"))
	res, _ := rc.read("GET")
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(res.Header.Get(hdrRouterError), "timeout") {
		t.Fatalf("slow backend: %d %q", res.StatusCode, res.Header.Get(hdrRouterError))
	}
	rc.send(get("to.example.com", "/", "X-Forwarded-For: 10.0.0.1\r\n", "X-Forwarded-For: 10.0.0.2\r\n", "TE: trailers\r\n"))
	res, body := rc.read("GET")
	if body != "10.0.0.1, 10.0.0.2, 127.0.0.1||" {
		t.Errorf("backend saw %q", body)
	}
	if res.Header.Get("X-Secret") != "" || res.Header.Get("Keep-Alive") != "" || res.Header.Get("X-Kept") != "yes" {
		t.Errorf("hop-by-hop response headers: %v", res.Header)
	}
}

// A client that pipelines part of its next request while a slow response
// is being awaited (the watcher reads those bytes) still gets both answers.
func TestLoopPartialPipelinedRequestDuringSlowResponse(t *testing.T) {
	e := newEnv(t)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "sl", "0", "slow.example.com"), "slow.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("slow.example.com", "/slow"))
	<-arrived
	// Past the second after which the router watches the client.
	time.Sleep(1500 * time.Millisecond)
	rc.send("GET /next HTTP/1.1\r\nHost: slow.exa")
	time.Sleep(100 * time.Millisecond)
	close(release)
	if res, body := rc.read("GET"); res.StatusCode != 200 || body != "/slow" {
		t.Fatalf("slow request: %d %q", res.StatusCode, body)
	}
	rc.send("mple.com\r\n\r\n")
	if res, body := rc.read("GET"); res.StatusCode != 200 || body != "/next" {
		t.Fatalf("pipelined request: %d %q", res.StatusCode, body)
	}
}

// A body sent without a Content-Type gets a sniffed one, as net/http's
// server (and so gorouter and the net/http path) gives it.
func TestLoopSniffsMissingContentType(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the backend sends none
		_, _ = io.WriteString(w, "<html><body>hi</body></html>")
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "sn", "0", "sniff.example.com"), "sniff.example.com", "/", 1)
	rc := dialRaw(t, e.r.Addr())
	rc.send(get("sniff.example.com", "/"))
	res, body := rc.read("GET")
	if res.StatusCode != 200 || body != "<html><body>hi</body></html>" || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("got %d %q Content-Type %q", res.StatusCode, body, res.Header.Get("Content-Type"))
	}
}

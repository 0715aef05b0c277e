package router

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type seenRequest struct {
	header     http.Header
	host       string
	remoteAddr string
	close      bool
}

// recordingBackend records what each request looked like on arrival.
func recordingBackend(t *testing.T, setRequestID bool) (*httptest.Server, chan seenRequest) {
	t.Helper()
	seen := make(chan seenRequest, 16)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- seenRequest{header: r.Header.Clone(), host: r.Host, remoteAddr: r.RemoteAddr, close: r.Close}
		if setRequestID {
			w.Header().Set("X-Vcap-Request-Id", "from-backend")
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s, seen
}

func TestHeadersSeenByBackend(t *testing.T) {
	e := newEnv(t)
	s, seen := recordingBackend(t, false)
	e.register(reg(t, s.URL, "inst-1", "0", "hdr.example.com"), "hdr.example.com", "/", 1)

	hdr := http.Header{
		"X-Forwarded-For":    {"1.2.3.4"},
		"X-Forwarded-Proto":  {"https"},
		"X-Vcap-Request-Id":  {"spoofed"},
		"X-Cf-Instanceid":    {"spoofed"},
		"X-Cf-Applicationid": {"spoofed"},
		"Connection":         {"keep-alive, X-Hop"},
		"X-Hop":              {"secret"},
		"X-Cf-App-Instance":  {testAppGUID + ":0"},
	}
	res, _ := e.get("hdr.example.com:80", "/x", hdr)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := <-seen
	h := got.header
	checks := map[string]string{
		"X-Forwarded-For":    "1.2.3.4, 127.0.0.1",
		"X-Forwarded-Proto":  "https",
		"X-Cf-Applicationid": testAppGUID,
		"X-Cf-Instanceid":    "inst-1",
		"X-Cf-Instanceindex": "0",
	}
	for k, want := range checks {
		if v := h.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if got.host != "hdr.example.com:80" {
		t.Errorf("Host = %q, want the client's", got.host)
	}
	rid := h.Get("X-Vcap-Request-Id")
	if !uuidRE.MatchString(rid) {
		t.Errorf("X-Vcap-Request-Id = %q, want a new uuid", rid)
	}
	if res.Header.Get("X-Vcap-Request-Id") != rid {
		t.Errorf("response X-Vcap-Request-Id = %q, want %q", res.Header.Get("X-Vcap-Request-Id"), rid)
	}
	if ms, err := strconv.ParseInt(h.Get("X-Request-Start"), 10, 64); err != nil || time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Errorf("X-Request-Start = %q, want epoch ms", h.Get("X-Request-Start"))
	}
	for _, k := range []string{"X-Hop", "X-Cf-App-Instance"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s reached the backend: %q", k, v)
		}
	}
	if got.close {
		t.Error("backend request has Connection: close; want keep-alive")
	}

	// Second request: the client's X-Request-Start is kept, the connection
	// to the backend is reused, and a backend's own request id wins.
	e.get("hdr.example.com", "/y", http.Header{"X-Request-Start": {"12345"}})
	got2 := <-seen
	if v := got2.header.Get("X-Request-Start"); v != "12345" {
		t.Errorf("X-Request-Start = %q, want the client's 12345", v)
	}
	if got2.remoteAddr != got.remoteAddr {
		t.Errorf("backend connection not reused: %s then %s", got.remoteAddr, got2.remoteAddr)
	}
	if got2.header.Get("X-Forwarded-Proto") != "http" || got2.header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("defaults: proto %q for %q", got2.header.Get("X-Forwarded-Proto"), got2.header.Get("X-Forwarded-For"))
	}
}

func TestBackendRequestIDAndInstanceIDFallback(t *testing.T) {
	e := newEnv(t)
	s, seen := recordingBackend(t, true)
	m := reg(t, s.URL, "", "", "noid.example.com")
	e.register(m, "noid.example.com", "/", 1)
	res, _ := e.get("noid.example.com", "/", nil)
	got := <-seen
	if want := m.Host + ":" + strconv.Itoa(int(m.Port)); got.header.Get("X-Cf-Instanceid") != want {
		t.Errorf("X-Cf-Instanceid = %q, want %q", got.header.Get("X-Cf-Instanceid"), want)
	}
	if _, ok := got.header["X-Cf-Instanceindex"]; ok {
		t.Error("empty instance index sent")
	}
	if v := res.Header.Values("X-Vcap-Request-Id"); len(v) != 1 || v[0] != "from-backend" {
		t.Errorf("response X-Vcap-Request-Id = %q, want the backend's", v)
	}
}

func TestAppInstanceHeader(t *testing.T) {
	e := newEnv(t)
	for i, n := range []string{"zero", "one"} {
		s := namedBackend(t, n)
		e.register(reg(t, s.URL, "inst-"+n, strconv.Itoa(i), "ai.example.com"), "ai.example.com", "/", i+1)
	}
	for range 6 {
		res, body := e.get("ai.example.com", "/", http.Header{"X-Cf-App-Instance": {testAppGUID + ":1"}})
		if res.StatusCode != 200 || body != "one" {
			t.Fatalf("got %d %q, want instance one", res.StatusCode, body)
		}
	}
	for _, bad := range []string{"nope", testAppGUID, strings.ToUpper(testAppGUID) + ":1", testAppGUID + ":x", testAppGUID + ":"} {
		res, body := e.get("ai.example.com", "/", http.Header{"X-Cf-App-Instance": {bad}})
		if res.StatusCode != 400 || res.Header.Get(hdrRouterError) != "invalid_cf_app_instance_header" {
			t.Errorf("%q: got %d %q", bad, res.StatusCode, res.Header.Get(hdrRouterError))
		}
		if body != "400 Bad Request: Invalid X-CF-App-Instance Header\n" {
			t.Errorf("%q: body %q", bad, body)
		}
	}
	res, body := e.get("ai.example.com", "/", http.Header{"X-Cf-App-Instance": {testAppGUID + ":7"}})
	if res.StatusCode != 400 || res.Header.Get(hdrRouterError) != "unknown_route" {
		t.Errorf("missing instance: got %d %q", res.StatusCode, res.Header.Get(hdrRouterError))
	}
	if want := "400 Bad Request: Requested instance ('7') with guid ('" + testAppGUID + "') does not exist for route ('ai.example.com')\n"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}
}

// sessionBackend sets JSESSIONID on /login and always names itself.
func sessionBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" || r.URL.Path == "/ctx/login" {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "sess-" + name, Path: "/"})
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func vcapCookieOf(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == vcapCookie {
			return c
		}
	}
	return nil
}

func TestStickySessions(t *testing.T) {
	e := newEnv(t)
	servers := map[string]*httptest.Server{}
	for i, n := range []string{"a", "b", "c"} {
		servers[n] = sessionBackend(t, n)
		e.register(reg(t, servers[n].URL, "inst-"+n, strconv.Itoa(i), "sticky.example.com"), "sticky.example.com", "/", i+1)
	}

	res, pinned := e.get("sticky.example.com", "/login", nil)
	vc := vcapCookieOf(res)
	if vc == nil || vc.Value != "inst-"+pinned || vc.Path != "/" || !vc.HttpOnly {
		t.Fatalf("login by %s: __VCAP_ID__ cookie = %+v", pinned, vc)
	}
	both := http.Header{"Cookie": {"JSESSIONID=sess-" + pinned + "; __VCAP_ID__=" + vc.Value}}
	for range 9 {
		res, body := e.get("sticky.example.com", "/page", both)
		if body != pinned {
			t.Fatalf("sticky request went to %s, want %s", body, pinned)
		}
		if vcapCookieOf(res) != nil {
			t.Error("__VCAP_ID__ re-set while the pinned instance served")
		}
	}
	// __VCAP_ID__ alone is not a sticky session: round-robin.
	seen := map[string]bool{}
	for range 6 {
		_, body := e.get("sticky.example.com", "/page", http.Header{"Cookie": {"__VCAP_ID__=" + vc.Value}})
		seen[body] = true
	}
	if len(seen) != 3 {
		t.Errorf("__VCAP_ID__ alone reached %v, want all three backends", seen)
	}

	// The pinned instance goes away: another serves and re-pins.
	m := reg(t, servers[pinned].URL, "inst-"+pinned, "", "sticky.example.com")
	e.publish(bus.SubjectRouterUnregister, m)
	e.waitEndpoints("sticky.example.com", "/", 2)
	res, other := e.get("sticky.example.com", "/page", both)
	if other == pinned {
		t.Fatalf("request went to the unregistered instance %s", pinned)
	}
	nc := vcapCookieOf(res)
	if nc == nil || nc.Value != "inst-"+other {
		t.Fatalf("re-pin cookie = %+v, want inst-%s", nc, other)
	}
	both2 := http.Header{"Cookie": {"JSESSIONID=sess-" + pinned + "; __VCAP_ID__=" + nc.Value}}
	for range 5 {
		if _, body := e.get("sticky.example.com", "/page", both2); body != other {
			t.Fatalf("after re-pin went to %s, want %s", body, other)
		}
	}
}

func TestStickyCookiePathIsContextPath(t *testing.T) {
	e := newEnv(t)
	s := sessionBackend(t, "a")
	e.register(reg(t, s.URL, "inst-a", "0", "sp.example.com/ctx"), "sp.example.com", "/ctx", 1)
	res, _ := e.get("sp.example.com", "/ctx/login", nil)
	if vc := vcapCookieOf(res); vc == nil || vc.Path != "/ctx" {
		t.Fatalf("__VCAP_ID__ = %+v, want Path=/ctx", vc)
	}
}

func TestSetStickyCookie(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	names := []string{"JSESSIONID", "SESSION"}
	cases := []struct {
		name      string
		setCookie []string
		instance  string
		requested string
		want      string // the added Set-Cookie, "" for none
	}{
		{"plain", []string{"JSESSIONID=x"}, "i1", "", "__VCAP_ID__=i1; Path=/p; HttpOnly"},
		{"other configured name", []string{"SESSION=x"}, "i1", "", "__VCAP_ID__=i1; Path=/p; HttpOnly"},
		{"attributes copied", []string{"JSESSIONID=x; Expires=" + exp.Format(http.TimeFormat) + "; Secure; SameSite=Strict; Max-Age=100"},
			"i1", "", "__VCAP_ID__=i1; Path=/p; Expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; Secure; SameSite=Strict"},
		{"negative max-age copied", []string{"JSESSIONID=x; Max-Age=0"}, "i1", "", "__VCAP_ID__=i1; Path=/p; Max-Age=0; HttpOnly"},
		{"partitioned copied", []string{"JSESSIONID=x; Secure; Partitioned"}, "i1", "", "__VCAP_ID__=i1; Path=/p; HttpOnly; Secure; Partitioned"},
		{"no session cookie", []string{"other=x"}, "i1", "", ""},
		{"backend sets __VCAP_ID__", []string{"JSESSIONID=x", "__VCAP_ID__=mine"}, "i1", "", ""},
		{"no instance id", []string{"JSESSIONID=x"}, "", "", ""},
		{"re-pin without session cookie", nil, "i2", "i1", "__VCAP_ID__=i2; Path=/p; HttpOnly"},
		{"still pinned", nil, "i1", "i1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := &http.Response{Header: http.Header{}}
			for _, v := range c.setCookie {
				res.Header.Add("Set-Cookie", v)
			}
			before := len(res.Header["Set-Cookie"])
			setStickyCookie(res, newEndpoint("10.0.0.1:1", "app", c.instance, "0", nil), c.requested, "/p", names)
			after := res.Header["Set-Cookie"]
			switch {
			case c.want == "" && len(after) != before:
				t.Errorf("added %q, want nothing", after[before:])
			case c.want != "" && (len(after) != before+1 || after[before] != c.want):
				t.Errorf("Set-Cookie = %q, want added %q", after, c.want)
			}
		})
	}
}

func TestStickyFromRequest(t *testing.T) {
	names := []string{"JSESSIONID"}
	cases := map[string]string{
		"":                                 "",
		"__VCAP_ID__=i1":                   "",
		"JSESSIONID=s":                     "",
		"JSESSIONID=s; __VCAP_ID__=i1":     "i1",
		"__VCAP_ID__=i1; a=b; JSESSIONID=": "i1",
	}
	for cookie, want := range cases {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if got := stickyFromRequest(req, names); got != want {
			t.Errorf("%q: got %q, want %q", cookie, got, want)
		}
	}
}

func TestWebsocketThroughRouter(t *testing.T) {
	e := newEnv(t)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), data...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "ws-1", "0", "ws.example.com"), "ws.example.com", "/", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws://"+e.r.Addr()+"/socket", &websocket.DialOptions{Host: "ws.example.com"})
	if err != nil {
		t.Fatalf("dial through router: %v", err)
	}
	defer c.CloseNow()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", res.StatusCode)
	}
	for _, msg := range []string{"hello", "world"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != "echo:"+msg {
			t.Fatalf("got %q, want echo:%s", data, msg)
		}
	}
	_ = c.Close(websocket.StatusNormalClosure, "done")
}

func TestStreamingResponseIsFlushed(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "st-1", "0", "stream.example.com"), "stream.example.com", "/", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.r.Addr()+"/", nil)
	req.Host = "stream.example.com"
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	// The backend has not finished: this only returns if the router
	// flushed the first chunk.
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk: %q, %v", line, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
}

func TestAccessLogLine(t *testing.T) {
	lines := make(chan messages.LogLine, 10)
	e := newEnv(t, envOpt{beforeRun: func(e *env) {
		sub, err := e.cbus.Subscribe(bus.LogSubject(testAppGUID), "", func(m *bus.Msg) {
			var l messages.LogLine
			if json.Unmarshal(m.Data, &l) == nil {
				lines <- l
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(append(body, body...))
	}))
	t.Cleanup(s.Close)
	m := reg(t, s.URL, "inst-7", "2", "log.example.com")
	e.register(m, "log.example.com", "/", 1)

	req, _ := http.NewRequest(http.MethodPost, "http://"+e.r.Addr()+"/hello?x=1", strings.NewReader("12345"))
	req.Host = "log.example.com"
	req.Header.Set("User-Agent", `agent "quoted"`)
	req.Header.Set("Referer", "http://ref.example.com/")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	var l messages.LogLine
	select {
	case l = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("no access log line on the app's log subject")
	}
	if l.SourceType != "RTR" || l.InstanceID != "0" || l.Stream != "OUT" || l.AppGUID != testAppGUID {
		t.Errorf("log line envelope = %+v", l)
	}
	backend := m.Host + ":" + strconv.Itoa(int(m.Port))
	for _, want := range []string{
		`log.example.com - [`,
		`] "POST /hello?x=1 HTTP/1.1" 201 5 10 "http://ref.example.com/" "agent \"quoted\"" "127.0.0.1:`,
		`" "` + backend + `" x_forwarded_for:"127.0.0.1" x_forwarded_proto:"http" vcap_request_id:"` + res.Header.Get("X-Vcap-Request-Id") + `" response_time:`,
		` gorouter_time:`,
		` app_id:"` + testAppGUID + `" app_index:"2" instance_id:"inst-7" x_cf_routererror:"-"`,
	} {
		if !strings.Contains(l.Message, want) {
			t.Errorf("access log line\n  %s\nlacks\n  %s", l.Message, want)
		}
	}
	if e.r.AccessLogDropped() != 0 {
		t.Errorf("dropped %d access log lines", e.r.AccessLogDropped())
	}
}

func TestAccessLogNeverBlocks(t *testing.T) {
	st := &reqState{ep: newEndpoint("a:1", "app", "", "", nil)}
	a := newAccessLog(nil, "0", 2, testLogger(t))
	a.enqueue(st) // no emitter: nothing queued
	if len(a.ch) != 0 {
		t.Fatal("queued without an emitter")
	}
	a = newAccessLog(logs.NewEmitter(nil, testLogger(t)), "0", 2, testLogger(t))
	for range 5 {
		a.enqueue(st) // nobody drains: the queue fills, then lines are dropped
	}
	if len(a.ch) != 2 || a.dropped.Load() != 3 {
		t.Fatalf("queued %d dropped %d, want 2 and 3", len(a.ch), a.dropped.Load())
	}
}

func TestGracefulDrain(t *testing.T) {
	e := newEnv(t)
	arrived := make(chan struct{})
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "slow", "0", "slow.example.com"), "slow.example.com", "/", 1)

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.r.Addr()+"/", nil)
		req.Host = "slow.example.com"
		res, err := e.client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		done <- result{res.StatusCode, string(b), err}
	}()
	<-arrived
	addr := e.r.Addr()
	e.cancel()
	eventually(t, "listener closed", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-e.done:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	r := <-done
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	e.cancel = nil
}

func TestDrainIsBounded(t *testing.T) {
	e := newEnv(t)
	e.r.drainTimeout = 200 * time.Millisecond
	arrived := make(chan struct{}, 1)
	var once sync.Once
	stuck := make(chan struct{})
	t.Cleanup(func() { once.Do(func() { close(stuck) }) })
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "stuck", "0", "stuck.example.com"), "stuck.example.com", "/", 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.r.Addr()+"/", nil)
		req.Host = "stuck.example.com"
		if res, err := e.client.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-arrived
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the drain timeout")
	}
	e.cancel = nil
}

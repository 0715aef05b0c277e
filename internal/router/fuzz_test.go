package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzServeRequest sends requests with arbitrary Host, path,
// X-CF-APP-INSTANCE and Cookie headers through a real router to a real
// backend. Whatever the input, the router answers (no panic, no hang), and
// any response it proxied came from a backend that parsed the forwarded
// request without complaint and saw the client's Host.
func FuzzServeRequest(f *testing.F) {
	e := newEnv(f, envOpt{noLogs: true})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "ok")
		w.Header().Set("X-Seen-Host", r.Host)
		if r.URL.Query().Get("session") != "" {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s"})
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	f.Cleanup(s.Close)
	e.register(reg(f, s.URL, "fz-0", "0", "fuzz.example.com"), "fuzz.example.com", "/", 1)
	e.register(reg(f, s.URL, "fz-1", "1", "fuzz.example.com/api"), "fuzz.example.com", "/api", 1)
	e.register(reg(f, s.URL, "fz-2", "2", "*.wild.example.com"), "x.wild.example.com", "/", 1)

	for _, seed := range [][4]string{
		{"fuzz.example.com", "/", "", ""},
		{"FUZZ.example.com:8080", "/api/x?session=1", testAppGUID + ":1", "JSESSIONID=a; __VCAP_ID__=fz-1"},
		{"a.b.wild.example.com.", "/%2e%2e/x", testAppGUID + ":9", "__VCAP_ID__="},
		{"[::1]:80", "*", "bad", `a="b`},
		{"", "http://fuzz.example.com/abs", "", ""},
		{"fuzz.example.com", "/API/../api//x#frag", strings.ToUpper(testAppGUID) + ":0", "JSESSIONID=x;;;"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, host, path, appInstance, cookie string) {
		for _, v := range []string{host, path, appInstance, cookie} {
			if strings.ContainsAny(v, "\r\n") || len(v) > 4096 {
				return // a different request, or over the header limits
			}
		}
		raw := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n"
		if appInstance != "" {
			raw += "X-CF-APP-INSTANCE: " + appInstance + "\r\n"
		}
		if cookie != "" {
			raw += "Cookie: " + cookie + "\r\n"
		}
		raw += "Connection: close\r\n\r\n"
		c, err := net.Dial("tcp", e.r.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no response to %q: %v", raw, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.Header.Get("X-Vcap-Request-Id") == "" || res.Header.Get(hdrRouterError) != "" {
			return // rejected by the HTTP server, or answered by the router itself
		}
		if res.Header.Get("X-Backend") != "ok" || res.StatusCode != http.StatusOK {
			t.Fatalf("request %q: the backend did not accept the forwarded request: %d %v", raw, res.StatusCode, res.Header)
		}
		// An absolute-form target's authority overrides the Host header.
		if got := res.Header.Get("X-Seen-Host"); strings.HasPrefix(path, "/") && got != host {
			t.Fatalf("request %q: backend saw Host %q", raw, got)
		}
	})
}

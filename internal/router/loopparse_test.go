package router

import (
	"bufio"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	head := "GET /a%2Fb/c?q=1 HTTP/1.1\r\n" +
		"host: Example.COM:8080 \r\n" +
		"User-Agent: ua\r\n" +
		"X-Forwarded-For: 1.1.1.1\r\n" +
		"x-forwarded-for: 2.2.2.2\r\n" +
		"X-Forwarded-Proto: https\r\n" +
		"X-CF-APP-INSTANCE: " + testAppGUID + ":1\r\n" +
		"X-Vcap-Request-Id: spoofed\r\n" +
		"X-Cf-InstanceID: spoofed\r\n" +
		"Cookie: JSESSIONID=a\r\n" +
		"Connection: keep-alive, close\r\n" +
		"Keep-Alive: 5\r\n" +
		"Content-Length: 3\r\n" +
		"X-Request-Start: 1\r\n" +
		"X-Other:  v \r\n\r\n"
	if headEnd([]byte(head+"abc")) != len(head) {
		t.Fatalf("headEnd = %d, want %d", headEnd([]byte(head+"abc")), len(head))
	}
	var r rawRequest
	if !parseRequest(head, &r) {
		t.Fatal("not parsed")
	}
	if r.method != "GET" || r.uri != "/a%2Fb/c?q=1" || r.path != "/a/b/c" || r.host != "Example.COM:8080" ||
		r.clen != 3 || !r.close || r.xff != "1.1.1.1, 2.2.2.2" || r.xfp != "https" ||
		r.appInstance != testAppGUID+":1" || r.userAgent != "ua" || !r.hasStart || len(r.cookies) != 1 {
		t.Fatalf("parsed %+v", r)
	}
	var fwd []string
	for _, f := range r.fwd {
		fwd = append(fwd, strings.SplitN(r.head[f.start:f.end], ":", 2)[0])
	}
	if want := []string{"User-Agent", "Cookie", "X-Request-Start", "X-Other"}; !slices.Equal(fwd, want) {
		t.Errorf("forwarded %v, want %v", fwd, want)
	}
	for _, h := range []string{
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",               // absolute form
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",                       // asterisk form
		"PRI * HTTP/2.0\r\n\r\n",                                  // h2c preface
		"GET / HTTP/1.0\r\nHost: x\r\n\r\n",                       // HTTP/1.0
		"GET / HTTP/1.1\nHost: x\n\n",                             // bare LF
		"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",            // obs-fold
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", // upgrade
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: X-Hop\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	} {
		if parseRequest(h, &r) {
			t.Errorf("%q: parsed, want it left to net/http", h)
		}
	}
}

func TestParseRequestDoesNotAllocate(t *testing.T) {
	head := "GET /x?y HTTP/1.1\r\nHost: a.example.com\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
	var r rawRequest
	parseRequest(head, &r)
	if n := testing.AllocsPerRun(100, func() { parseRequest(head, &r) }); n != 0 {
		t.Errorf("parseRequest allocates %v times", n)
	}
}

func TestParseResponse(t *testing.T) {
	var r rawResponse
	b := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close, X-Hop\r\n" +
		"X-Hop: 1\r\nSet-Cookie: a=b\r\nDate: x\r\nContent-Type: text/event-stream\r\n\r\n")
	if !parseResponse(b, &r) {
		t.Fatal("not parsed")
	}
	if r.status != 200 || !r.chunked || r.clen != -1 || !r.close || r.setCookies != 1 || !r.hasDate || !r.stream {
		t.Fatalf("parsed %+v", r)
	}
	var kept []string
	for _, f := range r.fields {
		if !f.drop {
			kept = append(kept, string(b[f.name.start:f.name.end]))
		}
	}
	if want := []string{"Set-Cookie", "Date", "Content-Type"}; !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if !parseResponse([]byte("HTTP/1.0 204\r\n\r\n"), &r) || r.status != 204 || !r.close {
		t.Errorf("HTTP/1.0 without keep-alive: %+v", r)
	}
	for _, h := range []string{
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
	} {
		if parseResponse([]byte(h), &r) {
			t.Errorf("%q parsed", h)
		}
	}
}

// FuzzParseRequest checks the loop's request parser against net/http's:
// whatever the parser accepts, http.ReadRequest accepts too and reads the
// same method, target, path, Host, framing and the fields the router
// uses; and the lines forwarded as sent are exactly the fields the
// net/http path forwards.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n",
		"POST /x?y=%20 HTTP/1.1\r\nHost: A.example.com:80\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
		"GET /%2e%2e/x HTTP/1.1\r\nHost: [::1]:80\r\nX-Forwarded-For: 1\r\nX-Forwarded-For: 2\r\nCookie: a=b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-CF-APP-INSTANCE: " + testAppGUID + ":0\r\nTE: trailers\r\nX-Request-Start: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nhost:x\r\nuser-agent:\t a \t\r\nreferer: r\r\nX-Forwarded-Proto: https\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: ,keep-alive,\r\nKeep-Alive: 1\r\nProxy-Connection: x\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		e := headEnd([]byte(data))
		if e < 0 {
			return
		}
		checkParseLikeNetHTTP(t, data[:e])
	})
}

// FuzzParseRequestFields is FuzzParseRequest with the head built from its
// parts, so the fuzzer spends its time on values rather than framing.
func FuzzParseRequestFields(f *testing.F) {
	f.Add("GET", "/", "a.example.com", "X-Forwarded-For", "1.2.3.4")
	f.Add("POST", "/x?y", "A.B:1", "Content-Length", "12")
	f.Add("PUT", "/%41", "[::1]", "Connection", "close")
	f.Add("GET", "/", "x", "Cookie", "JSESSIONID=1; __VCAP_ID__=a")
	f.Add("DELETE", "//a", "x.", "X-Cf-App-Instance", testAppGUID+":0")
	f.Fuzz(func(t *testing.T, method, target, host, name, value string) {
		checkParseLikeNetHTTP(t, method+" "+target+" HTTP/1.1\r\nHost: "+host+"\r\n"+name+": "+value+"\r\n\r\n")
	})
}

func checkParseLikeNetHTTP(t *testing.T, head string) {
	t.Helper()
	if headEnd([]byte(head)) != len(head) {
		return // not one head
	}
	var r rawRequest
	if !parseRequest(head, &r) {
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatalf("%q: loop accepted, net/http refused: %v", head, err)
	}
	clen := req.ContentLength
	if clen < 0 {
		clen = 0
	}
	if r.method != req.Method || r.uri != req.RequestURI || r.path != req.URL.Path || r.host != req.Host ||
		r.clen != clen || r.close != req.Close {
		t.Fatalf("%q: loop %q %q %q %q %d %v, net/http %q %q %q %q %d %v", head,
			r.method, r.uri, r.path, r.host, r.clen, r.close,
			req.Method, req.RequestURI, req.URL.Path, req.Host, clen, req.Close)
	}
	h := req.Header
	if r.xff != strings.Join(h[hdrForwardedFor], ", ") || r.xfp != h.Get(hdrForwardedProto) ||
		r.appInstance != h.Get(hdrAppInstance) || r.referer != h.Get("Referer") ||
		r.userAgent != h.Get("User-Agent") || r.hasStart != (len(h[hdrRequestStart]) > 0) ||
		!slices.Equal(r.cookies, h["Cookie"]) {
		t.Fatalf("%q: fields differ: loop %+v, net/http %v", head, r, h)
	}
	var fwd, want []string
	for _, f := range r.fwd {
		line := head[f.start:f.end]
		if !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("%q: forwarded line %q lacks CRLF", head, line)
		}
		name, _, _ := strings.Cut(line, ":")
		fwd = append(fwd, http.CanonicalHeaderKey(name))
	}
	for k, vs := range h {
		if !skipRequestHeader(k) {
			for range vs {
				want = append(want, k)
			}
		}
	}
	slices.Sort(fwd)
	slices.Sort(want)
	if !slices.Equal(fwd, want) {
		t.Fatalf("%q: forwards %v, net/http path forwards %v", head, fwd, want)
	}
}

// FuzzParseResponse checks the loop's response head parser against
// http.ReadResponse: a head the loop accepts is one net/http accepts, with
// the same status, framing and connection persistence.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 599\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		if headEnd([]byte(head)) != len(head) {
			return
		}
		var r rawResponse
		if !parseResponse([]byte(head), &r) {
			return
		}
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("%q: loop accepted, net/http refused: %v", head, err)
		}
		chunked := len(res.TransferEncoding) == 1 && res.TransferEncoding[0] == "chunked"
		// A body without a length ends with the connection (roundTripLoop).
		bodyful := res.StatusCode >= 200 && res.StatusCode != 204 && res.StatusCode != 304
		closes := r.close || bodyful && !r.chunked && r.clen < 0
		if r.status != res.StatusCode || bodyful && r.chunked != chunked || closes != res.Close {
			t.Fatalf("%q: loop %d chunked=%v close=%v, net/http %d chunked=%v close=%v",
				head, r.status, r.chunked, closes, res.StatusCode, chunked, res.Close)
		}
		if !r.chunked && r.clen >= 0 && bodyful && r.clen != res.ContentLength {
			t.Fatalf("%q: loop length %d, net/http %d", head, r.clen, res.ContentLength)
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	head := "GET /api/v1/items?page=2 HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: wrk\r\n" +
		"Accept: */*\r\nAccept-Encoding: gzip\r\nCookie: JSESSIONID=abc\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"
	var r rawRequest
	b.ReportAllocs()
	b.SetBytes(int64(len(head)))
	for b.Loop() {
		if !parseRequest(head, &r) {
			b.Fatal("not parsed")
		}
	}
}

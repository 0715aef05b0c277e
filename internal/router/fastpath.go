package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fast path proxies plain HTTP requests over the router's own pooled
// HTTP/1.1 backend connections, on the request's goroutine: the request
// head is written straight from the inbound header map (nothing is cloned),
// the response is read on the same goroutine (no transport read/write
// loops, no channel hand-offs), and the body is copied with a pooled
// buffer. Upgrades (websockets), Expect: 100-continue and request bodies
// over maxFastBody or of unknown length take the httputil.ReverseProxy
// path.

// errStaleConn marks a failure on a reused idle connection before any
// response byte arrived: the backend had closed it, and an idempotent
// request without a body can be sent again on a new connection.
var errStaleConn = errors.New("idle backend connection was closed")

// longAgo unblocks reads and writes at once when set as a deadline.
var longAgo = time.Unix(1, 0)

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// maxFastBody bounds the request bodies the fast path sends. It writes the
// whole body before it reads the response, which is only right while the
// body fits in the socket buffers: a backend that answers early (413, 401)
// without reading a large upload must not stall the router. Larger and
// unknown-length bodies go through http.Transport, which reads the
// response while it is still sending.
const maxFastBody = 64 << 10

// fastEligible tells whether a request can take the fast path.
func fastEligible(req *http.Request) bool {
	h := req.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0 && req.Method != http.MethodConnect &&
		req.ContentLength >= 0 && req.ContentLength <= maxFastBody
}

// hopHeaders are removed from requests and responses (RFC 9110 7.6.1),
// together with the fields the router sets itself on the request.
func skipRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
		hdrForwardedFor, hdrForwardedProto, hdrVcapRequestID, hdrAppInstance,
		hdrAppID, hdrInstanceID, hdrInstanceIndex:
		return true
	}
	return false
}

func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens lists the canonical header names a Connection header
// nominates as hop-by-hop; nil (no allocation) when there are none.
func connectionTokens(h http.Header) []string {
	var out []string
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = textproto.TrimString(f); f != "" && !strings.EqualFold(f, "close") && !strings.EqualFold(f, "keep-alive") {
				out = append(out, http.CanonicalHeaderKey(f))
			}
		}
	}
	return out
}

func contains(list []string, k string) bool {
	for _, s := range list {
		if s == k {
			return true
		}
	}
	return false
}

// serveFast proxies req with retries on connect failures.
func (p *proxy) serveFast(st *reqState, req *http.Request) {
	cfg := &p.rt.cfg
	attempts := min(cfg.MaxAttempts, len(st.pool.eps))
	if attempts < 1 || st.fixed != nil {
		attempts = 1
	}
	p.prepare(st, req)
	var lastErr error
	for range attempts {
		ep := st.fixed
		if ep == nil {
			ep = st.pool.pick(st.sticky, st.tried, time.Now().UnixNano())
		}
		if ep == nil {
			break
		}
		st.tried = append(st.tried, ep)
		st.ep = ep
		st.appStart = time.Now()
		ep.active.Add(1)
		err := p.exchange(st, req, ep)
		ep.active.Add(-1)
		if err == nil {
			ep.succeeded()
			return
		}
		lastErr = err
		if !isConnectError(err) || req.Context().Err() != nil {
			break
		}
		p.connectFailed(st, ep, err)
	}
	if lastErr == nil {
		lastErr = errNoEndpoints
	}
	if errors.Is(lastErr, errResponseStarted) {
		// Headers went out; all that can be done is to cut the client off.
		panic(http.ErrAbortHandler)
	}
	p.fail(st, req.Context().Err() != nil, lastErr)
}

// errResponseStarted wraps failures after the response head was sent.
var errResponseStarted = errors.New("response already started")

// prepare computes the forwarding headers once for every attempt.
func (p *proxy) prepare(st *reqState, req *http.Request) {
	clientIP := st.remoteAddr
	if host, _, err := net.SplitHostPort(clientIP); err == nil {
		clientIP = host
	}
	st.xff = clientIP
	if prior := req.Header[hdrForwardedFor]; len(prior) > 0 {
		st.xff = strings.Join(prior, ", ") + ", " + clientIP
	}
	st.xfp = req.Header.Get(hdrForwardedProto)
	if st.xfp == "" {
		st.xfp = "http"
		if req.TLS != nil {
			st.xfp = "https"
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		st.body.rc = req.Body
	}
}

// exchange sends the request to ep and streams the response back. A stale
// pooled connection is replaced once when the request has no body.
func (p *proxy) exchange(st *reqState, req *http.Request, ep *endpoint) error {
	for try := 0; ; try++ {
		bc := ep.idle.get(time.Now().UnixNano(), p.tr.IdleConnTimeout)
		if bc == nil {
			c, err := p.dialer.DialContext(req.Context(), "tcp", ep.addr)
			if err != nil {
				return err
			}
			bc = newBackendConn(c)
		}
		err := p.roundTrip(st, req, ep, bc)
		if errors.Is(err, errStaleConn) && try == 0 && st.body.rc == nil && idempotent(req.Method) {
			continue
		}
		return err
	}
}

// idempotent methods may be sent again when a reused connection turns out
// to be closed: the backend may have closed it after reading the request.
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// roundTrip writes the request head (and body) on bc, reads the response
// head within EndpointTimeout and copies the body to the client. It returns
// bc to the endpoint's idle pool when both messages ended cleanly.
func (p *proxy) roundTrip(st *reqState, req *http.Request, ep *endpoint, bc *backendConn) (err error) {
	cfg := &p.rt.cfg
	keep := false
	bc.rdl = 0 // this path moves the deadlines itself
	defer func() {
		if !keep {
			_ = bc.c.Close()
		}
	}()
	// A client that goes away unblocks whatever waits on the backend.
	stop := context.AfterFunc(req.Context(), func() { _ = bc.c.SetDeadline(longAgo) })
	defer stop()

	if err := writeRequestHead(bc.bw, st, req, ep); err != nil {
		return p.staleOr(bc, err)
	}
	if st.body.rc != nil && req.ContentLength > 0 {
		if err := writeBody(bc.bw, &st.body, req.ContentLength); err != nil {
			return fmt.Errorf("send request body: %w", err)
		}
	}
	if err := bc.bw.Flush(); err != nil {
		return p.staleOr(bc, err)
	}
	// Setting a deadline could undo the one the cancellation set: check the
	// context after every change.
	_ = bc.c.SetReadDeadline(time.Now().Add(cfg.EndpointTimeout))
	if err := req.Context().Err(); err != nil {
		return err
	}
	if _, err := bc.br.Peek(1); err != nil {
		return p.staleOr(bc, err)
	}
	var res *http.Response
	for {
		res, err = http.ReadResponse(bc.br, req)
		if err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// Interim responses (100, 103) are not forwarded.
	}
	// The header deadline must not cut a long body short; when the whole
	// body is already buffered no read will touch the connection, and the
	// next request sets its own deadline: skip the timer update then.
	if res.ContentLength < 0 || int64(bc.br.Buffered()) < res.ContentLength {
		_ = bc.c.SetReadDeadline(time.Time{})
		if err := req.Context().Err(); err != nil {
			return err
		}
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		return errors.New("backend switched protocols without an upgrade request")
	}
	st.status = res.StatusCode

	// Response head.
	dst := st.rw.Header()
	tokens := connectionTokens(res.Header)
	for k, v := range res.Header {
		if isHopHeader(k) || (tokens != nil && contains(tokens, k)) {
			continue
		}
		dst[k] = v
	}
	if len(dst[hdrVcapRequestID]) == 0 && st.requestID != "" {
		dst[hdrVcapRequestID] = []string{st.requestID}
	}
	if st.pool != nil {
		res.Header = dst
		setStickyCookie(res, ep, st.sticky, st.pool.cookiePath, cfg.StickyCookieNames)
	}
	if len(res.Trailer) > 0 {
		names := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			names = append(names, k)
		}
		dst["Trailer"] = []string{strings.Join(names, ", ")}
	}
	st.rw.WriteHeader(res.StatusCode)

	// Body: streams (unknown length, server-sent events) are flushed as
	// they arrive; the rest goes out through the server's buffer.
	stream := res.ContentLength == -1 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
	bufp := copyBufPool.Get().(*[]byte)
	cerr := copyBody(&st.rw, res.Body, *bufp, stream)
	copyBufPool.Put(bufp)
	if cerr != nil {
		return fmt.Errorf("%w: copy response body: %w", errResponseStarted, cerr)
	}
	for k, v := range res.Trailer {
		dst[http.TrailerPrefix+k] = v
	}
	if !stop() {
		return nil // the client went away; the connection's deadline is spoiled
	}
	if !res.Close {
		keep = ep.idle.put(bc, time.Now().UnixNano(), cfg.MaxIdleConnsPerEndpoint)
	}
	return nil
}

// staleOr classifies a failure before any response byte: on a reused
// connection it is a stale connection, else a plain error.
func (p *proxy) staleOr(bc *backendConn, err error) error {
	if bc.reused && bc.br.Buffered() == 0 {
		return fmt.Errorf("%w: %w", errStaleConn, err)
	}
	return err
}

// writeRequestHead writes the request line and headers: the client's
// headers minus hop-by-hop ones, then the router's.
func writeRequestHead(w *bufio.Writer, st *reqState, req *http.Request, ep *endpoint) error {
	uri := req.RequestURI
	if uri == "" || uri[0] != '/' && uri != "*" {
		uri = req.URL.RequestURI()
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.Host)
	w.WriteString("\r\n")
	tokens := connectionTokens(req.Header)
	for k, vs := range req.Header {
		if skipRequestHeader(k) || (tokens != nil && contains(tokens, k)) {
			continue
		}
		for _, v := range vs {
			writeField(w, k, v)
		}
	}
	writeField(w, hdrForwardedFor, st.xff)
	writeField(w, hdrForwardedProto, st.xfp)
	if len(req.Header[hdrRequestStart]) == 0 {
		var b [20]byte
		w.WriteString(hdrRequestStart)
		w.WriteString(": ")
		w.Write(strconv.AppendInt(b[:0], st.start.UnixMilli(), 10))
		w.WriteString("\r\n")
	}
	writeField(w, hdrVcapRequestID, st.requestID)
	if ep.hdrApp != nil {
		writeField(w, hdrAppID, ep.hdrApp[0])
	}
	if ep.hdrIndex != nil {
		writeField(w, hdrInstanceIndex, ep.hdrIndex[0])
	}
	writeField(w, hdrInstanceID, ep.hdrInstance[0])
	switch {
	case st.body.rc == nil:
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			w.WriteString("Content-Length: 0\r\n")
		}
	default: // fastEligible admits only bodies of known length
		var b [20]byte
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(b[:0], req.ContentLength, 10))
		w.WriteString("\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

func writeField(w *bufio.Writer, k, v string) {
	w.WriteString(k)
	w.WriteString(": ")
	w.WriteString(v)
	w.WriteString("\r\n")
}

// writeBody sends exactly n bytes of the request body.
func writeBody(w *bufio.Writer, body io.Reader, n int64) error {
	c, err := io.CopyN(w, body, n)
	if err != nil {
		return err
	}
	if c != n {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// copyBody copies the response body to the client; it reports write
// errors and backend read errors (a truncated response).
// The body is not closed: closing would drain it from the backend, and on
// failure the connection is closed instead.
func copyBody(w *countingWriter, body io.Reader, buf []byte, stream bool) error {
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if stream {
				w.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

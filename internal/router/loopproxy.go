package router

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// serveLoop routes and proxies one request read by the server loop, with
// the same rules as ServeHTTP; it reports whether the connection can
// serve another request.
func (r *Router) serveLoop(lc *loopConn, q *rawRequest) bool {
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	lc.bodyLeft = q.clen
	lc.closeAfter = q.close
	st := &reqState{
		start:      time.Now(),
		rawHost:    q.host,
		method:     q.method,
		uri:        q.uri,
		proto:      "HTTP/1.1",
		referer:    q.referer,
		userAgent:  q.userAgent,
		remoteAddr: lc.remoteAddr,
		lc:         lc,
	}
	st.tried = st.triedB[:0]
	st.requestID = r.ids.next()
	r.routeLoop(st, q)
	st.lc = nil
	r.finish(st)

	if lc.bodyLeft > 0 && !lc.closeAfter {
		// The body of a request answered without reading it (404, 503…).
		_ = lc.c.SetReadDeadline(time.Now().Add(loopHeadTimeout))
		lc.rdl = 0
		if n, err := lc.br.Discard(int(lc.bodyLeft)); err != nil || int64(n) != lc.bodyLeft {
			lc.closeAfter = true
		}
		lc.bodyLeft = 0
	}
	if err := lc.bw.Flush(); err != nil {
		return false
	}
	return !lc.closeAfter && !lc.isGone()
}

func (r *Router) routeLoop(st *reqState, q *rawRequest) {
	host := requestHost(q.host)
	if host == "" {
		r.writeError(st, http.StatusBadRequest, "empty_host", "Request had empty Host header")
		return
	}
	var appGUID, appIndex string
	if q.appInstance != "" {
		var ok bool
		if appGUID, appIndex, ok = parseAppInstance(q.appInstance); !ok {
			r.writeError(st, http.StatusBadRequest, "invalid_cf_app_instance_header", "Invalid X-CF-App-Instance Header")
			return
		}
	}
	p := r.reg.table().lookup(host, q.path)
	if p == nil {
		r.missingRoute(st, appGUID, appIndex)
		return
	}
	if len(p.eps) == 0 {
		r.writeError(st, http.StatusServiceUnavailable, "no_endpoints",
			fmt.Sprintf("Requested route ('%s') has no available endpoints.", st.rawHost))
		return
	}
	st.pool = p
	if appGUID != "" {
		if st.fixed = p.findInstance(appGUID, appIndex); st.fixed == nil {
			r.missingRoute(st, appGUID, appIndex)
			return
		}
	} else if len(q.cookies) > 0 {
		req := &http.Request{Header: http.Header{"Cookie": q.cookies}}
		st.sticky = stickyFromRequest(req, r.cfg.StickyCookieNames)
	}
	r.proxy.serveLoop(st, q)
}

// serveLoop proxies a loop request with retries on connect failures.
func (p *proxy) serveLoop(st *reqState, q *rawRequest) {
	lc := st.lc
	cfg := &p.rt.cfg
	attempts := min(cfg.MaxAttempts, len(st.pool.eps))
	if attempts < 1 || st.fixed != nil {
		attempts = 1
	}
	st.xff = lc.clientIP
	if q.xffN > 0 {
		st.xff = q.xff + ", " + lc.clientIP
	}
	st.xfp = q.xfp
	if st.xfp == "" {
		st.xfp = "http"
		if lc.tls {
			st.xfp = "https"
		}
	}
	var lastErr error
	for range attempts {
		now := time.Now()
		ep := st.fixed
		if ep == nil {
			ep = st.pool.pick(st.sticky, st.tried, now.UnixNano())
		}
		if ep == nil {
			break
		}
		st.tried = append(st.tried, ep)
		st.ep = ep
		st.appStart = now
		ep.active.Add(1)
		err := p.exchangeLoop(st, q, ep)
		ep.active.Add(-1)
		if err == nil {
			ep.succeeded()
			return
		}
		lastErr = err
		if !isConnectError(err) || lc.isGone() {
			break
		}
		p.connectFailed(st, ep, err)
	}
	if lastErr == nil {
		lastErr = errNoEndpoints
	}
	if errors.Is(lastErr, errResponseStarted) {
		// Headers went out; all that can be done is to cut the client off.
		lc.closeAfter = true
		return
	}
	p.fail(st, lc.isGone(), lastErr)
}

// exchangeLoop sends the request to ep and streams the response back. A
// stale pooled connection is replaced once when the request has no body.
func (p *proxy) exchangeLoop(st *reqState, q *rawRequest, ep *endpoint) error {
	for try := 0; ; try++ {
		bc := ep.idle.get(st.appStart.UnixNano(), p.tr.IdleConnTimeout)
		if bc == nil {
			c, err := p.dialer.DialContext(p.rt.baseCtx, "tcp", ep.addr)
			if err != nil {
				return err
			}
			bc = newBackendConn(c)
		}
		err := p.roundTripLoop(st, q, ep, bc)
		if errors.Is(err, errStaleConn) && try == 0 && q.clen == 0 && idempotent(q.method) {
			continue
		}
		return err
	}
}

// roundTripLoop writes the request on bc, reads the response head within
// EndpointTimeout and copies the response to the client. bc goes back to
// the endpoint's idle pool when both messages ended cleanly.
func (p *proxy) roundTripLoop(st *reqState, q *rawRequest, ep *endpoint, bc *backendConn) (err error) {
	lc := st.lc
	cfg := &p.rt.cfg
	keep := false
	lc.setBackend(bc)
	defer func() {
		lc.stopWatch()
		lc.setBackend(nil)
		if keep && !lc.isGone() {
			keep = ep.idle.put(bc, time.Now().UnixNano(), cfg.MaxIdleConnsPerEndpoint)
		}
		if !keep {
			_ = bc.c.Close()
		}
	}()

	writeLoopHead(bc.bw, st, q, ep)
	if q.clen > 0 {
		if err := lc.copyRequestBody(bc.bw, st); err != nil {
			return err
		}
	}
	if err := bc.bw.Flush(); err != nil {
		return p.staleOr(bc, err)
	}
	res, err := p.readResponseLoop(st, lc, bc)
	if err != nil {
		return err
	}
	st.status = res.status
	noBody := q.method == http.MethodHead || res.status == http.StatusNoContent || res.status == http.StatusNotModified
	rechunk := !noBody && !res.chunked && res.clen < 0
	sniffed := ""
	if !noBody && !res.hasType && res.clen > 0 {
		// As net/http's server does for a body written without a
		// Content-Type (and so gorouter): sniff its first 512 bytes.
		if b, err := bc.br.Peek(int(min(res.clen, 512))); err == nil {
			sniffed = http.DetectContentType(b)
		}
	}
	lc.writeResponseHead(st, ep, res, noBody, rechunk, sniffed, p.rt.cfg.StickyCookieNames)

	switch {
	case noBody:
	case res.chunked:
		err = lc.copyChunked(st, bc)
	case res.clen >= 0:
		err = lc.copyBody(st, bc, res.clen)
	default:
		err = lc.copyUntilClose(st, bc)
		res.close = true
	}
	if err != nil {
		return fmt.Errorf("%w: copy response body: %w", errResponseStarted, err)
	}
	keep = !res.close
	return nil
}

// copyRequestBody sends the request body (bounded by maxFastBody) from the
// client's reader to the backend's writer.
func (lc *loopConn) copyRequestBody(w *bufio.Writer, st *reqState) error {
	if int64(lc.br.Buffered()) < lc.bodyLeft {
		lc.rdl = 0
		_ = lc.c.SetReadDeadline(time.Now().Add(loopHeadTimeout))
	}
	for lc.bodyLeft > 0 {
		if lc.br.Buffered() == 0 {
			if _, err := lc.br.Peek(1); err != nil {
				lc.abort()
				return fmt.Errorf("read request body: %w", err)
			}
		}
		k := int(min(int64(lc.br.Buffered()), lc.bodyLeft))
		b, _ := lc.br.Peek(k)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("send request body: %w", err)
		}
		_, _ = lc.br.Discard(k)
		lc.bodyLeft -= int64(k)
		st.body.n.Add(int64(k))
	}
	return nil
}

// readResponseLoop reads the backend's response head into lc.rhead,
// skipping interim responses. The wait is bounded by EndpointTimeout; a
// wait past a second also starts watching the client for a close.
func (p *proxy) readResponseLoop(st *reqState, lc *loopConn, bc *backendConn) (*rawResponse, error) {
	cfg := &p.rt.cfg
	watchAfter := min(time.Second, cfg.EndpointTimeout)
	now := st.appStart.UnixNano()
	if bc.rdl == 0 || bc.rdl-now < int64(watchAfter/2) {
		if err := lc.setBackendDeadline(bc, st.appStart.Add(watchAfter)); err != nil {
			return nil, err
		}
	}
	first := true
	for {
		lc.rhead = lc.rhead[:0]
		lineStart := 0
		for {
			line, err := bc.br.ReadSlice('\n')
			lc.rhead = append(lc.rhead, line...)
			if len(lc.rhead) > maxHeaderBytes {
				return nil, errors.New("read response: header too large")
			}
			if err == nil {
				if l := lc.rhead[lineStart:]; len(l) == 1 || len(l) == 2 && l[0] == '\r' {
					break // the empty line
				}
				lineStart = len(lc.rhead)
				continue
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if first && len(lc.rhead) == 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, p.staleOr(bc, err)
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) || lc.isGone() {
				if lc.isGone() {
					return nil, errClientGone
				}
				return nil, fmt.Errorf("read response: %w", err)
			}
			if time.Since(st.appStart) >= cfg.EndpointTimeout {
				return nil, errors.New("read response: timeout awaiting response headers")
			}
			lc.watch()
			if err := lc.setBackendDeadline(bc, st.appStart.Add(cfg.EndpointTimeout)); err != nil {
				return nil, err
			}
		}
		first = false
		res := &lc.res
		if !parseResponse(lc.rhead, res) {
			return nil, fmt.Errorf("read response: malformed HTTP response %q", truncate(lc.rhead, 64))
		}
		if res.status == http.StatusSwitchingProtocols {
			return nil, errors.New("backend switched protocols without an upgrade request")
		}
		if res.status >= 200 {
			return res, nil
		}
		// Interim responses (100, 103) are not forwarded.
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// writeResponseHead writes the status line and the backend's fields minus
// hop-by-hop ones, plus the router's: X-Vcap-Request-Id, the sticky
// session cookie, a sniffed Content-Type and Date when missing, the
// framing and Connection: close.
func (lc *loopConn) writeResponseHead(st *reqState, ep *endpoint, res *rawResponse, noBody, rechunk bool, sniffed string, cookieNames []string) {
	w := lc.bw
	if lc.s.draining.Load() {
		lc.closeAfter = true
	}
	writeStatusLine(w, res.status)
	s := lc.rhead
	for i := range res.fields {
		if f := &res.fields[i]; !f.drop {
			_, _ = w.Write(s[f.line.start:f.line.end])
		}
	}
	if !res.hasReqID {
		writeField(w, hdrVcapRequestID, st.requestID)
	}
	if ep.instanceID != "" && (res.setCookies > 0 || st.sticky != "" && st.sticky != ep.instanceID) {
		h := make(http.Header, 1)
		for i := range res.fields {
			f := &res.fields[i]
			if fold(unsafeString(s[f.name.start:f.name.end]), "set-cookie") {
				h["Set-Cookie"] = append(h["Set-Cookie"], string(s[f.value.start:f.value.end]))
			}
		}
		n := len(h["Set-Cookie"])
		setStickyCookie(&http.Response{Header: h}, ep, st.sticky, st.pool.cookiePath, cookieNames)
		if v := h["Set-Cookie"]; len(v) > n {
			writeField(w, "Set-Cookie", v[len(v)-1])
		}
	}
	if sniffed != "" {
		writeField(w, "Content-Type", sniffed)
	}
	if !res.hasDate {
		_, _ = w.WriteString("Date: ")
		_, _ = w.Write(lc.dateValue(time.Now()))
		_, _ = w.WriteString("\r\n")
	}
	if !noBody && (res.chunked || rechunk) {
		_, _ = w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if lc.closeAfter {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	_, _ = w.WriteString("\r\n")
	st.rw.status = res.status
}

func writeStatusLine(w *bufio.Writer, code int) {
	var b [8]byte
	_, _ = w.WriteString("HTTP/1.1 ")
	_, _ = w.Write(strconv.AppendInt(b[:0], int64(code), 10))
	_ = w.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		_, _ = w.WriteString(text)
	} else {
		_, _ = w.WriteString("status code ")
		_, _ = w.Write(strconv.AppendInt(b[:0], int64(code), 10))
	}
	_, _ = w.WriteString("\r\n")
}

// writeLoopHead writes the request line and fields: the client's minus
// hop-by-hop ones and those the router sets, then the router's, as
// writeRequestHead does for the net/http path.
func writeLoopHead(w *bufio.Writer, st *reqState, q *rawRequest, ep *endpoint) {
	_, _ = w.WriteString(q.method)
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(q.uri)
	_, _ = w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = w.WriteString(q.host)
	_, _ = w.WriteString("\r\n")
	for _, f := range q.fwd {
		_, _ = w.WriteString(q.head[f.start:f.end])
	}
	writeField(w, hdrForwardedFor, st.xff)
	writeField(w, hdrForwardedProto, st.xfp)
	var b [20]byte
	if !q.hasStart {
		_, _ = w.WriteString(hdrRequestStart)
		_, _ = w.WriteString(": ")
		_, _ = w.Write(strconv.AppendInt(b[:0], st.start.UnixMilli(), 10))
		_, _ = w.WriteString("\r\n")
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
	case q.clen > 0:
		_, _ = w.WriteString("Content-Length: ")
		_, _ = w.Write(strconv.AppendInt(b[:0], q.clen, 10))
		_, _ = w.WriteString("\r\n")
	case q.method == http.MethodPost || q.method == http.MethodPut || q.method == http.MethodPatch:
		_, _ = w.WriteString("Content-Length: 0\r\n")
	}
	_, _ = w.WriteString("\r\n")
}

// writeLoopError answers with gorouter's plain-text error body, as
// writeError does on the net/http path.
func (lc *loopConn) writeLoopError(st *reqState, code int, routerErr, msg string) {
	st.routerErr = routerErr
	body := strconv.Itoa(code) + " " + http.StatusText(code) + ": " + msg + "\n"
	w := lc.bw
	if lc.s.draining.Load() {
		lc.closeAfter = true
	}
	writeStatusLine(w, code)
	writeField(w, "Cache-Control", "no-cache, no-store")
	writeField(w, "Content-Type", "text/plain; charset=utf-8")
	writeField(w, hdrRouterError, routerErr)
	if st.requestID != "" {
		writeField(w, hdrVcapRequestID, st.requestID)
	}
	writeField(w, "X-Content-Type-Options", "nosniff")
	_, _ = w.WriteString("Date: ")
	_, _ = w.Write(lc.dateValue(time.Now()))
	_, _ = w.WriteString("\r\nContent-Length: ")
	_, _ = w.WriteString(strconv.Itoa(len(body)))
	_, _ = w.WriteString("\r\n")
	if lc.closeAfter {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	_, _ = w.WriteString("\r\n")
	if st.method != http.MethodHead {
		_, _ = w.WriteString(body)
		st.rw.bytes = int64(len(body))
	}
	st.rw.status = code
}

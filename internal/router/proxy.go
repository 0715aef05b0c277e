package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Canonical header keys (http.CanonicalHeaderKey of gorouter's spellings),
// so the hot path can index header maps directly.
const (
	hdrVcapRequestID   = "X-Vcap-Request-Id"
	hdrForwardedFor    = "X-Forwarded-For"
	hdrForwardedProto  = "X-Forwarded-Proto"
	hdrForwardedHost   = "X-Forwarded-Host"
	hdrForwarded       = "Forwarded"
	hdrRequestStart    = "X-Request-Start"
	hdrAppID           = "X-Cf-Applicationid"
	hdrInstanceID      = "X-Cf-Instanceid"
	hdrInstanceIndex   = "X-Cf-Instanceindex"
	hdrAppInstance     = "X-Cf-App-Instance"
	hdrRouterError     = "X-Cf-Routererror"
	vcapCookie         = "__VCAP_ID__"
	statusClientClosed = 499
)

var errNoEndpoints = errors.New("no endpoints available")

// reqState is everything one request carries through the proxy; the access
// log formats it after the request is done. One allocation per request.
type reqState struct {
	start     time.Time
	end       time.Time
	appStart  time.Time // start of the last backend attempt
	requestID string

	// Copied from the inbound request for the access log.
	rawHost, method, uri, proto, referer, userAgent, remoteAddr string
	xff, xfp                                                    string

	pool   *pool
	fixed  *endpoint // X-CF-APP-INSTANCE target
	sticky string    // __VCAP_ID__ of a request that also carries a sticky cookie
	ep     *endpoint // endpoint of the last attempt
	tried  []*endpoint
	triedB [4]*endpoint

	status    int // response status from the backend (also 101)
	routerErr string

	lc *loopConn // the server loop's connection; nil on the net/http path

	body countingBody
	rw   countingWriter
}

type stateKey struct{}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// countingBody counts request body bytes; Close is a no-op so a failed
// connect can be retried on another endpoint (the server closes the real
// body when the handler returns).
type countingBody struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// countingWriter records the status and counts body bytes sent.
type countingWriter struct {
	w      http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) Header() http.Header { return c.w.Header() }

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.w.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.w.Write(p)
	c.bytes += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach Hijack for websockets.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.w }

// proxy is the reverse proxy plus the round tripper that picks endpoints.
type proxy struct {
	rt     *Router
	rp     *httputil.ReverseProxy
	tr     *http.Transport
	dialer *net.Dialer
}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func newProxy(r *Router) *proxy {
	p := &proxy{rt: r}
	dialer := &net.Dialer{Timeout: r.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	p.dialer = dialer
	p.tr = &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		MaxIdleConnsPerHost:    r.cfg.MaxIdleConnsPerEndpoint,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  r.cfg.EndpointTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
		DisableCompression:     true,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p,
		FlushInterval:  0, // flush at once only for streams (unknown length, SSE); see proxy.go
		ErrorLog:       slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		BufferPool:     &bufferPool{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
	}
	return p
}

// ServeHTTP routes one request.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.TLS == nil {
		req.TLS = tlsStateOf(req.Context())
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	st := &reqState{
		start:      time.Now(),
		rawHost:    req.Host,
		method:     req.Method,
		uri:        req.RequestURI,
		proto:      req.Proto,
		referer:    req.Header.Get("Referer"),
		userAgent:  req.Header.Get("User-Agent"),
		remoteAddr: req.RemoteAddr,
	}
	st.rw.w = w
	st.tried = st.triedB[:0]
	defer r.finish(st)
	st.requestID = r.ids.next()

	host := requestHost(req.Host)
	if host == "" {
		r.writeError(st, http.StatusBadRequest, "empty_host", "Request had empty Host header")
		return
	}
	appInstance := req.Header.Get(hdrAppInstance)
	var appGUID, appIndex string
	if appInstance != "" {
		var ok bool
		if appGUID, appIndex, ok = parseAppInstance(appInstance); !ok {
			r.writeError(st, http.StatusBadRequest, "invalid_cf_app_instance_header", "Invalid X-CF-App-Instance Header")
			return
		}
	}
	p := r.reg.table().lookup(host, req.URL.Path)
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
	} else {
		st.sticky = stickyFromRequest(req, r.cfg.StickyCookieNames)
	}
	if fastEligible(req) {
		r.proxy.serveFast(st, req)
		return
	}
	r.proxy.rp.ServeHTTP(&st.rw, req.WithContext(context.WithValue(req.Context(), stateKey{}, st)))
}

func (r *Router) missingRoute(st *reqState, appGUID, appIndex string) {
	if appGUID != "" {
		r.writeError(st, http.StatusBadRequest, "unknown_route",
			fmt.Sprintf("Requested instance ('%s') with guid ('%s') does not exist for route ('%s')", appIndex, appGUID, st.rawHost))
		return
	}
	r.writeError(st, http.StatusNotFound, "unknown_route",
		fmt.Sprintf("Requested route ('%s') does not exist.", st.rawHost))
}

// writeError answers with gorouter's plain-text error body.
func (r *Router) writeError(st *reqState, code int, routerErr, msg string) {
	if st.lc != nil {
		st.lc.writeLoopError(st, code, routerErr, msg)
		return
	}
	st.routerErr = routerErr
	h := st.rw.Header()
	h.Set(hdrRouterError, routerErr)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache, no-store")
	if st.requestID != "" {
		h.Set(hdrVcapRequestID, st.requestID)
	}
	st.rw.WriteHeader(code)
	_, _ = io.WriteString(&st.rw, strconv.Itoa(code)+" "+http.StatusText(code)+": "+msg+"\n")
}

func (r *Router) finish(st *reqState) {
	st.end = time.Now()
	status := st.rw.status
	if status == 0 {
		status = st.status
	}
	r.metrics.observe(status, st.end.Sub(st.start))
	if st.ep != nil && st.ep.app != "" {
		r.acc.enqueue(st)
	}
}

// rewrite builds the backend request. Hop-by-hop and X-Forwarded-* headers
// have already been removed from Out; the endpoint is picked per attempt in
// RoundTrip.
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	st := stateOf(in)
	out.URL.Scheme = "http"
	out.URL.RawQuery = in.URL.RawQuery
	out.Host = in.Host
	h := out.Header

	clientIP := st.remoteAddr
	if host, _, err := net.SplitHostPort(clientIP); err == nil {
		clientIP = host
	}
	st.xff = clientIP
	if prior := in.Header[hdrForwardedFor]; len(prior) > 0 {
		st.xff = strings.Join(prior, ", ") + ", " + clientIP
	}
	h[hdrForwardedFor] = []string{st.xff}
	st.xfp = in.Header.Get(hdrForwardedProto)
	if st.xfp == "" {
		st.xfp = "http"
		if in.TLS != nil {
			st.xfp = "https"
		}
	}
	h[hdrForwardedProto] = []string{st.xfp}
	// gorouter passes these through from the client.
	if v := in.Header[hdrForwardedHost]; len(v) > 0 {
		h[hdrForwardedHost] = v
	}
	if v := in.Header[hdrForwarded]; len(v) > 0 {
		h[hdrForwarded] = v
	}
	if len(h[hdrRequestStart]) == 0 {
		h[hdrRequestStart] = []string{strconv.FormatInt(st.start.UnixMilli(), 10)}
	}
	h[hdrVcapRequestID] = []string{st.requestID}
	delete(h, hdrAppInstance)
	if out.Body != nil {
		st.body.rc = out.Body
		out.Body = &st.body
	}
}

// RoundTrip sends the request to an endpoint of the pool, trying another
// one (up to MaxAttempts) when connecting fails, so nothing was sent yet.
func (p *proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateOf(req)
	if st == nil || st.pool == nil {
		return nil, errNoEndpoints
	}
	cfg := &p.rt.cfg
	attempts := min(cfg.MaxAttempts, len(st.pool.eps))
	if attempts < 1 || st.fixed != nil {
		attempts = 1
	}
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
		req.URL.Host = ep.addr
		setInstanceHeaders(req.Header, ep)
		st.appStart = time.Now()
		ep.active.Add(1)
		res, err := p.tr.RoundTrip(req)
		ep.active.Add(-1)
		if err == nil {
			ep.succeeded()
			return res, nil
		}
		lastErr = err
		if !isConnectError(err) || req.Context().Err() != nil {
			return nil, err
		}
		p.connectFailed(st, ep, err)
	}
	if lastErr == nil {
		lastErr = errNoEndpoints
	}
	return nil, lastErr
}

// connectFailed counts a failed connect to ep and ejects it after
// EjectAfterFailures in a row.
func (p *proxy) connectFailed(st *reqState, ep *endpoint, err error) {
	cfg := &p.rt.cfg
	p.rt.metrics.connectErrors.Add(1)
	if ep.connectFailed(time.Now().UnixNano(), cfg.EjectAfterFailures, cfg.EjectFor) {
		p.rt.metrics.ejections.Add(1)
		p.rt.log.Warn("endpoint-ejected", "uri", st.pool.uri, "address", ep.addr,
			"app_guid", ep.app, "instance_id", ep.instanceID, "for", cfg.EjectFor.String(), "error", err)
	} else {
		p.rt.log.Debug("backend-connect-failed", "uri", st.pool.uri, "address", ep.addr, "error", err)
	}
}

// setInstanceHeaders overwrites the X-CF-* instance headers (a client
// cannot spoof them). The value slices are the endpoint's, never modified.
func setInstanceHeaders(h http.Header, ep *endpoint) {
	setOrDel(h, hdrAppID, ep.hdrApp)
	setOrDel(h, hdrInstanceIndex, ep.hdrIndex)
	h[hdrInstanceID] = ep.hdrInstance
}

func setOrDel(h http.Header, k string, v []string) {
	if v == nil {
		delete(h, k)
		return
	}
	h[k] = v
}

// isConnectError tells a failed dial (nothing sent, safe to retry) from a
// failure after the request went out.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *proxy) modifyResponse(res *http.Response) error {
	st := stateOf(res.Request)
	if st == nil {
		return nil
	}
	st.status = res.StatusCode
	if len(res.Header[hdrVcapRequestID]) == 0 && st.requestID != "" {
		res.Header[hdrVcapRequestID] = []string{st.requestID}
	}
	if st.ep != nil && st.pool != nil {
		setStickyCookie(res, st.ep, st.sticky, st.pool.cookiePath, p.rt.cfg.StickyCookieNames)
	}
	return nil
}

func (p *proxy) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	st := stateOf(req)
	if st == nil {
		http.Error(w, "502 Bad Gateway: Registered endpoint failed to handle the request.", http.StatusBadGateway)
		return
	}
	p.fail(st, req.Context().Err() != nil, err)
}

// fail answers 502 for a request no endpoint served, or records 499 when
// the client went away.
func (p *proxy) fail(st *reqState, clientGone bool, err error) {
	if clientGone {
		// The client went away; there is nobody to answer.
		st.status = statusClientClosed
		p.rt.metrics.clientClosed.Add(1)
		return
	}
	addr := ""
	if st.ep != nil {
		addr = st.ep.addr
	}
	p.rt.log.Info("backend-endpoint-failed", "uri", st.pool.uri, "address", addr,
		"attempts", len(st.tried), "vcap_request_id", st.requestID, "error", err)
	p.rt.metrics.backendErrors.Add(1)
	reason := strings.NewReplacer("\r", " ", "\n", " ").Replace(err.Error())
	p.rt.writeError(st, http.StatusBadGateway, "endpoint_failure ("+reason+")",
		"Registered endpoint failed to handle the request.")
}

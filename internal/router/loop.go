package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// The router's own HTTP/1.1 server loop for the plain listener: one
// goroutine per client connection reads requests through a pooled buffer,
// parses each head without allocating (loopparse.go) and proxies it over a
// pooled backend connection (loopproxy.go), writing the response head and
// small bodies in one write. A connection whose next request the loop does
// not handle — HTTP/2 prior knowledge, upgrades, Expect, chunked or large
// uploads, absolute-form targets, oversize or malformed heads — is handed,
// with the bytes already read, to the net/http server and the
// ReverseProxy path for the rest of its life; net/http answers malformed
// input with its own 400/431. The loop terminates TLS too: connections
// that negotiate HTTP/2 go to net/http right after the handshake.

const (
	// loopReadBufSize bounds the request heads the loop parses itself;
	// larger heads go to net/http, which allows maxHeaderBytes.
	loopReadBufSize  = 8 << 10
	loopWriteBufSize = 8 << 10
	loopIdleTimeout  = 90 * time.Second
	loopHeadTimeout  = 30 * time.Second
	// DefaultMaxConns bounds the client connections served at once on the
	// plain listener; further connections are closed at once.
	DefaultMaxConns = 16384
)

var (
	loopReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, loopReadBufSize) }}
	loopWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, loopWriteBufSize) }}
	// errClientGone: the client closed its connection during the request.
	errClientGone = errors.New("client closed the connection")
)

// loopServer accepts and tracks the loop's connections.
type loopServer struct {
	rt       *Router
	handoff  *handoffListener
	mu       sync.Mutex
	conns    map[*loopConn]struct{}
	draining atomic.Bool
	rejected atomic.Int64 // connections refused over MaxConns
}

func newLoopServer(r *Router) *loopServer {
	return &loopServer{rt: r, handoff: newHandoffListener(r.ln.Addr()), conns: make(map[*loopConn]struct{})}
}

// serve accepts connections until ln is closed; with tc, they speak TLS.
func (s *loopServer) serve(ln net.Listener, tc *tls.Config) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.draining.Load() {
				return nil
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.rt.log.Warn("router-accept-failed", "error", err, "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		lc := &loopConn{s: s, c: c, raw: c, tc: tc}
		s.mu.Lock()
		if len(s.conns) >= s.rt.cfg.MaxConns || s.draining.Load() {
			s.mu.Unlock()
			s.rejected.Add(1)
			_ = c.Close()
			continue
		}
		s.conns[lc] = struct{}{}
		s.mu.Unlock()
		go lc.serve()
	}
}

func (s *loopServer) remove(lc *loopConn) {
	s.mu.Lock()
	delete(s.conns, lc)
	s.mu.Unlock()
}

// beginDrain refuses new requests: idle connections are woken up and
// close; busy ones close after their current response.
func (s *loopServer) beginDrain() {
	s.draining.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for lc := range s.conns {
		lc.mu.Lock()
		if lc.idle {
			_ = lc.c.SetReadDeadline(longAgo)
		}
		lc.mu.Unlock()
	}
}

// active counts the loop's open connections.
func (s *loopServer) active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// closeAll cuts every remaining connection and its backend exchange.
func (s *loopServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for lc := range s.conns {
		lc.abort()
		_ = lc.raw.Close()
	}
}

// loopConn is one client connection served by the loop.
type loopConn struct {
	s          *loopServer
	c          net.Conn    // the client connection (a *tls.Conn after the handshake)
	raw        net.Conn    // the TCP connection, for a forced close
	tc         *tls.Config // terminate TLS on c first; nil for plain HTTP
	tls        bool        // c is a *tls.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	remoteAddr string
	clientIP   string
	req        rawRequest
	res        rawResponse
	rhead      []byte // the backend response head being parsed

	rdl        int64 // unix nano of the read deadline set on c; 0 unknown
	bodyLeft   int64 // request body bytes not read yet
	closeAfter bool  // close once the response is out

	dateSec int64
	date    []byte

	// mu guards idle, gone, bc and the watcher's hand-over.
	mu       sync.Mutex
	idle     bool          // waiting for a request (drain may wake it)
	gone     bool          // the client went away mid-request
	bc       *backendConn  // the backend connection in use
	watching chan struct{} // closed when the client watcher ends
	stopping bool          // the watcher is being stopped on purpose
}

func (lc *loopConn) serve() {
	defer lc.s.remove(lc)
	if lc.tc != nil && !lc.handshake() {
		return
	}
	lc.br = loopReaders.Get().(*bufio.Reader)
	lc.br.Reset(lc.c)
	lc.bw = loopWriters.Get().(*bufio.Writer)
	lc.bw.Reset(lc.c)
	lc.remoteAddr = lc.c.RemoteAddr().String()
	lc.clientIP = lc.remoteAddr
	if host, _, err := net.SplitHostPort(lc.remoteAddr); err == nil {
		lc.clientIP = host
	}
	handedOff := false
	defer func() {
		if v := recover(); v != nil {
			// As net/http does for a handler: log, drop this connection,
			// keep the router serving.
			lc.s.rt.log.Error("router-loop-panic", "remote_addr", lc.remoteAddr, "panic", v, "stack", string(debug.Stack()))
			handedOff = false
		}
		lc.br.Reset(nil)
		loopReaders.Put(lc.br)
		lc.bw.Reset(nil)
		loopWriters.Put(lc.bw)
		if !handedOff {
			_ = lc.c.Close()
		}
	}()
	for {
		if !lc.waitRequest() {
			return
		}
		head, ok, handoff := lc.readHead()
		if handoff || ok && !parseRequest(head, &lc.req) {
			handedOff = lc.handOff()
			return
		}
		if !ok {
			return
		}
		_, _ = lc.br.Discard(len(head))
		if !lc.s.rt.serveLoop(lc, &lc.req) || lc.s.draining.Load() {
			return
		}
	}
}

// handshake terminates TLS (bounded by loopHeadTimeout). A client that
// negotiated HTTP/2 is handed to net/http at once; false when the loop is
// done with the connection.
func (lc *loopConn) handshake() bool {
	tc := tls.Server(lc.c, lc.tc)
	_ = lc.c.SetDeadline(time.Now().Add(loopHeadTimeout))
	if err := tc.HandshakeContext(lc.s.rt.baseCtx); err != nil {
		lc.s.rt.log.Debug("tls-handshake-failed", "remote_addr", lc.c.RemoteAddr().String(), "error", err)
		_ = lc.c.Close()
		return false
	}
	_ = lc.c.SetDeadline(time.Time{})
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		lc.s.handoff.give(tc) // net/http sees the *tls.Conn and speaks HTTP/2
		return false
	}
	lc.c, lc.tls = tc, true
	return true
}

// waitRequest waits for the first byte of the next request under the idle
// timeout; false when the connection is done (closed, idle too long, or
// the router drains).
func (lc *loopConn) waitRequest() bool {
	if lc.br.Buffered() > 0 {
		return true
	}
	now := time.Now().UnixNano()
	lc.mu.Lock()
	if lc.s.draining.Load() {
		lc.mu.Unlock()
		return false
	}
	lc.idle = true
	// Moving a deadline costs a timer update: keep the one set while it
	// has more than half of the idle timeout left.
	if lc.rdl-now < int64(loopIdleTimeout/2) {
		lc.rdl = now + int64(loopIdleTimeout)
		_ = lc.c.SetReadDeadline(time.Unix(0, lc.rdl))
	}
	lc.mu.Unlock()
	_, err := lc.br.Peek(1)
	lc.mu.Lock()
	lc.idle = false
	lc.mu.Unlock()
	return err == nil
}

// readHead returns the next request head once it is buffered whole;
// handoff when it does not fit the buffer (net/http allows larger heads).
func (lc *loopConn) readHead() (head string, ok, handoff bool) {
	timed := false
	for {
		n := lc.br.Buffered()
		b, _ := lc.br.Peek(n)
		if e := headEnd(b); e >= 0 {
			return string(b[:e]), true, false
		}
		if n >= lc.br.Size() {
			return "", false, true
		}
		if !timed {
			// The rest of a head must come within loopHeadTimeout (the
			// deadline in place may be the idle one, or spent).
			timed = true
			lc.rdl = 0
			_ = lc.c.SetReadDeadline(time.Now().Add(loopHeadTimeout))
		}
		if _, err := lc.br.Peek(n + 1); err != nil {
			// What arrived may be an HTTP/2 preface or a request
			// net/http answers with an error; a clean close is just that.
			return "", false, n > 0 && !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

// handOff gives the connection, with the bytes read so far, to net/http.
func (lc *loopConn) handOff() bool {
	pre := make([]byte, lc.br.Buffered())
	_, _ = lc.br.Read(pre)
	_ = lc.c.SetReadDeadline(time.Time{})
	return lc.s.handoff.give(&prefixConn{Conn: lc.c, pre: pre})
}

// setBackend records the backend connection in use, so that a client that
// goes away (or a forced shutdown) can unblock it.
func (lc *loopConn) setBackend(bc *backendConn) {
	lc.mu.Lock()
	lc.bc = bc
	lc.mu.Unlock()
}

// abort marks the client gone and unblocks the backend exchange.
func (lc *loopConn) abort() {
	lc.mu.Lock()
	lc.gone = true
	if lc.bc != nil {
		_ = lc.bc.c.SetDeadline(longAgo)
	}
	lc.mu.Unlock()
}

func (lc *loopConn) isGone() bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.gone
}

// setBackendDeadline sets a read deadline on bc unless the client is gone
// (whose abort must not be undone).
func (lc *loopConn) setBackendDeadline(bc *backendConn, t time.Time) error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.gone {
		return errClientGone
	}
	_ = bc.c.SetReadDeadline(t)
	bc.rdl = 0
	if !t.IsZero() {
		bc.rdl = t.UnixNano()
	}
	return nil
}

// watch starts watching the client connection for a close while the
// backend is slow, as net/http's background read does; it is only started
// once a backend wait outlasts a second, so quick requests never pay for
// it. Bytes that arrive (a pipelined request) stay in the reader.
func (lc *loopConn) watch() {
	if lc.watching != nil || lc.br.Buffered() > 0 || lc.bodyLeft > 0 {
		return
	}
	done := make(chan struct{})
	lc.watching = done
	// The idle deadline must not end a long response: like net/http's
	// background read, the watcher waits without one.
	lc.rdl = 0
	_ = lc.c.SetReadDeadline(time.Time{})
	go func() {
		defer close(done)
		_, err := lc.br.Peek(1)
		if err == nil {
			return
		}
		lc.mu.Lock()
		stopping := lc.stopping
		lc.mu.Unlock()
		if !stopping {
			lc.abort()
		}
	}()
}

// stopWatch ends the watcher (if any) before the reader is used again.
func (lc *loopConn) stopWatch() {
	if lc.watching == nil {
		return
	}
	lc.mu.Lock()
	lc.stopping = true
	lc.mu.Unlock()
	_ = lc.c.SetReadDeadline(longAgo)
	<-lc.watching
	lc.watching = nil
	lc.rdl = 0
	lc.mu.Lock()
	lc.stopping = false
	lc.mu.Unlock()
}

// dateValue is the Date header for now, formatted once a second.
func (lc *loopConn) dateValue(now time.Time) []byte {
	if s := now.Unix(); s != lc.dateSec || lc.date == nil {
		lc.dateSec = s
		lc.date = now.UTC().AppendFormat(lc.date[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
	}
	return lc.date
}

// prefixConn replays the bytes the loop read before handing off.
type prefixConn struct {
	net.Conn
	pre []byte
}

type tlsStateKey struct{}

// handedOffTLS is the net/http server's ConnContext: net/http only
// recognises TLS on a *tls.Conn, so a TLS connection handed over with its
// read bytes carries its state in the context instead.
func handedOffTLS(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*prefixConn); ok {
		if tc, ok := pc.Conn.(*tls.Conn); ok {
			cs := tc.ConnectionState()
			return context.WithValue(ctx, tlsStateKey{}, &cs)
		}
	}
	return ctx
}

// tlsStateOf returns the TLS state handedOffTLS recorded, or nil.
func tlsStateOf(ctx context.Context) *tls.ConnectionState {
	cs, _ := ctx.Value(tlsStateKey{}).(*tls.ConnectionState)
	return cs
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close as it does on a TCP connection.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handoffListener feeds handed-off connections to the net/http server.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// give hands c over, or closes it when the server has stopped.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		_ = c.Close()
		return true
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

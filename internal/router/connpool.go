package router

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// backendConn is one keep-alive HTTP/1.1 connection to a backend, with its
// own buffers so a request costs no buffer allocation.
type backendConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt int64 // unix nano when it went idle
	reused bool  // it served a request before
	rdl    int64 // unix nano of the read deadline the loop set; 0 unknown
}

const backendBufSize = 4 << 10

func newBackendConn(c net.Conn) *backendConn {
	return &backendConn{c: c, br: bufio.NewReaderSize(c, backendBufSize), bw: bufio.NewWriterSize(c, backendBufSize)}
}

// idlePool is an endpoint's bounded stack of idle connections. The most
// recently used connection is handed out first, so a burst that opened many
// connections lets the surplus age out.
type idlePool struct {
	mu     sync.Mutex
	conns  []*backendConn
	closed bool
}

// get pops an idle connection not older than maxIdle, closing stale ones.
func (p *idlePool) get(nowNano int64, maxIdle time.Duration) *backendConn {
	p.mu.Lock()
	for n := len(p.conns); n > 0; n = len(p.conns) {
		bc := p.conns[n-1]
		p.conns[n-1] = nil
		p.conns = p.conns[:n-1]
		if nowNano-bc.idleAt <= int64(maxIdle) {
			p.mu.Unlock()
			bc.reused = true
			return bc
		}
		_ = bc.c.Close()
	}
	p.mu.Unlock()
	return nil
}

// put returns a connection to the pool, or closes it when the pool is full
// or closed. It reports whether the connection was kept.
func (p *idlePool) put(bc *backendConn, nowNano int64, max int) bool {
	bc.idleAt = nowNano
	p.mu.Lock()
	if p.closed || len(p.conns) >= max {
		p.mu.Unlock()
		_ = bc.c.Close()
		return false
	}
	p.conns = append(p.conns, bc)
	p.mu.Unlock()
	return true
}

// sweep closes connections idle longer than maxIdle.
func (p *idlePool) sweep(nowNano int64, maxIdle time.Duration) {
	p.mu.Lock()
	keep := p.conns[:0]
	for _, bc := range p.conns {
		if nowNano-bc.idleAt > int64(maxIdle) {
			_ = bc.c.Close()
			continue
		}
		keep = append(keep, bc)
	}
	clear(p.conns[len(keep):])
	p.conns = keep
	p.mu.Unlock()
}

// close closes every idle connection and refuses new ones; the endpoint is
// gone from the route table.
func (p *idlePool) close() {
	p.mu.Lock()
	p.closed = true
	for _, bc := range p.conns {
		_ = bc.c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

func (p *idlePool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

package host

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// DefaultPortLockDir holds one lock file per port handed out by any ingot
// backend on this host. A bind probe alone cannot tell that another DEA
// (another process, another test) has handed a port to an app that has not
// started listening yet; an exclusive flock on the port's file can, and the
// kernel releases it when the holder exits.
func DefaultPortLockDir() string { return filepath.Join(os.TempDir(), "ingot-port-locks") }

// PortPool hands out the host ports of a range to containers, each port to
// one container at a time. It is safe for concurrent use.
type PortPool struct {
	start, end uint32
	// unavailable is the backend's sentinel, wrapped by every failure.
	unavailable error
	// free probes whether a port can be bound on the host.
	free func(uint32) bool

	mu    sync.Mutex
	held  map[uint32]string   // port → handle holding it
	locks map[uint32]*os.File // port → its host-wide lock
	// lockDir is where the host-wide port locks live.
	lockDir string
	next    uint32
}

// NewPortPool makes a pool of start..end; its errors wrap unavailable.
func NewPortPool(start, end uint32, unavailable error) *PortPool {
	return &PortPool{start: start, end: end, unavailable: unavailable, free: PortFree, held: map[uint32]string{}, locks: map[uint32]*os.File{}, lockDir: DefaultPortLockDir(), next: start}
}

// Hold records that handle holds port (a container loaded from disk).
func (p *PortPool) Hold(port uint32, handle string) {
	p.mu.Lock()
	p.held[port] = handle
	p.lockLocked(port)
	p.mu.Unlock()
}

// lockLocked takes port's host-wide lock; false when someone else has it.
// A lock dir that cannot be used (read-only tmp) falls back to the probe.
func (p *PortPool) lockLocked(port uint32) bool {
	if _, ok := p.locks[port]; ok {
		return true
	}
	if err := os.MkdirAll(p.lockDir, 0o777); err != nil {
		return true
	}
	f, err := os.OpenFile(filepath.Join(p.lockDir, strconv.Itoa(int(port))), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	p.locks[port] = f
	return true
}

func (p *PortPool) unlockLocked(port uint32) {
	if f, ok := p.locks[port]; ok {
		f.Close()
		delete(p.locks, port)
	}
}

// Alloc hands out want (or, when 0, a free port of the range) to handle,
// after probing that it can be bound. fresh is false when handle already
// held it.
func (p *PortPool) Alloc(handle string, want uint32) (port uint32, fresh bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if want != 0 {
		if h, ok := p.held[want]; ok {
			if h == handle {
				return want, false, nil
			}
			return 0, false, fmt.Errorf("%w: %d is held by another container", p.unavailable, want)
		}
		if !p.lockLocked(want) {
			return 0, false, fmt.Errorf("%w: %d is held by another ingot backend on this host", p.unavailable, want)
		}
		if !p.free(want) {
			p.unlockLocked(want)
			return 0, false, fmt.Errorf("%w: %d is in use on the host", p.unavailable, want)
		}
		p.held[want] = handle
		return want, true, nil
	}
	size := p.end - p.start + 1
	for i := uint32(0); i < size; i++ {
		port := p.next
		p.next++
		if p.next > p.end {
			p.next = p.start
		}
		if _, held := p.held[port]; held || !p.lockLocked(port) {
			continue
		}
		if !p.free(port) {
			p.unlockLocked(port)
			continue
		}
		p.held[port] = handle
		return port, true, nil
	}
	return 0, false, fmt.Errorf("%w: no free port in %d-%d", p.unavailable, p.start, p.end)
}

// Release gives port back.
func (p *PortPool) Release(port uint32) {
	p.mu.Lock()
	delete(p.held, port)
	p.unlockLocked(port)
	p.mu.Unlock()
}

// ReleaseAll gives back every port handle holds.
func (p *PortPool) ReleaseAll(handle string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for port, h := range p.held {
		if h == handle {
			delete(p.held, port)
			p.unlockLocked(port)
		}
	}
}

// PortFree probes port by binding it on every address and on loopback.
func PortFree(port uint32) bool {
	for _, host := range []string{"0.0.0.0", "127.0.0.1"} {
		l, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(int(port))))
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}

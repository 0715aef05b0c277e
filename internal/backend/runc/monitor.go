//go:build linux

package runc

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
)

// ensureMonitorLocked starts the monitor goroutine if it is not running.
// b.mu must be held.
func (b *Backend) ensureMonitorLocked() {
	if b.monitorOn || b.closed {
		return
	}
	b.monitorOn = true
	b.wg.Add(1)
	go b.monitor()
}

// monitor checks every active container each MonitorInterval while there
// are containers, and exits when there are none (Create starts it again).
func (b *Backend) monitor() {
	defer b.wg.Done()
	tick := time.NewTicker(b.cfg.MonitorInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.quit:
			b.mu.Lock()
			b.monitorOn = false
			b.mu.Unlock()
			return
		case <-tick.C:
		}
		b.mu.Lock()
		if len(b.containers) == 0 {
			b.monitorOn = false
			b.mu.Unlock()
			return
		}
		cs := make([]*container, 0, len(b.containers))
		for _, c := range b.containers {
			cs = append(cs, c)
		}
		b.mu.Unlock()
		for _, c := range cs {
			c.check()
		}
	}
}

// check enforces the memory limit the way Warden does: once the kernel's
// OOM killer has killed a process of the container, the container gets the
// event EventOutOfMemory and is stopped. A container whose init died is
// marked stopped.
func (c *container) check() {
	c.mu.Lock()
	if c.destroyed || c.rec.State != stateActive {
		c.mu.Unlock()
		return
	}
	cg := c.rec.Cgroups
	c.mu.Unlock()
	if n, err := cg.oomKills(); err == nil && n > 0 {
		c.b.log.Warn("container-out-of-memory", "handle", c.rec.Handle, "oom_kills", n, "limit_bytes", c.rec.MemoryLimitBytes)
		c.enforce(backend.EventOutOfMemory)
		return
	}
	if !c.initAlive() {
		c.b.log.Warn("container-init-exited", "handle", c.rec.Handle)
		c.enforce("")
	}
}

// enforce records event (if any), marks the container stopped and kills
// it. The event is recorded before the kill, so whoever sees a process
// exit also sees why.
func (c *container) enforce(event string) {
	c.mu.Lock()
	if c.destroyed || c.rec.State == stateStopped {
		c.mu.Unlock()
		return
	}
	if event != "" {
		c.rec.Events = append(c.rec.Events, event)
	}
	c.rec.State = stateStopped
	c.save()
	c.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), runcTimeout)
		defer cancel()
		if err := c.killAll(ctx, true); err != nil {
			c.b.log.Warn("container-kill-failed", "handle", c.rec.Handle, "event", event, "error", err)
		}
	}()
}

// allocPort hands out want (or, when 0, a free port of the range) to
// handle, after probing that it can be bound. fresh is false when handle
// already held it.
func (b *Backend) allocPort(handle string, want uint32) (port uint32, fresh bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if want != 0 {
		if h, ok := b.ports[want]; ok {
			if h == handle {
				return want, false, nil
			}
			return 0, false, fmt.Errorf("%w: %d is held by another container", ErrPortUnavailable, want)
		}
		if !portFree(want) {
			return 0, false, fmt.Errorf("%w: %d is in use on the host", ErrPortUnavailable, want)
		}
		b.ports[want] = handle
		return want, true, nil
	}
	size := b.cfg.PortRangeEnd - b.cfg.PortRangeStart + 1
	for i := uint32(0); i < size; i++ {
		p := b.nextPort
		b.nextPort++
		if b.nextPort > b.cfg.PortRangeEnd {
			b.nextPort = b.cfg.PortRangeStart
		}
		if _, held := b.ports[p]; held || !portFree(p) {
			continue
		}
		b.ports[p] = handle
		return p, true, nil
	}
	return 0, false, fmt.Errorf("%w: no free port in %d-%d", ErrPortUnavailable, b.cfg.PortRangeStart, b.cfg.PortRangeEnd)
}

func (b *Backend) releasePort(port uint32) {
	b.mu.Lock()
	delete(b.ports, port)
	b.mu.Unlock()
}

// portFree probes port by binding it on every address and on loopback.
func portFree(port uint32) bool {
	for _, host := range []string{"0.0.0.0", "127.0.0.1"} {
		l, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(int(port))))
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}

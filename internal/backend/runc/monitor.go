//go:build linux

package runc

import (
	"context"

	"github.com/ingot-paas/ingot/internal/backend"
)

// checkAll is the monitor's check of every container, each
// MonitorInterval while there are containers.
func (b *Backend) checkAll(cs []*container) {
	for _, c := range cs {
		c.check()
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

package process

import (
	"context"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// sampleAll is the monitor's check, every MonitorInterval while there are
// containers: one /proc scan, then every container is sampled from it.
func (b *Backend) sampleAll(cs []*container) {
	t, err := scanProcs()
	if err != nil {
		b.log.Warn("process-scan-failed", "error", err)
		return
	}
	for _, c := range cs {
		c.sample(t)
	}
}

// sample updates memory and CPU from the scan t, prunes process groups
// that are gone, enforces the memory limit and, every DiskCheckInterval,
// measures and enforces the disk limit.
func (c *container) sample(t *procTable) {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return
	}
	groups := append([]procGroup(nil), c.rec.Groups...)
	c.mu.Unlock()

	procs := c.scanTree(t)
	var mem uint64
	var cpu time.Duration
	for _, p := range procs {
		// Proportional set size counts shared pages (the runtime's own
		// libraries, a parent's copy-on-write pages) once across the tree,
		// as a cgroup would; RSS is the fallback where smaps is missing.
		if pss, ok := readPSS(p.Pid); ok {
			mem += pss
		} else {
			mem += p.RSS
		}
		cpu += p.CPU()
	}
	var kept []procGroup
	pruned := false
	for _, g := range groups {
		if g.added.Before(t.at) && t.groupEmpty(g) {
			pruned = true
			continue
		}
		kept = append(kept, g)
	}

	c.mu.Lock()
	c.mem = mem
	if total := c.cpuExited + cpu; total > c.cpuSeen {
		c.cpuSeen = total
	}
	if pruned {
		c.pruneGroupsLocked(kept, groups)
	}
	limit := c.rec.MemoryLimitBytes
	diskDue := time.Since(c.diskAt) >= c.b.cfg.DiskCheckInterval && len(procs) > 0
	c.mu.Unlock()

	if limit > 0 && mem > limit {
		c.b.log.Warn("container-out-of-memory", "handle", c.rec.Handle, "memory_bytes", mem, "limit_bytes", limit)
		c.enforce(backend.EventOutOfMemory)
		return
	}
	if diskDue {
		c.measureDisk()
	}
}

// pruneGroupsLocked drops the groups missing from kept, keeping groups
// recorded since the scan (c.mu held).
func (c *container) pruneGroupsLocked(kept, scanned []procGroup) {
	old := map[int]bool{}
	for _, g := range scanned {
		old[g.Pgid] = true
	}
	for _, g := range c.rec.Groups {
		if !old[g.Pgid] {
			kept = append(kept, g)
		}
	}
	c.rec.Groups = kept
	c.save()
}

// enforce records event, marks the container stopped and kills its tree.
// The event is recorded before the kill, so whoever sees the process exit
// also sees why.
func (c *container) enforce(event string) {
	c.mu.Lock()
	if c.destroyed || c.rec.State == stateStopped {
		// Already stopped (by Stop or an earlier enforcement): the tree
		// is being killed; one event per stop.
		c.mu.Unlock()
		return
	}
	c.rec.Events = append(c.rec.Events, event)
	c.rec.State = stateStopped
	c.save()
	c.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.killTree(ctx, true); err != nil {
			c.b.log.Warn("container-kill-failed", "handle", c.rec.Handle, "event", event, "error", err)
		}
	}()
}

// measureDisk walks the container directory (bounded), stores the result
// and enforces the disk limit.
func (c *container) measureDisk() {
	used, err := host.DirUsage(c.dir, host.MaxDiskWalkEntries)
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return
	}
	c.diskAt = time.Now()
	if err == nil {
		c.disk = used
	}
	limit := c.rec.DiskLimitBytes
	over := limit > 0 && used > limit && c.rec.State == stateActive
	c.mu.Unlock()
	if err != nil {
		c.b.log.Warn("disk-usage-failed", "handle", c.rec.Handle, "error", err)
		return
	}
	if over {
		c.b.log.Warn("container-disk-quota-exceeded", "handle", c.rec.Handle, "disk_bytes", used, "limit_bytes", limit)
		c.enforce(EventDiskQuotaExceeded)
	}
}

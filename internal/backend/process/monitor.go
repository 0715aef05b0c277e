package process

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
)

// maxDiskWalkEntries bounds one disk measurement; a container with more
// entries is reported at what was counted so far.
const maxDiskWalkEntries = 1_000_000

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

// monitor samples every container each MonitorInterval while there are
// containers, and exits when there are none (Create starts it again).
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
		t, err := scanProcs()
		if err != nil {
			b.log.Warn("process-scan-failed", "error", err)
			continue
		}
		for _, c := range cs {
			c.sample(t)
		}
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
		if pss, ok := readPSS(p.pid); ok {
			mem += pss
		} else {
			mem += p.rss
		}
		cpu += p.cpu()
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
	used, err := dirUsage(c.dir, maxDiskWalkEntries)
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

// dirUsage sums the allocated size of everything under dir without
// following symlinks, visiting at most maxEntries entries.
func dirUsage(dir string, maxEntries int) (uint64, error) {
	var total uint64
	n := 0
	errStop := fmt.Errorf("stop")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Files come and go while processes run.
			return nil
		}
		n++
		if n > maxEntries {
			return errStop
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += uint64(st.Blocks) * 512
		} else {
			total += uint64(fi.Size())
		}
		return nil
	})
	if err != nil && err != errStop {
		return total, err
	}
	return total, nil
}

// allocPort hands out want (or, when 0, a free port of the range) to
// handle, after probing that it can be bound.
func (b *Backend) allocPort(handle string, want uint32) (uint32, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if want != 0 {
		if h, ok := b.ports[want]; ok {
			if h == handle {
				return want, nil
			}
			return 0, fmt.Errorf("%w: %d is held by another container", ErrPortUnavailable, want)
		}
		if !portFree(want) {
			return 0, fmt.Errorf("%w: %d is in use on the host", ErrPortUnavailable, want)
		}
		b.ports[want] = handle
		return want, nil
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
		return p, nil
	}
	return 0, fmt.Errorf("%w: no free port in %d-%d", ErrPortUnavailable, b.cfg.PortRangeStart, b.cfg.PortRangeEnd)
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

//go:build linux

package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

const (
	stateActive  = host.StateActive
	stateStopped = host.StateStopped
	recordFile   = "container.json"
	procsDirName = "procs"
	// homeDir is the app's home as container processes see it.
	homeDir     = "/home/vcap"
	defaultPath = "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"
)

// record is what container.json holds.
type record struct {
	host.Record
	// UID is the container's user and group id on the host.
	UID uint32 `json:"uid"`
	// InitPid and InitStart identify the container's init on the host.
	InitPid   int         `json:"init_pid"`
	InitStart uint64      `json:"init_start_ticks"`
	Cgroups   cgroupPaths `json:"cgroups"`
	// DiskImage is whether disk/ is a loop-mounted quota image;
	// DiskBaseline is what the empty file system used.
	DiskImage    bool   `json:"disk_image"`
	DiskBaseline uint64 `json:"disk_baseline_bytes"`
}

// container implements backend.Container.
type container struct {
	b    *Backend
	dir  string // the bundle
	disk string // dir/disk: home/ and tmp/

	mu        sync.Mutex
	rec       record
	destroyed bool
	procs     map[*process]struct{} // running runc execs
	seq       uint64
	diskUsed  uint64
	diskAt    time.Time
}

var _ backend.Container = (*container)(nil)

func newContainer(b *Backend, dir string, rec record) *container {
	rec.Normalize()
	return &container{b: b, dir: dir, disk: filepath.Join(dir, diskDirName), rec: rec, procs: map[*process]struct{}{}}
}

func (c *container) Handle() string { return c.rec.Handle }

// HomeDir is /home/vcap, as the container's processes see it.
func (c *container) HomeDir() string { return homeDir }

// saveLocked writes container.json atomically. c.mu must be held.
func (c *container) saveLocked() error {
	return host.WriteJSON(filepath.Join(c.dir, recordFile), &c.rec, 0o600)
}

func (c *container) save() {
	if err := c.saveLocked(); err != nil {
		c.b.log.Warn("container-record-write-failed", "handle", c.rec.Handle, "error", err)
	}
}

func (c *container) checkAlive() error {
	if c.destroyed {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, c.rec.Handle)
	}
	return nil
}

// containerPath cleans p as the container sees it (relative to HomeDir).
func containerPath(p string) string {
	if !path.IsAbs(p) {
		p = path.Join(homeDir, p)
	}
	return path.Clean(p)
}

// resolve maps a path under /home/vcap or /tmp, as the container sees it,
// to the path relative to the disk directory (ErrInvalidPath elsewhere).
func (c *container) resolve(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: empty path", backend.ErrInvalidPath)
	}
	p = containerPath(p)
	for prefix, rel := range map[string]string{homeDir: "home", "/tmp": "tmp"} {
		if p == prefix {
			return rel, nil
		}
		if strings.HasPrefix(p, prefix+"/") {
			return rel + "/" + strings.TrimPrefix(p, prefix+"/"), nil
		}
	}
	return "", fmt.Errorf("%w: %s is outside %s and /tmp of container %s", backend.ErrInvalidPath, p, homeDir, c.rec.Handle)
}

// Run starts a process with `runc exec` in the container, as the
// container's user, with no capabilities. It returns once runc has
// started the process (its pid file is written); ctx only bounds that
// start. Errors: ErrStopped, ErrNotFound (destroyed), or runc's own error
// (a missing program, a missing directory) when it could not start it.
func (c *container) Run(ctx context.Context, spec backend.ProcessSpec, pio backend.ProcessIO) (backend.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec.Path == "" {
		return nil, errors.New("run: path is required")
	}
	for _, s := range append(append([]string{spec.Path, spec.Dir}, spec.Args...), spec.Env...) {
		if strings.ContainsRune(s, 0) {
			return nil, errors.New("run: NUL byte in path, dir, args or env")
		}
	}
	cwd := homeDir
	if spec.Dir != "" {
		cwd = containerPath(spec.Dir)
	}
	c.mu.Lock()
	if err := c.checkAlive(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if c.rec.State == stateStopped {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", backend.ErrStopped, c.rec.Handle)
	}
	env := buildEnv(c.b.path, c.rec.Env, spec.Env)
	c.seq++
	n := c.seq
	uid := c.rec.UID
	c.mu.Unlock()

	base := filepath.Join(c.dir, procsDirName, strconv.FormatUint(n, 10))
	specPath, pidPath := base+".json", base+".pid"
	defer os.Remove(specPath)
	defer os.Remove(pidPath)
	args := append([]string{spec.Path}, spec.Args...)
	if err := host.WriteJSON(specPath, processSpec(uid, args, env, cwd, c.b.cfg.NoFile), 0o600); err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Path, err)
	}
	gate := &gatedWriter{w: pio.Stderr}
	cmd := &exec.Cmd{
		Path: c.b.cfg.RuncPath,
		Args: []string{c.b.cfg.RuncPath, "--root", c.b.cfg.RuncRoot, "exec", "--process", specPath,
			"--pid-file", pidPath, c.rec.Handle},
		Stdin:  pio.Stdin,
		Stdout: pio.Stdout,
		Stderr: gate,
		// Its own group: a terminal's ^C to the DEA must not reach the
		// apps (runc exec forwards the signals it gets).
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		// A background grandchild holding stdout open must not keep Wait
		// from returning long after the process itself exited.
		WaitDelay: 2 * time.Second,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Path, err)
	}
	p := &process{c: c, cmd: cmd, done: make(chan struct{})}
	go p.wait()
	pid, err := waitPidFile(ctx, pidPath, p.done)
	if err != nil {
		select {
		case <-p.done:
			if !c.initAlive() {
				// The container died under us: the monitor would find
				// out at its next tick.
				c.check()
				return nil, fmt.Errorf("%w: %s (its init is gone)", backend.ErrStopped, c.rec.Handle)
			}
			msg := gate.held()
			if msg == "" {
				msg = fmt.Sprintf("runc exec exited with status %d", p.status)
			}
			return nil, fmt.Errorf("run %s: %s", spec.Path, msg)
		default:
			// Given up (ctx ended): end runc, and the process if runc
			// got as far as starting it.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			if data, rerr := os.ReadFile(pidPath); rerr == nil {
				if pid, aerr := strconv.Atoi(strings.TrimSpace(string(data))); aerr == nil {
					if procs, perr := c.procTable(); perr == nil {
						if _, ok := procs[pid]; ok {
							_ = syscall.Kill(pid, syscall.SIGKILL)
						}
					}
				}
			}
			<-p.done
			return nil, fmt.Errorf("run %s: %w", spec.Path, err)
		}
	}
	p.pid = pid
	gate.openGate()
	c.mu.Lock()
	c.procs[p] = struct{}{}
	c.mu.Unlock()
	go func() {
		<-p.done
		c.mu.Lock()
		delete(c.procs, p)
		c.mu.Unlock()
		if p.status == 128+int(syscall.SIGKILL) {
			// Perhaps the OOM killer: look now rather than at the next
			// monitor tick.
			c.check()
		}
	}()
	return p, nil
}

var errExitedEarly = errors.New("runc exec exited before starting the process")

// waitPidFile polls for runc's pid file until it appears, runc exits
// (done), ctx ends or runcTimeout passes.
func waitPidFile(ctx context.Context, pidPath string, done <-chan struct{}) (int, error) {
	read := func() (int, bool) {
		data, err := os.ReadFile(pidPath)
		if err != nil {
			return 0, false
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		return pid, err == nil && pid > 0
	}
	deadline := time.NewTimer(runcTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid, ok := read(); ok {
			return pid, nil
		}
		select {
		case <-done:
			if pid, ok := read(); ok {
				return pid, nil
			}
			return 0, errExitedEarly
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-deadline.C:
			return 0, fmt.Errorf("runc exec did not start the process in %v", runcTimeout)
		case <-tick.C:
		}
	}
}

// procTable reads the stat of every process in the container's cgroup.
func (c *container) procTable() (map[int]procStat, error) {
	pids, err := c.rec.Cgroups.pids()
	if err != nil {
		return nil, err
	}
	out := make(map[int]procStat, len(pids))
	for _, pid := range pids {
		if st, ok := readStat(pid); ok && st.state != 'Z' && st.state != 'X' {
			out[pid] = st
		}
	}
	return out, nil
}

// isInit reports whether st is the container's init.
func (c *container) isInit(st procStat) bool {
	return st.pid == c.rec.InitPid && st.start == c.rec.InitStart
}

// userPids are the container's processes other than init and init's own
// sleep.
func (c *container) userPids(procs map[int]procStat) []int {
	var out []int
	for pid, st := range procs {
		if c.isInit(st) || (st.ppid == c.rec.InitPid && st.comm == "sleep") {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// initAlive reports whether the container's init still runs.
func (c *container) initAlive() bool {
	st, ok := readStat(c.rec.InitPid)
	return ok && c.isInit(st) && st.state != 'Z' && st.state != 'X'
}

// Stop marks the container stopped and ends every process: SIGTERM to all
// but init, then, after StopGrace (at once when kill is true, or when ctx
// ends), SIGKILL to init, which takes every process of the container's pid
// namespace with it. It returns once the cgroup is empty and every Run
// process is reaped (ErrNotFound after Destroy). Files remain.
func (c *container) Stop(ctx context.Context, kill bool) error {
	c.mu.Lock()
	if err := c.checkAlive(); err != nil {
		c.mu.Unlock()
		return err
	}
	if c.rec.State != stateStopped {
		c.rec.State = stateStopped
		c.save()
	}
	c.mu.Unlock()
	return c.killAll(ctx, kill)
}

// killAll ends the container's processes as Stop describes.
func (c *container) killAll(ctx context.Context, kill bool) error {
	handle := c.rec.Handle
	if !kill {
		procs, err := c.procTable()
		if err != nil {
			return fmt.Errorf("stop %s: %w", handle, err)
		}
		if pids := c.userPids(procs); len(pids) > 0 {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
			grace := time.NewTimer(c.b.cfg.StopGrace)
			defer grace.Stop()
			c.waitUserExit(ctx, grace.C)
		}
	}
	// When the init of a pid namespace dies the kernel kills every other
	// process in it: this ends the whole container at once, fork bombs
	// included. (runc kill does the same, at the cost of a runc run.)
	if st, ok := readStat(c.rec.InitPid); ok && c.isInit(st) {
		_ = syscall.Kill(st.pid, syscall.SIGKILL)
	}
	// Wait for the cgroup to empty; SIGKILL whatever is left (init
	// already gone, or runc without its state).
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		pids, err := c.rec.Cgroups.pids()
		if err != nil {
			return fmt.Errorf("stop %s: %w", handle, err)
		}
		live := 0
		for _, pid := range pids {
			if st, ok := readStat(pid); ok && st.state != 'Z' && st.state != 'X' {
				live++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if live == 0 {
			break
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("stop %s: %d processes survived SIGKILL", handle, live)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The runc execs report their processes' exits.
	c.mu.Lock()
	procs := make([]*process, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			return fmt.Errorf("stop %s: process %d not reaped", handle, p.pid)
		}
	}
	return nil
}

// waitUserExit polls until only init is left, stop fires or ctx ends.
func (c *container) waitUserExit(ctx context.Context, stop <-chan time.Time) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tick.C:
		}
		procs, err := c.procTable()
		if err != nil || len(c.userPids(procs)) == 0 {
			return
		}
	}
}

// NetIn maps a host port to the same container port (the containers share
// the host's network namespace) and lets only this container bind it.
// With both ports 0 it picks a free port of the range.
func (c *container) NetIn(hostPort, containerPort uint32) (backend.PortMapping, error) {
	want, ok := host.SamePort(hostPort, containerPort)
	if !ok {
		return backend.PortMapping{}, fmt.Errorf("%w: the runc backend shares the host network and maps a port to itself (asked %d→%d)", ErrPortUnavailable, hostPort, containerPort)
	}
	c.mu.Lock()
	err := c.checkAlive()
	c.mu.Unlock()
	if err != nil {
		return backend.PortMapping{}, err
	}
	port, fresh, err := c.b.ports.Alloc(c.rec.Handle, want)
	if err != nil {
		return backend.PortMapping{}, err
	}
	m := backend.PortMapping{HostPort: port, ContainerPort: port}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.HasPort(m) {
		return m, nil
	}
	if c.b.bindFilter && c.rec.Cgroups.Unified != "" {
		allowed := []uint32{port}
		for _, p := range c.rec.Ports {
			allowed = append(allowed, p.HostPort)
		}
		if err := attachBindFilter(c.rec.Cgroups.Unified, c.b.cfg.PortRangeStart, c.b.cfg.PortRangeEnd, allowed); err != nil &&
			c.rec.State == stateActive {
			if fresh {
				c.b.ports.Release(port)
			}
			return backend.PortMapping{}, fmt.Errorf("net in %d: %w", port, err)
		}
	}
	c.rec.Ports = append(c.rec.Ports, m)
	c.save()
	return m, nil
}

// Info reports state, events, usage (memory and CPU from the cgroup; disk
// from the quota image's file system, or a bounded walk of the disk
// directory reused for DiskCheckInterval), ports and properties.
func (c *container) Info(ctx context.Context) (backend.Info, error) {
	if err := ctx.Err(); err != nil {
		return backend.Info{}, err
	}
	c.mu.Lock()
	if err := c.checkAlive(); err != nil {
		c.mu.Unlock()
		return backend.Info{}, err
	}
	cg := c.rec.Cgroups
	image, baseline := c.rec.DiskImage, c.rec.DiskBaseline
	stale := time.Since(c.diskAt) > c.b.cfg.DiskCheckInterval
	c.mu.Unlock()

	var u backend.Usage
	u.MemoryBytes, _ = cg.memoryUsage()
	u.CPUTime, _ = cg.cpuUsage()
	switch {
	case image:
		if used, err := fsUsed(c.disk); err == nil && used > baseline {
			u.DiskBytes = used - baseline
		}
	case stale:
		used, err := host.DirUsage(c.disk, host.MaxDiskWalkEntries)
		c.mu.Lock()
		if err == nil {
			c.diskUsed, c.diskAt = used, time.Now()
		}
		u.DiskBytes = c.diskUsed
		c.mu.Unlock()
	default:
		c.mu.Lock()
		u.DiskBytes = c.diskUsed
		c.mu.Unlock()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.Info(u), nil
}

// buildEnv merges the container's and the process's env (later wins) and
// fills in PATH (pathDefault), HOME, USER, LANG and TMPDIR when unset.
func buildEnv(pathDefault string, lists ...[]string) []string {
	var keys []string
	vals := map[string]string{}
	for _, l := range lists {
		for _, kv := range l {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				continue
			}
			if _, seen := vals[k]; !seen {
				keys = append(keys, k)
			}
			vals[k] = v
		}
	}
	for _, d := range [][2]string{{"PATH", pathDefault}, {"HOME", homeDir}, {"USER", "vcap"}, {"LANG", "C.UTF-8"}, {"TMPDIR", "/tmp"}} {
		if _, ok := vals[d[0]]; !ok {
			keys = append(keys, d[0])
			vals[d[0]] = d[1]
		}
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vals[k])
	}
	return out
}

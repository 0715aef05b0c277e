package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// record is what container.json holds.
type record struct {
	host.Record
	Groups []procGroup `json:"process_groups"`
	// Detached are the detached processes that may still run.
	Detached []detachedProc `json:"detached,omitempty"`
}

// container implements backend.Container.
type container struct {
	b    *Backend
	dir  string
	home string

	mu        sync.Mutex
	rec       record
	destroyed bool
	procs     map[int]*process // running direct children, by pid
	// members are the processes (pid → start time) seen in the tree by the
	// last scan; they stay members when their parent dies.
	members   map[int]uint64
	cpuExited time.Duration // CPU time of reaped direct children
	cpuSeen   time.Duration // highest CPU time reported (monotonic)
	mem       uint64
	disk      uint64
	diskAt    time.Time
}

var (
	_ backend.Container = (*container)(nil)
	_ backend.Attacher  = (*container)(nil)
)

func newContainer(b *Backend, dir string, rec record) *container {
	rec.Normalize()
	return &container{b: b, dir: dir, home: filepath.Join(dir, "home"), rec: rec, procs: map[int]*process{}, members: map[int]uint64{}}
}

func (c *container) Handle() string  { return c.rec.Handle }
func (c *container) HomeDir() string { return c.home }

// saveLocked writes container.json atomically. c.mu must be held.
func (c *container) saveLocked() error {
	return host.WriteJSON(filepath.Join(c.dir, recordFile), &c.rec, 0o600)
}

func (c *container) save() {
	if err := c.saveLocked(); err != nil {
		c.b.log.Warn("container-record-write-failed", "handle", c.rec.Handle, "error", err)
	}
}

// resolve turns a path as the container sees it (absolute, or relative to
// HomeDir) into a host path inside the container directory.
func (c *container) resolve(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", backend.ErrInvalidPath)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.home, p)
	}
	p = filepath.Clean(p)
	rel, err := filepath.Rel(c.dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s is outside container %s", backend.ErrInvalidPath, p, c.rec.Handle)
	}
	return p, nil
}

func (c *container) checkAlive() error {
	if c.destroyed {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, c.rec.Handle)
	}
	return nil
}

// Run starts a process in a new process group. ctx only bounds the start:
// the process lives until it exits or is signalled. Errors: ErrStopped,
// ErrNotFound (destroyed), ErrInvalidPath (Dir outside the container).
func (c *container) Run(ctx context.Context, spec backend.ProcessSpec, pio backend.ProcessIO) (backend.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec.Path == "" {
		return nil, errors.New("run: path is required")
	}
	dir := c.home
	if spec.Dir != "" {
		d, err := c.resolve(spec.Dir)
		if err != nil {
			return nil, fmt.Errorf("run: dir: %w", err)
		}
		dir = d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkAlive(); err != nil {
		return nil, err
	}
	if c.rec.State == stateStopped {
		return nil, fmt.Errorf("%w: %s", backend.ErrStopped, c.rec.Handle)
	}
	env := buildEnv(c.home, c.rec.Env, spec.Env)
	path, err := lookPath(spec.Path, envValue(env, "PATH"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", spec.Path, err)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{spec.Path}, spec.Args...),
		Env:         env,
		Dir:         dir,
		Stdin:       pio.Stdin,
		Stdout:      pio.Stdout,
		Stderr:      pio.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		// A background grandchild holding stdout open must not keep Wait
		// from returning long after the process itself exited.
		WaitDelay: 2 * time.Second,
	}
	var outDir string
	if spec.Detached {
		if pio.Stdin != nil {
			return nil, errors.New("run: a detached process takes no stdin")
		}
		dir, stdout, stderr, err := c.prepareDetached()
		if err != nil {
			return nil, fmt.Errorf("run %s: detach: %w", spec.Path, err)
		}
		defer stdout.Close()
		defer stderr.Close()
		outDir = dir
		cmd.Path = "/bin/sh"
		cmd.Args = append([]string{"sh", "-c", wrapper, "sh", filepath.Join(dir, exitFile), path}, spec.Args...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		if outDir != "" {
			_ = os.RemoveAll(outDir)
		}
		return nil, fmt.Errorf("run %s: %w", spec.Path, err)
	}
	pid := cmd.Process.Pid
	g := procGroup{Pgid: pid, added: time.Now()}
	if st, ok := host.ReadStat(pid); ok {
		g.Start = st.Start
	}
	c.rec.Groups = append(c.rec.Groups, g)
	p := &process{c: c, cmd: cmd, pid: pid, group: g, done: make(chan struct{}), outDir: outDir}
	if outDir != "" {
		rel, _ := filepath.Rel(c.dir, outDir)
		c.rec.Detached = append(c.rec.Detached, detachedProc{Pid: pid, Start: g.Start, Dir: rel})
		p.tails = startTails(outDir, pio, false)
	}
	c.save()
	c.procs[pid] = p
	go p.wait()
	return p, nil
}

// groups returns a copy of the recorded process groups.
func (c *container) groups() []procGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]procGroup(nil), c.rec.Groups...)
}

// scanTree returns the live processes of the container's tree in the scan
// t and remembers them as members.
func (c *container) scanTree(t *procTable) []host.Stat {
	c.mu.Lock()
	groups := append([]procGroup(nil), c.rec.Groups...)
	members := make(map[int]uint64, len(c.members))
	for pid, start := range c.members {
		members[pid] = start
	}
	c.mu.Unlock()
	procs := t.tree(groups, members)
	c.mu.Lock()
	c.members = make(map[int]uint64, len(procs))
	for _, p := range procs {
		c.members[p.Pid] = p.Start
	}
	c.mu.Unlock()
	return procs
}

// signalTree sends sig to every valid group of the container and every
// process of its tree. It returns how many live processes the tree had.
func (c *container) signalTree(sig syscall.Signal) (int, error) {
	t, err := scanProcs()
	if err != nil {
		return 0, err
	}
	procs := c.scanTree(t)
	for _, g := range c.groups() {
		if g.valid(t) && !t.groupEmpty(g) {
			_ = syscall.Kill(-g.Pgid, sig)
		}
	}
	for _, p := range procs {
		_ = syscall.Kill(p.Pid, sig)
	}
	return len(procs), nil
}

// Stop marks the container stopped and terminates every process: SIGTERM,
// then SIGKILL after StopGrace (or at once when kill is true, or when ctx
// ends). It returns once no process of the tree is left (ErrNotFound after
// Destroy).
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
	return c.killTree(ctx, kill)
}

// killTree terminates the process tree as Stop describes.
func (c *container) killTree(ctx context.Context, kill bool) error {
	if !kill {
		n, err := c.signalTree(syscall.SIGTERM)
		if err != nil {
			return fmt.Errorf("stop %s: %w", c.rec.Handle, err)
		}
		if n > 0 {
			grace := time.NewTimer(c.b.cfg.StopGrace)
			defer grace.Stop()
			c.waitEmpty(ctx, grace.C)
		}
	}
	// SIGKILL until the tree is gone; a fork racing the kill is caught by
	// the next round.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		n, err := c.signalTree(syscall.SIGKILL)
		if err != nil {
			return fmt.Errorf("stop %s: %w", c.rec.Handle, err)
		}
		if n == 0 {
			break
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("stop %s: %d processes survived SIGKILL", c.rec.Handle, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Let the waiters reap the direct children, so the zombies are gone
	// and exit statuses are known when Stop returns.
	c.mu.Lock()
	procs := make([]*process, 0, len(c.procs))
	for _, p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			return fmt.Errorf("stop %s: process %d not reaped", c.rec.Handle, p.pid)
		}
	}
	return nil
}

// waitEmpty polls until the tree has no live process, stop fires or ctx
// ends.
func (c *container) waitEmpty(ctx context.Context, stop <-chan time.Time) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tick.C:
		}
		t, err := scanProcs()
		if err != nil || len(c.scanTree(t)) == 0 {
			return
		}
	}
}

// NetIn maps a host port to the same container port. With both ports 0 it
// picks a free port of the range no other container holds.
func (c *container) NetIn(hostPort, containerPort uint32) (backend.PortMapping, error) {
	want, ok := host.SamePort(hostPort, containerPort)
	if !ok {
		return backend.PortMapping{}, fmt.Errorf("%w: the process backend maps a port to itself (asked %d→%d)", ErrPortUnavailable, hostPort, containerPort)
	}
	c.mu.Lock()
	err := c.checkAlive()
	c.mu.Unlock()
	if err != nil {
		return backend.PortMapping{}, err
	}
	port, _, err := c.b.ports.Alloc(c.rec.Handle, want)
	if err != nil {
		return backend.PortMapping{}, err
	}
	m := backend.PortMapping{HostPort: port, ContainerPort: port}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.HasPort(m) {
		return m, nil
	}
	c.rec.Ports = append(c.rec.Ports, m)
	c.save()
	return m, nil
}

// Info reports state, events, usage (as last sampled by the monitor; disk
// is measured now if it was never measured or is stale), ports and
// properties.
func (c *container) Info(ctx context.Context) (backend.Info, error) {
	if err := ctx.Err(); err != nil {
		return backend.Info{}, err
	}
	c.mu.Lock()
	if err := c.checkAlive(); err != nil {
		c.mu.Unlock()
		return backend.Info{}, err
	}
	stale := time.Since(c.diskAt) > c.b.cfg.DiskCheckInterval
	c.mu.Unlock()
	if stale {
		c.measureDisk()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.Info(backend.Usage{
		MemoryBytes: c.mem,
		DiskBytes:   c.disk,
		CPUTime:     c.cpuSeen,
	}), nil
}

// process implements backend.Process.
type process struct {
	c     *container
	cmd   *exec.Cmd
	pid   int
	group procGroup

	// outDir holds a detached process's output and exit status ("" for
	// other processes); tails copy the output to the caller.
	outDir string
	tails  []*tail

	done   chan struct{}
	status int
	err    error
}

func (p *process) ID() string { return strconv.Itoa(p.pid) }

// Wait returns the exit status, 128+signal when killed by a signal.
func (p *process) Wait() (int, error) {
	<-p.done
	return p.status, p.err
}

// Signal sends sig to the process's group and to its descendants that
// left the group. Signalling an exited process is a no-op.
func (p *process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal %v: not a unix signal", sig)
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	t, err := scanProcs()
	if err != nil {
		return fmt.Errorf("signal process %d: %w", p.pid, err)
	}
	// The process's own tree: its group, itself and its descendants.
	procs := t.tree([]procGroup{p.group}, map[int]uint64{p.pid: p.group.Start})
	if p.group.valid(t) && !t.groupEmpty(p.group) {
		_ = syscall.Kill(-p.pid, s)
	}
	for _, q := range procs {
		_ = syscall.Kill(q.Pid, s)
	}
	return nil
}

func (p *process) wait() {
	var status int
	var err error
	var st *os.ProcessState
	if p.cmd != nil {
		status, err = host.Wait(p.cmd)
		st = p.cmd.ProcessState
	} else {
		status, err = p.waitGone() // attached after a restart: no child of ours
	}
	stopTails(p.tails)
	p.status = status
	if err != nil {
		p.err = fmt.Errorf("wait process %d: %w", p.pid, err)
	}
	c := p.c
	c.mu.Lock()
	if p.outDir != "" && !c.destroyed {
		c.forgetDetachedLocked(p.pid)
	}
	if st != nil {
		c.cpuExited += st.UserTime() + st.SystemTime()
		if c.cpuExited > c.cpuSeen {
			c.cpuSeen = c.cpuExited
		}
	}
	delete(c.procs, p.pid)
	c.mu.Unlock()
	close(p.done)
}

// buildEnv merges the container's and the process's env (later wins) and
// fills in PATH (the host's), LANG and HOME when unset.
func buildEnv(home string, lists ...[]string) []string {
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
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
			vals[k] = v
		}
	}
	hostPath := os.Getenv("PATH")
	if hostPath == "" {
		hostPath = "/usr/local/bin:/usr/bin:/bin"
	}
	set("PATH", hostPath)
	set("LANG", "C.UTF-8")
	set("HOME", home)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vals[k])
	}
	return out
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath finds file in the container's PATH (a name with a slash is used
// as it is).
func lookPath(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH: %w", file, exec.ErrNotFound)
}

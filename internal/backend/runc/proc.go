//go:build linux

package runc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// procStat is the part of /proc/<pid>/stat the backend uses.
type procStat struct {
	pid, ppid int
	comm      string
	state     byte
	// start is the start time in clock ticks since boot; with the pid it
	// identifies a process across pid reuse.
	start uint64
}

// readStat reads one process's stat (host.ReadStat, narrowed to what the
// runc backend uses); ok is false when it does not exist.
func readStat(pid int) (procStat, bool) {
	st, ok := host.ReadStat(pid)
	return procStat{pid: st.Pid, ppid: st.PPid, comm: st.Comm, state: st.State, start: st.Start}, ok
}

// treeOf returns root and its descendants among procs (which must hold the
// whole cgroup).
func treeOf(root int, procs map[int]procStat) []int {
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	out := []int{}
	queue := []int{root}
	seen := map[int]bool{root: true}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if _, ok := procs[pid]; ok {
			out = append(out, pid)
		}
		for _, c := range children[pid] {
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	return out
}

// process is one `runc exec` of a container; it implements
// backend.Process.
type process struct {
	c   *container
	cmd *exec.Cmd
	// pid is the host pid of the process in the container (from runc's
	// pid file); runc exec itself is its parent and reports its status.
	pid int

	done   chan struct{}
	status int
	err    error
}

func (p *process) ID() string { return strconv.Itoa(p.pid) }

// Wait returns the exit status: the process's, or 128+signal when a signal
// killed it (runc exec reports both the same way).
func (p *process) Wait() (int, error) {
	<-p.done
	return p.status, p.err
}

// Signal sends sig to the process, its process group and every descendant
// of it in the container. Signalling an exited process is a no-op.
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
	procs, err := p.c.procTable()
	if err != nil {
		return fmt.Errorf("signal process %d: %w", p.pid, err)
	}
	if _, ok := procs[p.pid]; !ok {
		// Exited (runc exec is about to report it).
		return nil
	}
	// runc exec makes the process a session and group leader.
	_ = syscall.Kill(-p.pid, s)
	for _, pid := range treeOf(p.pid, procs) {
		_ = syscall.Kill(pid, s)
	}
	return nil
}

func (p *process) wait() {
	status, err := host.Wait(p.cmd)
	p.status = status
	if err != nil {
		p.err = fmt.Errorf("wait process %d: %w", p.pid, err)
	}
	close(p.done)
}

// gatedWriter holds what runc writes to stderr until the process has
// started: if runc fails before, the held text is the error and never
// reaches the process's stderr; once open it passes everything through.
type gatedWriter struct {
	mu   sync.Mutex
	w    interface{ Write([]byte) (int, error) }
	buf  bytes.Buffer
	open bool
}

const gateLimit = 64 << 10

func (g *gatedWriter) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open && g.buf.Len()+len(b) <= gateLimit {
		return g.buf.Write(b)
	}
	if !g.open {
		g.flushLocked()
	}
	if g.w == nil {
		return len(b), nil
	}
	return g.w.Write(b)
}

// openGate passes what was held on and opens the gate.
func (g *gatedWriter) openGate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.flushLocked()
}

func (g *gatedWriter) flushLocked() {
	g.open = true
	if g.w != nil && g.buf.Len() > 0 {
		_, _ = g.w.Write(g.buf.Bytes())
	}
	g.buf.Reset()
}

// held returns the text held back (runc's error when it failed early).
func (g *gatedWriter) held() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.TrimSpace(g.buf.String())
}

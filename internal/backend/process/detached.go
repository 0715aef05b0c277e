package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// Detached processes (backend.ProcessSpec.Detached) outlive the DEA:
//
//   - each runs in a session of its own (setsid), so neither the DEA's
//     death nor a signal to the DEA's process group or terminal reaches it;
//   - its stdout and stderr are files in RootDir/<handle>/detached/<pid>/,
//     opened O_APPEND, not pipes, so it never writes into a broken pipe;
//     the backend tails them into the caller's ProcessIO, and truncates a
//     file once it has read it all and it is over maxOutputFile (a line
//     written in the instant between the last read and the truncation is
//     lost);
//   - it runs under a small sh wrapper that records its exit status in
//     exit_status there, since after a restart it is no child of the DEA's
//     and cannot be waited for (the wrapper's trap only defers SIGTERM,
//     SIGINT and SIGHUP until the app has exited; exec resets it, so the
//     app sees default dispositions);
//   - the container's record lists it (pid and start time from
//     /proc/<pid>/stat), so that a Backend made again on the same RootDir
//     can Attach to it and tell a live process from a reused pid.
const (
	detachedDir = "detached"
	stdoutFile  = "stdout"
	stderrFile  = "stderr"
	exitFile    = "exit_status"
	// maxOutputFile is the size an output file is truncated at once read.
	maxOutputFile = 1 << 20
	// maxBacklog bounds what Attach copies of the output written while
	// nobody read it.
	maxBacklog = 256 << 10
)

// wrapper runs "$@" and records its exit status in $1.
const wrapper = `f=$1; shift; trap : TERM INT HUP; "$@"; s=$?; echo "$s" > "$f"; exit "$s"`

// detachedProc is a detached process as container.json records it.
type detachedProc struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start_ticks"`
	// Dir holds its output and exit status, relative to the container dir.
	Dir string `json:"dir"`
}

// prepareDetached makes the output directory of a detached process about
// to start and returns its two output files.
func (c *container) prepareDetached() (dir string, stdout, stderr *os.File, err error) {
	base := filepath.Join(c.dir, detachedDir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, nil, err
	}
	dir, err = os.MkdirTemp(base, "p")
	if err != nil {
		return "", nil, nil, err
	}
	open := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	}
	if stdout, err = open(stdoutFile); err == nil {
		if stderr, err = open(stderrFile); err != nil {
			stdout.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, nil, err
	}
	return dir, stdout, stderr, nil
}

// forgetDetachedLocked drops the record of the detached process pid and
// its files (c.mu held).
func (c *container) forgetDetachedLocked(pid int) {
	for i, d := range c.rec.Detached {
		if d.Pid == pid {
			_ = os.RemoveAll(filepath.Join(c.dir, d.Dir))
			c.rec.Detached = append(c.rec.Detached[:i:i], c.rec.Detached[i+1:]...)
			c.save()
			return
		}
	}
}

// Attach takes over the detached process id after a restart (it
// implements backend.Attacher): the recorded pid must still name the same
// process (same start time) and not be a zombie.
func (c *container) Attach(id string, pio backend.ProcessIO) (backend.Process, error) {
	pid, err := strconv.Atoi(id)
	if err != nil {
		return nil, fmt.Errorf("%w: process %q", backend.ErrNotFound, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkAlive(); err != nil {
		return nil, err
	}
	if p, ok := c.procs[pid]; ok {
		return nil, fmt.Errorf("attach %d: already attached (%s)", pid, p.ID())
	}
	var rec *detachedProc
	for i := range c.rec.Detached {
		if c.rec.Detached[i].Pid == pid {
			rec = &c.rec.Detached[i]
		}
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: no detached process %d in %s", backend.ErrNotFound, pid, c.rec.Handle)
	}
	st, ok := host.ReadStat(pid)
	if !ok || st.Start != rec.Start || st.Zombie() {
		c.forgetDetachedLocked(pid)
		return nil, fmt.Errorf("%w: detached process %d of %s is gone", backend.ErrNotFound, pid, c.rec.Handle)
	}
	dir := filepath.Join(c.dir, rec.Dir)
	p := &process{c: c, pid: pid, group: procGroup{Pgid: pid, Start: rec.Start}, done: make(chan struct{}), outDir: dir}
	p.tails = startTails(dir, pio, true)
	c.procs[pid] = p
	go p.wait()
	return p, nil
}

// waitGone polls /proc until the (non-child) process p is gone and returns
// its exit status from the wrapper's file.
func (p *process) waitGone() (int, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		st, ok := host.ReadStat(p.pid)
		if !ok || st.Start != p.group.Start || st.Zombie() {
			break
		}
	}
	data, err := os.ReadFile(filepath.Join(p.outDir, exitFile))
	if err == nil {
		if code, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return code, nil
		}
	}
	p.c.mu.Lock()
	stopped := p.c.rec.State == stateStopped
	p.c.mu.Unlock()
	if stopped {
		return 128 + int(syscall.SIGKILL), nil // killed with its wrapper
	}
	return -1, errors.New("exit status not recorded: the process and its wrapper were killed")
}

// tail copies one output file to w from where Attach or Run left it, until
// stop is closed and the file is read to its end.
type tail struct {
	path string
	w    io.Writer
	off  int64
	stop chan struct{}
	done chan struct{}
}

// startTails tails the stdout and stderr files of dir into pio (nil writers
// discard, but the files are still read and truncated). backlog skips all
// but the last maxBacklog bytes of what is there already.
func startTails(dir string, pio backend.ProcessIO, backlog bool) []*tail {
	var out []*tail
	for _, f := range []struct {
		name string
		w    io.Writer
	}{{stdoutFile, pio.Stdout}, {stderrFile, pio.Stderr}} {
		t := &tail{path: filepath.Join(dir, f.name), w: f.w, stop: make(chan struct{}), done: make(chan struct{})}
		if t.w == nil {
			t.w = io.Discard
		}
		if fi, err := os.Stat(t.path); err == nil && backlog && fi.Size() > maxBacklog {
			t.off = fi.Size() - maxBacklog
		}
		go t.run()
		out = append(out, t)
	}
	return out
}

func (t *tail) run() {
	defer close(t.done)
	buf := make([]byte, 32<<10)
	wait := 10 * time.Millisecond
	for {
		n := t.read(buf)
		if n > 0 {
			wait = 10 * time.Millisecond
			continue
		}
		select {
		case <-t.stop:
			t.read(buf) // what was written just before the exit
			return
		case <-time.After(wait):
			wait = min(2*wait, 250*time.Millisecond)
		}
	}
}

// read copies what the file has past t.off (up to 1 MiB at a time) and
// truncates a large file read to its end; it returns how much it copied.
func (t *tail) read(buf []byte) int64 {
	f, err := os.OpenFile(t.path, os.O_RDWR, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if fi.Size() < t.off {
		t.off = 0 // truncated by someone else
	}
	var total int64
	for total < 1<<20 {
		n, err := f.ReadAt(buf, t.off)
		if n > 0 {
			_, _ = t.w.Write(buf[:n])
			t.off += int64(n)
			total += int64(n)
		}
		if err != nil {
			break
		}
	}
	if t.off >= maxOutputFile {
		if fi, err := f.Stat(); err == nil && fi.Size() == t.off {
			if f.Truncate(0) == nil {
				t.off = 0
			}
		}
	}
	return total
}

// stopTails lets the tails read to the end and waits for them.
func stopTails(ts []*tail) {
	for _, t := range ts {
		close(t.stop)
	}
	for _, t := range ts {
		<-t.done
	}
}

package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
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
)

// Proc is one platform component (or nats-server) run as its own OS
// process in its own process group. It can be killed, terminated and
// started again with the same arguments and data dir; every run appends
// to the same log file.
type Proc struct {
	Name    string
	Bin     string
	Args    []string
	LogPath string
	// DataDir is the component's data dir ("" for router, HM and NATS).
	DataDir string

	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	startedAt time.Time
	logOffset int64
	waitErr   error
}

// ErrNotRunning is returned when a process that is not running is asked
// to stop.
var ErrNotRunning = errors.New("cluster: process is not running")

// Start runs the process (it must not be running).
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.done) {
		return fmt.Errorf("cluster: %s is already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cluster: open %s log: %w", p.Name, err)
	}
	off, _ := logf.Seek(0, 2)
	fmt.Fprintf(logf, "=== %s start %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(p.Args, " "))
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cluster: start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.startedAt, p.logOffset, p.waitErr = cmd, done, time.Now(), off, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func closed(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !closed(p.done)
}

// Pid is the process id of the current (or last) run; 0 if never started.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// StartedAt is when the current (or last) run was started.
func (p *Proc) StartedAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startedAt
}

func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// signal sends sig to the process group and waits up to wait for the exit.
func (p *Proc) signal(sig syscall.Signal, wait time.Duration) error {
	cmd, done := p.current()
	if cmd == nil || closed(done) {
		return ErrNotRunning
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("cluster: %s (pid %d) still running %s after %s", p.Name, cmd.Process.Pid, wait, sig)
	}
}

// Kill sends SIGKILL to the process group and waits for the exit. App
// instances a DEA started run in process groups of their own and survive
// this (see DEA.KillHost).
func (p *Proc) Kill() error { return p.signal(syscall.SIGKILL, 10*time.Second) }

// Term sends SIGTERM and waits up to grace; then it sends SIGKILL.
func (p *Proc) Term(grace time.Duration) error {
	err := p.signal(syscall.SIGTERM, grace)
	if err == nil || errors.Is(err, ErrNotRunning) {
		return err
	}
	if kerr := p.Kill(); kerr != nil && !errors.Is(kerr, ErrNotRunning) {
		return kerr
	}
	return err
}

// Restart kills the process if it runs (SIGKILL) and starts it again with
// the same arguments.
func (p *Proc) Restart() error {
	if err := p.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return p.Start()
}

// Log returns the whole log (every run).
func (p *Proc) Log() string {
	data, _ := os.ReadFile(p.LogPath)
	return string(data)
}

// RunLog returns the log of the current (or last) run.
func (p *Proc) RunLog() string {
	p.mu.Lock()
	off := p.logOffset
	p.mu.Unlock()
	data, _ := os.ReadFile(p.LogPath)
	if off > int64(len(data)) {
		off = 0
	}
	return string(data[off:])
}

// Event is one JSON log line of a component.
type Event map[string]any

// Str returns a string field ("" when absent).
func (e Event) Str(key string) string {
	s, _ := e[key].(string)
	return s
}

// Int returns a numeric field (0 when absent).
func (e Event) Int(key string) int {
	f, _ := e[key].(float64)
	return int(f)
}

// Time returns the "time" field.
func (e Event) Time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.Str("time"))
	return t
}

// Events returns the JSON log lines whose msg is msg, from every run
// (runOnly: only the current run).
func (p *Proc) Events(msg string, runOnly bool) []Event {
	text := p.Log()
	if runOnly {
		text = p.RunLog()
	}
	var out []Event
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	needle := []byte(`"msg":"` + msg + `"`)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, needle) {
			continue
		}
		var e Event
		if json.Unmarshal(line, &e) == nil && e.Str("msg") == msg {
			out = append(out, e)
		}
	}
	return out
}

// WaitEvent waits until the current run has logged msg; it returns the
// first such event or an error after timeout (or when the process exits).
func (p *Proc) WaitEvent(msg string, timeout time.Duration) (Event, error) {
	deadline := time.Now().Add(timeout)
	for {
		if ev := p.Events(msg, true); len(ev) > 0 {
			return ev[0], nil
		}
		if !p.Running() {
			return nil, fmt.Errorf("cluster: %s exited before logging %s", p.Name, msg)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster: %s did not log %s within %s", p.Name, msg, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// pidsUnder returns the processes whose working directory is dir or
// below it: a process-backend DEA's app instances and stagings, which
// outlive the DEA process.
func pidsUnder(dir string) []int {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	abs = filepath.Clean(abs) + string(filepath.Separator)
	var out []int
	for _, pid := range allPIDs() {
		cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
		if err == nil && strings.HasPrefix(filepath.Clean(cwd)+string(filepath.Separator), abs) {
			out = append(out, pid)
		}
	}
	return out
}

// descendants returns every process below pid in the parent tree.
func descendants(root int) []int {
	children := map[int][]int{}
	for _, pid := range allPIDs() {
		if pp := ppid(pid); pp > 0 {
			children[pp] = append(children[pp], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 && len(out) < 100000 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func allPIDs() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// ppid reads the parent pid from /proc/pid/stat (0 if unknown).
func ppid(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parens.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// killGroups SIGKILLs each pid's process group and the pid itself.
func killGroups(pids []int) {
	for _, pid := range pids {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// ListenerPID returns the process listening on TCP port (IPv4 or IPv6),
// found through /proc/net/tcp* and the processes' socket fds.
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A = LISTEN
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			p, err := strconv.ParseInt(fs[1][i+1:], 16, 32)
			if err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("cluster: nothing listens on port %d", port)
	}
	for _, pid := range allPIDs() {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + "/" + fd.Name()); err == nil && inodes[l] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("cluster: no process owns the listener on port %d", port)
}

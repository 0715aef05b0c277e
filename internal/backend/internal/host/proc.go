package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ClockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const ClockTicks = 100

// Stat is the part of /proc/<pid>/stat the backends use.
type Stat struct {
	Pid, PPid, Pgrp int
	// Comm is the command name (between the parentheses).
	Comm  string
	State byte
	// CPU times in clock ticks.
	Utime, Stime, Cutime, Cstime uint64
	// Start is the process start time in clock ticks since boot; with the
	// pid it identifies a process across pid reuse.
	Start uint64
	// RSS in bytes.
	RSS uint64
}

// Zombie reports whether the process has exited and waits to be reaped
// (or is being).
func (p Stat) Zombie() bool { return p.State == 'Z' || p.State == 'X' }

// CPU is the CPU time of the process and its reaped children.
func (p Stat) CPU() time.Duration {
	t := p.Utime + p.Stime + p.Cutime + p.Cstime
	return time.Duration(t) * time.Second / ClockTicks
}

// ParseStat parses the contents of /proc/<pid>/stat.
func ParseStat(data []byte) (Stat, error) {
	var p Stat
	open := bytes.IndexByte(data, '(')
	closing := bytes.LastIndexByte(data, ')')
	if open < 1 || closing < open || closing+2 > len(data) {
		return p, errors.New("malformed stat line")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	if err != nil {
		return p, fmt.Errorf("stat pid: %w", err)
	}
	f := strings.Fields(string(data[closing+1:]))
	if len(f) < 22 {
		return p, errors.New("short stat line")
	}
	p.Pid = pid
	p.Comm = string(data[open+1 : closing])
	p.State = f[0][0]
	ints := []*int{&p.PPid, &p.Pgrp}
	for i, dst := range ints {
		v, err := strconv.Atoi(f[1+i])
		if err != nil {
			return p, fmt.Errorf("stat field %d: %w", 4+i, err)
		}
		*dst = v
	}
	u64 := []struct {
		idx int
		dst *uint64
	}{{11, &p.Utime}, {12, &p.Stime}, {13, &p.Cutime}, {14, &p.Cstime}, {19, &p.Start}, {21, &p.RSS}}
	for _, x := range u64 {
		v, err := strconv.ParseInt(f[x.idx], 10, 64)
		if err != nil {
			return p, fmt.Errorf("stat field %d: %w", x.idx+3, err)
		}
		if v < 0 {
			v = 0
		}
		*x.dst = uint64(v)
	}
	p.RSS *= uint64(os.Getpagesize())
	return p, nil
}

// ReadStat reads one process's stat; ok is false when it does not exist.
func ReadStat(pid int) (Stat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	p, err := ParseStat(data)
	if err != nil {
		return Stat{}, false
	}
	return p, true
}

// MemTotal reads MemTotal from /proc/meminfo.
func MemTotal() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("open /proc/meminfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse MemTotal: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

// Wait waits for cmd and returns its exit status: the process's, 128+signal
// when a signal killed it, -1 when it could not be waited for. err is the
// failure of the wait itself; a non-zero exit and a background child
// holding the output open past cmd.WaitDelay are none.
func Wait(cmd *exec.Cmd) (status int, err error) {
	werr := cmd.Wait()
	st := cmd.ProcessState
	if st == nil {
		return -1, werr
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		status = 128 + int(ws.Signal())
	} else {
		status = st.ExitCode()
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) && !errors.Is(werr, exec.ErrWaitDelay) {
		return status, werr
	}
	return status, nil
}

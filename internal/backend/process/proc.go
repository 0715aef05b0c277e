package process

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat is the part of /proc/<pid>/stat the backend uses.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
	// CPU times in clock ticks.
	utime, stime, cutime, cstime uint64
	// start is the process start time in clock ticks since boot; with the
	// pid it identifies a process across pid reuse.
	start uint64
	// rss in bytes.
	rss uint64
}

func (p procStat) zombie() bool { return p.state == 'Z' || p.state == 'X' }

func (p procStat) cpu() time.Duration {
	t := p.utime + p.stime + p.cutime + p.cstime
	return time.Duration(t) * time.Second / clockTicks
}

// parseStat parses the contents of /proc/<pid>/stat.
func parseStat(data []byte) (procStat, error) {
	var p procStat
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
	p.pid = pid
	p.state = f[0][0]
	ints := []*int{&p.ppid, &p.pgrp}
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
	}{{11, &p.utime}, {12, &p.stime}, {13, &p.cutime}, {14, &p.cstime}, {19, &p.start}, {21, &p.rss}}
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
	p.rss *= uint64(os.Getpagesize())
	return p, nil
}

// readStat reads one process's stat; ok is false when it does not exist.
func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	p, err := parseStat(data)
	if err != nil {
		return procStat{}, false
	}
	return p, true
}

// procTable is one snapshot of every process on the host.
type procTable struct {
	procs    map[int]procStat
	children map[int][]int
	at       time.Time
}

// scanProcs reads /proc once.
func scanProcs() (*procTable, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("open /proc: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	t := &procTable{procs: make(map[int]procStat, len(names)), children: map[int][]int{}, at: time.Now()}
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		p, ok := readStat(pid)
		if !ok {
			continue
		}
		t.procs[pid] = p
		t.children[p.ppid] = append(t.children[p.ppid], pid)
	}
	return t, nil
}

// procGroup is a process group the backend started, identified by its
// leader's pid (== pgid) and start time.
type procGroup struct {
	Pgid  int    `json:"pgid"`
	Start uint64 `json:"start_ticks"`
	// added is when the group was recorded; a group is only pruned as empty
	// by a /proc scan taken after it was added. Zero for groups loaded from
	// disk.
	added time.Time
}

// valid reports whether pgid still names this group: if a process with the
// leader's pid exists it must be the same process (same start time).
func (g procGroup) valid(t *procTable) bool {
	leader, ok := t.procs[g.Pgid]
	if !ok {
		return true
	}
	return leader.start == g.Start
}

// tree returns the live (non-zombie) processes of the given groups: every
// member of a group, every process of members that is still the same
// process (so a child whose parent died and was re-parented to init is
// kept), and every descendant of those (which catches children that moved
// to another group or session).
func (t *procTable) tree(groups []procGroup, members map[int]uint64) []procStat {
	in := map[int]bool{}
	var queue []int
	add := func(pid int) {
		if !in[pid] {
			in[pid] = true
			queue = append(queue, pid)
		}
	}
	for _, g := range groups {
		if !g.valid(t) {
			continue
		}
		for pid, p := range t.procs {
			if p.pgrp == g.Pgid {
				add(pid)
			}
		}
	}
	for pid, start := range members {
		if p, ok := t.procs[pid]; ok && p.start == start {
			add(pid)
		}
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range t.children[pid] {
			add(c)
		}
	}
	out := make([]procStat, 0, len(in))
	for pid := range in {
		if p := t.procs[pid]; !p.zombie() {
			out = append(out, p)
		}
	}
	return out
}

// groupEmpty reports whether no process (not even a zombie) is left in g.
func (t *procTable) groupEmpty(g procGroup) bool {
	if !g.valid(t) {
		return true
	}
	for _, p := range t.procs {
		if p.pgrp == g.Pgid {
			return false
		}
	}
	return true
}

// hostMemTotal reads MemTotal from /proc/meminfo.
func hostMemTotal() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("open /proc/meminfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "MemTotal:") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			break
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse MemTotal: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

// readPSS reads a process's proportional set size from
// /proc/<pid>/smaps_rollup; ok is false when it cannot.
func readPSS(pid int) (uint64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, false
	}
	return parsePSS(data)
}

// parsePSS finds the "Pss:" line (in kB) of smaps_rollup.
func parsePSS(data []byte) (uint64, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if !bytes.HasPrefix(line, []byte("Pss:")) {
			continue
		}
		f := strings.Fields(string(line[4:]))
		if len(f) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

package process

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// procTable is one snapshot of every process on the host.
type procTable struct {
	procs    map[int]host.Stat
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
	t := &procTable{procs: make(map[int]host.Stat, len(names)), children: map[int][]int{}, at: time.Now()}
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		p, ok := host.ReadStat(pid)
		if !ok {
			continue
		}
		t.procs[pid] = p
		t.children[p.PPid] = append(t.children[p.PPid], pid)
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
	return leader.Start == g.Start
}

// tree returns the live (non-zombie) processes of the given groups: every
// member of a group, every process of members that is still the same
// process (so a child whose parent died and was re-parented to init is
// kept), and every descendant of those (which catches children that moved
// to another group or session).
func (t *procTable) tree(groups []procGroup, members map[int]uint64) []host.Stat {
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
			if p.Pgrp == g.Pgid {
				add(pid)
			}
		}
	}
	for pid, start := range members {
		if p, ok := t.procs[pid]; ok && p.Start == start {
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
	out := make([]host.Stat, 0, len(in))
	for pid := range in {
		if p := t.procs[pid]; !p.Zombie() {
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
		if p.Pgrp == g.Pgid {
			return false
		}
	}
	return true
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

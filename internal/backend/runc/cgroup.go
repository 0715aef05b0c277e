//go:build linux

package runc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cgroupPaths are the host directories of one container's cgroups, found
// from its init's /proc/<pid>/cgroup and the host's cgroup mounts.
type cgroupPaths struct {
	// V2 is true on a pure cgroup v2 host (every path is the same).
	V2 bool `json:"v2"`
	// Memory holds memory.* (v1: the memory hierarchy).
	Memory string `json:"memory"`
	// CPU holds the CPU usage (v1: the cpuacct hierarchy).
	CPU string `json:"cpu"`
	// Procs holds the cgroup.procs listing every process (v1: pids).
	Procs string `json:"procs"`
	// Unified is the container's cgroup v2 directory (the unified
	// hierarchy of a hybrid host), where the bind filter is attached; ""
	// when there is none.
	Unified string `json:"unified"`
	// All is the container's directory in every hierarchy (runc makes
	// one in each), so that empty parents can be removed everywhere.
	All []string `json:"all"`
}

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	point string
	root  string
	v2    bool
	ctrls []string
}

// cgroupMounts parses /proc/self/mountinfo for cgroup and cgroup2 mounts.
func cgroupMounts() ([]cgroupMount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var out []cgroupMount
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		switch g[0] {
		case "cgroup2":
			out = append(out, cgroupMount{point: unescapeMount(f[4]), root: unescapeMount(f[3]), v2: true})
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(g[2], ",") {
				switch o {
				case "rw", "ro":
				default:
					ctrls = append(ctrls, o)
				}
			}
			out = append(out, cgroupMount{point: unescapeMount(f[4]), root: unescapeMount(f[3]), ctrls: ctrls})
		}
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// resolveCgroups finds the cgroup directories of process pid. inner is the
// container's own part of the cgroup path ("<parent>/<handle>"); a unified
// directory that does not end with it is not the container's own and is
// left out.
func resolveCgroups(pid int, inner string) (cgroupPaths, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return cgroupPaths{}, fmt.Errorf("read cgroup of %d: %w", pid, err)
	}
	return parseCgroups(data, inner)
}

// parseCgroups resolves the contents of a /proc/<pid>/cgroup file as
// resolveCgroups does.
func parseCgroups(data []byte, inner string) (cgroupPaths, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return cgroupPaths{}, err
	}
	join := func(m cgroupMount, p string) string {
		rel := p
		if m.root != "/" {
			rel = strings.TrimPrefix(p, m.root)
		}
		return filepath.Join(m.point, rel)
	}
	v1 := map[string]string{}
	var unified string
	var all []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			for _, m := range mounts {
				if m.v2 {
					unified = join(m, parts[2])
					all = append(all, unified)
					break
				}
			}
			continue
		}
		found := false
		for _, ctrl := range strings.Split(parts[1], ",") {
			for _, m := range mounts {
				for _, c := range m.ctrls {
					if c == ctrl {
						v1[ctrl] = join(m, parts[2])
						if !found {
							found = true
							all = append(all, v1[ctrl])
						}
					}
				}
			}
		}
	}
	var cg cgroupPaths
	if len(v1) == 0 {
		if unified == "" {
			return cg, errors.New("no cgroup found")
		}
		cg = cgroupPaths{V2: true, Memory: unified, CPU: unified, Procs: unified}
	} else {
		cg = cgroupPaths{Memory: v1["memory"], CPU: v1["cpuacct"], Procs: v1["pids"]}
		if cg.Procs == "" {
			cg.Procs = cg.Memory
		}
		if cg.Memory == "" || cg.CPU == "" || cg.Procs == "" {
			return cg, fmt.Errorf("no memory, cpuacct or pids cgroup (has %v)", v1)
		}
	}
	if unified != "" && strings.HasSuffix(unified, "/"+strings.TrimPrefix(inner, "/")) {
		cg.Unified = unified
	}
	for _, d := range all {
		// Only the container's own directories, never a shared one.
		if strings.HasSuffix(d, "/"+strings.TrimPrefix(inner, "/")) {
			cg.All = append(cg.All, d)
		}
	}
	return cg, nil
}

func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

// readKeyed returns the value of key in a file of "key value" lines.
func readKeyed(path, key string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// memoryUsage is the working set: usage minus inactive file cache.
func (cg cgroupPaths) memoryUsage() (uint64, error) {
	var usage, inactive uint64
	var err error
	if cg.V2 {
		usage, err = readUint(filepath.Join(cg.Memory, "memory.current"))
		if err == nil {
			inactive, _ = readKeyed(filepath.Join(cg.Memory, "memory.stat"), "inactive_file")
		}
	} else {
		usage, err = readUint(filepath.Join(cg.Memory, "memory.usage_in_bytes"))
		if err == nil {
			inactive, _ = readKeyed(filepath.Join(cg.Memory, "memory.stat"), "total_inactive_file")
		}
	}
	if err != nil {
		return 0, err
	}
	if inactive > usage {
		return 0, nil
	}
	return usage - inactive, nil
}

// cpuUsage is the CPU time every process of the cgroup consumed.
func (cg cgroupPaths) cpuUsage() (time.Duration, error) {
	if cg.V2 {
		us, err := readKeyed(filepath.Join(cg.CPU, "cpu.stat"), "usage_usec")
		return time.Duration(us) * time.Microsecond, err
	}
	ns, err := readUint(filepath.Join(cg.CPU, "cpuacct.usage"))
	return time.Duration(ns), err
}

// oomKills is how many processes the kernel's OOM killer killed in it.
func (cg cgroupPaths) oomKills() (uint64, error) {
	if cg.V2 {
		return readKeyed(filepath.Join(cg.Memory, "memory.events"), "oom_kill")
	}
	return readKeyed(filepath.Join(cg.Memory, "memory.oom_control"), "oom_kill")
}

// pids lists the processes in the cgroup (host pids). A cgroup that no
// longer exists has none.
func (cg cgroupPaths) pids() ([]int, error) {
	data, err := os.ReadFile(filepath.Join(cg.Procs, "cgroup.procs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// dirs is every directory to try to remove once the container is gone.
func (cg cgroupPaths) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range append([]string{cg.Memory, cg.CPU, cg.Procs, cg.Unified}, cg.All...) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

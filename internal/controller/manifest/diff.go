package manifest

import (
	"fmt"
	"slices"
	"sort"
)

// CurrentProcess is a process's current settings, for Diff.
type CurrentProcess struct {
	Instances           int
	MemoryMB            int64
	DiskMB              int64
	Command             string
	HealthCheckType     string
	HealthCheckEndpoint string
	HealthCheckTimeout  int
	InvocationTimeout   int
}

// CurrentApp is an existing app's current settings, for Diff.
type CurrentApp struct {
	Web        CurrentProcess
	Buildpacks []string
	Stack      string
	Env        map[string]string
	// Routes are the app's route URLs (host.domain/path).
	Routes    []string
	Processes map[string]CurrentProcess
}

// DiffOp is one JSON-patch-like change, as the cf CLI displays it.
type DiffOp struct {
	Op    string `json:"op"` // add, replace, remove
	Path  string `json:"path"`
	Was   any    `json:"was,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Diff compares each application of m with its current state (nil when
// the app does not exist yet). Only fields the manifest sets are compared,
// and paths use the keys as the manifest wrote them, so the CLI can show
// the changes in place.
func Diff(m *Manifest, current func(name string) *CurrentApp) []DiffOp {
	ops := []DiffOp{}
	for i, a := range m.Applications {
		base := fmt.Sprintf("/applications/%d", i)
		cur := current(a.Name)
		if cur == nil {
			ops = append(ops, DiffOp{Op: "add", Path: base, Value: a.Raw})
			continue
		}
		ops = append(ops, diffProcess(base, &a.Process, cur.Web)...)
		if key, ok := a.Keys[FieldBuildpacks]; ok && !slices.Equal(a.Buildpacks, cur.Buildpacks) {
			want := append([]string{}, a.Buildpacks...)
			was := append([]string{}, cur.Buildpacks...)
			if key == FieldBuildpack {
				var w, v any
				if len(was) > 0 {
					w = was[0]
				}
				if len(want) > 0 {
					v = want[0]
				}
				ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + key, Was: w, Value: v})
			} else {
				ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + key, Was: was, Value: want})
			}
		}
		if key, ok := a.Keys[FieldStack]; ok && a.Stack != nil && *a.Stack != cur.Stack {
			ops = append(ops, replaceOrAdd(base+"/"+key, cur.Stack, *a.Stack))
		}
		if key, ok := a.Keys[FieldEnv]; ok {
			names := make([]string, 0, len(a.Env))
			for k := range a.Env {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				v := a.Env[k]
				old, had := cur.Env[k]
				switch {
				case !had:
					ops = append(ops, DiffOp{Op: "add", Path: base + "/" + key + "/" + k, Value: v})
				case old != v:
					ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + key + "/" + k, Was: old, Value: v})
				}
			}
		}
		if key, ok := a.Keys[FieldRoutes]; ok {
			want := append([]string{}, a.Routes...)
			was := append([]string{}, cur.Routes...)
			sort.Strings(want)
			sort.Strings(was)
			if !slices.Equal(want, was) {
				ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + key, Was: routeMaps(cur.Routes), Value: routeMaps(a.Routes)})
			}
		}
		if key, ok := a.Keys[FieldProcesses]; ok {
			for j, p := range a.Processes {
				pp := fmt.Sprintf("%s/%s/%d", base, key, j)
				cp, ok := cur.Processes[p.Type]
				if !ok {
					ops = append(ops, DiffOp{Op: "add", Path: pp, Value: p.Raw})
					continue
				}
				ops = append(ops, diffProcess(pp, p, cp)...)
			}
		}
	}
	return ops
}

func routeMaps(rs []string) []map[string]string {
	out := make([]map[string]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, map[string]string{"route": r})
	}
	return out
}

func replaceOrAdd(path string, was, value any) DiffOp {
	if was == "" || was == nil {
		return DiffOp{Op: "add", Path: path, Value: value}
	}
	return DiffOp{Op: "replace", Path: path, Was: was, Value: value}
}

func diffProcess(base string, p *Process, cur CurrentProcess) []DiffOp {
	var ops []DiffOp
	if p.Instances != nil && *p.Instances != cur.Instances {
		ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + p.Keys[FieldInstances], Was: cur.Instances, Value: *p.Instances})
	}
	if p.MemoryMB != nil && *p.MemoryMB != cur.MemoryMB {
		ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + p.Keys[FieldMemory], Was: FormatMB(cur.MemoryMB), Value: FormatMB(*p.MemoryMB)})
	}
	if p.DiskMB != nil && *p.DiskMB != cur.DiskMB {
		ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + p.Keys[FieldDisk], Was: FormatMB(cur.DiskMB), Value: FormatMB(*p.DiskMB)})
	}
	if p.Command != nil && *p.Command != cur.Command {
		ops = append(ops, replaceOrAdd(base+"/"+p.Keys[FieldCommand], cur.Command, *p.Command))
	}
	if p.HealthCheckType != nil {
		curType := cur.HealthCheckType
		if curType == "" {
			curType = "port"
		}
		if *p.HealthCheckType != curType {
			ops = append(ops, DiffOp{Op: "replace", Path: base + "/" + p.Keys[FieldHealthCheckType], Was: curType, Value: *p.HealthCheckType})
		}
	}
	if p.HealthCheckEndpoint != nil && *p.HealthCheckEndpoint != cur.HealthCheckEndpoint {
		ops = append(ops, replaceOrAdd(base+"/"+p.Keys[FieldHealthCheckHTTP], cur.HealthCheckEndpoint, *p.HealthCheckEndpoint))
	}
	if p.HealthCheckTimeout != nil && *p.HealthCheckTimeout != cur.HealthCheckTimeout {
		ops = append(ops, replaceOrAdd(base+"/"+p.Keys[FieldTimeout], zeroNil(cur.HealthCheckTimeout), *p.HealthCheckTimeout))
	}
	if p.HealthCheckInvocationTimeout != nil && *p.HealthCheckInvocationTimeout != cur.InvocationTimeout {
		ops = append(ops, replaceOrAdd(base+"/"+p.Keys[FieldInvocationTimeout], zeroNil(cur.InvocationTimeout), *p.HealthCheckInvocationTimeout))
	}
	return ops
}

func zeroNil(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

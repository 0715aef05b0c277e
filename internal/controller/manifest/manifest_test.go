package manifest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	m, err := Parse([]byte(`---
version: 1
applications:
- name: app3
  disk-quota: 512M
  health-check-type: none
  instances: 2
  path: /abs/path
  memory: 128M
  no-route: true
  buildpacks:
  - binary_buildpack
  command: ./run
  env:
    A: x
    N: 5
    B: true
- name: web2
  memory: 1G
  disk_quota: 2048
  buildpack: go_buildpack
  stack: host
  timeout: 30
  health-check-type: http
  health-check-http-endpoint: /health
  routes:
  - route: web2.apps.localhost
  - route: Other.apps.localhost/api
  processes:
  - type: worker
    instances: 0
    memory: 64M
    command: ./worker
  random-route: true
  something-unknown: [1, 2]
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(m.Applications) != 2 {
		t.Fatalf("got %d apps", len(m.Applications))
	}
	a := m.Applications[0]
	if a.Name != "app3" || *a.Instances != 2 || *a.MemoryMB != 128 || *a.DiskMB != 512 || *a.Command != "./run" {
		t.Fatalf("app3 parsed wrong: %+v", a)
	}
	if *a.HealthCheckType != "process" {
		t.Fatalf("none must map to process, got %q", *a.HealthCheckType)
	}
	if !a.NoRoute || a.RandomRoute || len(a.Buildpacks) != 1 || a.Buildpacks[0] != "binary_buildpack" {
		t.Fatalf("app3 flags wrong: %+v", a)
	}
	if a.Env["A"] != "x" || a.Env["N"] != "5" || a.Env["B"] != "true" {
		t.Fatalf("env wrong: %v", a.Env)
	}
	if a.Keys[FieldDisk] != "disk-quota" {
		t.Fatalf("disk key as written: %q", a.Keys[FieldDisk])
	}
	b := m.Applications[1]
	if *b.MemoryMB != 1024 || *b.DiskMB != 2048 || b.Buildpacks[0] != "go_buildpack" || *b.Stack != "host" {
		t.Fatalf("web2 parsed wrong: %+v", b)
	}
	if *b.HealthCheckTimeout != 30 || *b.HealthCheckEndpoint != "/health" || *b.HealthCheckType != "http" {
		t.Fatalf("web2 health check wrong: %+v", b.Process)
	}
	if len(b.Routes) != 2 || b.Routes[1] != "other.apps.localhost/api" {
		t.Fatalf("routes wrong: %v", b.Routes)
	}
	if len(b.Processes) != 1 || b.Processes[0].Type != "worker" || *b.Processes[0].Instances != 0 || *b.Processes[0].MemoryMB != 64 {
		t.Fatalf("processes wrong: %+v", b.Processes)
	}
	if b.Keys[FieldDisk] != "disk_quota" || b.Keys[FieldBuildpacks] != "buildpack" {
		t.Fatalf("keys as written: %v", b.Keys)
	}
}

func TestParseAliases(t *testing.T) {
	m, err := Parse([]byte(`
defaults: &defaults
  memory: 64M
  env: &env
    K: v
applications:
- name: a
  memory: *mem
`))
	if err == nil {
		t.Fatalf("unknown alias must fail, got %+v", m)
	}
	m, err = Parse([]byte(`
x: &env
  K: v
y: &mem 64M
applications:
- name: a
  memory: *mem
  env: *env
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if *m.Applications[0].MemoryMB != 64 || m.Applications[0].Env["K"] != "v" {
		t.Fatalf("aliases not followed: %+v", m.Applications[0])
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"not yaml", "applications: [", "not valid YAML"},
		{"empty", "", "manifest is empty"},
		{"scalar root", "hello", "must be a mapping"},
		{"no applications", "version: 1", "applications: is required"},
		{"applications not a list", "applications: {name: a}", "applications: must be a list"},
		{"empty applications", "applications: []", "at least one"},
		{"app not a mapping", "applications: [x]", "applications[0]: must be a mapping"},
		{"missing name", "applications: [{memory: 1G}]", "applications[0].name: is required"},
		{"name not a string", "applications: [{name: [a]}]", "applications[0].name: must be a string"},
		{"bad memory", "applications: [{name: a, memory: 12XB}]", `applications[0].memory: "12XB" is not a valid size`},
		{"memory too small", "applications: [{name: a, memory: 12K}]", `applications[0].memory: "12K" is not a valid size`},
		{"memory list", "applications: [{name: a, memory: [1]}]", `applications[0].memory: a list is not a valid size`},
		{"bad disk", "applications: [{name: a, disk_quota: lots}]", `applications[0].disk_quota: "lots" is not a valid size`},
		{"instances string", "applications: [{name: a, instances: two}]", `applications[0].instances: "two" is not an integer`},
		{"negative instances", "applications: [{name: a, instances: -1}]", "applications[0].instances: must be 0 or more"},
		{"bad health check", "applications: [{name: a, health-check-type: tcp}]", `applications[0].health-check-type: "tcp" is not a health check type`},
		{"endpoint without slash", "applications: [{name: a, health-check-http-endpoint: health}]", "must be a path starting with /"},
		{"zero timeout", "applications: [{name: a, timeout: 0}]", "applications[0].timeout: must be between 1 and 86400"},
		{"env list", "applications: [{name: a, env: [A]}]", "applications[0].env: must be a mapping"},
		{"env nested", "applications: [{name: a, env: {A: {b: c}}}]", "applications[0].env.A: must be a string, number or boolean"},
		{"env VCAP", "applications: [{name: a, env: {VCAP_X: y}}]", "cannot start with VCAP_"},
		{"routes not list", "applications: [{name: a, routes: a.b}]", "applications[0].routes: must be a list"},
		{"route missing", "applications: [{name: a, routes: [{path: x}]}]", "applications[0].routes[0].route: is required"},
		{"route with scheme", "applications: [{name: a, routes: [{route: 'http://a.b'}]}]", "must not include a scheme"},
		{"tcp route", "applications: [{name: a, routes: [{route: 'a.b:8080'}]}]", "TCP routes are not supported"},
		{"no-route and routes", "applications: [{name: a, no-route: true, routes: [{route: a.b}]}]", "no-route and routes cannot be used together"},
		{"no-route not bool", "applications: [{name: a, no-route: yes please}]", "applications[0].no-route: must be true or false"},
		{"duplicate app", "applications: [{name: a}, {name: a}]", `applications[1].name: "a" appears more than once`},
		{"buildpacks scalar", "applications: [{name: a, buildpacks: go}]", "applications[0].buildpacks: must be a list"},
		{"process without type", "applications: [{name: a, processes: [{instances: 1}]}]", "applications[0].processes[0].type: is required"},
		{"process bad memory", "applications: [{name: a, processes: [{type: w, memory: x}]}]", `applications[0].processes[0].memory: "x" is not a valid size`},
		{"duplicate process", "applications: [{name: a, processes: [{type: w}, {type: w}]}]", `"w" appears more than once`},
		{"docker", "applications: [{name: a, docker: {image: x}}]", "docker images are not supported"},
		{"duplicate key", "applications: [{name: a, memory: 1G, memory: 2G}]", "applications[0].memory: is given more than once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error containing %q", tc.yaml, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseSizeMB(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256M", 256, true}, {"256m", 256, true}, {"1G", 1024, true}, {"512MB", 512, true},
		{"1024", 1024, true}, {"2048K", 2, true}, {"1T", 1024 * 1024, true}, {"2gb", 2048, true},
		{"0", 0, false}, {"1.5G", 0, false}, {"-1M", 0, false}, {"M", 0, false}, {"12XB", 0, false},
		{"1000000000000000G", 0, false}, {"1023K", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseSizeMB(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSizeMB(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDiff(t *testing.T) {
	m, err := Parse([]byte(`applications:
- name: existing
  instances: 3
  memory: 256M
  disk-quota: 1G
  env: {A: same, B: changed, C: new}
  routes:
  - route: existing.apps.localhost
  - route: extra.apps.localhost
  processes:
  - type: worker
    instances: 2
  - type: clock
    instances: 1
- name: fresh
  memory: 64M
`))
	if err != nil {
		t.Fatal(err)
	}
	cur := map[string]*CurrentApp{"existing": {
		Web:        CurrentProcess{Instances: 1, MemoryMB: 256, DiskMB: 1024},
		Env:        map[string]string{"A": "same", "B": "old"},
		Routes:     []string{"existing.apps.localhost"},
		Processes:  map[string]CurrentProcess{"worker": {Instances: 1, MemoryMB: 256, DiskMB: 1024}},
		Buildpacks: []string{"go"},
	}}
	ops := Diff(m, func(name string) *CurrentApp { return cur[name] })
	got := map[string]DiffOp{}
	for _, op := range ops {
		got[op.Path] = op
	}
	want := map[string]string{
		"/applications/0/instances":             "replace",
		"/applications/0/env/B":                 "replace",
		"/applications/0/env/C":                 "add",
		"/applications/0/routes":                "replace",
		"/applications/0/processes/0/instances": "replace",
		"/applications/0/processes/1":           "add",
		"/applications/1":                       "add",
	}
	if len(got) != len(want) {
		t.Fatalf("got ops %+v, want paths %v", ops, want)
	}
	for path, op := range want {
		if got[path].Op != op {
			t.Errorf("%s: got %+v, want op %s", path, got[path], op)
		}
	}
	if got["/applications/0/instances"].Was != 1 || got["/applications/0/instances"].Value != 3 {
		t.Errorf("instances op: %+v", got["/applications/0/instances"])
	}
	// The whole diff must marshal (the CLI reads it as JSON).
	if _, err := json.Marshal(map[string]any{"diff": ops}); err != nil {
		t.Fatalf("marshal diff: %v", err)
	}
	// Nothing changes → an empty list, not null.
	same, _ := Parse([]byte("applications: [{name: existing, instances: 1}]"))
	if ops := Diff(same, func(name string) *CurrentApp { return cur[name] }); ops == nil || len(ops) != 0 {
		t.Fatalf("want empty diff, got %#v", ops)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("applications:\n- name: a\n  memory: 256M\n  routes:\n  - route: a.b/c\n"))
	f.Add([]byte("applications: [{name: a, processes: [{type: w, instances: 2}], env: {A: 1}}]"))
	f.Add([]byte("x: &a [*a]\napplications: *a"))
	f.Add([]byte("applications:\n- name: x\n  disk-quota: 1T\n  buildpack: null\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || err.Error() == "" {
				t.Fatalf("error %v is not a described ErrInvalid", err)
			}
			return
		}
		if len(m.Applications) == 0 {
			t.Fatal("valid manifest without applications")
		}
		for _, a := range m.Applications {
			if a.Name == "" {
				t.Fatal("valid app without a name")
			}
			if a.MemoryMB != nil && *a.MemoryMB < 1 || a.DiskMB != nil && *a.DiskMB < 1 {
				t.Fatal("valid app with a size under 1M")
			}
			if a.Instances != nil && *a.Instances < 0 {
				t.Fatal("valid app with negative instances")
			}
		}
		_ = Diff(m, func(string) *CurrentApp { return nil })
	})
}

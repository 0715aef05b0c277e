package controller

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// applyManifest posts a manifest, waits for the job, and returns it.
func (h *harness) applyManifest(yaml string) jobJSON {
	h.t.Helper()
	status, hdr, body := h.raw("POST", "/v3/spaces/"+h.defaultSpace()+"/actions/apply_manifest", "application/x-yaml", strings.NewReader(yaml), true)
	if status != 202 {
		h.t.Fatalf("apply_manifest: %d %s", status, body)
	}
	return h.waitJob(hdr.Get("Location"))
}

func (h *harness) appByName(name string) appJSON {
	h.t.Helper()
	var l list[appJSON]
	h.do("GET", "/v3/apps?names="+name+"&space_guids="+h.defaultSpace(), nil, 200, &l)
	if len(l.Resources) != 1 {
		h.t.Fatalf("app %s: %+v", name, l)
	}
	return l.Resources[0]
}

func (h *harness) routeURLs(app string) []string {
	h.t.Helper()
	var l list[routeJSON]
	h.do("GET", "/v3/apps/"+app+"/routes", nil, 200, &l)
	var out []string
	for _, r := range l.Resources {
		out = append(out, r.URL)
	}
	sort.Strings(out)
	return out
}

type procJSON struct {
	Type        string  `json:"type"`
	Instances   int     `json:"instances"`
	MemoryInMB  int64   `json:"memory_in_mb"`
	DiskInMB    int64   `json:"disk_in_mb"`
	Command     *string `json:"command"`
	HealthCheck struct {
		Type string `json:"type"`
		Data struct {
			Timeout  *int    `json:"timeout"`
			Endpoint *string `json:"endpoint"`
		} `json:"data"`
	} `json:"health_check"`
}

func TestApplyManifestCreatesAndUpdates(t *testing.T) {
	h := newHarness(t)
	// The cf CLI's no-manifest push.
	if j := h.applyManifest("applications:\n- name: app1\n  default-route: true\n"); j.State != "COMPLETE" {
		t.Fatalf("job: %+v", j)
	}
	a := h.appByName("app1")
	if a.State != "STOPPED" {
		t.Fatalf("new app state %s", a.State)
	}
	if urls := h.routeURLs(a.GUID); len(urls) != 1 || urls[0] != "app1.apps.localhost" {
		t.Fatalf("default route: %v", urls)
	}
	// Push with flags: no-route, sizes, command, buildpack, health check.
	j := h.applyManifest(`applications:
- name: app1
  disk-quota: 512M
  health-check-type: process
  instances: 2
  path: /abs/path
  memory: 128M
  no-route: true
  buildpacks:
  - binary_buildpack
  command: ./run
  env:
    GREETING: hi
`)
	if j.State != "COMPLETE" {
		t.Fatalf("update job: %+v", j)
	}
	var p procJSON
	h.do("GET", "/v3/apps/"+a.GUID+"/processes/web", nil, 200, &p)
	if p.Instances != 2 || p.MemoryInMB != 128 || p.DiskInMB != 512 || *p.Command != "./run" || p.HealthCheck.Type != "process" {
		t.Fatalf("web process: %+v", p)
	}
	a = h.appByName("app1")
	if len(a.Lifecycle.Data.Buildpacks) != 1 || a.Lifecycle.Data.Buildpacks[0] != "binary_buildpack" {
		t.Fatalf("buildpacks: %+v", a.Lifecycle)
	}
	if urls := h.routeURLs(a.GUID); len(urls) != 0 {
		t.Fatalf("no-route left routes: %v", urls)
	}
	var ev struct {
		Var map[string]string `json:"var"`
	}
	h.do("GET", "/v3/apps/"+a.GUID+"/environment_variables", nil, 200, &ev)
	if ev.Var["GREETING"] != "hi" {
		t.Fatalf("env: %v", ev.Var)
	}

	// Explicit routes (created as needed), processes, http health check.
	j = h.applyManifest(`applications:
- name: app1
  routes:
  - route: www.apps.localhost
  - route: apps.localhost/app1
  health-check-type: http
  health-check-http-endpoint: /health
  timeout: 20
  processes:
  - type: worker
    instances: 1
    memory: 64M
    command: ./work
`)
	if j.State != "COMPLETE" {
		t.Fatalf("routes job: %+v", j)
	}
	if urls := h.routeURLs(a.GUID); strings.Join(urls, ",") != "apps.localhost/app1,www.apps.localhost" {
		t.Fatalf("explicit routes: %v", urls)
	}
	h.do("GET", "/v3/apps/"+a.GUID+"/processes/web", nil, 200, &p)
	if p.HealthCheck.Type != "http" || *p.HealthCheck.Data.Endpoint != "/health" || *p.HealthCheck.Data.Timeout != 20 {
		t.Fatalf("http health check: %+v", p.HealthCheck)
	}
	var w procJSON
	h.do("GET", "/v3/apps/"+a.GUID+"/processes/worker", nil, 200, &w)
	if w.Instances != 1 || w.MemoryInMB != 64 || *w.Command != "./work" {
		t.Fatalf("worker: %+v", w)
	}

	// Random route for a new app; sidecars are reported as ignored.
	j = h.applyManifest("applications:\n- name: app2\n  random-route: true\n  sidecars: []\n")
	if j.State != "COMPLETE" || len(j.Warnings) != 1 || !strings.Contains(j.Warnings[0].Detail, "applications[0].sidecars is not supported yet") {
		t.Fatalf("random-route job: %+v", j)
	}
	app2 := h.appByName("app2")
	urls := h.routeURLs(app2.GUID)
	if len(urls) != 1 || !regexp.MustCompile(`^app2-[a-z]+-[a-z]+-\d\d\.apps\.localhost$`).MatchString(urls[0]) {
		t.Fatalf("random route: %v", urls)
	}

	// A route owned by another space fails the job with a clear error.
	var other ref
	h.do("POST", "/v3/spaces", map[string]any{"name": "elsewhere", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": orgOf(t, h)}}}}, 201, &other)
	h.do("POST", "/v3/routes", map[string]any{"host": "taken", "relationships": map[string]any{
		"domain": map[string]any{"data": map[string]string{"guid": h.sharedDomain()}},
		"space":  map[string]any{"data": map[string]string{"guid": other.GUID}},
	}}, 201, nil)
	j = h.applyManifest("applications:\n- name: app3\n  routes:\n  - route: taken.apps.localhost\n")
	if j.State != "FAILED" || len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Detail, "exists in a different space") {
		t.Fatalf("foreign route job: %+v", j)
	}
}

func TestApplyManifestValidation(t *testing.T) {
	h := newHarness(t)
	space := h.defaultSpace()
	for yaml, want := range map[string]string{
		"applications:\n- name: a\n  memory: 12XB\n":                          `applications[0].memory: "12XB" is not a valid size`,
		"applications:\n- memory: 1G\n":                                       "applications[0].name: is required",
		"applications:\n- name: a\n  instances: lots\n":                       `applications[0].instances: "lots" is not an integer`,
		"applications:\n- name: a\n  routes:\n  - route: a.unknown.example\n": `applications[0].routes[0].route: "a.unknown.example" does not match a known domain`,
		"applications: [":                        "not valid YAML",
		"applications:\n- name: a\n  env: [x]\n": "applications[0].env: must be a mapping",
	} {
		status, _, body := h.raw("POST", "/v3/spaces/"+space+"/actions/apply_manifest", "application/x-yaml", strings.NewReader(yaml), true)
		var e cfError
		json.Unmarshal(body, &e)
		if status != 422 || len(e.Errors) != 1 || e.Errors[0].Code != 10008 || !strings.Contains(e.Errors[0].Detail, want) {
			t.Errorf("%q: %d %s; want 422 containing %q", yaml, status, body, want)
		}
	}
	// Nothing was created.
	var l list[appJSON]
	h.do("GET", "/v3/apps", nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("apps after invalid manifests: %+v", l.Resources)
	}
	h.fail("POST", "/v3/spaces/nope/actions/apply_manifest", "applications: [{name: a}]", 404)
}

func TestManifestDiff(t *testing.T) {
	h := newHarness(t)
	h.applyManifest("applications:\n- name: differ\n  instances: 1\n  memory: 256M\n  env: {A: one}\n")
	diff := func(yaml string) []map[string]any {
		t.Helper()
		status, _, body := h.raw("POST", "/v3/spaces/"+h.defaultSpace()+"/manifest_diff", "application/x-yaml", strings.NewReader(yaml), true)
		if status != 201 {
			t.Fatalf("manifest_diff: %d %s", status, body)
		}
		var d struct {
			Diff []map[string]any `json:"diff"`
		}
		if err := json.Unmarshal(body, &d); err != nil || d.Diff == nil {
			t.Fatalf("diff body %s: %v", body, err)
		}
		return d.Diff
	}
	if d := diff("applications:\n- name: differ\n  instances: 1\n  memory: 256M\n  env: {A: one}\n"); len(d) != 0 {
		t.Fatalf("unchanged manifest diff: %v", d)
	}
	d := diff("applications:\n- name: differ\n  instances: 3\n  memory: 1G\n  env: {A: two, B: new}\n- name: fresh\n")
	got := map[string]string{}
	for _, op := range d {
		got[op["path"].(string)] = op["op"].(string)
	}
	want := map[string]string{
		"/applications/0/instances": "replace", "/applications/0/memory": "replace",
		"/applications/0/env/A": "replace", "/applications/0/env/B": "add", "/applications/1": "add",
	}
	if len(got) != len(want) {
		t.Fatalf("diff %v, want %v", d, want)
	}
	for p, op := range want {
		if got[p] != op {
			t.Fatalf("diff %v, want %v", d, want)
		}
	}
	for _, op := range d {
		if op["path"] == "/applications/0/memory" && (op["was"] != "256M" || op["value"] != "1G") {
			t.Fatalf("memory op: %v", op)
		}
	}
	// The diff changes nothing.
	var p procJSON
	h.do("GET", "/v3/apps/"+h.appByName("differ").GUID+"/processes/web", nil, 200, &p)
	if p.Instances != 1 {
		t.Fatalf("diff changed the app: %+v", p)
	}
	// Invalid manifests are 422 here too.
	status, _, _ := h.raw("POST", "/v3/spaces/"+h.defaultSpace()+"/manifest_diff", "application/x-yaml", strings.NewReader("applications:\n- name: a\n  memory: x\n"), true)
	if status != 422 {
		t.Fatalf("invalid diff: %d", status)
	}
}

package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// appDir makes a small app; index.html is "already in the blobstore".
func appDir(t *testing.T, f *fakeCC) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"index.html":  "<h1>hello</h1>",
		"server.sh":   "#!/bin/sh\nexec busybox httpd -f -p $PORT",
		"lib/util.sh": "echo util",
		"debug.log":   "secret debug output",
		".cfignore":   "*.log\n",
		".git/config": "[core]",
	})
	f.blobs[sha1Hex("<h1>hello</h1>")] = true
	return dir
}

func TestPushEndToEnd(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	t.Setenv("INGOT_ROUTER_URL", "http://127.0.0.1:8081")
	dir := appDir(t, f)
	r := runCLI(t, "", "push", "web", "-p", dir, "-i", "2", "-m", "128M", "-b", "binary_buildpack", "-c", "./server.sh", "--no-manifest")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	mustContain(t, "stdout", r.out,
		"Pushing app web to org main / space dev as admin...",
		"Packaging files to upload...",
		"Uploading files: 1 of 3 files matched, 1 KiB to upload",
		"Waiting for API to complete processing files...",
		"Staging app and tracing logs...",
		"   -----> Downloading go buildpack",
		"   -----> Compiling app\n          done",
		"Waiting for app web to start...",
		"Instances starting...",
		"2 of 2 instances running",
		"requested state:   started",
		"routes:            http://web.apps.test:8081",
		"last uploaded:     2026-11-24T19:00:00Z",
		"stack:             host",
		"buildpacks:        go_buildpack (go) 1.2.3",
		"instances:      2/2",
		"memory usage:   128M",
		"start command:  ./server.sh",
	)
	if strings.Contains(r.out, "Creating build for app") {
		t.Error("non-STG log line printed while staging")
	}
	for _, line := range []string{"#0", "#1"} {
		found := false
		for _, l := range strings.Split(r.out, "\n") {
			if strings.HasPrefix(l, line) && strings.Contains(l, "running") && strings.Contains(l, "0.3%") &&
				strings.Contains(l, "12.1M of 128M") && strings.Contains(l, "8M of 1G") {
				found = true
			}
		}
		if !found {
			t.Errorf("no instance row %s in:\n%s", line, r.out)
		}
	}

	// The manifest was generated from the flags, with default-route.
	if len(f.manifests) != 1 {
		t.Fatalf("%d manifests applied", len(f.manifests))
	}
	var m struct {
		Applications []map[string]any `yaml:"applications"`
	}
	if err := yaml.Unmarshal(f.manifests[0], &m); err != nil {
		t.Fatal(err)
	}
	app := m.Applications[0]
	if app["name"] != "web" || app["instances"] != 2 || app["memory"] != "128M" || app["default-route"] != true ||
		app["command"] != "./server.sh" || app["path"] != dir {
		t.Errorf("manifest sent: %s", f.manifests[0])
	}
	if bps, _ := app["buildpacks"].([]any); len(bps) != 1 || bps[0] != "binary_buildpack" {
		t.Errorf("buildpacks sent: %v", app["buildpacks"])
	}

	// Only unmatched files were uploaded; matched ones are listed.
	if len(f.uploads) != 1 {
		t.Fatalf("%d uploads", len(f.uploads))
	}
	up := f.uploads[0]
	var matched []map[string]any
	if err := json.Unmarshal([]byte(up.resources), &matched); err != nil || len(matched) != 1 || matched[0]["path"] != "index.html" || matched[0]["mode"] != "644" {
		t.Errorf("matched resources part = %s (%v)", up.resources, err)
	}
	for _, name := range []string{"server.sh", "lib/util.sh", "lib/"} {
		if _, ok := up.files[name]; !ok {
			t.Errorf("%s not uploaded: %v", name, up.files)
		}
	}
	for _, name := range []string{"index.html", "debug.log", ".git/config", ".cfignore"} {
		if _, ok := up.files[name]; ok {
			t.Errorf("%s uploaded", name)
		}
	}
	if up.modes["server.sh"] != 0o755 {
		t.Errorf("server.sh mode %o", up.modes["server.sh"])
	}

	g, pkg, build := f.guids("web")
	inOrder(t, f.callLog(),
		"POST /v3/spaces/space-guid/actions/apply_manifest",
		"GET /v3/apps",
		"POST /v3/resource_matches",
		"POST /v3/packages",
		"POST /v3/packages/"+pkg+"/upload",
		"GET /v3/packages/"+pkg,
		"POST /v3/builds",
		"GET /v3/builds/"+build,
		"PATCH /v3/apps/"+g+"/relationships/current_droplet",
		"POST /v3/apps/"+g+"/actions/restart",
		"GET /v3/processes/"+g+"-web/stats",
	)
}

func TestPushWithManifestFromCwd(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	dir := appDir(t, f)
	writeTree(t, dir, map[string]string{"manifest.yml": "applications:\n- name: site\n  instances: 1\n  routes:\n  - route: www.apps.test/docs\n"})
	t.Chdir(dir)
	r := runCLI(t, "", "push")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	mustContain(t, "stdout", r.out, "Applying manifest file "+filepath.Join(dir, "manifest.yml"), "routes:            www.apps.test/docs",
		"1 of 1 instances running")
	if strings.Contains(string(f.manifests[0]), "default-route") {
		t.Errorf("default-route added next to routes: %s", f.manifests[0])
	}
	if _, ok := f.uploads[0].files["manifest.yml"]; ok {
		t.Error("manifest.yml uploaded")
	}
	inOrder(t, f.callLog(), "POST /v3/spaces/space-guid/manifest_diff", "POST /v3/spaces/space-guid/actions/apply_manifest")
}

func TestPushStagingFailure(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	f.stagingError = "NoAppDetectedError - no buildpack detected the app"
	r := runCLI(t, "", "push", "web", "-p", appDir(t, f))
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	mustContain(t, "stdout", r.out, "   ERROR: NoAppDetectedError", "Error staging application: NoAppDetectedError - no buildpack detected the app",
		"TIP: use 'ingot logs web --recent' for more information")
	mustContain(t, "stderr", r.err, "FAILED\n", "no buildpack detected")
	for _, c := range f.callLog() {
		if strings.Contains(c, "actions/restart") || strings.Contains(c, "current_droplet") {
			t.Errorf("%s after failed staging", c)
		}
	}
}

func TestPushCrashedInstances(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	f.crash = true
	r := runCLI(t, "", "push", "web", "-p", appDir(t, f), "-i", "2")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	mustContain(t, "stdout", r.out, "0 of 2 instances running, 2 crashed", "Error starting instances: 'exited with status 1'",
		"Start unsuccessful", "instance #0 crashed: exited with status 1", "TIP: use 'ingot logs web --recent'", "name:              web")
	mustContain(t, "stderr", r.err, "FAILED\nstart unsuccessful: app web: 2 of 2 instances crashed")
}

func TestPushInvalidManifest(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	dir := appDir(t, f)
	mf := filepath.Join(dir, "manifest.yml")
	writeTree(t, dir, map[string]string{"manifest.yml": "applications:\n- name: web\n  instances: 1\n   memory: 1G\n"})
	r := runCLI(t, "", "push", "-f", mf)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	mustContain(t, "stderr", r.err, "FAILED", "invalid manifest "+mf+": line 4")
	if len(f.manifests) != 0 {
		t.Error("an invalid manifest was sent")
	}
}

func TestPushServerRejectsManifest(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	f.manifestError = "For application 'web': Memory must be greater than 0MB"
	r := runCLI(t, "", "push", "web", "-p", appDir(t, f))
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	mustContain(t, "stderr", r.err, "FAILED\nFor application 'web': Memory must be greater than 0MB\n")
}

func TestPushNoStart(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	dir := appDir(t, f)
	r := runCLI(t, "", "push", "web", "-p", dir, "--no-start", "--no-route")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	mustContain(t, "stdout", r.out, "requested state:   stopped", "#0   down    -  ")
	for _, c := range f.callLog() {
		if strings.Contains(c, "/v3/builds") || strings.Contains(c, "actions/") && !strings.Contains(c, "apply_manifest") {
			t.Errorf("%s with --no-start", c)
		}
	}
	if !strings.Contains(string(f.manifests[0]), "no-route: true") {
		t.Errorf("manifest: %s", f.manifests[0])
	}
	// start stages the uploaded package, then starts.
	r = runCLI(t, "", "start", "web")
	if r.code != 0 {
		t.Fatalf("start: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	mustContain(t, "stdout", r.out, "Staging app and tracing logs...", "1 of 1 instances running", "requested state:   started")
	g, _, _ := f.guids("web")
	inOrder(t, f.callLog(), "GET /v3/apps/"+g+"/droplets/current", "GET /v3/packages", "POST /v3/builds", "POST /v3/apps/"+g+"/actions/start")
}

func TestPushUsageErrors(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"push"},
		{"push", "a", "b"},
		{"push", "a", "--no-route", "--random-route"},
		{"push", "a", "-m", "lots"},
		{"push", "a", "--bogus"},
	} {
		r := runCLI(t, "", args...)
		if r.code != 1 || !strings.Contains(r.err, "Incorrect Usage") || !strings.Contains(r.err, "Usage:") {
			t.Errorf("%v: exit %d stderr %q", args, r.code, r.err)
		}
	}
}

func TestPushStartupTimeout(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	f.stuck = true
	o := testOptions()
	o.startupTimeout = 50 * time.Millisecond
	r := runCLIWith(t, o, "", "push", "web", "-p", appDir(t, f))
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	mustContain(t, "stdout", r.out, "0 of 1 instances running, 1 starting", "Start unsuccessful")
	mustContain(t, "stderr", r.err, "no instance is running after 50ms")
}

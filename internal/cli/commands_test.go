package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/pkg/client"
)

// pushed pushes a started app named name with instances.
func pushed(t *testing.T, f *fakeCC, name string, instances string) {
	t.Helper()
	r := runCLI(t, "", "push", name, "-p", appDir(t, f), "-i", instances)
	if r.code != 0 {
		t.Fatalf("push %s: exit %d\n%s\n%s", name, r.code, r.out, r.err)
	}
}

func TestAppsAndApp(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "alpha", "2")
	pushed(t, f, "beta", "1")
	if r := runCLI(t, "", "stop", "beta"); r.code != 0 || !strings.Contains(r.out, "Stopping app beta") || !strings.Contains(r.out, "OK") {
		t.Fatalf("stop: %+v", r)
	}
	if r := runCLI(t, "", "stop", "beta"); !strings.Contains(r.out, "App 'beta' is already stopped.") {
		t.Fatalf("stop again: %+v", r)
	}

	r := runCLI(t, "", "apps")
	if r.code != 0 {
		t.Fatalf("apps: %+v", r)
	}
	mustContain(t, "apps", r.out, "Getting apps in org main / space dev as admin...",
		"name    requested state   processes   routes",
		"alpha   started           web:2/2     alpha.apps.test",
		"beta    stopped           web:0/1     beta.apps.test")

	t.Setenv("INGOT_ROUTER_URL", "http://127.0.0.1:9999")
	r = runCLI(t, "", "apps", "--json")
	var list []appJSON
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatalf("apps --json: %v\n%s", err, r.out)
	}
	if len(list) != 2 || list[0].Name != "alpha" || list[0].State != "STARTED" || list[0].Instances != 2 ||
		list[0].RunningInstances != 2 || list[0].MemoryInMB != 256 || list[0].DiskInMB != 1024 ||
		list[0].Routes[0] != "alpha.apps.test" || list[0].URLs[0] != "http://alpha.apps.test:9999" || list[1].RunningInstances != 0 {
		t.Errorf("apps --json = %+v", list)
	}

	r = runCLI(t, "", "app", "alpha")
	mustContain(t, "app", r.out, "Showing health and status for app alpha", "name:              alpha",
		"routes:            http://alpha.apps.test:9999", "instances:      2/2")
	r = runCLI(t, "", "app", "alpha", "--json")
	var one appJSON
	if err := json.Unmarshal([]byte(r.out), &one); err != nil {
		t.Fatalf("app --json: %v\n%s", err, r.out)
	}
	if one.Name != "alpha" || len(one.InstanceDetails) != 2 || one.InstanceDetails[1].State != "RUNNING" ||
		one.InstanceDetails[0].MemoryQuotaBytes != 256<<20 || one.Stack != "host" || one.Buildpacks[0] != "go_buildpack" {
		t.Errorf("app --json = %+v", one)
	}
	// A running rolling deployment shows in the summary.
	if strings.Contains(r.out, "deployment:") {
		t.Errorf("a deployment shown while none runs:\n%s", r.out)
	}
	g, _, _ := f.guids("alpha")
	f.mu.Lock()
	f.deployments = map[string]map[string]any{g: {"guid": "dep-1", "strategy": "rolling", "created_at": "2026-11-24T10:00:00Z",
		"status": map[string]any{"value": "ACTIVE", "reason": "DEPLOYING"}, "droplet": map[string]string{"guid": "drop-2"}}}
	f.mu.Unlock()
	r = runCLI(t, "", "app", "alpha")
	mustContain(t, "app during a deployment", r.out, "deployment:        rolling, deploying since 2026-11-24T10:00:00Z (droplet drop-2)")
	r = runCLI(t, "", "app", "nope")
	if r.code != 1 || !strings.Contains(r.err, "FAILED\nApp 'nope' not found") {
		t.Errorf("app nope: %+v", r)
	}
}

func TestScale(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	r := runCLI(t, "", "scale", "web", "-i", "3")
	if r.code != 0 {
		t.Fatalf("scale -i: %+v", r)
	}
	mustContain(t, "scale", r.out, "Scaling app web", "instances:      3/3")
	if strings.Contains(r.out, "Restarting") {
		t.Error("scale -i restarted the app")
	}
	r = runCLI(t, "", "scale", "web", "-m", "1G", "-k", "2G")
	if r.code != 0 {
		t.Fatalf("scale -m: %+v", r)
	}
	mustContain(t, "scale", r.out, "Restarting app web", "3 of 3 instances running", "memory usage:   1G")
	g, _, _ := f.guids("web")
	inOrder(t, f.callLog(), "POST /v3/apps/"+g+"/processes/web/actions/scale", "POST /v3/apps/"+g+"/actions/restart")
	r = runCLI(t, "", "scale", "web")
	mustContain(t, "scale", r.out, "type   instances   memory   disk", "web    3           1G       2G")
	if r := runCLI(t, "", "scale", "web", "-i", "-1"); r.code != 1 || !strings.Contains(r.err, "Incorrect Usage") {
		t.Errorf("scale -i -1: %+v", r)
	}
}

func TestRestartAndRestage(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	r := runCLI(t, "", "restart", "web")
	if r.code != 0 {
		t.Fatalf("restart: %+v", r)
	}
	mustContain(t, "restart", r.out, "Restarting app web", "1 of 1 instances running")
	r = runCLI(t, "", "restage", "web")
	if r.code != 0 {
		t.Fatalf("restage: %+v", r)
	}
	mustContain(t, "restage", r.out, "Restaging app web", "   -----> Compiling app", "1 of 1 instances running")
	f.mu.Lock()
	builds := len(f.builds)
	f.mu.Unlock()
	if builds != 2 {
		t.Errorf("%d builds, want 2", builds)
	}
	r = runCLI(t, "", "start", "web")
	mustContain(t, "start", r.out, "App 'web' is already started.")
}

func TestDelete(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	r := runCLI(t, "", "delete", "web")
	if r.code != 1 || !strings.Contains(r.err, "not a terminal") {
		t.Fatalf("delete without -f: %+v", r)
	}
	r = runCLI(t, "", "delete", "web", "-f", "-r")
	if r.code != 0 {
		t.Fatalf("delete -f -r: %+v", r)
	}
	mustContain(t, "delete", r.out, "Deleting app web", "Deleting route web.apps.test...", "OK")
	f.mu.Lock()
	apps, routes := len(f.apps), len(f.routes)
	f.mu.Unlock()
	if apps != 0 || routes != 0 {
		t.Errorf("%d apps and %d routes left", apps, routes)
	}
	r = runCLI(t, "", "delete", "web", "-f")
	if r.code != 0 || !strings.Contains(r.out, "App 'web' does not exist.") {
		t.Errorf("delete missing: %+v", r)
	}
}

func TestEnvCommands(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	r := runCLI(t, "", "set-env", "web", "GREETING", "hello world")
	if r.code != 0 || !strings.Contains(r.out, "TIP: Use 'ingot restage web'") {
		t.Fatalf("set-env: %+v", r)
	}
	r = runCLI(t, "", "env", "web")
	mustContain(t, "env", r.out, "System-Provided:", "VCAP_SERVICES: {}", "\"application_name\": \"web\"", "User-Provided:\nGREETING: hello world")
	r = runCLI(t, "", "unset-env", "web", "GREETING")
	if r.code != 0 || !strings.Contains(r.out, "Removing env variable GREETING") {
		t.Fatalf("unset-env: %+v", r)
	}
	r = runCLI(t, "", "unset-env", "web", "GREETING")
	mustContain(t, "unset-env again", r.out, "Env variable GREETING was not set.")
	if r := runCLI(t, "", "set-env", "web", "ONLY_KEY"); r.code != 1 || !strings.Contains(r.err, "`VALUE` was not provided") {
		t.Errorf("set-env missing value: %+v", r)
	}
}

func TestLogsRecent(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	r := runCLI(t, "", "logs", "web", "--recent")
	if r.code != 0 {
		t.Fatalf("logs: %+v", r)
	}
	mustContain(t, "logs", r.out, "Retrieving logs for app web", "[STG/0] OUT -----> Downloading go buildpack",
		"[API/0] OUT Creating build for app", "[APP/PROC/WEB/0] OUT listening on 8080")
	if strings.Index(r.out, "Downloading") > strings.Index(r.out, "listening") {
		t.Error("recent logs are not oldest first")
	}
}

// syncBuffer is a goroutine-safe writer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogsStreamUntilCancelled(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	g, _, _ := f.guids("web")
	root := newRootCommand(testOptions())
	var out syncBuffer
	root.SetArgs([]string{"logs", "web"})
	root.SetOut(&out)
	root.SetErr(&out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- Execute(ctx, root) }()
	eventually(t, func() bool { return strings.Contains(out.String(), "Retrieving logs") }, "the header")
	// Wait until the stream has positioned itself, then add lines.
	eventually(t, func() bool {
		n := 0
		for _, c := range f.callLog() {
			if c == "GET /api/v1/read/"+g {
				n++
			}
		}
		return n > 3
	}, "log polling")
	f.mu.Lock()
	f.addLog(g, "APP/PROC/WEB", "0", "first new line")
	f.addLog(g, "RTR", "1", "GET / 200")
	f.mu.Unlock()
	eventually(t, func() bool { return strings.Contains(out.String(), "[RTR/1] OUT GET / 200") }, "the new lines")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs did not stop on cancel")
	}
	s := out.String()
	if strings.Contains(s, "listening on 8080") {
		t.Error("streaming printed old lines")
	}
	if strings.Count(s, "first new line") != 1 {
		t.Errorf("line printed %d times", strings.Count(s, "first new line"))
	}
}

func TestRoutes(t *testing.T) {
	f := newFakeCC(t)
	loggedIn(t, f)
	pushed(t, f, "web", "1")
	r := runCLI(t, "", "routes")
	mustContain(t, "routes", r.out, "host   domain      port   path   protocol   apps", "web    apps.test                 http       web")
}

func TestTargetAndLogin(t *testing.T) {
	f := newFakeCC(t)
	t.Setenv("INGOT_HOME", t.TempDir())
	r := runCLI(t, "", "apps")
	if r.code != 1 || !strings.Contains(r.err, "no API endpoint set") {
		t.Fatalf("apps before login: %+v", r)
	}
	r = runCLI(t, "", "login", "-a", f.srv.URL)
	if r.code != 1 || !strings.Contains(r.err, "-u USER is required when stdin is not a terminal") {
		t.Fatalf("login without user: %+v", r)
	}
	r = runCLI(t, "", "login", "-a", f.srv.URL, "-u", "admin", "-p", "wrong")
	if r.code != 1 || !strings.Contains(r.err, "credentials were rejected") || !strings.Contains(r.err, "Bad credentials") {
		t.Fatalf("bad login: %+v", r)
	}
	r = runCLI(t, "", "login", "-a", f.srv.URL, "-u", "admin", "-p", "secret")
	if r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	mustContain(t, "login", r.out, "Authenticating...\nOK", "Targeted org main.", "Targeted space dev.",
		"API version:    3.195.0", "user:           admin", "org:            main", "space:          dev")
	cfg, err := LoadConfig()
	if err != nil || cfg.SpaceGUID != fakeSpace || cfg.Password != "" || cfg.RefreshToken != "good-refresh" {
		t.Fatalf("config after login: %+v %v", cfg, err)
	}

	r = runCLI(t, "", "target", "-o", "nope")
	if r.code != 1 || !strings.Contains(r.err, "Organization 'nope' not found") {
		t.Errorf("target bad org: %+v", r)
	}
	r = runCLI(t, "", "target", "-o", "main", "-s", "dev")
	mustContain(t, "target", r.out, "org:            main", "space:          dev")
	r = runCLI(t, "", "target")
	mustContain(t, "target", r.out, "API endpoint:   "+f.srv.URL, "space:          dev")
}

func TestTokenRefreshIsSaved(t *testing.T) {
	f := newFakeCC(t)
	t.Setenv("INGOT_HOME", t.TempDir())
	expired := fakeJWT("admin", time.Now().Add(-time.Hour))
	if err := SaveConfig(&Config{API: f.srv.URL, Username: "admin", AccessToken: expired, RefreshToken: "good-refresh",
		OrgGUID: fakeOrg, OrgName: "main", SpaceGUID: fakeSpace, SpaceName: "dev"}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "apps")
	if r.code != 0 {
		t.Fatalf("apps: %+v", r)
	}
	cfg, _ := LoadConfig()
	if exp, ok := client.TokenExpiry(cfg.AccessToken); !ok || time.Until(exp) < time.Minute {
		t.Errorf("saved token expires at %v", exp)
	}
	f.mu.Lock()
	grants := strings.Join(f.grants, ",")
	f.mu.Unlock()
	if grants != "refresh_token" {
		t.Errorf("grants = %s", grants)
	}
	// With a dead refresh token and no stored password the user must log in.
	if err := SaveConfig(&Config{API: f.srv.URL, AccessToken: expired, RefreshToken: "revoked",
		OrgGUID: fakeOrg, SpaceGUID: fakeSpace}); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "", "apps")
	if r.code != 1 || !strings.Contains(r.err, "not logged in") || !strings.Contains(r.err, "Use 'ingot login'") {
		t.Errorf("apps with a revoked token: %+v", r)
	}
}

func TestVersionAndUsage(t *testing.T) {
	r := runCLI(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "ingot version ") {
		t.Errorf("version: %+v", r)
	}
	for _, args := range [][]string{{"nosuch"}, {"app"}, {"logs", "a", "b"}, {"version", "x"}} {
		r := runCLI(t, "", args...)
		if r.code != 1 || !strings.Contains(r.err, "Incorrect Usage") {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

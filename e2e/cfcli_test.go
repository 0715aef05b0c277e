package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealCFCLISession runs a session of the unmodified Cloud Foundry CLI
// (a `cf` binary on PATH; the test is skipped without one) against the
// platform: the command list Cloud Foundry users script with.
func TestRealCFCLISession(t *testing.T) {
	cfBin, err := exec.LookPath("cf")
	if err != nil {
		t.Skip("no cf binary on PATH: build the cf CLI v8 (cloudfoundry/cli) and put it on PATH to run this test")
	}
	e := startPlatform(t, startOpts{})
	cfHome := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, cfBin, args...)
		cmd.Env = append(os.Environ(), "CF_HOME="+cfHome, "CF_COLOR=false", "CF_STARTUP_TIMEOUT=2")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	cf := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("cf %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	want := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	routed := func(host string) bool {
		req, _ := http.NewRequest(http.MethodGet, e.p.RouterURL+"/", nil)
		req.Host = host
		resp, err := e.http.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}

	cf("api", e.p.APIURL)
	cf("auth", e.p.Admin.Username, e.p.Admin.Password)
	want(cf("create-org", "acme"), "OK")
	want(cf("create-space", "web", "-o", "acme"), "OK")
	want(cf("target", "-o", "acme", "-s", "web"), "acme", "web")
	want(cf("orgs"), "acme")
	want(cf("spaces"), "web")
	cf("create-shared-domain", "shared.test")
	cf("create-private-domain", "acme", "priv.test")
	want(cf("domains"), "shared.test", "priv.test", "private")

	dir := example(t, "static")
	want(cf("push", "site", "-p", dir, "-i", "2", "-m", "64M", "-k", "256M", "-b", "staticfile_buildpack", "--no-manifest"), "instances:", "2/2")
	eventually(t, 10*time.Second, "site served", func() bool { return routed("site." + e.p.Domain) })
	want(cf("apps"), "site", "web:2/2")
	want(cf("app", "site"), "running")
	want(cf("scale", "site", "-i", "3"), "instances:")
	cf("set-env", "site", "GREETING", "hi")
	want(cf("env", "site"), "GREETING: hi")
	cf("unset-env", "site", "GREETING")
	want(cf("restart", "site"), "running")
	want(cf("restart", "site", "--strategy", "rolling"), "running")
	want(cf("restage", "site"), "running")
	cf("stop", "site")
	want(cf("start", "site"), "running")
	want(cf("logs", "site", "--recent"), "[CELL/")
	// Streaming logs never exit: read them for a while.
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cfBin, "logs", "site")
		cmd.Env = append(os.Environ(), "CF_HOME="+cfHome, "CF_COLOR=false")
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		for i := 0; i < 3; i++ {
			routed("site." + e.p.Domain)
		}
		_ = cmd.Wait()
		want(buf.String(), "[RTR/")
	}()

	cf("create-route", "priv.test", "--hostname", "api")
	cf("map-route", "site", "priv.test", "--hostname", "api")
	eventually(t, 10*time.Second, "api.priv.test served", func() bool { return routed("api.priv.test") })
	want(cf("routes"), "api", "priv.test", "site")
	cf("unmap-route", "site", "priv.test", "--hostname", "api")
	cf("delete-route", "priv.test", "--hostname", "api", "-f")

	cf("cups", "ext", "-p", `{"uri":"https://example.test"}`)
	cf("bind-service", "site", "ext")
	want(cf("services"), "ext", "site")
	want(cf("env", "site"), "https://example.test")
	cf("unbind-service", "site", "ext")
	cf("marketplace")

	want(cf("create-user", "bob", "bob-pw"), "OK")
	want(cf("set-space-role", "bob", "acme", "web", "SpaceDeveloper"), "OK")
	want(cf("space-users", "acme", "web"), "bob")
	cf("org-users", "acme")
	want(cf("quotas"), "default")
	want(cf("events", "site"), "audit.app")

	// A manifest push, --no-start and a rolling push.
	manifest := filepath.Join(dir, "manifest.yml")
	if err := os.WriteFile(manifest, []byte("applications:\n- name: site\n  instances: 2\n  memory: 64M\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want(cf("push", "-f", manifest, "-p", dir), "2/2")
	want(cf("push", "other", "-p", dir, "-m", "32M", "--no-start", "--no-manifest"), "stopped")
	want(cf("push", "site", "-f", manifest, "-p", dir, "--strategy", "rolling"), "running")

	// Errors as a cf user knows them.
	out, err := run("app", "nope")
	if err == nil || !strings.Contains(out, "App 'nope' not found") {
		t.Errorf("cf app nope: %v\n%s", err, out)
	}

	cf("delete", "other", "-r", "-f")
	cf("delete", "site", "-r", "-f")
	cf("logout")
}

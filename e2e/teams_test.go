package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCLITeamSession: an admin sets up a team (a user, org and space
// roles, a quota), the user pushes and runs an app within what the roles
// and the quota allow, and the audit trail shows who did what.
func TestCLITeamSession(t *testing.T) {
	e := startPlatform(t, startOpts{})
	want := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	fails := func(wantOut string, args ...string) {
		t.Helper()
		out, err := e.ingot(args...)
		if err == nil || !strings.Contains(out, wantOut) {
			t.Errorf("ingot %s: err %v, want a failure with %q:\n%s", strings.Join(args, " "), err, wantOut, out)
		}
	}

	// The admin sets up the team.
	want(e.mustIngot("create-org", "team"), "OK")
	want(e.mustIngot("create-space", "dev", "-o", "team"), "OK")
	want(e.mustIngot("create-user", "alice", "alice-pw"), "OK")
	want(e.mustIngot("create-user", "eve", "eve-pw"), "OK")
	want(e.mustIngot("set-space-role", "alice", "team", "dev", "SpaceDeveloper"), "OK")
	want(e.mustIngot("org-users", "team"), "ORG MANAGER", "ORG AUDITOR")
	want(e.mustIngot("space-users", "team", "dev"), "SPACE DEVELOPER", "alice")
	want(e.mustIngot("create-org-quota", "small", "-m", "256M", "-a", "3"), "OK")
	want(e.mustIngot("set-org-quota", "team", "small"), "OK")
	want(e.mustIngot("org-quotas"), "small", "256M")

	// Alice works in her space.
	want(e.mustIngot("login", "-a", e.p.APIURL, "-u", "alice", "-p", "alice-pw", "-o", "team", "-s", "dev"), "team", "dev")
	want(e.mustIngot("orgs"), "team")
	if out := e.mustIngot("orgs"); strings.Contains(out, "ingot\n") {
		t.Errorf("alice sees the admin's org:\n%s", out)
	}
	dir := example(t, "static")
	e.mustIngot("push", "site", "-p", dir, "--no-manifest", "-m", "64M", "-i", "2")
	e.waitStatus("site", "/", http.StatusOK, 30*time.Second)
	want(e.mustIngot("apps"), "site")
	want(e.mustIngot("set-env", "site", "GREETING", "hi"), "OK")
	want(e.mustIngot("env", "site"), "GREETING")
	want(e.mustIngot("unset-env", "site", "GREETING"), "OK")
	want(e.mustIngot("scale", "site", "-i", "3"), "3")
	// Over the quota: 4 instances > 3, and 5 x 64M > 256M.
	fails("app_instance_limit_exceeded", "scale", "site", "-i", "4")
	fails("memory quota_exceeded", "scale", "site", "-m", "128M")
	want(e.mustIngot("restart", "site", "--strategy", "rolling"), "to deploy (rolling")
	want(e.mustIngot("stop", "site"), "OK")
	want(e.mustIngot("start", "site"), "running")
	want(e.mustIngot("restage", "site"), "running")
	want(e.mustIngot("logs", "site", "--recent"), "[")
	want(e.mustIngot("events", "site"), "audit.app.create", "alice")
	// Alice may not do what only admins do.
	fails("not authorized", "create-org", "other")
	fails("not authorized", "create-shared-domain", "alice.test")

	// Eve has no role: the space and its app do not exist for her.
	want(e.mustIngot("login", "-a", e.p.APIURL, "-u", "eve", "-p", "eve-pw"), "eve")
	if out := e.mustIngot("orgs"); strings.Contains(out, "team") {
		t.Errorf("eve sees the team's org:\n%s", out)
	}
	fails("not found", "target", "-o", "team")

	// Back as the admin: cleanup, and the role and quota listings.
	want(e.mustIngot("login", "-a", e.p.APIURL, "-u", e.p.Admin.Username, "-p", e.p.Admin.Password, "-o", "team", "-s", "dev"), "team")
	want(e.mustIngot("unset-space-role", "alice", "team", "dev", "SpaceDeveloper"), "OK")
	want(e.mustIngot("delete", "site", "-r", "-f"), "OK")
	want(e.mustIngot("delete-user", "eve", "-f"), "OK")
	// Deleting the space and the org takes everything in them.
	e.mustIngot("push", "leftover", "-p", dir, "--no-manifest", "-m", "32M")
	want(e.mustIngot("delete-space", "dev", "-f"), "OK")
	if out, err := e.ingot("apps"); err == nil {
		t.Errorf("apps in a deleted space:\n%s", out)
	}
	want(e.mustIngot("delete-org", "team", "-f"), "OK")
	if out := e.mustIngot("orgs"); strings.Contains(out, "team") {
		t.Errorf("the deleted org is listed:\n%s", out)
	}
	want(e.mustIngot("logout"), "OK")
}

package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/store"
)

func TestTenancyCommands(t *testing.T) {
	_, _, st := startPlatform(t)
	ctx := context.Background()
	hash, err := auth.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Users().Create(ctx, &store.User{Meta: store.Meta{GUID: "aaaaaaaa-0000-0000-0000-000000000001"}, Username: "alice", Origin: "uaa", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	// Registered with the Cloud Controller as create-user does.
	if err := st.CCUsers().Create(ctx, &store.CCUser{Meta: store.Meta{GUID: "aaaaaaaa-0000-0000-0000-000000000001"}}); err != nil {
		t.Fatal(err)
	}
	orgs, _ := st.Orgs().List(ctx, store.ListOptions{})
	spaces, _ := st.Spaces().List(ctx, store.ListOptions{})
	org, space := orgs[0].Name, spaces[0].Name

	mustContain(t, "set-org-role", mustRun(t, "set-org-role", "alice", org, "OrgAuditor"), "Assigning role OrgAuditor to user alice", "OK")
	mustContain(t, "set-org-role again", mustRun(t, "set-org-role", "alice", org, "orgauditor"), "OK")
	mustContain(t, "set-space-role", mustRun(t, "set-space-role", "alice", org, space, "SpaceDeveloper"), "OK")
	out := mustRun(t, "org-users", org)
	mustContain(t, "org-users", out, "ORG MANAGER", "No ORG MANAGER found", "ORG AUDITOR\n  alice (uaa)")
	out = mustRun(t, "space-users", org, space)
	mustContain(t, "space-users", out, "SPACE DEVELOPER\n  alice (uaa)", "No SPACE MANAGER found")
	if r := runCLI(t, "", "set-space-role", "alice", org, space, "SpaceOverlord"); r.code == 0 || !strings.Contains(r.err, "SpaceDeveloper") {
		t.Fatalf("bad role name: %+v", r)
	}
	mustContain(t, "unset-space-role", mustRun(t, "unset-space-role", "alice", org, space, "SpaceDeveloper"), "OK")
	if strings.Contains(mustRun(t, "space-users", org, space), "alice") {
		t.Fatal("alice still listed after unset-space-role")
	}
	mustRun(t, "unset-org-role", "alice", org, "OrgAuditor")
	mustRun(t, "unset-org-role", "alice", org, "OrgAuditor") // already gone: still OK
	if rs, _ := st.Roles().List(ctx, store.ListOptions{Types: []string{store.RoleOrgAuditor, store.RoleSpaceDeveloper}}); len(rs) != 0 {
		t.Fatalf("roles left: %+v", rs)
	}

	mustContain(t, "create-org-quota", mustRun(t, "create-org-quota", "small", "-m", "1G", "-i", "256M", "-r", "5", "-s", "2", "-a", "4"), "OK")
	mustContain(t, "create-org-quota again", mustRun(t, "create-org-quota", "small"), "already exists", "OK")
	mustContain(t, "set-org-quota", mustRun(t, "set-org-quota", org, "small"), "OK")
	out = mustRun(t, "org-quotas")
	mustContain(t, "org-quotas", out, "default", "unlimited", "small", "1G", "256M", "disallowed")
	mustContain(t, "create-space-quota", mustRun(t, "create-space-quota", "tiny", "-a", "1"), "OK")
	mustContain(t, "set-space-quota", mustRun(t, "set-space-quota", space, "tiny"), "OK")
	mustContain(t, "space-quotas", mustRun(t, "space-quotas"), "tiny")
	if a, err := st.QuotaAssignments().Get(ctx, spaces[0].GUID); err != nil || a.Kind != store.QuotaForSpace {
		t.Fatalf("space quota assignment: %+v %v", a, err)
	}

	// events APP shows the app's audit trail.
	mustRun(t, "create-user-provided-service", "ext", "-p", `{"uri":"x"}`)
	app := &store.App{Meta: store.Meta{GUID: "11111111-2222-3333-4444-555555555555"}, Name: "web", SpaceGUID: spaces[0].GUID, State: store.AppStopped}
	if err := st.Apps().Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "set-env", "web", "K", "v")
	out = mustRun(t, "events", "web")
	mustContain(t, "events", out, "time", "event", "actor", "audit.app.update", "admin", "environment_variables: [PRIVATE DATA HIDDEN]")
}

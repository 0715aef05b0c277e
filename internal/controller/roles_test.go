package controller

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
)

type roleJSON struct {
	GUID          string `json:"guid"`
	Type          string `json:"type"`
	Relationships struct {
		User         struct{ Data *ref } `json:"user"`
		Organization struct{ Data *ref } `json:"organization"`
		Space        struct{ Data *ref } `json:"space"`
	} `json:"relationships"`
}

func TestRoles(t *testing.T) {
	h := newHarness(t)
	org := h.createOrg("r-org")
	space := h.createSpace(org, "r-space")
	alice := h.newUser("alice")

	spaceRole := func(typ string) map[string]any {
		return map[string]any{"type": typ, "relationships": map[string]any{
			"user":  map[string]any{"data": map[string]string{"username": "alice", "origin": "uaa"}},
			"space": map[string]any{"data": map[string]string{"guid": space}}}}
	}
	// A space role needs org membership first (CF's rule).
	_, _, detail := h.fail("POST", "/v3/roles", spaceRole(store.RoleSpaceDeveloper), 422)
	if detail != "Users cannot be assigned roles in a space if they do not have a role in that space's organization." {
		t.Fatalf("space role without org membership: %q", detail)
	}
	var orgUser roleJSON
	h.do("POST", "/v3/roles", map[string]any{"type": store.RoleOrgUser, "relationships": map[string]any{
		"user":         map[string]any{"data": map[string]string{"username": "alice"}},
		"organization": map[string]any{"data": map[string]string{"guid": org}}}}, 201, &orgUser)
	if orgUser.Relationships.User.Data.GUID != alice.guid || orgUser.Relationships.Organization.Data.GUID != org || orgUser.Relationships.Space.Data != nil {
		t.Fatalf("org role shape: %+v", orgUser)
	}
	_, _, detail = h.fail("POST", "/v3/roles", map[string]any{"type": store.RoleOrgUser, "relationships": map[string]any{
		"user":         map[string]any{"data": map[string]string{"guid": alice.guid}},
		"organization": map[string]any{"data": map[string]string{"guid": org}}}}, 422)
	if detail != "User 'alice' already has 'organization_user' role in organization 'r-org'." {
		t.Fatalf("duplicate role: %q", detail)
	}
	var dev roleJSON
	h.do("POST", "/v3/roles", spaceRole(store.RoleSpaceDeveloper), 201, &dev)
	if dev.Relationships.Space.Data.GUID != space || dev.Relationships.Organization.Data != nil {
		t.Fatalf("space role shape: %+v", dev)
	}
	_, _, detail = h.fail("POST", "/v3/roles", map[string]any{"type": "space_overlord"}, 422)
	if !strings.HasPrefix(detail, "Type must be one of the allowed types") {
		t.Fatalf("bad type: %q", detail)
	}
	_, _, detail = h.fail("POST", "/v3/roles", map[string]any{"type": store.RoleOrgUser, "relationships": map[string]any{
		"user":         map[string]any{"data": map[string]string{"username": "nobody"}},
		"organization": map[string]any{"data": map[string]string{"guid": org}}}}, 422)
	if detail != "No user exists with the username 'nobody' and origin 'uaa'." {
		t.Fatalf("unknown user: %q", detail)
	}

	// cf space-users: roles of a space with their users included.
	var l struct {
		list[roleJSON]
		Included struct {
			Users []struct {
				GUID     string `json:"guid"`
				Username string `json:"username"`
				Origin   string `json:"origin"`
			} `json:"users"`
		} `json:"included"`
	}
	h.do("GET", "/v3/roles?space_guids="+space+"&types=space_developer,space_manager&include=user", nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].GUID != dev.GUID || len(l.Included.Users) != 1 || l.Included.Users[0].Username != "alice" {
		t.Fatalf("space roles with users: %+v", l)
	}
	h.do("GET", "/v3/roles?organization_guids="+org+"&user_guids="+alice.guid, nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].Type != store.RoleOrgUser {
		t.Fatalf("org roles of alice: %+v", l.Resources)
	}

	// Alice now sees her org, space and the users in it; /v3/users/:guid of
	// a stranger is hidden.
	bob := h.newUser("bob")
	status, data := h.as(alice, "GET", "/v3/users", nil)
	var ul list[struct {
		Username string `json:"username"`
	}]
	_ = json.Unmarshal(data, &ul)
	if status != 200 || len(ul.Resources) != 1 || ul.Resources[0].Username != "alice" {
		t.Fatalf("alice lists users: %d %s", status, data)
	}
	if status, _ := h.as(alice, "GET", "/v3/users/"+bob.guid, nil); status != 404 {
		t.Fatalf("alice reads a stranger: %d", status)
	}
	if status, _ := h.as(alice, "GET", "/v3/users/"+alice.guid, nil); status != 200 {
		t.Fatalf("alice reads herself: %d", status)
	}
	h.do("GET", "/v3/users/"+bob.guid, nil, 200, nil)

	// The org_user role stays while alice has a space role; deletes are
	// jobs.
	_, _, detail = h.fail("DELETE", "/v3/roles/"+orgUser.GUID, nil, 422)
	if !strings.Contains(detail, "organization_user") {
		t.Fatalf("deleting a needed org_user role: %q", detail)
	}
	hdr := h.do("DELETE", "/v3/roles/"+dev.GUID, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != store.JobComplete {
		t.Fatalf("role delete job: %+v", j)
	}
	h.fail("GET", "/v3/roles/"+dev.GUID, nil, 404)
	if status, _ := h.as(alice, "GET", "/v3/spaces/"+space, nil); status != 404 {
		t.Fatalf("alice still sees the space after losing her role: %d", status)
	}
	h.do("DELETE", "/v3/roles/"+orgUser.GUID, nil, 202, nil)
}

func TestAuditEvents(t *testing.T) {
	h := newHarness(t)
	org := h.createOrg("e-org")
	spaceA, spaceB := h.createSpace(org, "e-a"), h.createSpace(org, "e-b")
	dev := h.newUser("dev")
	h.grant(dev, store.RoleSpaceDeveloper, org, spaceA)

	// The developer's own actions are attributed to the developer.
	status, data := h.as(dev, "POST", "/v3/apps", map[string]any{"name": "evt", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": spaceA}}}})
	if status != 201 {
		t.Fatalf("create app: %d %s", status, data)
	}
	var app ref
	_ = json.Unmarshal(data, &app)
	h.stagedDroplet(app.GUID, nil)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/v3/apps/" + app.GUID + "/environment_variables", map[string]any{"var": map[string]string{"SECRET": "s3cret"}}},
		{"POST", "/v3/apps/" + app.GUID + "/actions/start", nil},
		{"POST", "/v3/apps/" + app.GUID + "/processes/web/actions/scale", map[string]any{"instances": 2}},
		{"POST", "/v3/apps/" + app.GUID + "/actions/stop", nil},
		{"POST", "/v3/routes", routeBodyIn(h, spaceA, "evt")},
		{"POST", "/v3/service_instances", upsBody(spaceA, "evt-ups")},
	} {
		if status, data := h.as(dev, req.method, req.path, req.body); status >= 300 {
			t.Fatalf("%s %s: %d %s", req.method, req.path, status, data)
		}
	}
	other := h.createAppIn(spaceB, "hidden") // by admin, in a space dev cannot see

	type event struct {
		GUID   string `json:"guid"`
		Type   string `json:"type"`
		Actor  struct{ GUID, Type, Name string }
		Target struct{ GUID, Type, Name string }
		Data   map[string]any `json:"data"`
		Space  *ref           `json:"space"`
		Org    *ref           `json:"organization"`
	}
	var l list[event]
	status, data = h.as(dev, "GET", "/v3/audit_events?target_guids="+app.GUID, nil)
	if status != 200 || json.Unmarshal(data, &l) != nil {
		t.Fatalf("list events: %d %s", status, data)
	}
	var types []string
	for _, e := range l.Resources {
		types = append(types, e.Type)
		if e.Actor.GUID != dev.guid || e.Actor.Type != "user" || e.Actor.Name != "dev" || e.Target.Type != "app" || e.Target.Name != "evt" ||
			e.Space == nil || e.Space.GUID != spaceA || e.Org == nil || e.Org.GUID != org {
			t.Errorf("event shape: %+v", e)
		}
		if strings.Contains(string(data), "s3cret") {
			t.Fatalf("an event leaks an environment value: %s", data)
		}
	}
	want := []string{"audit.app.create", "audit.app.update", "audit.app.start", "audit.app.process.scale", "audit.app.stop"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("app events: %v, want %v", types, want)
	}
	h.do("GET", "/v3/audit_events?types=audit.route.create,audit.user_provided_service_instance.create&space_guids="+spaceA, nil, 200, &l)
	if len(l.Resources) != 2 {
		t.Fatalf("route and service events: %+v", l.Resources)
	}
	h.do("GET", "/v3/audit_events?types=audit.user.space_developer_add", nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].Target.GUID != dev.guid || l.Resources[0].Target.Type != "user" {
		t.Fatalf("role event: %+v", l.Resources)
	}
	// Visibility follows the space: the developer sees nothing of space B.
	var hidden list[event]
	h.do("GET", "/v3/audit_events?target_guids="+other, nil, 200, &hidden)
	if len(hidden.Resources) == 0 {
		t.Fatal("admin sees no events of the other app")
	}
	status, data = h.as(dev, "GET", "/v3/audit_events?target_guids="+other, nil)
	if json.Unmarshal(data, &hidden) != nil || status != 200 || len(hidden.Resources) != 0 {
		t.Fatalf("developer lists another space's events: %d %s", status, data)
	}
	var adminView list[event]
	h.do("GET", "/v3/audit_events?target_guids="+other, nil, 200, &adminView)
	if status, _ := h.as(dev, "GET", "/v3/audit_events/"+adminView.Resources[0].GUID, nil); status != 404 {
		t.Fatalf("developer reads another space's event: %d", status)
	}
	// A refused (over-quota) start records nothing.
	h.orgQuota("none", map[string]any{"apps": map[string]any{"total_memory_in_mb": 0}}, org)
	h.fail("POST", "/v3/apps/"+app.GUID+"/actions/start", nil, 422)
	h.do("GET", "/v3/audit_events?types=audit.app.start&target_guids="+app.GUID, nil, 200, &l)
	if len(l.Resources) != 1 {
		t.Fatalf("start events after a refused start: %d", len(l.Resources))
	}
}

func TestSuspendedOrgIsReadOnly(t *testing.T) {
	h := newHarness(t)
	org := h.createOrg("sus-org")
	space := h.createSpace(org, "sus-space")
	app := h.createAppIn(space, "sus-app")
	dev := h.newUser("sus-dev")
	h.grant(dev, store.RoleSpaceDeveloper, org, space)
	h.do("PATCH", "/v3/organizations/"+org, map[string]any{"suspended": true}, 200, nil)
	if status, _ := h.as(dev, "GET", "/v3/apps/"+app+"/env", nil); status != 200 {
		t.Fatalf("read env in a suspended org: %d", status)
	}
	if status, _ := h.as(dev, "PATCH", "/v3/apps/"+app, map[string]any{"name": "renamed"}); status != 403 {
		t.Fatalf("write in a suspended org: %d", status)
	}
	h.do("PATCH", "/v3/apps/"+app, map[string]any{"name": "renamed"}, 200, nil) // admins may
}

func TestMarketplaceVisibility(t *testing.T) {
	b := newBadBroker(t)
	h := newHarness(t, fastBrokerPolls)
	h.registerBroker("flaky", b.srv.URL, "u", "p")
	plan := h.planGUID("flaky", "ok")
	var p struct {
		Relationships struct {
			ServiceOffering struct{ Data ref } `json:"service_offering"`
		} `json:"relationships"`
	}
	h.do("GET", "/v3/service_plans/"+plan, nil, 200, &p)
	offering := p.Relationships.ServiceOffering.Data.GUID
	org := h.createOrg("mk-org")
	space := h.createSpace(org, "mk-space")
	dev := h.newUser("mk-dev")
	h.grant(dev, store.RoleSpaceDeveloper, org, space)
	count := func(path string) int {
		t.Helper()
		status, data := h.as(dev, "GET", path, nil)
		var l list[ref]
		if status != 200 || json.Unmarshal(data, &l) != nil {
			t.Fatalf("GET %s: %d %s", path, status, data)
		}
		return l.Pagination.TotalResults
	}
	if n := count("/v3/service_plans"); n != 5 {
		t.Fatalf("public plans seen by a developer: %d", n)
	}
	// Restricted to another org: the developer no longer sees it.
	other := h.createOrg("mk-other")
	h.do("PATCH", "/v3/service_plans/"+plan+"/visibility", map[string]any{"type": "organization",
		"organizations": []map[string]string{{"guid": other}}}, 200, nil)
	if n := count("/v3/service_plans"); n != 4 {
		t.Fatalf("plans seen after restricting one: %d", n)
	}
	if status, _ := h.as(dev, "GET", "/v3/service_plans/"+plan, nil); status != 404 {
		t.Fatalf("a hidden plan: %d", status)
	}
	if status, _ := h.as(dev, "GET", "/v3/service_offerings/"+offering, nil); status != 200 {
		t.Fatalf("an offering with visible plans: %d", status)
	}
	if status, _ := h.as(dev, "GET", "/v3/service_brokers", nil); status != 403 {
		t.Fatalf("brokers as a developer: %d", status)
	}
	// Visible to the developer's org again.
	h.do("PATCH", "/v3/service_plans/"+plan+"/visibility", map[string]any{"type": "organization",
		"organizations": []map[string]string{{"guid": org}}}, 200, nil)
	if status, _ := h.as(dev, "GET", "/v3/service_plans/"+plan, nil); status != 200 {
		t.Fatalf("a plan visible to the developer's org: %d", status)
	}
}

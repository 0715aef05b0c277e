package controller

import (
	"context"
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
)

// TestDeleteUserRemovesRoles: `cf delete-user` (DELETE /v3/users) takes
// the user's roles with it, so a user re-created under the same name
// starts with none.
func TestDeleteUserRemovesRoles(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("dora")
	space := h.defaultSpace()
	var sp struct {
		Relationships struct {
			Organization struct {
				Data ref `json:"data"`
			} `json:"organization"`
		} `json:"relationships"`
	}
	h.do("GET", "/v3/spaces/"+space, nil, 200, &sp)
	user := map[string]any{"data": map[string]string{"guid": u.guid}}
	h.do("POST", "/v3/roles", map[string]any{"type": "organization_user", "relationships": map[string]any{
		"organization": map[string]any{"data": map[string]string{"guid": sp.Relationships.Organization.Data.GUID}}, "user": user}}, 201, nil)
	h.do("POST", "/v3/roles", map[string]any{"type": "space_developer", "relationships": map[string]any{
		"space": map[string]any{"data": map[string]string{"guid": space}}, "user": user}}, 201, nil)
	roles := func() int {
		rs, err := h.store.Roles().List(context.Background(), store.ListOptions{UserGUIDs: []string{u.guid}})
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	if n := roles(); n != 2 {
		t.Fatalf("roles before the delete: %d", n)
	}
	hdr := h.do("DELETE", "/v3/users/"+u.guid, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete job: %+v", j)
	}
	if n := roles(); n != 0 {
		t.Fatalf("%d roles left after the user was deleted", n)
	}
	h.fail("GET", "/v3/users/"+u.guid, nil, 404)
}

// TestJobEventsNameTheCaller: what an asynchronous job records (apply
// manifest creates and updates apps) names the user who asked, not
// "system".
func TestJobEventsNameTheCaller(t *testing.T) {
	h := newHarness(t)
	if j := h.applyManifest("applications:\n- name: jobbed\n  no-route: true\n"); j.State != "COMPLETE" {
		t.Fatalf("apply_manifest: %+v", j)
	}
	var l struct {
		Resources []struct {
			Type  string `json:"type"`
			Actor struct {
				Type string `json:"type"`
				Name string `json:"name"`
			} `json:"actor"`
		} `json:"resources"`
	}
	h.do("GET", "/v3/audit_events?types=audit.app.create,audit.app.apply_manifest", nil, 200, &l)
	if len(l.Resources) < 2 {
		t.Fatalf("events: %+v", l.Resources)
	}
	for _, e := range l.Resources {
		if e.Actor.Type != "user" || e.Actor.Name != "admin" {
			t.Errorf("event %s recorded by %s %q, want user admin", e.Type, e.Actor.Type, e.Actor.Name)
		}
	}
}

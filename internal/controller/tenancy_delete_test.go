package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// TestDeleteSpaceAndOrgWithEverythingInThem: deleting a space stops and
// deletes its apps and deletes its service instances, routes and roles;
// deleting the org deletes its spaces and private domains.
func TestDeleteSpaceAndOrgWithEverythingInThem(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-del")
	ctx := context.Background()
	org := h.createOrg("doomed")
	space := h.createSpace(org, "s1")
	dev := h.newUser("devo")
	h.grant(dev, store.RoleSpaceDeveloper, org, space)

	var app ref
	h.do("POST", "/v3/apps", map[string]any{"name": "a1",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 201, &app)
	h.stagedDroplet(app.GUID, nil)
	h.do("POST", "/v3/apps/"+app.GUID+"/actions/start", nil, 200, nil)
	eventually(t, 10*time.Second, "the app running", func() bool { return len(dea.running(app.GUID)) == 1 })
	var si ref
	h.do("POST", "/v3/service_instances", map[string]any{"type": "user-provided", "name": "ups",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 201, &si)
	h.do("POST", "/v3/service_credential_bindings", map[string]any{"type": "app", "relationships": map[string]any{
		"app": map[string]any{"data": map[string]string{"guid": app.GUID}}, "service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}}, 201, nil)
	var dom ref
	h.do("POST", "/v3/domains", map[string]any{"name": "doomed.test", "relationships": map[string]any{
		"organization": map[string]any{"data": map[string]string{"guid": org}}}}, 201, &dom)
	var rt ref
	h.do("POST", "/v3/routes", map[string]any{"host": "www", "relationships": map[string]any{
		"domain": map[string]any{"data": map[string]string{"guid": dom.GUID}}, "space": map[string]any{"data": map[string]string{"guid": space}}}}, 201, &rt)

	// The developer may not delete the space (an org manager's job).
	if status, _ := h.as(dev, "DELETE", "/v3/spaces/"+space, nil); status != 403 {
		t.Fatalf("space developer deleting the space: %d", status)
	}

	hdr := h.do("DELETE", "/v3/spaces/"+space, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete space job: %+v", j)
	}
	eventually(t, 10*time.Second, "the app's instance stopped", func() bool { return len(dea.running(app.GUID)) == 0 })
	for what, f := range map[string]func() error{
		"space":            func() error { _, err := h.store.Spaces().Get(ctx, space); return err },
		"app":              func() error { _, err := h.store.Apps().Get(ctx, app.GUID); return err },
		"service instance": func() error { _, err := h.store.ServiceInstances().Get(ctx, si.GUID); return err },
		"route":            func() error { _, err := h.store.Routes().Get(ctx, rt.GUID); return err },
	} {
		if err := f(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after the space was deleted: %v", what, err)
		}
	}
	if rs, _ := h.store.Roles().List(ctx, store.ListOptions{SpaceGUIDs: []string{space}}); len(rs) != 0 {
		t.Errorf("%d space roles left", len(rs))
	}

	hdr = h.do("DELETE", "/v3/organizations/"+org, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete org job: %+v", j)
	}
	h.fail("GET", "/v3/organizations/"+org, nil, 404)
	h.fail("GET", "/v3/domains/"+dom.GUID, nil, 404)
	if rs, _ := h.store.Roles().List(ctx, store.ListOptions{OrgGUIDs: []string{org}}); len(rs) != 0 {
		t.Errorf("%d org roles left", len(rs))
	}
}

package controller

import (
	"context"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
)

func (h *harness) orgQuota(name string, limits map[string]any, orgs ...string) string {
	h.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range limits {
		body[k] = v
	}
	var q ref
	h.do("POST", "/v3/organization_quotas", body, 201, &q)
	if len(orgs) > 0 {
		data := []map[string]string{}
		for _, o := range orgs {
			data = append(data, map[string]string{"guid": o})
		}
		h.do("POST", "/v3/organization_quotas/"+q.GUID+"/relationships/organizations", map[string]any{"data": data}, 200, nil)
	}
	return q.GUID
}

func (h *harness) spaceQuota(name, org string, limits map[string]any, spaces ...string) string {
	h.t.Helper()
	body := map[string]any{"name": name, "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": org}}}}
	for k, v := range limits {
		body[k] = v
	}
	var q ref
	h.do("POST", "/v3/space_quotas", body, 201, &q)
	data := []map[string]string{}
	for _, s := range spaces {
		data = append(data, map[string]string{"guid": s})
	}
	h.do("POST", "/v3/space_quotas/"+q.GUID+"/relationships/spaces", map[string]any{"data": data}, 200, nil)
	return q.GUID
}

func (h *harness) process(guid string) *store.Process {
	h.t.Helper()
	p, err := h.store.Processes().Get(context.Background(), guid)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) appState(guid string) string {
	h.t.Helper()
	a, err := h.store.Apps().Get(context.Background(), guid)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.State
}

func wantDetail(t *testing.T, h *harness, method, path string, body any, want string) {
	t.Helper()
	code, title, detail := h.fail(method, path, body, 422)
	if code != 10008 || title != "CF-UnprocessableEntity" || detail != want {
		t.Fatalf("%s %s: %d %s %q, want 10008 CF-UnprocessableEntity %q", method, path, code, title, detail, want)
	}
}

func TestOrgQuotaMemoryOnStartAndScale(t *testing.T) {
	h := newHarness(t)
	org := h.createOrg("q-org")
	space := h.createSpace(org, "q-space")
	h.orgQuota("small", map[string]any{"apps": map[string]any{"total_memory_in_mb": 512, "per_process_memory_in_mb": 512}}, org)

	// Starting (the last step of a push) over the org's memory is refused
	// and the app stays stopped.
	big := h.createAppIn(space, "big")
	bigWeb := h.webProcess(big)
	h.do("POST", "/v3/processes/"+bigWeb+"/actions/scale", map[string]any{"instances": 3}, 202, nil) // stopped: no check
	wantDetail(t, h, "POST", "/v3/apps/"+big+"/actions/start", nil, "memory quota_exceeded")
	if st := h.appState(big); st != store.AppStopped {
		t.Fatalf("app over quota is %s", st)
	}
	wantDetail(t, h, "POST", "/v3/apps/"+big+"/actions/restart", nil, "memory quota_exceeded")
	if st := h.appState(big); st != store.AppStopped {
		t.Fatalf("app over quota is %s after restart", st)
	}

	// A started app within quota cannot scale past it; nothing changes.
	app := h.createAppIn(space, "small")
	web := h.webProcess(app)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil) // 1 x 256 MB
	wantDetail(t, h, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 3}, "memory quota_exceeded")
	wantDetail(t, h, "POST", "/v3/apps/"+app+"/processes/web/actions/scale", map[string]any{"memory_in_mb": 1024},
		"memory instance_memory_limit_exceeded, memory quota_exceeded")
	if p := h.process(web); p.Instances != 1 || p.MemoryMB != 256 {
		t.Fatalf("process changed by refused scales: %d x %d MB", p.Instances, p.MemoryMB)
	}
	h.do("POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 2}, 202, nil) // 512: exactly the limit
	if p := h.process(web); p.Instances != 2 {
		t.Fatalf("scale within quota: %d instances", p.Instances)
	}
	// The other org is not limited.
	other := h.createAppIn(h.defaultSpace(), "unlimited")
	h.do("POST", "/v3/processes/"+h.webProcess(other)+"/actions/scale", map[string]any{"instances": 4, "memory_in_mb": 1024}, 202, nil)
	h.do("POST", "/v3/apps/"+other+"/actions/start", nil, 200, nil)
}

func TestSpaceQuotaInstancesAndPush(t *testing.T) {
	h := newHarness(t)
	org := h.createOrg("sq-org")
	space := h.createSpace(org, "sq-space")
	h.spaceQuota("two", org, map[string]any{"apps": map[string]any{"total_instances": 2}}, space)

	app := h.createAppIn(space, "web")
	web := h.webProcess(app)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	wantDetail(t, h, "POST", "/v3/processes/"+web+"/actions/scale", map[string]any{"instances": 3}, "app_instance_limit space_app_instance_limit_exceeded")
	if p := h.process(web); p.Instances != 1 {
		t.Fatalf("instances after refused scale: %d", p.Instances)
	}

	// A manifest push of a started app past the space's instances fails
	// and leaves the process as it was.
	status, hdr, body := h.raw("POST", "/v3/spaces/"+space+"/actions/apply_manifest", "application/x-yaml",
		strings.NewReader("applications:\n- name: web\n  instances: 5\n"), true)
	if status != 202 {
		t.Fatalf("apply_manifest: %d %s", status, body)
	}
	j := h.waitJob(hdr.Get("Location"))
	if j.State != store.JobFailed || len(j.Errors) != 1 || j.Errors[0].Detail != "For application 'web': app_instance_limit space_app_instance_limit_exceeded" {
		t.Fatalf("apply_manifest over quota: %+v", j)
	}
	if p := h.process(web); p.Instances != 1 {
		t.Fatalf("instances after refused manifest: %d", p.Instances)
	}
}

func TestRouteAndServiceQuotas(t *testing.T) {
	b := newBadBroker(t)
	h := newHarness(t, fastBrokerPolls)
	h.registerBroker("flaky", b.srv.URL, "u", "p")
	plan := h.planGUID("flaky", "ok")
	ctx := context.Background()
	space, err := h.store.Spaces().Get(ctx, h.defaultSpace())
	if err != nil {
		t.Fatal(err)
	}
	org, err := h.store.Orgs().Get(ctx, space.OrgGUID)
	if err != nil {
		t.Fatal(err)
	}
	h.orgQuota("tight", map[string]any{"routes": map[string]any{"total_routes": 1}, "services": map[string]any{"total_service_instances": 1}}, org.GUID)

	h.createRouteIn(space.GUID, "first")
	wantDetail(t, h, "POST", "/v3/routes", routeBodyIn(h, space.GUID, "second"), "Routes quota exceeded for organization '"+org.Name+"'.")
	if rs, _ := h.store.Routes().List(ctx, store.ListOptions{SpaceGUIDs: []string{space.GUID}}); len(rs) != 1 {
		t.Fatalf("routes after refused create: %d", len(rs))
	}

	h.createManaged("one", plan)
	managed := func(name string) map[string]any {
		return map[string]any{"type": "managed", "name": name, "relationships": map[string]any{
			"space": map[string]any{"data": map[string]string{"guid": space.GUID}}, "service_plan": map[string]any{"data": map[string]string{"guid": plan}}}}
	}
	wantDetail(t, h, "POST", "/v3/service_instances", managed("two"), "You have exceeded your organization's services limit.")
	if sis, _ := h.store.ServiceInstances().List(ctx, store.ListOptions{SpaceGUIDs: []string{space.GUID}}); len(sis) != 1 {
		t.Fatalf("service instances after refused create: %d", len(sis))
	}
	if b.holds("two") {
		t.Fatal("the broker was asked to provision over quota")
	}
	// User-provided instances do not count.
	h.createUPSIn(space.GUID, "ups")

	// A space quota is checked too.
	sq := h.spaceQuota("no-services", org.GUID, map[string]any{"services": map[string]any{"total_service_instances": 0}})
	h.do("POST", "/v3/organization_quotas/"+h.orgQuota("roomy", nil)+"/relationships/organizations",
		map[string]any{"data": []map[string]string{{"guid": org.GUID}}}, 200, nil)
	h.do("POST", "/v3/space_quotas/"+sq+"/relationships/spaces", map[string]any{"data": []map[string]string{{"guid": space.GUID}}}, 200, nil)
	wantDetail(t, h, "POST", "/v3/service_instances", managed("three"), "You have exceeded your space's services limit.")
	h.do("DELETE", "/v3/space_quotas/"+sq+"/relationships/spaces/"+space.GUID, nil, 204, nil)
	h.createManaged("three", plan)
}

func TestQuotaShapes(t *testing.T) {
	h := newHarness(t)
	var l list[map[string]any]
	h.do("GET", "/v3/organization_quotas?names=default", nil, 200, &l)
	if len(l.Resources) != 1 {
		t.Fatalf("default quota: %+v", l)
	}
	d := l.Resources[0]
	apps := d["apps"].(map[string]any)
	if apps["total_memory_in_mb"] != nil || d["services"].(map[string]any)["paid_services_allowed"] != true {
		t.Fatalf("default quota is unlimited with paid services: %+v", d)
	}
	if orgs := d["relationships"].(map[string]any)["organizations"].(map[string]any)["data"].([]any); len(orgs) != 1 {
		t.Fatalf("the seeded org has the default quota: %+v", orgs)
	}
	var org struct {
		Relationships struct {
			Quota struct{ Data *ref } `json:"quota"`
		} `json:"relationships"`
	}
	h.do("GET", "/v3/organizations/"+h.orgOfDefaultSpace(), nil, 200, &org)
	if org.Relationships.Quota.Data == nil || org.Relationships.Quota.Data.GUID != d["guid"] {
		t.Fatalf("the org's quota relationship: %+v, want %v", org.Relationships.Quota.Data, d["guid"])
	}
	sq := h.spaceQuota("sq", h.orgOfDefaultSpace(), nil, h.defaultSpace())
	var space struct {
		Relationships struct {
			Quota struct{ Data *ref } `json:"quota"`
		} `json:"relationships"`
	}
	h.do("GET", "/v3/spaces/"+h.defaultSpace(), nil, 200, &space)
	if space.Relationships.Quota.Data == nil || space.Relationships.Quota.Data.GUID != sq {
		t.Fatalf("the space's quota relationship: %+v, want %s", space.Relationships.Quota.Data, sq)
	}
	var q map[string]any
	h.do("POST", "/v3/organization_quotas", map[string]any{"name": "shaped", "apps": map[string]any{"total_memory_in_mb": 2048, "total_instances": nil},
		"routes": map[string]any{"total_routes": 0}, "domains": map[string]any{"total_domains": 3}}, 201, &q)
	if q["apps"].(map[string]any)["total_memory_in_mb"] != float64(2048) || q["routes"].(map[string]any)["total_routes"] != float64(0) ||
		q["domains"].(map[string]any)["total_domains"] != float64(3) || q["apps"].(map[string]any)["total_instances"] != nil {
		t.Fatalf("org quota shape: %+v", q)
	}
	guid := q["guid"].(string)
	h.do("PATCH", "/v3/organization_quotas/"+guid, map[string]any{"apps": map[string]any{"total_memory_in_mb": nil}}, 200, &q)
	if q["apps"].(map[string]any)["total_memory_in_mb"] != nil || q["routes"].(map[string]any)["total_routes"] != float64(0) {
		t.Fatalf("patch to unlimited keeps the rest: %+v", q)
	}
	h.fail("POST", "/v3/organization_quotas", map[string]any{"name": "shaped"}, 422)
	h.fail("POST", "/v3/organization_quotas", map[string]any{"name": "bad", "apps": map[string]any{"total_memory_in_mb": -5}}, 422)
	h.fail("POST", "/v3/organization_quotas", map[string]any{"name": "bad", "apps": map[string]any{"bogus": 1}}, 422)
	h.do("DELETE", "/v3/organization_quotas/"+guid, nil, 202, nil)
	h.fail("GET", "/v3/organization_quotas/"+guid, nil, 404)
}

func (h *harness) orgOfDefaultSpace() string {
	h.t.Helper()
	s, err := h.store.Spaces().Get(context.Background(), h.defaultSpace())
	if err != nil {
		h.t.Fatal(err)
	}
	return s.OrgGUID
}

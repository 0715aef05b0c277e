package controller

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
)

// matrixRoles are the callers of the authorization matrix, in the order of
// the expectations below.
var matrixRoles = []string{"admin", store.RoleOrgManager, store.RoleOrgAuditor, store.RoleOrgBillingManager, store.RoleOrgUser,
	store.RoleSpaceManager, store.RoleSpaceDeveloper, store.RoleSpaceAuditor, store.RoleSpaceSupporter, "none"}

// Expectation rows, one status per role of matrixRoles.
var (
	readRow   = [10]int{200, 200, 404, 404, 404, 200, 200, 200, 200, 404}
	writeRow  = [10]int{200, 403, 404, 404, 404, 403, 200, 403, 403, 404}
	secretRow = [10]int{200, 403, 404, 404, 404, 403, 200, 403, 403, 404}
)

type matrixFixture struct {
	org, space, app, web, route, si string
	roleTargets                     map[string]*testUser // a fresh org user per caller, for role grants
}

func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	f := matrixFixture{roleTargets: map[string]*testUser{}}
	f.org = h.createOrg("matrix-org")
	f.space = h.createSpace(f.org, "matrix-space")
	f.app = h.createAppIn(f.space, "matrix-app")
	f.web = h.webProcess(f.app)
	f.route = h.createRouteIn(f.space, "matrix-route")
	f.si = h.createUPSIn(f.space, "matrix-ups")

	users := map[string]*testUser{}
	for i, role := range matrixRoles {
		target := h.newUser(fmt.Sprintf("target-%d", i))
		h.grant(target, store.RoleOrgUser, f.org, "")
		f.roleTargets[role] = target
		if role == "admin" {
			continue
		}
		u := h.newUser("u-" + role)
		users[role] = u
		switch {
		case role == "none":
		case strings.HasPrefix(role, "organization_"):
			h.grant(u, role, f.org, "")
		default:
			h.grant(u, role, f.org, f.space)
		}
	}

	type check struct {
		name string
		req  func(role string) (method, path string, body any)
		want [10]int
	}
	get := func(path string) func(string) (string, string, any) {
		return func(string) (string, string, any) { return "GET", path, nil }
	}
	checks := []check{
		{"read app", get("/v3/apps/" + f.app), readRow},
		{"update app", func(string) (string, string, any) {
			return "PATCH", "/v3/apps/" + f.app, map[string]any{"name": "matrix-app"}
		}, writeRow},
		{"read env", get("/v3/apps/" + f.app + "/env"), secretRow},
		{"read env vars", get("/v3/apps/" + f.app + "/environment_variables"), secretRow},
		{"write env vars", func(string) (string, string, any) {
			return "PATCH", "/v3/apps/" + f.app + "/environment_variables", map[string]any{"var": map[string]string{"K": "v"}}
		}, writeRow},
		{"read process", get("/v3/processes/" + f.web), readRow},
		{"process stats", get("/v3/apps/" + f.app + "/processes/web/stats"), readRow},
		{"scale process", func(string) (string, string, any) {
			return "POST", "/v3/apps/" + f.app + "/processes/web/actions/scale", map[string]any{"instances": 1}
		}, [10]int{202, 403, 404, 404, 404, 403, 202, 403, 202, 404}},
		{"stop app", func(string) (string, string, any) { return "POST", "/v3/apps/" + f.app + "/actions/stop", nil },
			[10]int{200, 403, 404, 404, 404, 403, 200, 403, 200, 404}},
		{"read route", get("/v3/routes/" + f.route), readRow},
		{"route destinations", get("/v3/routes/" + f.route + "/destinations"), readRow},
		{"create route", func(role string) (string, string, any) {
			return "POST", "/v3/routes", routeBodyIn(h, f.space, "r-"+strings.ReplaceAll(role, "_", "-"))
		}, [10]int{201, 403, 422, 422, 422, 403, 201, 403, 403, 422}},
		{"read service instance", get("/v3/service_instances/" + f.si), readRow},
		{"service credentials", get("/v3/service_instances/" + f.si + "/credentials"), secretRow},
		{"create service instance", func(role string) (string, string, any) {
			return "POST", "/v3/service_instances", upsBody(f.space, "ups-"+role)
		}, [10]int{201, 403, 422, 422, 422, 403, 201, 403, 403, 422}},
		{"read logs", get("/api/v1/read/" + f.app), readRow},
		{"create space role", func(role string) (string, string, any) {
			return "POST", "/v3/roles", map[string]any{"type": store.RoleSpaceAuditor, "relationships": map[string]any{
				"user":  map[string]any{"data": map[string]string{"guid": f.roleTargets[role].guid}},
				"space": map[string]any{"data": map[string]string{"guid": f.space}}}}
		}, [10]int{201, 201, 422, 422, 422, 201, 403, 403, 403, 422}},
		{"create org role", func(role string) (string, string, any) {
			return "POST", "/v3/roles", map[string]any{"type": store.RoleOrgAuditor, "relationships": map[string]any{
				"user":         map[string]any{"data": map[string]string{"guid": f.roleTargets[role].guid}},
				"organization": map[string]any{"data": map[string]string{"guid": f.org}}}}
		}, [10]int{201, 201, 403, 403, 403, 403, 403, 403, 403, 422}},
		{"create space quota", func(role string) (string, string, any) {
			return "POST", "/v3/space_quotas", map[string]any{"name": "sq-" + role, "relationships": map[string]any{
				"organization": map[string]any{"data": map[string]string{"guid": f.org}}}}
		}, [10]int{201, 201, 403, 403, 403, 403, 403, 403, 403, 422}},
		{"create org quota", func(role string) (string, string, any) {
			return "POST", "/v3/organization_quotas", map[string]any{"name": "oq-" + role}
		}, [10]int{201, 403, 403, 403, 403, 403, 403, 403, 403, 403}},
		{"read org", get("/v3/organizations/" + f.org), [10]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 404}},
		{"update org", func(string) (string, string, any) {
			return "PATCH", "/v3/organizations/" + f.org, map[string]any{"name": "matrix-org"}
		}, [10]int{200, 200, 403, 403, 403, 403, 403, 403, 403, 404}},
		{"read space", get("/v3/spaces/" + f.space), readRow},
		{"update space", func(string) (string, string, any) {
			return "PATCH", "/v3/spaces/" + f.space, map[string]any{"name": "matrix-space"}
		}, [10]int{200, 200, 404, 404, 404, 200, 403, 403, 403, 404}},
		{"create space", func(role string) (string, string, any) {
			return "POST", "/v3/spaces", map[string]any{"name": "s-" + role,
				"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": f.org}}}}
		}, [10]int{201, 201, 403, 403, 403, 403, 403, 403, 403, 422}},
		{"create org", func(role string) (string, string, any) {
			return "POST", "/v3/organizations", map[string]any{"name": "o-" + role}
		}, [10]int{201, 403, 403, 403, 403, 403, 403, 403, 403, 403}},
		{"service brokers", get("/v3/service_brokers"), [10]int{200, 403, 403, 403, 403, 403, 403, 403, 403, 403}},
		{"apply manifest", func(string) (string, string, any) {
			return "POST", "/v3/spaces/" + f.space + "/manifest_diff", "applications:\n- name: matrix-app\n"
		}, [10]int{201, 403, 404, 404, 404, 403, 201, 403, 403, 404}},
	}
	for _, ck := range checks {
		for i, role := range matrixRoles {
			method, path, body := ck.req(role)
			status, data := h.as(users[role], method, path, body)
			want := ck.want[i]
			if status != want {
				t.Errorf("%s as %s: %s %s = %d, want %d; body %s", ck.name, role, method, path, status, want, data)
				continue
			}
			title, _ := errTitle(data)
			switch want {
			case 403:
				if title != "CF-NotAuthorized" {
					t.Errorf("%s as %s: 403 titled %q, want CF-NotAuthorized", ck.name, role, title)
				}
			case 404:
				if title != "CF-ResourceNotFound" {
					t.Errorf("%s as %s: 404 titled %q, want CF-ResourceNotFound", ck.name, role, title)
				}
			}
		}
	}
}

// A space developer of space A sees nothing of space B: every way in is a
// 404 (or, for references in request bodies, the same 422 as for a
// resource that does not exist), and lists leave B out.
func TestSpaceIsolation(t *testing.T) {
	h := newHarness(t)
	org := h.createOrg("iso-org")
	spaceA, spaceB := h.createSpace(org, "a"), h.createSpace(org, "b")
	appA, appB := h.createAppIn(spaceA, "app-a"), h.createAppIn(spaceB, "app-b")
	routeA, routeB := h.createRouteIn(spaceA, "route-a"), h.createRouteIn(spaceB, "route-b")
	siA, siB := h.createUPSIn(spaceA, "ups-a"), h.createUPSIn(spaceB, "ups-b")
	webB := h.webProcess(appB)
	dev := h.newUser("dev-a")
	h.grant(dev, store.RoleSpaceDeveloper, org, spaceA)

	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/v3/apps/" + appB, nil, 404},
		{"PATCH", "/v3/apps/" + appB, map[string]any{"name": "x"}, 404},
		{"DELETE", "/v3/apps/" + appB, nil, 404},
		{"GET", "/v3/apps/" + appB + "/env", nil, 404},
		{"GET", "/v3/apps/" + appB + "/environment_variables", nil, 404},
		{"PATCH", "/v3/apps/" + appB + "/environment_variables", map[string]any{"var": map[string]string{"A": "b"}}, 404},
		{"POST", "/v3/apps/" + appB + "/actions/start", nil, 404},
		{"POST", "/v3/processes/" + webB + "/actions/scale", map[string]any{"instances": 3}, 404},
		{"GET", "/v3/processes/" + webB + "/stats", nil, 404},
		{"GET", "/api/v1/read/" + appB, nil, 404},
		{"GET", "/v3/routes/" + routeB, nil, 404},
		{"DELETE", "/v3/routes/" + routeB, nil, 404},
		{"POST", "/v3/routes/" + routeB + "/destinations", map[string]any{"destinations": []any{map[string]any{"app": map[string]string{"guid": appA}}}}, 404},
		{"GET", "/v3/service_instances/" + siB, nil, 404},
		{"GET", "/v3/service_instances/" + siB + "/credentials", nil, 404},
		{"DELETE", "/v3/service_instances/" + siB, nil, 404},
		{"GET", "/v3/spaces/" + spaceB, nil, 404},
		// References in bodies: the same 422 as for a missing resource.
		{"POST", "/v3/routes/" + routeA + "/destinations", map[string]any{"destinations": []any{map[string]any{"app": map[string]string{"guid": appB}}}}, 422},
		{"POST", "/v3/service_credential_bindings", map[string]any{"type": "app", "relationships": map[string]any{
			"service_instance": map[string]any{"data": map[string]string{"guid": siB}}, "app": map[string]any{"data": map[string]string{"guid": appA}}}}, 422},
		{"POST", "/v3/service_credential_bindings", map[string]any{"type": "app", "relationships": map[string]any{
			"service_instance": map[string]any{"data": map[string]string{"guid": siA}}, "app": map[string]any{"data": map[string]string{"guid": appB}}}}, 422},
		{"POST", "/v3/routes", routeBodyIn(h, spaceB, "sneaky"), 422},
		{"POST", "/v3/service_instances", upsBody(spaceB, "sneaky"), 422},
		{"POST", "/v3/apps", map[string]any{"name": "sneaky", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": spaceB}}}}, 422},
		{"POST", "/v3/packages", map[string]any{"type": "bits", "relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": appB}}}}, 422},
	} {
		status, data := h.as(dev, tc.method, tc.path, tc.body)
		if status != tc.want {
			t.Errorf("%s %s = %d, want %d; body %s", tc.method, tc.path, status, tc.want, data)
		}
	}
	// Nothing in B changed.
	var b struct {
		Name  string `json:"name"`
		State string `json:"state"`
	}
	h.do("GET", "/v3/apps/"+appB, nil, 200, &b)
	if b.Name != "app-b" || b.State != "STOPPED" {
		t.Fatalf("app in space B changed: %+v", b)
	}

	// Lists only show space A.
	for _, path := range []string{"/v3/apps", "/v3/routes", "/v3/service_instances", "/v3/spaces", "/v3/processes",
		"/v3/apps?space_guids=" + spaceB, "/v3/routes?space_guids=" + spaceA + "," + spaceB} {
		status, data := h.as(dev, "GET", path, nil)
		if status != 200 {
			t.Fatalf("GET %s = %d: %s", path, status, data)
		}
		var l list[json.RawMessage]
		if err := json.Unmarshal(data, &l); err != nil {
			t.Fatal(err)
		}
		for _, res := range l.Resources {
			for _, hidden := range []string{appB, routeB, siB, spaceB, webB} {
				if strings.Contains(string(res), `"guid":"`+hidden+`"`) {
					t.Errorf("GET %s shows %s from space B: %s", path, hidden, res)
				}
			}
		}
		if strings.Contains(path, "space_guids="+spaceB) && l.Pagination.TotalResults != 0 {
			t.Errorf("GET %s: %d results, want 0", path, l.Pagination.TotalResults)
		}
		if path == "/v3/apps" && l.Pagination.TotalResults != 1 {
			t.Errorf("GET /v3/apps: %d results, want 1 (app-a)", l.Pagination.TotalResults)
		}
	}
	// A user with no role sees no org, space or app at all.
	stranger := h.newUser("stranger")
	for _, path := range []string{"/v3/organizations", "/v3/spaces", "/v3/apps", "/v3/roles", "/v3/audit_events"} {
		status, data := h.as(stranger, "GET", path, nil)
		var l list[json.RawMessage]
		_ = json.Unmarshal(data, &l)
		if status != 200 || l.Pagination.TotalResults != 0 {
			t.Errorf("stranger GET %s = %d with %d results, want 200 with none", path, status, l.Pagination.TotalResults)
		}
	}
}

// Every authenticated route has an explicit rule.
func TestEveryRouteHasARule(t *testing.T) {
	h := newHarness(t)
	_ = h
	missing := []string{}
	for _, p := range registeredBearerRoutes(h.c) {
		if _, ok := routeRules[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("routes without an authorization rule (they are admin-only): %v", missing)
	}
}

func registeredBearerRoutes(c *Controller) []string { return c.bearerRoutes }

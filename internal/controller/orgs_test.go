package controller

import (
	"strings"
	"testing"
)

func TestOrgsSpacesDomains(t *testing.T) {
	h := newHarness(t)
	var orgs list[ref]
	h.do("GET", "/v3/organizations?order_by=name", nil, 200, &orgs)
	if len(orgs.Resources) != 1 || orgs.Resources[0].Name != "ingot" {
		t.Fatalf("seeded orgs: %+v", orgs)
	}
	org := orgs.Resources[0].GUID

	// The CLI's login lookups.
	h.do("GET", "/v3/organizations?names=ingot&page=1&per_page=1", nil, 200, &orgs)
	if len(orgs.Resources) != 1 {
		t.Fatalf("names filter: %+v", orgs)
	}
	var spaces list[ref]
	h.do("GET", "/v3/spaces?order_by=name&organization_guids="+org, nil, 200, &spaces)
	if len(spaces.Resources) != 1 || spaces.Resources[0].Name != "dev" {
		t.Fatalf("seeded spaces: %+v", spaces)
	}

	// Create org: 201, then the duplicate message that makes create-org idempotent.
	var o2 ref
	h.do("POST", "/v3/organizations", map[string]any{"name": "acme", "suspended": false}, 201, &o2)
	if _, _, d := h.fail("POST", "/v3/organizations", map[string]any{"name": "acme"}, 422); d != "Organization 'acme' already exists." {
		t.Fatalf("duplicate org: %q", d)
	}
	h.fail("POST", "/v3/organizations", map[string]any{"name": ""}, 422)
	var renamed ref
	h.do("PATCH", "/v3/organizations/"+o2.GUID, map[string]any{"name": "acme2"}, 200, &renamed)
	if renamed.Name != "acme2" {
		t.Fatalf("rename org: %+v", renamed)
	}
	if _, _, d := h.fail("GET", "/v3/organizations/nope", nil, 404); d != "Organization not found" {
		t.Fatalf("unknown org: %q", d)
	}

	// Create space, duplicate, roles.
	var s ref
	body := map[string]any{"name": "prod", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": o2.GUID}}}}
	h.do("POST", "/v3/spaces", body, 201, &s)
	if _, _, d := h.fail("POST", "/v3/spaces", body, 422); d != "Name must be unique per organization" {
		t.Fatalf("duplicate space: %q", d)
	}
	h.fail("POST", "/v3/spaces", map[string]any{"name": "x", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": "missing"}}}}, 422)
	if _, _, d := h.fail("GET", "/v3/spaces/nope", nil, 404); d != "Space not found" {
		t.Fatalf("unknown space: %q", d)
	}
	var role struct {
		GUID          string `json:"guid"`
		Type          string `json:"type"`
		Relationships struct {
			User struct {
				Data struct {
					GUID string `json:"guid"`
				} `json:"data"`
			} `json:"user"`
		} `json:"relationships"`
	}
	h.do("POST", "/v3/roles", map[string]any{"type": "organization_user", "relationships": map[string]any{
		"organization": map[string]any{"data": map[string]string{"guid": o2.GUID}},
		"user":         map[string]any{"data": map[string]string{"username": "admin", "origin": "uaa"}},
	}}, 201, &role)
	if role.Type != "organization_user" || role.GUID == "" || role.Relationships.User.Data.GUID == "" {
		t.Fatalf("role: %+v", role)
	}
	h.do("POST", "/v3/roles", map[string]any{"type": "space_developer", "relationships": map[string]any{
		"space": map[string]any{"data": map[string]string{"guid": s.GUID}},
		"user":  map[string]any{"data": map[string]string{"username": "admin", "origin": "uaa"}},
	}}, 201, nil)
	h.fail("POST", "/v3/roles", map[string]any{"type": "space_developer", "relationships": map[string]any{
		"space": map[string]any{"data": map[string]string{"guid": s.GUID}},
		"user":  map[string]any{"data": map[string]string{"username": "ghost"}},
	}}, 422)

	// Domains: the shared domain, and it is every org's default.
	var domains list[ref]
	h.do("GET", "/v3/domains", nil, 200, &domains)
	if len(domains.Resources) != 1 || domains.Resources[0].Name != "apps.localhost" {
		t.Fatalf("domains: %+v", domains)
	}
	var def ref
	h.do("GET", "/v3/organizations/"+o2.GUID+"/domains/default", nil, 200, &def)
	if def.GUID != domains.Resources[0].GUID {
		t.Fatalf("default domain %+v", def)
	}
	h.do("GET", "/v3/domains/"+def.GUID, nil, 200, nil)
	h.do("GET", "/v3/organizations/"+org+"/domains", nil, 200, &domains)
	if len(domains.Resources) != 1 {
		t.Fatalf("org domains: %+v", domains)
	}
}

func TestPaginationAndOrdering(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"charlie", "alpha", "bravo"} {
		h.do("POST", "/v3/organizations", map[string]any{"name": n}, 201, nil)
	}
	var l list[ref]
	h.do("GET", "/v3/organizations?order_by=name&per_page=2", nil, 200, &l)
	if l.Pagination.TotalResults != 4 || l.Pagination.TotalPages != 2 || len(l.Resources) != 2 || l.Resources[0].Name != "alpha" || l.Pagination.Next == nil {
		t.Fatalf("page 1: %+v", l)
	}
	if !strings.Contains(l.Pagination.Next.Href, "page=2") || !strings.HasPrefix(l.Pagination.Next.Href, h.url+"/v3/organizations?") {
		t.Fatalf("next href %q", l.Pagination.Next.Href)
	}
	var l2 list[ref]
	h.do("GET", strings.TrimPrefix(l.Pagination.Next.Href, h.url), nil, 200, &l2)
	if len(l2.Resources) != 2 || l2.Resources[0].Name != "charlie" || l2.Resources[1].Name != "ingot" || l2.Pagination.Next != nil {
		t.Fatalf("page 2: %+v", l2)
	}
	h.do("GET", "/v3/organizations?order_by=-name", nil, 200, &l)
	if l.Resources[0].Name != "ingot" || l.Resources[3].Name != "alpha" {
		t.Fatalf("descending: %+v", l.Resources)
	}
	h.do("GET", "/v3/organizations?order_by=-created_at", nil, 200, &l)
	if l.Resources[3].Name != "ingot" {
		t.Fatalf("-created_at: %+v", l.Resources)
	}
	for _, q := range []string{"per_page=0", "per_page=5001", "page=0", "order_by=color"} {
		if code, title, _ := h.fail("GET", "/v3/organizations?"+q, nil, 400); code != 10005 || title != "CF-BadQueryParameter" {
			t.Fatalf("%s: %d %s", q, code, title)
		}
	}
	// An empty list still has resources: [].
	status, _, body := h.raw("GET", "/v3/organizations?names=none", "", nil, true)
	if status != 200 || !strings.Contains(string(body), `"resources":[]`) {
		t.Fatalf("empty list: %d %s", status, body)
	}
}

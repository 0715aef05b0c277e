package controller

import (
	"strings"
	"testing"
)

func TestDomainsCreateAndDelete(t *testing.T) {
	h := newHarness(t)
	var org ref
	h.do("POST", "/v3/organizations", map[string]any{"name": "acme"}, 201, &org)

	type domainJSON struct {
		GUID          string `json:"guid"`
		Name          string `json:"name"`
		Relationships struct {
			Organization struct {
				Data *ref `json:"data"`
			} `json:"organization"`
		} `json:"relationships"`
	}
	var shared, private domainJSON
	h.do("POST", "/v3/domains", map[string]any{"name": "Shared.Example.com"}, 201, &shared)
	if shared.Name != "shared.example.com" || shared.Relationships.Organization.Data != nil {
		t.Fatalf("shared domain: %+v", shared)
	}
	h.do("POST", "/v3/domains", map[string]any{"name": "acme.example.com", "relationships": map[string]any{
		"organization": map[string]any{"data": map[string]string{"guid": org.GUID}}}}, 201, &private)
	if private.Relationships.Organization.Data == nil || private.Relationships.Organization.Data.GUID != org.GUID {
		t.Fatalf("private domain: %+v", private)
	}
	// The private domain is usable in its org only.
	var l list[domainJSON]
	h.do("GET", "/v3/organizations/"+org.GUID+"/domains", nil, 200, &l)
	names := map[string]bool{}
	for _, d := range l.Resources {
		names[d.Name] = true
	}
	if !names["acme.example.com"] || !names["shared.example.com"] {
		t.Fatalf("acme's domains: %v", names)
	}

	for _, bad := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": "shared.example.com"}, "already in use"},
		{map[string]any{"name": ""}, "Name can't be blank"},
		{map[string]any{"name": "no_underscores.example.com"}, "invalid character"},
		{map[string]any{"name": "localhost"}, "at least one"},
		{map[string]any{"name": "x.example.com", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": "nope"}}}}, "does not exist"},
	} {
		if _, _, d := h.fail("POST", "/v3/domains", bad.body, 422); !strings.Contains(d, bad.want) {
			t.Errorf("POST %v: %q, want %q", bad.body, d, bad.want)
		}
	}

	// Deleting a domain deletes its routes.
	var rt routeJSON
	h.do("POST", "/v3/routes", map[string]any{"host": "www", "relationships": map[string]any{
		"domain": map[string]any{"data": map[string]string{"guid": shared.GUID}},
		"space":  map[string]any{"data": map[string]string{"guid": h.defaultSpace()}},
	}}, 201, &rt)
	hdr := h.do("DELETE", "/v3/domains/"+shared.GUID, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete job: %+v", j)
	}
	h.fail("GET", "/v3/domains/"+shared.GUID, nil, 404)
	h.fail("GET", "/v3/routes/"+rt.GUID, nil, 404)
	// The platform's own domain stays.
	if _, _, d := h.fail("DELETE", "/v3/domains/"+h.sharedDomain(), nil, 422); !strings.Contains(d, "cannot be deleted") {
		t.Errorf("delete default domain: %q", d)
	}
}

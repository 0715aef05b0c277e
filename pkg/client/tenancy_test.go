package client

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

func TestListRolesFollowsPagesAndCollectsUsers(t *testing.T) {
	var srvURL string
	c, srv := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("include") != "user" || r.URL.Query().Get("space_guids") != "s1" {
			t.Errorf("query: %s", r.URL.RawQuery)
		}
		role := func(guid, user string) map[string]any {
			return map[string]any{"guid": guid, "type": RoleSpaceDeveloper, "relationships": map[string]any{
				"user": map[string]any{"data": map[string]string{"guid": user}}, "organization": map[string]any{"data": nil},
				"space": map[string]any{"data": map[string]string{"guid": "s1"}}}}
		}
		if r.URL.Query().Get("page") == "2" {
			writeJSON(w, 200, map[string]any{"pagination": map[string]any{"next": nil}, "resources": []any{role("r2", "u2")},
				"included": map[string]any{"users": []any{map[string]string{"guid": "u2", "username": "bob", "origin": "uaa"}}}})
			return
		}
		writeJSON(w, 200, map[string]any{"pagination": map[string]any{"next": map[string]string{"href": srvURL + "/v3/roles?include=user&space_guids=s1&page=2"}},
			"resources": []any{role("r1", "u1")},
			"included":  map[string]any{"users": []any{map[string]string{"guid": "u1", "username": "alice", "origin": "uaa"}}}})
	}))
	srvURL = srv.URL
	roles, users, err := c.ListRoles(context.Background(), RoleFilter{SpaceGUIDs: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2 || roles[1].Relationships.User.GUID() != "u2" || roles[0].Relationships.Organization.GUID() != "" {
		t.Fatalf("roles: %+v", roles)
	}
	if name := func(g string) string {
		if u := users[g]; u.Username != nil {
			return *u.Username
		}
		return ""
	}; name("u1") != "alice" || name("u2") != "bob" {
		t.Fatalf("users: %+v", users)
	}
}

func TestQuotaLimitsRoundTrip(t *testing.T) {
	var got map[string]any
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		writeJSON(w, 201, map[string]any{"guid": "q1", "name": got["name"], "apps": got["apps"], "services": got["services"],
			"routes": got["routes"], "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": "o1"}},
				"spaces": map[string]any{"data": []any{}}}})
	}))
	mem := int64(1024)
	q, err := c.CreateSpaceQuota(context.Background(), "o1", "tiny", QuotaLimits{TotalMemoryInMB: &mem, PaidServicesAllowed: true})
	if err != nil {
		t.Fatal(err)
	}
	apps := got["apps"].(map[string]any)
	if apps["total_memory_in_mb"] != float64(1024) || apps["total_instances"] != nil {
		t.Fatalf("request limits (nil must be sent as null = unlimited): %+v", apps)
	}
	if q.GUID != "q1" || q.OrgGUID != "o1" || q.TotalMemoryInMB == nil || *q.TotalMemoryInMB != 1024 || q.TotalInstances != nil || !q.PaidServicesAllowed {
		t.Fatalf("quota: %+v", q)
	}
}

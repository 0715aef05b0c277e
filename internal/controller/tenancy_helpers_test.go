package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/store"
)

// testUser is a non-admin user with a token.
type testUser struct {
	guid, name, token string
}

// newUser creates a UAA user straight in the store (no admin scope) and
// logs in as it.
func (h *harness) newUser(name string) *testUser {
	h.t.Helper()
	hash, err := auth.HashPassword("pw-" + name)
	if err != nil {
		h.t.Fatal(err)
	}
	u := &store.User{Meta: store.Meta{GUID: newGUID()}, Username: name, Origin: "uaa", PasswordHash: hash}
	if err := h.store.Users().Create(context.Background(), u); err != nil {
		h.t.Fatalf("create user %s: %v", name, err)
	}
	// Registered with the Cloud Controller too, as create-user does.
	if err := h.store.CCUsers().Create(context.Background(), &store.CCUser{Meta: store.Meta{GUID: u.GUID}}); err != nil {
		h.t.Fatalf("register user %s: %v", name, err)
	}
	return &testUser{guid: u.GUID, name: name, token: h.login(name, "pw-"+name)}
}

// as sends a request with a user's token and returns status and body.
func (h *harness) as(u *testUser, method, path string, body any) (int, []byte) {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			data, _ := json.Marshal(body)
			r = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	tok := h.token
	if u != nil {
		tok = u.token
	}
	req.Header.Set("Authorization", "bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// grant gives a user a role as admin (org_user first for space roles).
func (h *harness) grant(u *testUser, typ, orgGUID, spaceGUID string) {
	h.t.Helper()
	user := map[string]any{"data": map[string]string{"guid": u.guid}}
	if spaceGUID != "" {
		h.ensureOrgUser(u, orgGUID)
		h.do("POST", "/v3/roles", map[string]any{"type": typ, "relationships": map[string]any{
			"user": user, "space": map[string]any{"data": map[string]string{"guid": spaceGUID}}}}, 201, nil)
		return
	}
	h.do("POST", "/v3/roles", map[string]any{"type": typ, "relationships": map[string]any{
		"user": user, "organization": map[string]any{"data": map[string]string{"guid": orgGUID}}}}, 201, nil)
}

func (h *harness) ensureOrgUser(u *testUser, orgGUID string) {
	h.t.Helper()
	rs, err := h.store.Roles().List(context.Background(), store.ListOptions{UserGUIDs: []string{u.guid}, OrgGUIDs: []string{orgGUID}, Types: []string{store.RoleOrgUser}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(rs) == 0 {
		h.grant(u, store.RoleOrgUser, orgGUID, "")
	}
}

// createOrg and createSpace make tenancy fixtures as admin.
func (h *harness) createOrg(name string) string {
	h.t.Helper()
	var o ref
	h.do("POST", "/v3/organizations", map[string]any{"name": name}, 201, &o)
	return o.GUID
}

func (h *harness) createSpace(orgGUID, name string) string {
	h.t.Helper()
	var s ref
	h.do("POST", "/v3/spaces", map[string]any{"name": name,
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": orgGUID}}}}, 201, &s)
	return s.GUID
}

// createAppIn makes an app in a space with a staged droplet.
func (h *harness) createAppIn(spaceGUID, name string) string {
	h.t.Helper()
	var a ref
	h.do("POST", "/v3/apps", map[string]any{"name": name,
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": spaceGUID}}}}, 201, &a)
	h.stagedDroplet(a.GUID, nil)
	return a.GUID
}

func (h *harness) createRouteIn(spaceGUID, host string) string {
	h.t.Helper()
	var d list[ref]
	h.do("GET", "/v3/domains", nil, 200, &d)
	var rt ref
	h.do("POST", "/v3/routes", map[string]any{"host": host, "relationships": map[string]any{
		"space":  map[string]any{"data": map[string]string{"guid": spaceGUID}},
		"domain": map[string]any{"data": map[string]string{"guid": d.Resources[0].GUID}}}}, 201, &rt)
	return rt.GUID
}

func (h *harness) createUPSIn(spaceGUID, name string) string {
	h.t.Helper()
	var si ref
	h.do("POST", "/v3/service_instances", upsBody(spaceGUID, name), 201, &si)
	return si.GUID
}

func upsBody(spaceGUID, name string) map[string]any {
	return map[string]any{"type": "user-provided", "name": name, "credentials": map[string]any{"password": "hunter2"},
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": spaceGUID}}}}
}

func routeBodyIn(h *harness, spaceGUID, host string) map[string]any {
	h.t.Helper()
	var d list[ref]
	h.do("GET", "/v3/domains", nil, 200, &d)
	return map[string]any{"host": host, "relationships": map[string]any{
		"space":  map[string]any{"data": map[string]string{"guid": spaceGUID}},
		"domain": map[string]any{"data": map[string]string{"guid": d.Resources[0].GUID}}}}
}

// errTitle extracts the first CF error's title and detail.
func errTitle(data []byte) (string, string) {
	var e cfError
	if json.Unmarshal(data, &e) != nil || len(e.Errors) == 0 {
		return "", ""
	}
	return e.Errors[0].Title, e.Errors[0].Detail
}

package controller

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/controller/auth"
)

func TestRootLinks(t *testing.T) {
	h := newHarness(t)
	status, _, body := h.raw("GET", "/", "", nil, false)
	if status != 200 {
		t.Fatalf("GET / = %d", status)
	}
	var root struct {
		Links map[string]struct {
			Href string            `json:"href"`
			Meta map[string]string `json:"meta"`
		} `json:"links"`
	}
	if err := json.Unmarshal(body, &root); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "uaa", "log_cache", "self"} {
		if root.Links[name].Href != h.url {
			t.Errorf("links.%s = %q, want %q", name, root.Links[name].Href, h.url)
		}
	}
	v3 := root.Links["cloud_controller_v3"]
	if v3.Href != h.url+"/v3" || v3.Meta["version"] != APIVersion {
		t.Errorf("cloud_controller_v3 = %+v", v3)
	}
}

func TestLoginPrompts(t *testing.T) {
	h := newHarness(t)
	status, _, body := h.raw("GET", "/login", "", nil, false)
	var l struct {
		App     map[string]string   `json:"app"`
		Prompts map[string][]string `json:"prompts"`
	}
	if err := json.Unmarshal(body, &l); err != nil || status != 200 {
		t.Fatalf("GET /login = %d %s", status, body)
	}
	if l.App["version"] != "4.30.0" || strings.Join(l.Prompts["username"], ",") != "text,Email" || strings.Join(l.Prompts["password"], ",") != "password,Password" {
		t.Fatalf("prompts: %s", body)
	}
}

func tokenRequest(t *testing.T, h *harness, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("cf", "")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a 3-part JWT: %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	_ = json.Unmarshal(header, &hdr)
	claims["_header"] = hdr
	return claims
}

func TestPasswordAndRefreshGrants(t *testing.T) {
	h := newHarness(t)
	status, tr := tokenRequest(t, h, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}}, true)
	if status != 200 {
		t.Fatalf("password grant: %d %v", status, tr)
	}
	if tr["token_type"] != "bearer" || tr["refresh_token"] == "" || tr["jti"] == "" || tr["expires_in"].(float64) < 500 {
		t.Fatalf("token response: %v", tr)
	}
	claims := jwtClaims(t, tr["access_token"].(string))
	for k, want := range map[string]any{"user_name": "admin", "origin": "uaa", "client_id": "cf", "revocable": true, "iss": h.url + "/oauth/token"} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	if claims["user_id"] == "" || claims["jti"] == "" {
		t.Errorf("claims lack user_id or jti: %v", claims)
	}
	if exp := int64(claims["exp"].(float64)); exp < time.Now().Add(2*time.Minute).Unix() {
		t.Errorf("exp %d is too soon", exp)
	}
	if !strings.Contains(tr["scope"].(string), "cloud_controller.admin") {
		t.Errorf("admin scope missing: %v", tr["scope"])
	}
	if hdr := claims["_header"].(map[string]any); hdr["alg"] != "RS256" || hdr["kid"] == nil {
		t.Errorf("header: %v", hdr)
	}

	// The body's client_id works as well as Basic auth.
	status, _ = tokenRequest(t, h, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword}, "client_id": {"cf"}}, false)
	if status != 200 {
		t.Fatalf("password grant with body client_id: %d", status)
	}

	// Refresh.
	status, rr := tokenRequest(t, h, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr["refresh_token"].(string)}}, true)
	if status != 200 || rr["access_token"] == "" {
		t.Fatalf("refresh grant: %d %v", status, rr)
	}
	h.token = rr["access_token"].(string)
	h.do("GET", "/v3/organizations", nil, 200, nil)

	// An access token is not a refresh token, and vice versa.
	status, _ = tokenRequest(t, h, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr["access_token"].(string)}}, true)
	if status != 401 {
		t.Fatalf("access token accepted as a refresh token: %d", status)
	}
	h.token = tr["refresh_token"].(string)
	if code, title, _ := h.fail("GET", "/v3/apps", nil, 401); code != 1000 || title != "CF-InvalidAuthToken" {
		t.Fatalf("refresh token accepted as an access token: %d %s", code, title)
	}

	// Unknown grant and unknown client.
	status, body := tokenRequest(t, h, url.Values{"grant_type": {"implicit"}}, true)
	if status != 400 || body["error"] != "unsupported_grant_type" {
		t.Fatalf("unsupported grant: %d %v", status, body)
	}
	req, _ := http.NewRequest("POST", h.url+"/oauth/token", strings.NewReader("grant_type=password&username=admin&password="+adminPassword))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("other", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unknown client: %d", resp.StatusCode)
	}
}

func TestBadCredentials(t *testing.T) {
	h := newHarness(t)
	for _, form := range []url.Values{
		{"grant_type": {"password"}, "username": {"admin"}, "password": {"wrong"}},
		{"grant_type": {"password"}, "username": {"nobody"}, "password": {"x"}},
		{"grant_type": {"password"}},
	} {
		status, body := tokenRequest(t, h, form, true)
		if status != 401 || body["error"] != "unauthorized" || body["error_description"] != "Bad credentials" {
			t.Fatalf("%v: %d %v", form, status, body)
		}
	}
}

func TestTokenRequired(t *testing.T) {
	h := newHarness(t)
	// Missing token.
	status, _, body := h.raw("GET", "/v3/apps", "", nil, false)
	var e cfError
	_ = json.Unmarshal(body, &e)
	if status != 401 || e.Errors[0].Code != 10002 || e.Errors[0].Title != "CF-NotAuthenticated" || e.Errors[0].Detail != "Authentication error" {
		t.Fatalf("no token: %d %s", status, body)
	}
	// Garbage, tampered, wrong scheme and expired tokens.
	key, err := auth.LoadOrCreateKey(h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	old := auth.NewIssuer(key, h.url+"/oauth/token", 10*time.Minute, time.Hour)
	old.SetClock(func() time.Time { return time.Now().Add(-time.Hour) })
	expired, err := old.Issue(auth.Subject{UserID: "x", UserName: "admin", Origin: "uaa", Admin: true}, "password")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h.token, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"user_id":"x","exp":9999999999}`)) + "." + parts[2]
	for name, hdr := range map[string]string{
		"garbage":  "bearer not-a-jwt",
		"tampered": "bearer " + tampered,
		"scheme":   "Basic YWRtaW46cw==",
		"expired":  "bearer " + expired.AccessToken,
		"empty":    "bearer ",
	} {
		req, _ := http.NewRequest("GET", h.url+"/v3/apps", nil)
		req.Header.Set("Authorization", hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e cfError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 401 || len(e.Errors) != 1 || e.Errors[0].Code != 1000 || e.Errors[0].Title != "CF-InvalidAuthToken" || e.Errors[0].Detail != "Invalid Auth Token" {
			t.Errorf("%s token: %d %+v", name, resp.StatusCode, e)
		}
	}
	// Log-cache needs a token too; the root does not.
	if status, _, _ := h.raw("GET", "/api/v1/info", "", nil, false); status != 401 {
		t.Errorf("log-cache info without token: %d", status)
	}
	if status, _, _ := h.raw("GET", "/", "", nil, false); status != 200 {
		t.Errorf("root without token: %d", status)
	}
}

func TestUnknownRouteAndBadJSON(t *testing.T) {
	h := newHarness(t)
	if code, _, detail := h.fail("GET", "/v3/nonsense", nil, 404); code != 10000 || detail != "Unknown request" {
		t.Fatalf("unknown route: %d %q", code, detail)
	}
	if code, title, _ := h.fail("POST", "/v3/apps", "{not json", 400); code != 1001 || title != "CF-MessageParseError" {
		t.Fatalf("bad json: %d %s", code, title)
	}
	if code, _, detail := h.fail("POST", "/v3/apps", `{"name": 5}`, 422); code != 10008 || !strings.Contains(detail, "Name must be a string") {
		t.Fatalf("wrong type: %d %q", code, detail)
	}
}

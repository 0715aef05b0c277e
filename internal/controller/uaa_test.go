package controller

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ingot-paas/ingot/internal/controller/auth"
)

// uaaCall sends a request with token (none when "") and an optional JSON
// body, and decodes a JSON answer.
func uaaCall(t *testing.T, h *harness, method, path, token string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, h.url+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, resp.Header, out
}

// grant posts to /oauth/token as client id:secret with extra headers.
func grant(t *testing.T, h *harness, id, secret string, form url.Values, hdr map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func passwordForm(user, pw string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
}

// session logs in and returns the access and refresh tokens.
func session(t *testing.T, h *harness, user, pw string) (access, refresh string) {
	t.Helper()
	status, _, tr := grant(t, h, "cf", "", passwordForm(user, pw), nil)
	if status != 200 {
		t.Fatalf("login %s: %d %v", user, status, tr)
	}
	return tr["access_token"].(string), tr["refresh_token"].(string)
}

// createUAAUser creates a user through POST /Users with the admin token.
func createUAAUser(t *testing.T, h *harness, name, pw string) string {
	t.Helper()
	status, _, u := uaaCall(t, h, "POST", "/Users", h.token, map[string]any{"userName": name, "password": pw, "origin": "uaa",
		"name": map[string]string{"familyName": name, "givenName": name}, "emails": []map[string]any{{"value": name, "primary": true}}})
	if status != 201 {
		t.Fatalf("POST /Users %s: %d %v", name, status, u)
	}
	return u["id"].(string)
}

// apiStatus is the status of GET /v3/apps with token.
func apiStatus(t *testing.T, h *harness, token string) (int, cfError) {
	t.Helper()
	req, _ := http.NewRequest("GET", h.url+"/v3/apps", nil)
	req.Header.Set("Authorization", "bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e cfError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

// adminStatus asks for an admin-only action (creating an org with an
// invalid body): an admin gets 422, anyone else 403.
func adminStatus(t *testing.T, h *harness, token string) (int, cfError) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/v3/organizations", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e cfError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

func wantInvalidToken(t *testing.T, h *harness, what, token string) {
	t.Helper()
	status, e := apiStatus(t, h, token)
	if status != 401 || len(e.Errors) != 1 || e.Errors[0].Code != 1000 || e.Errors[0].Title != "CF-InvalidAuthToken" {
		t.Errorf("%s: %d %+v, want 401 CF-InvalidAuthToken", what, status, e)
	}
}

func b64(v any) string {
	data, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(data)
}

func TestBadTokensAreRejected(t *testing.T) {
	h := newHarness(t)
	if status, _ := apiStatus(t, h, h.token); status != 200 {
		t.Fatalf("good token: %d", status)
	}
	claims := jwtClaims(t, h.token)
	hdr := claims["_header"].(map[string]any)
	delete(claims, "_header")
	kid := hdr["kid"].(string)
	parts := strings.Split(h.token, ".")

	// Expired: signed by the real key, an hour ago.
	key, err := auth.LoadOrCreateKey(h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	old := auth.NewIssuer(key, h.url+"/oauth/token", 10*time.Minute, time.Hour)
	old.SetClock(func() time.Time { return time.Now().Add(-time.Hour) })
	expired, _ := old.Issue(auth.Subject{UserID: claims["user_id"].(string), UserName: "admin", Origin: "uaa", Admin: true}, "password")

	// Another key, under its own kid and under ours.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	foreign, _ := auth.NewIssuer(other, h.url+"/oauth/token", 10*time.Minute, time.Hour).
		Issue(auth.Subject{UserID: claims["user_id"].(string), UserName: "admin", Origin: "uaa", Admin: true}, "password")
	ours := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	ours.Header["kid"] = kid
	otherKeyOurKid, _ := ours.SignedString(other)

	// alg none.
	none := b64(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + "."

	// HS256 keyed with the public key (PEM and DER), the classic confusion.
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	var confused []string
	for _, secret := range [][]byte{pemKey, der} {
		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
		hs.Header["kid"] = kid
		s, _ := hs.SignedString(secret)
		confused = append(confused, s)
	}

	// Tampered payload: the admin's signature over another user's claims.
	tamperedClaims := map[string]any{}
	for k, v := range claims {
		tamperedClaims[k] = v
	}
	tamperedClaims["user_name"] = "mallory"
	tampered := parts[0] + "." + b64(tamperedClaims) + "." + parts[2]

	// Unknown kid, signed by the real key.
	unk := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	unk.Header["kid"] = "key-000000000000"
	unknownKid, _ := unk.SignedString(key)

	// Revoked.
	revoked, _ := session(t, h, "admin", adminPassword)
	if status, _, body := uaaCall(t, h, "DELETE", "/oauth/token/revoke/"+jwtClaims(t, revoked)["jti"].(string), revoked, nil); status != 200 {
		t.Fatalf("revoke: %d %v", status, body)
	}

	for name, tok := range map[string]string{
		"expired": expired.AccessToken, "foreign key": foreign.AccessToken, "other key with our kid": otherKeyOurKid,
		"alg none": none, "hs256 with pem public key": confused[0], "hs256 with der public key": confused[1],
		"tampered payload": tampered, "unknown kid": unknownKid, "revoked": revoked,
	} {
		wantInvalidToken(t, h, name, tok)
	}
	// The admin's own token is untouched by all this.
	if status, _ := apiStatus(t, h, h.token); status != 200 {
		t.Fatalf("good token after: %d", status)
	}
}

func TestLoginThrottlingAndLockout(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.UAA.Limits = auth.LimitConfig{PerIPBurst: 100, PerUserBurst: 50, LockoutAfter: 5, LockoutPeriod: time.Hour}
	})
	createUAAUser(t, h, "alice", "alice-pw")
	for i := 0; i < 5; i++ {
		status, _, body := grant(t, h, "cf", "", passwordForm("alice", "wrong"), nil)
		if status != 401 || body["error_description"] != "Bad credentials" {
			t.Fatalf("wrong password %d: %d %v", i, status, body)
		}
	}
	// Locked now, even with the right password.
	status, hdr, body := grant(t, h, "cf", "", passwordForm("alice", "alice-pw"), nil)
	if status != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body["error_description"].(string), "locked") {
		t.Fatalf("locked account: %d %q %v", status, hdr.Get("Retry-After"), body)
	}
	// Other users are not affected, nor are unknown names locked by
	// others' failures.
	if status, _, _ := grant(t, h, "cf", "", passwordForm("admin", adminPassword), nil); status != 200 {
		t.Fatalf("admin locked out by alice's failures: %d", status)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.UAA.Limits = auth.LimitConfig{PerIPBurst: 8, PerIPRate: 0.01, PerUserBurst: 100, LockoutAfter: 100}
	})
	// The harness's login spent one token. Spoofed X-Forwarded-For does
	// not make new addresses: no proxy is trusted.
	var last int
	var hdr http.Header
	var body map[string]any
	for i := 0; i < 10; i++ {
		last, hdr, body = grant(t, h, "cf", "", passwordForm("nobody", "x"), map[string]string{"X-Forwarded-For": "10.0.0." + string(rune('1'+i))})
		if last == 429 {
			break
		}
		if last != 401 {
			t.Fatalf("attempt %d: %d %v", i, last, body)
		}
	}
	if last != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body["error_description"].(string), "Too many") {
		t.Fatalf("burst from one address not throttled: %d %v", last, body)
	}
	// Even the right password waits.
	if status, _, _ := grant(t, h, "cf", "", passwordForm("admin", adminPassword), nil); status != 429 {
		t.Fatalf("throttled address logged in: %d", status)
	}
}

func TestLoginRateLimitBehindTrustedProxy(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.UAA.Limits = auth.LimitConfig{PerIPBurst: 2, PerIPRate: 0.01, PerUserBurst: 100,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	xff := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	for i := 0; i < 2; i++ {
		if status, _, _ := grant(t, h, "cf", "", passwordForm("nobody", "x"), xff); status != 401 {
			t.Fatalf("attempt %d: %d", i, status)
		}
	}
	if status, _, _ := grant(t, h, "cf", "", passwordForm("nobody", "x"), xff); status != 429 {
		t.Fatalf("forwarded client not throttled: %d", status)
	}
	// Another client behind the same proxy has its own bucket.
	if status, _, _ := grant(t, h, "cf", "", passwordForm("admin", adminPassword), map[string]string{"X-Forwarded-For": "203.0.113.8"}); status != 200 {
		t.Fatalf("other forwarded client: %d", status)
	}
}

func TestPasswordChangeRevokesTokens(t *testing.T) {
	h := newHarness(t)
	id := createUAAUser(t, h, "bob", "bob-old")
	access, refresh := session(t, h, "bob", "bob-old")
	// A user is authenticated but not an admin.
	if status, e := adminStatus(t, h, access); status != 403 || e.Errors[0].Title != "CF-NotAuthorized" {
		t.Fatalf("non-admin: %d %+v", status, e)
	}
	if c := jwtClaims(t, access); strings.Contains(strings.Join(toStrings(c["scope"]), " "), auth.AdminScope) {
		t.Fatalf("new user has the admin scope: %v", c["scope"])
	}

	// Wrong current password.
	if status, _, body := uaaCall(t, h, "PUT", "/Users/"+id+"/password", access, map[string]string{"oldPassword": "nope", "password": "bob-new"}); status != 401 {
		t.Fatalf("wrong old password: %d %v", status, body)
	}
	// Someone else's password, without the scope.
	if status, _, _ := uaaCall(t, h, "PUT", "/Users/"+jwtClaims(t, h.token)["user_id"].(string)+"/password", access,
		map[string]string{"oldPassword": "x", "password": "y"}); status != 403 {
		t.Fatalf("changed another user's password: %d", status)
	}
	if status, _, body := uaaCall(t, h, "PUT", "/Users/"+id+"/password", access, map[string]string{"oldPassword": "bob-old", "password": "bob-new"}); status != 200 {
		t.Fatalf("change password: %d %v", status, body)
	}
	wantInvalidToken(t, h, "access token from before the change", access)
	if status, _, body := grant(t, h, "cf", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, nil); status != 401 {
		t.Fatalf("old refresh token: %d %v", status, body)
	}
	if status, _, _ := grant(t, h, "cf", "", passwordForm("bob", "bob-old"), nil); status != 401 {
		t.Fatalf("old password still works: %d", status)
	}
	access2, refresh2 := session(t, h, "bob", "bob-new")
	if status, _ := adminStatus(t, h, access2); status != 403 {
		t.Fatalf("new session: %d", status)
	}

	// An admin resets it without the current password; bob's new session
	// ends too.
	if status, _, body := uaaCall(t, h, "PUT", "/Users/"+id+"/password", h.token, map[string]string{"password": "bob-reset"}); status != 200 {
		t.Fatalf("admin reset: %d %v", status, body)
	}
	wantInvalidToken(t, h, "access token from before the reset", access2)
	if status, _, _ := grant(t, h, "cf", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh2}}, nil); status != 401 {
		t.Fatalf("refresh token from before the reset: %d", status)
	}
	session(t, h, "bob", "bob-reset")
	// The admin's own session is untouched.
	if status, _ := apiStatus(t, h, h.token); status != 200 {
		t.Fatalf("admin token: %d", status)
	}
}

// restartSameURL restarts the controller on the same data dir and
// address, so tokens it issued (whose iss is its URL) stay meaningful.
func restartSameURL(h *harness) {
	h.t.Helper()
	addr := strings.TrimPrefix(h.url, "http://")
	h.stopFn()
	h.start(filepath.Dir(h.cfg.DataDir), func(c *Config) { c.ListenAddr = addr })
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

func TestRevokeByJTIAndByUser(t *testing.T) {
	h := newHarness(t)
	a1, r1 := session(t, h, "admin", adminPassword)
	a2, r2 := session(t, h, "admin", adminPassword)
	jti := jwtClaims(t, r1)["jti"].(string) // cf logout names the refresh token's jti
	if status, _, body := uaaCall(t, h, "DELETE", "/oauth/token/revoke/"+jti, a1, nil); status != 200 {
		t.Fatalf("revoke own: %d %v", status, body)
	}
	wantInvalidToken(t, h, "revoked access token", a1)
	if status, _, _ := grant(t, h, "cf", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1}}, nil); status != 401 {
		t.Fatalf("revoked refresh token: %d", status)
	}
	if status, _ := apiStatus(t, h, a2); status != 200 {
		t.Fatalf("other session revoked too: %d", status)
	}
	// Revocations survive a restart (they live in the store).
	restartSameURL(h)
	wantInvalidToken(t, h, "revoked access token after restart", a1)
	if status, _ := apiStatus(t, h, a2); status != 200 {
		t.Fatalf("other session after restart: %d", status)
	}

	// cf logout: the refresh token revokes itself (with itself as bearer),
	// then the access token, sent as "Bearer bearer <jwt>".
	a3, r3 := session(t, h, "admin", adminPassword)
	if status, _, body := uaaCall(t, h, "DELETE", "/oauth/token/revoke/"+jwtClaims(t, r3)["jti"].(string), r3, nil); status != 200 {
		t.Fatalf("revoke with the refresh token: %d %v", status, body)
	}
	wantInvalidToken(t, h, "access token of a logged-out session", a3)
	if status, _, _ := uaaCall(t, h, "DELETE", "/oauth/token/revoke/"+jwtClaims(t, a3)["jti"].(string), "bearer "+a3, nil); status != 401 {
		t.Fatalf("revoked access token accepted as bearer: %d", status)
	}
	// A refresh token cannot revoke another session.
	_, r4 := session(t, h, "admin", adminPassword)
	if status, _, _ := uaaCall(t, h, "DELETE", "/oauth/token/revoke/"+jwtClaims(t, a2)["jti"].(string), r4, nil); status != 401 {
		t.Fatalf("refresh token revoked another session: %d", status)
	}

	// A user may not revoke others' tokens by jti.
	createUAAUser(t, h, "carol", "carol-pw")
	ca, _ := session(t, h, "carol", "carol-pw")
	if status, _, _ := uaaCall(t, h, "DELETE", "/oauth/token/revoke/"+jwtClaims(t, a2)["jti"].(string), ca, nil); status != 403 {
		t.Fatalf("user revoked the admin's token: %d", status)
	}
	// Revoke all of a user's tokens.
	carolID := jwtClaims(t, ca)["user_id"].(string)
	if status, _, body := uaaCall(t, h, "GET", "/oauth/token/revoke/user/"+carolID, h.token, nil); status != 200 {
		t.Fatalf("revoke user: %d %v", status, body)
	}
	if status, _, _ := uaaCall(t, h, "GET", "/userinfo", ca, nil); status != 401 {
		t.Fatalf("carol's token after revoke-all: %d", status)
	}
	if status, _, _ := grant(t, h, "cf", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r2}}, nil); status != 200 {
		t.Fatalf("admin's refresh after carol's revoke-all: %d", status)
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	h := newHarness(t)
	status, _, body := uaaCall(t, h, "POST", "/oauth/clients", h.token, map[string]any{"client_id": "ci", "client_secret": "ci-secret",
		"scope": []string{"cloud_controller.read"}, "authorities": []string{"cloud_controller.admin", "cloud_controller.read"},
		"authorized_grant_types": []string{"client_credentials"}})
	if status != 201 || body["client_id"] != "ci" || body["client_secret"] != nil {
		t.Fatalf("create client: %d %v", status, body)
	}
	if status, _, _ := uaaCall(t, h, "POST", "/oauth/clients", h.token, map[string]any{"client_id": "ci", "client_secret": "x"}); status != 409 {
		t.Fatalf("duplicate client: %d", status)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	status, _, tr := grant(t, h, "ci", "ci-secret", form, nil)
	if status != 200 || tr["refresh_token"] != nil {
		t.Fatalf("client_credentials: %d %v", status, tr)
	}
	c := jwtClaims(t, tr["access_token"].(string))
	if c["client_id"] != "ci" || c["user_id"] != nil || c["user_name"] != nil || c["sub"] != "ci" ||
		strings.Join(toStrings(c["scope"]), " ") != "cloud_controller.admin cloud_controller.read" {
		t.Fatalf("client token claims: %v", c)
	}
	if status, _ := apiStatus(t, h, tr["access_token"].(string)); status != 200 {
		t.Fatalf("admin client on the API: %d", status)
	}
	// Secret in the body works too; wrong secret and disallowed grants do not.
	if status, _, _ := grant(t, h, "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ci"}, "client_secret": {"ci-secret"}}, nil); status != 200 {
		t.Fatalf("body credentials: %d", status)
	}
	if status, _, _ := grant(t, h, "ci", "wrong", form, nil); status != 401 {
		t.Fatalf("wrong secret: %d", status)
	}
	if status, _, _ := grant(t, h, "ci", "ci-secret", passwordForm("admin", adminPassword), nil); status != 401 {
		t.Fatalf("password grant for a client_credentials client: %d", status)
	}
	if status, _, _ := grant(t, h, "cf", "", form, nil); status != 401 {
		t.Fatalf("client_credentials for the public cf client: %d", status)
	}

	// A read-only client is authenticated but not an admin.
	uaaCall(t, h, "POST", "/oauth/clients", h.token, map[string]any{"client_id": "ro", "client_secret": "ro-secret",
		"authorities": []string{"cloud_controller.read"}})
	_, _, ro := grant(t, h, "ro", "ro-secret", form, nil)
	if status, _ := adminStatus(t, h, ro["access_token"].(string)); status != 403 {
		t.Fatalf("read-only client: %d", status)
	}

	// A client with the password grant bounds its users' scopes.
	uaaCall(t, h, "POST", "/oauth/clients", h.token, map[string]any{"client_id": "app", "client_secret": "app-secret",
		"scope": []string{"openid", "cloud_controller.read"}, "authorized_grant_types": []string{"password", "refresh_token"}})
	status, _, ut := grant(t, h, "app", "app-secret", passwordForm("admin", adminPassword), nil)
	if status != 200 || ut["scope"] != "openid cloud_controller.read" {
		t.Fatalf("password grant through app: %d %v", status, ut)
	}
	if status, _, _ := grant(t, h, "cf", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ut["refresh_token"].(string)}}, nil); status != 401 {
		t.Fatalf("app's refresh token used by cf: %d", status)
	}

	// Deleting the client ends its tokens.
	if status, _, _ := uaaCall(t, h, "DELETE", "/oauth/clients/ci", h.token, nil); status != 200 {
		t.Fatalf("delete client: %d", status)
	}
	wantInvalidToken(t, h, "deleted client's token", tr["access_token"].(string))
}

func TestSigningKeyRotation(t *testing.T) {
	h := newHarness(t)
	old, oldRefresh := session(t, h, "admin", adminPassword)
	oldKid := jwtClaims(t, old)["_header"].(map[string]any)["kid"].(string)

	status, _, jwk := uaaCall(t, h, "POST", "/token_keys", h.token, nil)
	if status != 201 || jwk["kid"] == oldKid || jwk["kid"] == "" {
		t.Fatalf("rotate: %d %v", status, jwk)
	}
	newKid := jwk["kid"].(string)
	fresh, _ := session(t, h, "admin", adminPassword)
	if kid := jwtClaims(t, fresh)["_header"].(map[string]any)["kid"]; kid != newKid {
		t.Fatalf("new token kid %v, want %s", kid, newKid)
	}
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if status, _ := apiStatus(t, h, tok); status != 200 {
			t.Fatalf("%s token after rotation: %d", name, status)
		}
	}
	if status, _, _ := grant(t, h, "cf", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {oldRefresh}}, nil); status != 200 {
		t.Fatalf("old refresh token after rotation: %d", status)
	}
	_, _, keys := uaaCall(t, h, "GET", "/token_keys", "", nil)
	var kids []string
	for _, k := range keys["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	if len(kids) != 2 || kids[0] != newKid || kids[1] != oldKid {
		t.Fatalf("token_keys kids %v, want [%s %s]", kids, newKid, oldKid)
	}
	if _, _, k := uaaCall(t, h, "GET", "/token_key", "", nil); k["kid"] != newKid || !strings.Contains(k["value"].(string), "PUBLIC KEY") {
		t.Fatalf("token_key: %v", k)
	}
	// The keyring persists: after a restart both tokens still verify.
	restartSameURL(h)
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if status, _ := apiStatus(t, h, tok); status != 200 {
			t.Fatalf("%s token after restart: %d", name, status)
		}
	}
	// Only uaa.admin rotates.
	createUAAUser(t, h, "dave", "dave-pw")
	da, _ := session(t, h, "dave", "dave-pw")
	if status, _, _ := uaaCall(t, h, "POST", "/token_keys", da, nil); status != 403 {
		t.Fatalf("non-admin rotated the key: %d", status)
	}
	entries, _ := os.ReadDir(filepath.Join(h.cfg.DataDir, auth.KeyDir))
	if len(entries) != 2 {
		t.Fatalf("key files: %d", len(entries))
	}
}

func TestSCIMUsersAndCCUsers(t *testing.T) {
	h := newHarness(t)
	id := createUAAUser(t, h, "erin@example.com", "erin-pw")
	if status, _, body := uaaCall(t, h, "POST", "/Users", h.token, map[string]any{"userName": "erin@example.com", "password": "x"}); status != 409 || body["error"] != "scim_resource_already_exists" {
		t.Fatalf("duplicate user: %d %v", status, body)
	}
	for _, bad := range []map[string]any{{"userName": "", "password": "x"}, {"userName": "x"}, {"userName": "x", "password": strings.Repeat("p", 73)},
		{"userName": "x", "password": "p", "origin": "ldap"}} {
		if status, _, _ := uaaCall(t, h, "POST", "/Users", h.token, bad); status != 400 {
			t.Fatalf("bad user %v: %d", bad, status)
		}
	}
	q := "/Users?filter=" + url.QueryEscape(`userName eq "erin@example.com" and origin eq "uaa"`)
	status, _, list := uaaCall(t, h, "GET", q, h.token, nil)
	res, _ := list["resources"].([]any)
	if status != 200 || len(res) != 1 || res[0].(map[string]any)["id"] != id || res[0].(map[string]any)["origin"] != "uaa" {
		t.Fatalf("filter users: %d %v", status, list)
	}
	_, _, list = uaaCall(t, h, "GET", "/Users?filter="+url.QueryEscape(`userName eq "erin@example.com" and origin eq "ldap"`), h.token, nil)
	if res, _ := list["resources"].([]any); len(res) != 0 || list["totalResults"] != 0.0 {
		t.Fatalf("filter by other origin: %v", list)
	}
	if status, _, _ := uaaCall(t, h, "GET", "/Users?filter="+url.QueryEscape(`userName co "erin"`), h.token, nil); status != 400 {
		t.Fatalf("unsupported filter: %d", status)
	}
	erin, _ := session(t, h, "erin@example.com", "erin-pw")
	if status, _, _ := uaaCall(t, h, "GET", "/Users", erin, nil); status != 403 {
		t.Fatalf("user listed users: %d", status)
	}
	if status, _, _ := uaaCall(t, h, "POST", "/Users", erin, map[string]any{"userName": "z", "password": "z"}); status != 403 {
		t.Fatalf("user created a user: %d", status)
	}
	if status, _, info := uaaCall(t, h, "GET", "/userinfo", erin, nil); status != 200 || info["user_name"] != "erin@example.com" || info["user_id"] != id {
		t.Fatalf("userinfo: %d %v", status, info)
	}

	// The Cloud Controller's record, as cf create-user makes it.
	var u struct {
		GUID             string  `json:"guid"`
		Username         *string `json:"username"`
		PresentationName string  `json:"presentation_name"`
		Origin           *string `json:"origin"`
	}
	h.do("POST", "/v3/users", map[string]string{"guid": id}, 201, &u)
	if u.GUID != id || u.Username == nil || *u.Username != "erin@example.com" || *u.Origin != "uaa" {
		t.Fatalf("cc user: %+v", u)
	}
	if code, _, _ := h.fail("POST", "/v3/users", map[string]string{"guid": id}, 422); code != 10008 {
		t.Fatalf("duplicate cc user code %d", code)
	}
	h.do("POST", "/v3/users", map[string]string{"guid": "some-client"}, 201, &u)
	if u.Username != nil || u.PresentationName != "some-client" {
		t.Fatalf("cc user of a client: %+v", u)
	}
	var page struct {
		Resources []struct {
			GUID string `json:"guid"`
		} `json:"resources"`
	}
	h.do("GET", "/v3/users?usernames=erin@example.com", nil, 200, &page)
	if len(page.Resources) != 1 || page.Resources[0].GUID != id {
		t.Fatalf("users by name: %+v", page)
	}

	// cf delete-user: CC first (a job), then the UAA.
	hdr := h.do("DELETE", "/v3/users/"+id, nil, 202, nil)
	eventually(t, 5*time.Second, "user delete job", func() bool {
		var j struct {
			State string `json:"state"`
		}
		h.do("GET", hdr.Get("Location"), nil, 200, &j)
		return j.State == "COMPLETE"
	})
	h.fail("GET", "/v3/users/"+id, nil, 404)
	if status, _, body := uaaCall(t, h, "DELETE", "/Users/"+id, h.token, nil); status != 200 || body["id"] != id {
		t.Fatalf("delete uaa user: %d %v", status, body)
	}
	if status, _, _ := uaaCall(t, h, "DELETE", "/Users/"+id, h.token, nil); status != 404 {
		t.Fatalf("delete twice: %d", status)
	}
	if status, _, _ := uaaCall(t, h, "GET", "/userinfo", erin, nil); status != 401 {
		t.Fatalf("deleted user's token: %d", status)
	}
	if status, _, _ := grant(t, h, "cf", "", passwordForm("erin@example.com", "erin-pw"), nil); status != 401 {
		t.Fatalf("deleted user logged in: %d", status)
	}
}

func TestAdminIsAGroupNotAName(t *testing.T) {
	h := newHarness(t)
	c := jwtClaims(t, h.token)
	scopes := strings.Join(toStrings(c["scope"]), " ")
	for _, g := range auth.AdminGroups {
		if !strings.Contains(scopes, g) {
			t.Errorf("admin token lacks %s: %s", g, scopes)
		}
	}
	members, err := h.store.Groups().ListMembers(t.Context(), auth.AdminScope)
	if err != nil || len(members) != 1 || members[0].UserGUID != c["user_id"] {
		t.Fatalf("admin group: %+v %v", members, err)
	}
	// Taking the membership away takes the admin scope away, whatever the
	// name.
	if err := h.store.Groups().Remove(t.Context(), auth.AdminScope, members[0].UserGUID); err != nil {
		t.Fatal(err)
	}
	tok, _ := session(t, h, "admin", adminPassword)
	if status, _ := adminStatus(t, h, tok); status != 403 {
		t.Fatalf("admin without the group: %d", status)
	}
}

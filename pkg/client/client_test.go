package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeJWT builds an unsigned 3-part JWT with the given claims.
func fakeJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2ln"
}

func jwtExpiringIn(t *testing.T, d time.Duration) string {
	t.Helper()
	return fakeJWT(t, map[string]any{"exp": time.Now().Add(d).Unix(), "user_name": "admin", "user_id": "u1", "origin": "uaa"})
}

// newTestClient starts srv and returns a client of it with fast polling.
func newTestClient(t *testing.T, h http.Handler, mod ...func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{APIURL: srv.URL, Token: StaticToken("tok"), PollInterval: time.Millisecond, RequestTimeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, raw := range []string{"", "ftp://x", "http://"} {
		if _, err := New(Config{APIURL: raw}); err == nil {
			t.Errorf("New(%q) succeeded, want error", raw)
		}
	}
	c, err := New(Config{APIURL: "api.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.APIURL(); got != "https://api.example.com" {
		t.Errorf("APIURL = %q", got)
	}
}

func TestListFollowsPagination(t *testing.T) {
	var pages atomic.Int32
	mux := http.NewServeMux()
	var srvURL string
	mux.HandleFunc("GET /v3/apps", func(w http.ResponseWriter, r *http.Request) {
		pages.Add(1)
		if r.Header.Get("Authorization") != "bearer tok" {
			t.Errorf("authorization = %q", r.Header.Get("Authorization"))
		}
		switch r.URL.Query().Get("page") {
		case "", "1":
			if got := r.URL.Query().Get("space_guids"); got != "s1" {
				t.Errorf("space_guids = %q", got)
			}
			writeJSON(w, 200, map[string]any{
				"pagination": map[string]any{"next": map[string]string{"href": srvURL + "/v3/apps?page=2&space_guids=s1"}},
				"resources":  []map[string]any{{"guid": "a1", "name": "one", "state": "STARTED"}},
			})
		case "2":
			// A link on a wrong host still reaches the API host.
			writeJSON(w, 200, map[string]any{
				"pagination": map[string]any{"next": map[string]string{"href": "http://wrong.invalid:1/v3/apps?page=3"}},
				"resources":  []map[string]any{{"guid": "a2", "name": "two", "state": "STOPPED"}},
			})
		case "3":
			writeJSON(w, 200, map[string]any{
				"pagination": map[string]any{"next": nil},
				"resources":  []map[string]any{{"guid": "a3", "name": "three", "state": "STOPPED"}},
			})
		}
	})
	c, srv := newTestClient(t, mux)
	srvURL = srv.URL
	apps, err := c.ListApps(context.Background(), AppFilter{SpaceGUIDs: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "one,two,three" || pages.Load() != 3 {
		t.Fatalf("got %v in %d pages", names, pages.Load())
	}
}

func TestListWithoutResourcesIsAnError(t *testing.T) {
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"pagination": map[string]any{}})
	}))
	if _, err := c.ListOrgs(context.Background()); err == nil || !strings.Contains(err.Error(), "no resources") {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantMsg    string
		wantTitle  string
		wantNotFnd bool
	}{
		{"envelope 404", 404, `{"errors":[{"code":10010,"title":"CF-ResourceNotFound","detail":"App not found"}]}`, "App not found", "CF-ResourceNotFound", true},
		{"envelope 422", 422, `{"errors":[{"code":10008,"title":"CF-UnprocessableEntity","detail":"Name must be unique"},{"code":1,"title":"x","detail":"y"}]}`, "Name must be unique", "CF-UnprocessableEntity", false},
		{"raw 500", 500, "<html>boom</html>", "<html>boom</html>", "", false},
		{"empty 400", 400, "", "unexpected response 400 Bad Request", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			_, err := c.GetApp(context.Background(), "g")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *APIError", err, err)
			}
			if ae.StatusCode != tt.status || ae.Error() != tt.wantMsg || ae.Title != tt.wantTitle {
				t.Errorf("got status %d msg %q title %q", ae.StatusCode, ae.Error(), ae.Title)
			}
			if IsNotFound(err) != tt.wantNotFnd {
				t.Errorf("IsNotFound = %v", IsNotFound(err))
			}
		})
	}
}

func TestGetAppByNameNotFound(t *testing.T) {
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"resources": []any{}})
	}))
	_, err := c.GetAppByName(context.Background(), "s", "nope")
	if !IsNotFound(err) || err.Error() != "App 'nope' not found" {
		t.Fatalf("err = %v", err)
	}
}

func TestRetryIdempotentOnly(t *testing.T) {
	tests := []struct {
		name      string
		failures  int32
		status    int
		call      func(*Client) error
		wantCalls int32
		wantErr   bool
	}{
		{"GET retried until success", 2, 503, func(c *Client) error { _, err := c.GetApp(context.Background(), "g"); return err }, 3, false},
		{"GET gives up after 3", 5, 502, func(c *Client) error { _, err := c.GetApp(context.Background(), "g"); return err }, 3, true},
		{"POST not retried", 1, 503, func(c *Client) error { _, err := c.StartApp(context.Background(), "g"); return err }, 1, true},
		{"DELETE retried", 1, 504, func(c *Client) error { return c.DeleteApp(context.Background(), "g") }, 2, false},
		{"404 not retried", 5, 404, func(c *Client) error { _, err := c.GetApp(context.Background(), "g"); return err }, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= tt.failures {
					w.WriteHeader(tt.status)
					return
				}
				if r.Method == http.MethodDelete {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				writeJSON(w, 200, map[string]any{"guid": "g", "name": "app"})
			}))
			err := tt.call(c)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if calls.Load() != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestRetryOnNetworkError(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// Drop the connection without an answer.
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("no hijacker")
				return
			}
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		writeJSON(w, 200, map[string]any{"guid": "p", "type": "web", "instances": 2})
	}))
	p, err := c.GetProcess(context.Background(), "p")
	if err != nil || p.Instances != 2 || calls.Load() != 2 {
		t.Fatalf("p=%v err=%v calls=%d", p, err, calls.Load())
	}
}

func TestWarningsReported(t *testing.T) {
	var got []string
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cf-Warnings", "first%20warning,second")
		writeJSON(w, 200, map[string]any{"guid": "g"})
	}), func(cfg *Config) { cfg.OnWarning = func(s string) { got = append(got, s) } })
	if _, err := c.GetApp(context.Background(), "g"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "first warning|second" {
		t.Fatalf("warnings = %q", got)
	}
}

func TestUploadPackageMultipartShape(t *testing.T) {
	zipBytes := []byte("PK\x03\x04 pretend zip bytes")
	tests := []struct {
		name    string
		matched []Resource
		zip     []byte
		wantRes string
	}{
		{"unmatched files", nil, zipBytes, "[]"},
		{"some matched", []Resource{{Path: "a.txt", Mode: "644", Checksum: ResourceChecksum{Value: "abc"}, SizeInBytes: 3}}, zipBytes,
			`[{"path":"a.txt","mode":"644","checksum":{"value":"abc"},"size_in_bytes":3}]`},
		{"all matched", []Resource{{Path: "b", Mode: "755", Checksum: ResourceChecksum{Value: "d"}, SizeInBytes: 1}}, nil,
			`[{"path":"b","mode":"755","checksum":{"value":"d"},"size_in_bytes":1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v3/packages/pkg1/upload" {
					t.Errorf("got %s %s", r.Method, r.URL.Path)
				}
				if r.ContentLength <= 0 || len(r.TransferEncoding) > 0 || r.Header.Get("Content-Length") == "" {
					t.Errorf("content length %d, transfer encoding %v", r.ContentLength, r.TransferEncoding)
				}
				mr, err := r.MultipartReader()
				if err != nil {
					t.Fatalf("multipart: %v", err)
				}
				var order []string
				for {
					part, err := mr.NextPart()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("next part: %v", err)
					}
					data, _ := io.ReadAll(part)
					order = append(order, part.FormName())
					switch part.FormName() {
					case "resources":
						if string(data) != tt.wantRes {
							t.Errorf("resources = %s, want %s", data, tt.wantRes)
						}
					case "bits":
						if part.FileName() != "package.zip" || string(data) != string(tt.zip) {
							t.Errorf("bits file %q = %q", part.FileName(), data)
						}
					}
				}
				want := "resources,bits"
				if tt.zip == nil {
					want = "resources"
				}
				if strings.Join(order, ",") != want {
					t.Errorf("part order = %v, want %s", order, want)
				}
				writeJSON(w, 200, map[string]any{"guid": "pkg1", "state": "PROCESSING_UPLOAD"})
			}))
			var zr io.Reader
			if tt.zip != nil {
				zr = strings.NewReader(string(tt.zip))
			}
			p, err := c.UploadPackage(context.Background(), "pkg1", tt.matched, zr, int64(len(tt.zip)))
			if err != nil || p.GUID != "pkg1" {
				t.Fatalf("p=%v err=%v", p, err)
			}
		})
	}
}

func TestPollJob(t *testing.T) {
	tests := []struct {
		name    string
		final   map[string]any
		wantErr string
	}{
		{"complete", map[string]any{"guid": "j1", "state": "COMPLETE"}, ""},
		{"failed", map[string]any{"guid": "j1", "state": "FAILED", "errors": []map[string]any{
			{"code": 10008, "title": "CF-UnprocessableEntity", "detail": "For application 'x': Instances must be greater than or equal to 0"}}},
			"For application 'x': Instances must be greater than or equal to 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var polls atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("POST /v3/spaces/s1/actions/apply_manifest", func(w http.ResponseWriter, r *http.Request) {
				if ct := r.Header.Get("Content-Type"); ct != "application/x-yaml" {
					t.Errorf("content type %q", ct)
				}
				body, _ := io.ReadAll(r.Body)
				if !strings.Contains(string(body), "name: x") {
					t.Errorf("body %q", body)
				}
				w.Header().Set("Location", "/v3/jobs/j1")
				w.WriteHeader(http.StatusAccepted)
			})
			mux.HandleFunc("GET /v3/jobs/j1", func(w http.ResponseWriter, r *http.Request) {
				if polls.Add(1) < 3 {
					writeJSON(w, 200, map[string]any{"guid": "j1", "state": "PROCESSING"})
					return
				}
				writeJSON(w, 200, tt.final)
			})
			c, _ := newTestClient(t, mux)
			err := c.ApplyManifest(context.Background(), "s1", []byte("applications:\n- name: x\n"))
			if polls.Load() != 3 {
				t.Errorf("polls = %d", polls.Load())
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var jf *JobFailedError
			var ae *APIError
			if !errors.As(err, &jf) || !errors.As(err, &ae) || err.Error() != tt.wantErr || ae.Title != "CF-UnprocessableEntity" {
				t.Fatalf("err = %T %v", err, err)
			}
		})
	}
}

func TestPollJobStopsOnContext(t *testing.T) {
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"guid": "j", "state": "PROCESSING"})
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.PollJob(ctx, "/v3/jobs/j"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestPollPackageAndBuild(t *testing.T) {
	var pkgPolls, buildPolls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v3/packages/p1", func(w http.ResponseWriter, r *http.Request) {
		state := "PROCESSING_UPLOAD"
		if pkgPolls.Add(1) > 1 {
			state = "READY"
		}
		writeJSON(w, 200, map[string]any{"guid": "p1", "state": state})
	})
	mux.HandleFunc("GET /v3/packages/p2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"guid": "p2", "state": "FAILED", "data": map[string]any{"error": "bad zip"}})
	})
	mux.HandleFunc("GET /v3/builds/b1", func(w http.ResponseWriter, r *http.Request) {
		if buildPolls.Add(1) > 1 {
			writeJSON(w, 200, map[string]any{"guid": "b1", "state": "STAGED", "droplet": map[string]string{"guid": "d1"}})
			return
		}
		writeJSON(w, 200, map[string]any{"guid": "b1", "state": "STAGING", "droplet": nil})
	})
	mux.HandleFunc("GET /v3/builds/b2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"guid": "b2", "state": "FAILED", "error": "NoAppDetectedError - no buildpack detected"})
	})
	c, _ := newTestClient(t, mux)
	ctx := context.Background()
	if p, err := c.PollPackage(ctx, "p1"); err != nil || p.State != PackageReady {
		t.Fatalf("p1: %v %v", p, err)
	}
	if _, err := c.PollPackage(ctx, "p2"); !errors.Is(err, ErrPackageFailed) || !strings.Contains(err.Error(), "bad zip") {
		t.Fatalf("p2: %v", err)
	}
	if b, err := c.PollBuild(ctx, "b1"); err != nil || b.Droplet.GUID != "d1" {
		t.Fatalf("b1: %v %v", b, err)
	}
	if _, err := c.PollBuild(ctx, "b2"); !errors.Is(err, ErrStagingFailed) || !strings.Contains(err.Error(), "no buildpack detected") {
		t.Fatalf("b2: %v", err)
	}
}

// fakeUAA serves GET / and POST /oauth/token.
type fakeUAA struct {
	t            *testing.T
	mu           sync.Mutex
	grants       []string
	refreshFails bool
	password     string
	expiresIn    time.Duration
	srv          *httptest.Server
}

func newFakeUAA(t *testing.T) *fakeUAA {
	u := &fakeUAA{t: t, password: "secret", expiresIn: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"links": map[string]any{
			"login":               map[string]string{"href": u.srv.URL + "/uaa"},
			"cloud_controller_v3": map[string]any{"href": u.srv.URL + "/v3", "meta": map[string]string{"version": "3.195.0"}},
		}})
	})
	mux.HandleFunc("POST /uaa/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "cf" || pass != "" {
			t.Errorf("basic auth = %q %q %v", user, pass, ok)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		grant := r.PostForm.Get("grant_type")
		u.mu.Lock()
		u.grants = append(u.grants, grant)
		refreshFails := u.refreshFails
		u.mu.Unlock()
		switch {
		case grant == "password" && r.PostForm.Get("username") == "admin" && r.PostForm.Get("password") == u.password,
			grant == "refresh_token" && !refreshFails && r.PostForm.Get("refresh_token") != "":
			writeJSON(w, 200, map[string]any{
				"access_token":  jwtExpiringIn(t, u.expiresIn),
				"refresh_token": "refresh-" + grant,
				"token_type":    "bearer",
				"expires_in":    int(u.expiresIn.Seconds()),
			})
		default:
			writeJSON(w, 401, map[string]string{"error": "unauthorized", "error_description": "Bad credentials"})
		}
	})
	mux.HandleFunc("GET /v3/apps/g", func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "bearer ")
		if exp, ok := TokenExpiry(tok); !ok || time.Until(exp) < time.Minute {
			writeJSON(w, 401, map[string]any{"errors": []map[string]any{{"code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"}}})
			return
		}
		writeJSON(w, 200, map[string]any{"guid": "g", "name": "app"})
	})
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

func (u *fakeUAA) grantLog() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return strings.Join(u.grants, ",")
}

func TestLogin(t *testing.T) {
	u := newFakeUAA(t)
	tok, err := Login(context.Background(), u.srv.URL, "admin", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if TokenUserName(tok.AccessToken) != "admin" || tok.RefreshToken != "refresh-password" {
		t.Fatalf("tokens = %+v", tok)
	}
	_, err = Login(context.Background(), u.srv.URL, "admin", "wrong")
	var ue *UAAError
	if !errors.As(err, &ue) || ue.StatusCode != 401 || !strings.Contains(err.Error(), "Bad credentials") {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenSourceRefresh(t *testing.T) {
	tests := []struct {
		name         string
		access       time.Duration // 0 = no access token
		refresh      string
		user         string
		refreshFails bool
		wantGrants   string
		wantErr      bool
	}{
		{"fresh token kept", time.Hour, "r", "", false, "", false},
		{"expiring soon refreshed", 30 * time.Second, "r", "", false, "refresh_token", false},
		{"expired refreshed", -time.Hour, "r", "", false, "refresh_token", false},
		{"refresh fails, password fallback", 30 * time.Second, "r", "admin", true, "refresh_token,password", false},
		{"no tokens, password login", 0, "", "admin", false, "password", false},
		{"refresh fails, no password", 30 * time.Second, "r", "", true, "refresh_token", true},
		{"nothing at all", 0, "", "", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newFakeUAA(t)
			u.refreshFails = tt.refreshFails
			var initial Tokens
			if tt.access != 0 {
				initial.AccessToken = jwtExpiringIn(t, tt.access)
			}
			initial.RefreshToken = tt.refresh
			var saved []Tokens
			ts := NewTokenSource(TokenSourceConfig{
				UAA: NewUAA(u.srv.URL, nil, ""), Tokens: initial, Username: tt.user, Password: "secret",
				OnRefresh: func(t Tokens) { saved = append(saved, t) },
			})
			c, err := New(Config{APIURL: u.srv.URL, Token: ts})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetApp(context.Background(), "g")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := u.grantLog(); got != tt.wantGrants {
				t.Errorf("grants = %q, want %q", got, tt.wantGrants)
			}
			if tt.wantGrants != "" && !tt.wantErr {
				if len(saved) != 1 || saved[0].AccessToken != ts.Tokens().AccessToken {
					t.Errorf("OnRefresh got %d token sets", len(saved))
				}
				if exp, _ := TokenExpiry(ts.Tokens().AccessToken); time.Until(exp) < time.Minute {
					t.Errorf("new token expires at %v", exp)
				}
			}
			if tt.wantErr && tt.access == 0 && tt.refresh == "" && !errors.Is(err, ErrNotLoggedIn) {
				t.Errorf("err = %v, want ErrNotLoggedIn", err)
			}
		})
	}
}

func TestInvalidTokenRetriedOnceAfterInvalidate(t *testing.T) {
	u := newFakeUAA(t)
	// A token the server rejects although its exp looks fine to the client.
	u.expiresIn = 2 * time.Hour
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v3/apps/g", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeJSON(w, 401, map[string]any{"errors": []map[string]any{{"code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"}}})
			return
		}
		writeJSON(w, 200, map[string]any{"guid": "g"})
	})
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	ts := NewTokenSource(TokenSourceConfig{UAA: NewUAA(u.srv.URL, nil, ""),
		Tokens: Tokens{AccessToken: jwtExpiringIn(t, time.Hour), RefreshToken: "r"}})
	c, err := New(Config{APIURL: api.URL, Token: ts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetApp(context.Background(), "g"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || u.grantLog() != "refresh_token" {
		t.Fatalf("calls=%d grants=%q", calls.Load(), u.grantLog())
	}
}

func TestReadLogsDecodesEnvelopes(t *testing.T) {
	logCache := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/read/app-1" {
			t.Errorf("path %s", r.URL.Path)
		}
		q := r.URL.Query()
		if q.Get("envelope_types") != "LOG" || q.Get("start_time") != "1795542943000000000" || q.Get("descending") != "true" {
			t.Errorf("query %v", q)
		}
		if q.Get("limit") == "1000" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if q.Get("limit") != "500" {
			t.Errorf("limit %q", q.Get("limit"))
		}
		if r.Header.Get("Authorization") != "bearer tok" {
			t.Errorf("auth %q", r.Header.Get("Authorization"))
		}
		fmt.Fprintf(w, `{"envelopes":{"batch":[
			{"timestamp":"1795542943000000001","source_id":"app-1","instance_id":"0","tags":{"source_type":"APP/PROC/WEB"},"log":{"payload":%q,"type":"ERR"}},
			{"timestamp":1795542943000000002,"source_id":"app-1","instance_id":"","tags":{"source_type":"STG"},"log":{"payload":%q}},
			{"timestamp":"1795542943000000003","source_id":"app-1","gauge":{"metrics":{}}}
		]}}`, base64.StdEncoding.EncodeToString([]byte("boom")), base64.StdEncoding.EncodeToString([]byte("-----> Go buildpack")))
	}))
	t.Cleanup(logCache.Close)
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"links": map[string]any{"log_cache": map[string]string{"href": logCache.URL + "/ignored/path"}}})
	}))
	envs, err := c.ReadLogs(context.Background(), "app-1", 1795542943000000000, ReadLogsOptions{Limit: 1000, Descending: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogEnvelope{
		{Timestamp: 1795542943000000001, SourceID: "app-1", InstanceID: "0", SourceType: "APP/PROC/WEB", Type: "ERR", Message: "boom"},
		{Timestamp: 1795542943000000002, SourceID: "app-1", SourceType: "STG", Type: "OUT", Message: "-----> Go buildpack"},
	}
	if len(envs) != len(want) {
		t.Fatalf("got %+v", envs)
	}
	for i := range want {
		if envs[i] != want[i] {
			t.Errorf("envelope %d = %+v, want %+v", i, envs[i], want[i])
		}
	}
}

func TestReadLogsEmptyAndBadPayload(t *testing.T) {
	body := `{"envelopes":{}}`
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			writeJSON(w, 200, map[string]any{"links": map[string]any{}})
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	envs, err := c.ReadLogs(context.Background(), "a", 0, ReadLogsOptions{})
	if err != nil || len(envs) != 0 {
		t.Fatalf("envs=%v err=%v", envs, err)
	}
	body = `{"envelopes":{"batch":[{"timestamp":"1","log":{"payload":"!!!"}}]}}`
	if _, err := c.ReadLogs(context.Background(), "a", 0, ReadLogsOptions{}); err == nil {
		t.Fatal("bad payload accepted")
	}
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var calls atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), func(cfg *Config) { cfg.RequestTimeout = 20 * time.Millisecond })
	_, err := c.StartApp(context.Background(), "g")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || calls.Load() != 1 {
		t.Fatalf("err = %v calls = %d", err, calls.Load())
	}
}

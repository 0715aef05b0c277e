package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// UAAVersion is what /login reports.
const UAAVersion = "4.30.0"

// ServerConfig tunes the UAA endpoints.
type ServerConfig struct {
	Limits      LimitConfig
	Revocations RevocationConfig
}

// Server serves the UAA endpoints: tokens, users (SCIM), clients, keys and
// revocation.
type Server struct {
	issuer *Issuer
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	limits *limiter
	revs   *revocations
	trust  []netip.Prefix
	// checks bounds concurrent bcrypt computations, so a flood of logins
	// cannot eat every core.
	checks chan struct{}
	// dummyHash is compared against when a user does not exist, so that
	// timing does not reveal which usernames exist.
	dummyHash string
}

// NewServer makes the UAA endpoint handlers.
func NewServer(cfg ServerConfig, issuer *Issuer, st store.Store, log *slog.Logger) *Server {
	h, _ := HashPassword("ingot-dummy-password")
	now := time.Now
	return &Server{
		issuer: issuer, st: st, log: log, now: now,
		limits: newLimiter(cfg.Limits, now),
		revs:   newRevocations(cfg.Revocations, st, now, log),
		trust:  cfg.Limits.TrustedProxies,
		checks: make(chan struct{}, 4), dummyHash: h,
	}
}

// Run keeps revocations in step with the store and retires old signing
// keys until ctx ends.
func (s *Server) Run(ctx context.Context) {
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if removed := s.issuer.Keys().Retire(s.issuer.MaxTokenTTL()); len(removed) > 0 {
				s.log.Info("signing-keys-retired", "kids", removed)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	s.revs.run(ctx)
}

// VerifyAccess checks an access token: signature, expiry, use, and
// revocation (from memory in the common case).
func (s *Server) VerifyAccess(ctx context.Context, token string) (*Claims, error) {
	c, err := s.issuer.Verify(token, UseAccess)
	if err != nil {
		return nil, err
	}
	if err := s.revs.check(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Login serves GET /login: the prompts the cf CLI reads.
func (s *Server) Login(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"app": map[string]string{"version": UAAVersion},
		"prompts": map[string][]string{
			"username": {"text", "Email"},
			"password": {"password", "Password"},
		},
		"zone_name": "uaa",
	})
}

// TokenKeys serves GET /token_keys: every verification key as a JWK set,
// the active one first.
func (s *Server) TokenKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"keys": s.issuer.Keys().PublicKeys()})
}

// TokenKey serves GET /token_key: the active verification key.
func (s *Server) TokenKey(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.issuer.Keys().ActiveJWK())
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func badCredentials(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, oauthError{Error: "unauthorized", Description: "Bad credentials"})
}

func serverError(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusInternalServerError, oauthError{Error: "server_error", Description: what})
}

// throttled answers 429 with Retry-After.
func throttled(w http.ResponseWriter, wait time.Duration, msg string) {
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeJSON(w, http.StatusTooManyRequests, oauthError{Error: "too_many_requests",
		Description: fmt.Sprintf("%s Try again in %d seconds.", msg, secs)})
}

// client is the authenticated OAuth client of a token request.
type client struct {
	id          string
	public      bool // the built-in cf client
	rec         *store.OAuthClient
	grantTypes  []string
	scopes      []string // nil = unbounded
	authorities []string
}

func (c *client) allows(grant string) bool { return slices.Contains(c.grantTypes, grant) }

func (c *client) grant(gt string) Grant {
	g := Grant{ClientID: c.id, GrantType: gt, AllowedScopes: c.scopes}
	if c.rec != nil {
		g.ClientEpoch, g.AccessTTL, g.RefreshTTL = c.rec.RevocationEpoch, c.rec.AccessTokenTTL, c.rec.RefreshTokenTTL
	}
	return g
}

// Token serves POST /oauth/token: password, refresh_token and
// client_credentials grants.
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "malformed form body"})
		return
	}
	addr := clientAddr(r, s.trust)
	if ok, wait := s.limits.take("ip:"+addr, s.limits.cfg.PerIPBurst, s.limits.cfg.PerIPRate); !ok {
		s.log.Info("token-request-throttled", "client_ip", addr)
		throttled(w, wait, "Too many token requests from your address.")
		return
	}
	gt := r.PostForm.Get("grant_type")
	switch gt {
	case GrantPassword, GrantRefreshToken, GrantClientCredentials:
	case "":
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "Missing grant type"})
		return
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type", Description: "Unsupported grant type: " + gt})
		return
	}
	cl, ok := s.authenticateClient(w, r)
	if !ok {
		return
	}
	if !cl.allows(gt) {
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "Unauthorized grant type: " + gt})
		return
	}
	switch gt {
	case GrantPassword:
		s.passwordGrant(w, r, cl)
	case GrantRefreshToken:
		s.refreshGrant(w, r, cl)
	case GrantClientCredentials:
		s.issueJSON(w, func() (*TokenResponse, error) { return s.issuer.IssueClient(cl.grant(gt), cl.authorities) })
	}
}

// acquire takes a bcrypt slot; false when the request went away.
func (s *Server) acquire(r *http.Request) (release func(), ok bool) {
	select {
	case s.checks <- struct{}{}:
		return func() { <-s.checks }, true
	case <-r.Context().Done():
		return nil, false
	}
}

// authenticateClient checks the client credentials (Basic auth or the
// body): the public client "cf" with an empty secret, or a registered
// client and its secret, throttled and locked out like passwords.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request) (*client, bool) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" || len(id) > 255 || len(secret) > 72 {
		badCredentials(w)
		return nil, false
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(ClientID)) == 1 {
		if secret != "" {
			badCredentials(w)
			return nil, false
		}
		return &client{id: ClientID, public: true, grantTypes: []string{GrantPassword, GrantRefreshToken}}, true
	}
	key := "client:" + id
	if !s.admit(w, key) {
		return nil, false
	}
	release, ok := s.acquire(r)
	if !ok {
		return nil, false
	}
	defer release()
	rec, err := s.st.OAuthClients().GetByClientID(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		CheckPassword(s.dummyHash, secret)
		s.failed(key, "client_id", id, "unknown client")
		badCredentials(w)
		return nil, false
	case err != nil:
		s.log.Error("client-lookup-failed", "error", err)
		serverError(w, "client lookup failed")
		return nil, false
	}
	if rec.SecretHash == "" && secret != "" || rec.SecretHash != "" && !CheckPassword(rec.SecretHash, secret) {
		s.failed(key, "client_id", id, "bad secret")
		badCredentials(w)
		return nil, false
	}
	s.limits.succeed(key)
	return &client{id: rec.ClientID, rec: rec, grantTypes: rec.GrantTypes, scopes: append([]string{}, rec.Scopes...),
		authorities: rec.Authorities}, true
}

// admit applies the lockout and the per-name rate limit of key.
func (s *Server) admit(w http.ResponseWriter, key string) bool {
	if d := s.limits.lockedFor(key); d > 0 {
		throttled(w, d, "Your account has been locked because of too many failed attempts to login.")
		return false
	}
	if ok, wait := s.limits.take(key, s.limits.cfg.PerUserBurst, s.limits.cfg.PerUserRate); !ok {
		throttled(w, wait, "Too many login attempts for this account.")
		return false
	}
	return true
}

// failed counts a failed attempt on key.
func (s *Server) failed(key, kind, name, reason string) {
	locked := s.limits.fail(key)
	s.log.Info("login-failed", kind, name, "reason", reason, "locked", locked)
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, cl *client) {
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if username == "" || password == "" || len(password) > 72 || len(username) > 255 {
		badCredentials(w)
		return
	}
	key := "user:" + username
	if !s.admit(w, key) {
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		return
	}
	defer release()
	u, err := s.st.Users().GetByName(r.Context(), "uaa", username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		CheckPassword(s.dummyHash, password)
		s.failed(key, "user_name", username, "unknown user")
		badCredentials(w)
		return
	case err != nil:
		s.log.Error("login-lookup-failed", "error", err)
		serverError(w, "user lookup failed")
		return
	}
	if !CheckPassword(u.PasswordHash, password) {
		s.failed(key, "user_name", username, "bad password")
		badCredentials(w)
		return
	}
	s.limits.succeed(key)
	s.issueUser(w, r, u, cl, GrantPassword)
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, cl *client) {
	invalid := func(why string) {
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: "Invalid refresh token" + why})
	}
	c, err := s.issuer.Verify(r.PostForm.Get("refresh_token"), UseRefresh)
	if err != nil {
		invalid("")
		return
	}
	if c.ClientID != cl.id {
		invalid(" (issued to another client)")
		return
	}
	if err := s.revs.check(r.Context(), c); err != nil {
		if errors.Is(err, ErrRevoked) {
			invalid(" (revoked)")
			return
		}
		s.log.Error("refresh-revocation-check-failed", "error", err)
		serverError(w, "revocation check failed")
		return
	}
	u, err := s.st.Users().Get(r.Context(), c.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		invalid(" (user no longer exists)")
		return
	case err != nil:
		s.log.Error("refresh-lookup-failed", "error", err)
		serverError(w, "user lookup failed")
		return
	}
	s.issueUser(w, r, u, cl, GrantRefreshToken)
}

// groupsOf lists the scopes of a user's group memberships.
func (s *Server) groupsOf(ctx context.Context, userGUID string) ([]string, error) {
	ms, err := s.st.Groups().ListForUser(ctx, userGUID)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Group)
	}
	return out, nil
}

func (s *Server) issueUser(w http.ResponseWriter, r *http.Request, u *store.User, cl *client, grant string) {
	groups, err := s.groupsOf(r.Context(), u.GUID)
	if err != nil {
		s.log.Error("token-groups-failed", "error", err)
		serverError(w, "group lookup failed")
		return
	}
	origin := u.Origin
	if origin == "" {
		origin = "uaa"
	}
	sub := Subject{UserID: u.GUID, UserName: u.Username, Origin: origin, Groups: groups, Epoch: u.RevocationEpoch}
	s.issueJSON(w, func() (*TokenResponse, error) { return s.issuer.IssueUser(sub, cl.grant(grant)) })
}

func (s *Server) issueJSON(w http.ResponseWriter, issue func() (*TokenResponse, error)) {
	tr, err := issue()
	if err != nil {
		s.log.Error("token-issue-failed", "error", err)
		serverError(w, "could not issue token")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tr)
}

// BearerToken extracts the token from an Authorization header value
// ("bearer <jwt>", case-insensitive scheme); ok is false when absent.
func BearerToken(h string) (string, bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", h != ""
	}
	tok = strings.TrimSpace(tok)
	// The cf CLI stores "bearer <jwt>" and, on logout, sends that after
	// its own "Bearer ".
	if s, t, ok := strings.Cut(tok, " "); ok && strings.EqualFold(s, "bearer") {
		tok = strings.TrimSpace(t)
	}
	return tok, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

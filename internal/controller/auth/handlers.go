package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"strings"

	"github.com/ingot-paas/ingot/internal/store"
)

// Users is the part of the user store the token endpoint needs.
type Users interface {
	Get(ctx context.Context, guid string) (*store.User, error)
	GetByName(ctx context.Context, origin, username string) (*store.User, error)
}

// UAAVersion is what /login reports.
const UAAVersion = "4.30.0"

// Server serves the UAA endpoints.
type Server struct {
	issuer *Issuer
	users  Users
	log    *slog.Logger
	// checks bounds concurrent bcrypt comparisons, so a flood of logins
	// cannot eat every core.
	checks chan struct{}
	// dummyHash is compared against when a user does not exist, so that
	// timing does not reveal which usernames exist.
	dummyHash string
}

// NewServer makes the UAA endpoint handlers.
func NewServer(issuer *Issuer, users Users, log *slog.Logger) *Server {
	h, _ := HashPassword("ingot-dummy-password")
	return &Server{issuer: issuer, users: users, log: log, checks: make(chan struct{}, 4), dummyHash: h}
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

// TokenKeys serves GET /token_keys: the verification key as a JWK set.
func (s *Server) TokenKeys(w http.ResponseWriter, r *http.Request) {
	pub := s.issuer.PublicKey()
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.issuer.KeyID(),
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func badCredentials(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, oauthError{Error: "unauthorized", Description: "Bad credentials"})
}

// Token serves POST /oauth/token (password and refresh_token grants for
// the public client "cf").
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "malformed form body"})
		return
	}
	if !s.clientOK(r) {
		badCredentials(w)
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "password":
		s.passwordGrant(w, r)
	case "refresh_token":
		s.refreshGrant(w, r)
	case "":
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_request", Description: "Missing grant type"})
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type", Description: "Unsupported grant type: " + gt})
	}
}

// clientOK accepts the public client "cf" with an empty secret, given by
// Basic auth or in the body.
func (s *Server) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return subtle.ConstantTimeCompare([]byte(id), []byte(ClientID)) == 1 && secret == ""
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request) {
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if username == "" || password == "" || len(password) > 72 || len(username) > 255 {
		badCredentials(w)
		return
	}
	select {
	case s.checks <- struct{}{}:
		defer func() { <-s.checks }()
	case <-r.Context().Done():
		return
	}
	u, err := s.users.GetByName(r.Context(), "uaa", username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		CheckPassword(s.dummyHash, password)
		s.log.Info("login-failed", "user_name", username, "reason", "unknown user")
		badCredentials(w)
		return
	case err != nil:
		s.log.Error("login-lookup-failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, oauthError{Error: "server_error", Description: "user lookup failed"})
		return
	}
	if !CheckPassword(u.PasswordHash, password) {
		s.log.Info("login-failed", "user_name", username, "reason", "bad password")
		badCredentials(w)
		return
	}
	s.issue(w, u, "password")
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) {
	c, err := s.issuer.Verify(r.PostForm.Get("refresh_token"), UseRefresh)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: "Invalid refresh token"})
		return
	}
	u, err := s.users.Get(r.Context(), c.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: "Invalid refresh token (user no longer exists)"})
		return
	case err != nil:
		s.log.Error("refresh-lookup-failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, oauthError{Error: "server_error", Description: "user lookup failed"})
		return
	}
	s.issue(w, u, "refresh_token")
}

func (s *Server) issue(w http.ResponseWriter, u *store.User, grant string) {
	origin := u.Origin
	if origin == "" {
		origin = "uaa"
	}
	tr, err := s.issuer.Issue(Subject{UserID: u.GUID, UserName: u.Username, Origin: origin, Admin: u.Admin}, grant)
	if err != nil {
		s.log.Error("token-issue-failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, oauthError{Error: "server_error", Description: "could not issue token"})
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
	return strings.TrimSpace(tok), true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

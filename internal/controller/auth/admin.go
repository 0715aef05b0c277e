package auth

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/store"
)

// Revocation, OAuth client and signing-key administration.

// RevokeToken serves DELETE /oauth/token/revoke/{jti}: the pair of tokens
// (access and refresh) the jti belongs to stops working. The tokens'
// owner may revoke them (cf logout); tokens.revoke or uaa.admin revoke
// any.
func (s *Server) RevokeToken(w http.ResponseWriter, r *http.Request) {
	jti := r.PathValue("jti")
	if jti == "" || len(jti) > 128 {
		scimError(w, http.StatusBadRequest, "invalid_request", "invalid token id")
		return
	}
	access, refresh := PairJTIs(jti)
	// cf logout revokes the refresh token with itself as the bearer.
	if tok, _ := BearerToken(r.Header.Get("Authorization")); tok != "" {
		if rc, err := s.issuer.Verify(tok, UseRefresh); err == nil {
			if own, _ := PairJTIs(rc.ID); own == access && s.revs.check(r.Context(), rc) == nil {
				s.revokePair(w, r, rc, access, refresh)
				return
			}
		}
	}
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	own, _ := PairJTIs(c.ID)
	if own != access && !requireScope(w, c, ScopeTokensRevoke, ScopeUAAAdmin) {
		return
	}
	s.revokePair(w, r, c, access, refresh)
}

func (s *Server) revokePair(w http.ResponseWriter, r *http.Request, c *Claims, access, refresh string) {
	// The revoked tokens' expiry is not known from the jti: keep the
	// revocation as long as any token can live.
	exp := s.now().Add(s.issuer.MaxTokenTTL())
	for _, id := range []string{access, refresh} {
		if err := s.revs.revoke(r.Context(), id, exp); err != nil {
			if errors.Is(err, ErrTooManyRevocations) {
				writeJSON(w, http.StatusServiceUnavailable, oauthError{Error: "server_error", Description: err.Error()})
				return
			}
			s.log.Error("token-revoke-failed", "error", err)
			serverError(w, "could not revoke the token")
			return
		}
	}
	s.log.Info("token-revoked", "jti", access, "by", actor(c))
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// RevokeUserTokens serves GET /oauth/token/revoke/user/{id} (as UAA
// does): every token of the user stops working. The user themself or
// uaa.admin.
func (s *Server) RevokeUserTokens(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if c.UserID != id && !requireScope(w, c, ScopeUAAAdmin) {
		return
	}
	if err := s.bumpUser(r.Context(), id, func(*store.User) {}); err != nil {
		s.userWriteFailed(w, err)
		return
	}
	s.log.Info("user-tokens-revoked", "user_id", id, "by", actor(c))
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// RevokeClientTokens serves GET /oauth/token/revoke/client/{id}
// (uaa.admin): every token issued to the client stops working.
func (s *Server) RevokeClientTokens(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeUAAAdmin) {
		return
	}
	id := r.PathValue("id")
	rec, err := s.st.OAuthClients().GetByClientID(r.Context(), id)
	if err == nil {
		rec.RevocationEpoch++
		err = s.st.OAuthClients().Update(r.Context(), rec)
	}
	if !s.clientWriteOK(w, err, id) {
		return
	}
	s.revs.forget(clientKey(id))
	s.log.Info("client-tokens-revoked", "client_id", id, "by", actor(c))
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) clientWriteOK(w http.ResponseWriter, err error, id string) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		scimError(w, http.StatusNotFound, "not_found", "No client with requested id: "+id)
	case errors.Is(err, store.ErrConflict):
		scimError(w, http.StatusConflict, "conflict", "The client changed concurrently; try again")
	default:
		s.log.Error("client-write-failed", "error", err)
		serverError(w, "could not update the client")
	}
	return false
}

// ClientBody is a client as /oauth/clients takes and shows it.
type ClientBody struct {
	ClientID             string   `json:"client_id"`
	ClientSecret         string   `json:"client_secret,omitempty"`
	Scope                []string `json:"scope"`
	Authorities          []string `json:"authorities"`
	AuthorizedGrantTypes []string `json:"authorized_grant_types"`
	AccessTokenValidity  int64    `json:"access_token_validity,omitempty"`
	RefreshTokenValidity int64    `json:"refresh_token_validity,omitempty"`
	LastModified         int64    `json:"lastModified,omitempty"`
}

func presentClient(c *store.OAuthClient) ClientBody {
	return ClientBody{ClientID: c.ClientID, Scope: nonNil(c.Scopes), Authorities: nonNil(c.Authorities),
		AuthorizedGrantTypes: nonNil(c.GrantTypes), AccessTokenValidity: int64(c.AccessTokenTTL / time.Second),
		RefreshTokenValidity: int64(c.RefreshTokenTTL / time.Second), LastModified: c.UpdatedAt.UnixMilli()}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// validScope: a scope is a non-empty word of printable ASCII.
func validScope(sc string) bool {
	if sc == "" || len(sc) > 255 {
		return false
	}
	for _, r := range sc {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}

// CreateClient serves POST /oauth/clients (uaa.admin or clients.write).
func (s *Server) CreateClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeUAAAdmin, ScopeClientsWrite) {
		return
	}
	var b ClientBody
	if !readJSON(w, r, &b) {
		return
	}
	if !validScope(b.ClientID) || b.ClientID == ClientID {
		scimError(w, http.StatusBadRequest, "invalid_client", "client_id must be a word of printable characters other than 'cf'")
		return
	}
	if len(b.ClientSecret) > 72 {
		scimError(w, http.StatusBadRequest, "invalid_client", "client_secret is longer than 72 bytes")
		return
	}
	if len(b.AuthorizedGrantTypes) == 0 {
		b.AuthorizedGrantTypes = []string{GrantClientCredentials}
	}
	for _, g := range b.AuthorizedGrantTypes {
		if g != GrantPassword && g != GrantRefreshToken && g != GrantClientCredentials {
			scimError(w, http.StatusBadRequest, "invalid_client", "unsupported grant type: "+g)
			return
		}
	}
	if slices.Contains(b.AuthorizedGrantTypes, GrantClientCredentials) && b.ClientSecret == "" {
		scimError(w, http.StatusBadRequest, "invalid_client", "a client using client_credentials needs a secret")
		return
	}
	for _, sc := range append(append([]string{}, b.Scope...), b.Authorities...) {
		if !validScope(sc) {
			scimError(w, http.StatusBadRequest, "invalid_client", "invalid scope: "+sc)
			return
		}
	}
	// Only an admin hands out admin scopes.
	if !c.HasScope(ScopeUAAAdmin) {
		for _, sc := range append(append([]string{}, b.Scope...), b.Authorities...) {
			if !c.HasScope(sc) {
				writeJSON(w, http.StatusForbidden, oauthError{Error: "insufficient_scope", Description: "You cannot grant a scope you do not have: " + sc})
				return
			}
		}
	}
	rec := &store.OAuthClient{Meta: store.Meta{GUID: uuid.NewString()}, ClientID: b.ClientID, Scopes: b.Scope,
		Authorities: b.Authorities, GrantTypes: b.AuthorizedGrantTypes,
		AccessTokenTTL: time.Duration(b.AccessTokenValidity) * time.Second, RefreshTokenTTL: time.Duration(b.RefreshTokenValidity) * time.Second}
	if b.ClientSecret != "" {
		release, ok := s.acquire(r)
		if !ok {
			return
		}
		h, err := HashPassword(b.ClientSecret)
		release()
		if err != nil {
			serverError(w, "could not hash the secret")
			return
		}
		rec.SecretHash = h
	}
	err := s.st.OAuthClients().Create(r.Context(), rec)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		scimError(w, http.StatusConflict, "invalid_client", "Client already exists: "+b.ClientID)
		return
	case err != nil:
		s.log.Error("client-create-failed", "error", err)
		serverError(w, "could not create the client")
		return
	}
	s.revs.forget(clientKey(rec.ClientID))
	s.log.Info("client-created", "client_id", rec.ClientID, "scopes", strings.Join(rec.Scopes, ","), "by", actor(c))
	writeJSON(w, http.StatusCreated, presentClient(rec))
}

// GetClient serves GET /oauth/clients/{id} (uaa.admin, clients.write or
// the client itself).
func (s *Server) GetClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !(c.IsClient() && c.ClientID == id) && !requireScope(w, c, ScopeUAAAdmin, ScopeClientsWrite) {
		return
	}
	rec, err := s.st.OAuthClients().GetByClientID(r.Context(), id)
	if !s.clientWriteOK(w, err, id) {
		return
	}
	writeJSON(w, http.StatusOK, presentClient(rec))
}

// DeleteClient serves DELETE /oauth/clients/{id} (uaa.admin or
// clients.write); the client's tokens stop working at once.
func (s *Server) DeleteClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeUAAAdmin, ScopeClientsWrite) {
		return
	}
	id := r.PathValue("id")
	rec, err := s.st.OAuthClients().GetByClientID(r.Context(), id)
	if err == nil {
		err = s.st.OAuthClients().Delete(r.Context(), rec.GUID)
	}
	if !s.clientWriteOK(w, err, id) {
		return
	}
	s.revs.forget(clientKey(id))
	s.log.Info("client-deleted", "client_id", id, "by", actor(c))
	writeJSON(w, http.StatusOK, presentClient(rec))
}

// RotateKey serves POST /token_keys (uaa.admin): a new signing key signs
// from now on; tokens signed by older keys stay valid until they expire.
func (s *Server) RotateKey(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeUAAAdmin) {
		return
	}
	s.issuer.Keys().Retire(s.issuer.MaxTokenTTL())
	kid, err := s.issuer.Keys().Rotate()
	if err != nil {
		if errors.Is(err, ErrTooManyKeys) {
			writeJSON(w, http.StatusConflict, oauthError{Error: "too_many_keys", Description: err.Error()})
			return
		}
		s.log.Error("signing-key-rotate-failed", "error", err)
		serverError(w, "could not make a new signing key")
		return
	}
	s.log.Info("signing-key-rotated", "kid", kid, "by", actor(c))
	writeJSON(w, http.StatusCreated, s.issuer.Keys().ActiveJWK())
}

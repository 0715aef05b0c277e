package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/store"
)

// The SCIM user endpoints (/Users) the cf CLI's create-user, delete-user
// and passwd use, and /userinfo.

// maxSCIMBody bounds a SCIM request body.
const maxSCIMBody = 64 << 10

// bearer authenticates the request's access token; it answers 401 itself.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (*Claims, bool) {
	tok, present := BearerToken(r.Header.Get("Authorization"))
	if !present || tok == "" {
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "unauthorized", Description: "Full authentication is required to access this resource"})
		return nil, false
	}
	c, err := s.VerifyAccess(r.Context(), tok)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrExpiredToken) && !errors.Is(err, ErrRevoked) {
			s.log.Error("token-verify-failed", "error", err)
			serverError(w, "token verification failed")
			return nil, false
		}
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: "Invalid token"})
		return nil, false
	}
	return c, true
}

// requireScope answers 403 unless c carries one of scopes.
func requireScope(w http.ResponseWriter, c *Claims, scopes ...string) bool {
	for _, sc := range scopes {
		if c.HasScope(sc) {
			return true
		}
	}
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope",
		"error_description": "Insufficient scope for this resource", "scope": strings.Join(scopes, " ")})
	return false
}

func scimError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": msg, "message": msg})
}

// readJSON decodes a bounded JSON body; it answers 400 itself.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSCIMBody))
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		scimError(w, http.StatusBadRequest, "invalid_scim_resource", "The request body is not a valid JSON object")
		return false
	}
	return true
}

type scimMeta struct {
	Version      int64  `json:"version"`
	Created      string `json:"created"`
	LastModified string `json:"lastModified"`
}

type scimGroupRef struct {
	Value   string `json:"value"`
	Display string `json:"display"`
	Type    string `json:"type"`
}

// SCIMUser is a user as /Users presents it.
type SCIMUser struct {
	ID       string         `json:"id"`
	Meta     scimMeta       `json:"meta"`
	UserName string         `json:"userName"`
	Groups   []scimGroupRef `json:"groups"`
	Active   bool           `json:"active"`
	Verified bool           `json:"verified"`
	Origin   string         `json:"origin"`
	ZoneID   string         `json:"zoneId"`
	Schemas  []string       `json:"schemas"`
}

var scimSchemas = []string{"urn:scim:schemas:core:1.0"}

func timeString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Server) presentUser(ctx context.Context, u *store.User) (SCIMUser, error) {
	groups, err := s.groupsOf(ctx, u.GUID)
	if err != nil {
		return SCIMUser{}, err
	}
	refs := make([]scimGroupRef, 0, len(groups))
	for _, g := range groups {
		refs = append(refs, scimGroupRef{Value: g, Display: g, Type: "DIRECT"})
	}
	return SCIMUser{ID: u.GUID, UserName: u.Username, Groups: refs, Active: true, Verified: true,
		Origin: u.Origin, ZoneID: "uaa", Schemas: scimSchemas,
		Meta: scimMeta{Version: u.Version, Created: timeString(u.CreatedAt), LastModified: timeString(u.UpdatedAt)}}, nil
}

// ValidUsername checks a username: 1..255 bytes, no control characters or
// surrounding spaces.
func ValidUsername(name string) error {
	if name == "" || len(name) > 255 {
		return errors.New("a username must be 1 to 255 bytes long")
	}
	if strings.TrimSpace(name) != name {
		return errors.New("a username cannot start or end with a space")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("a username cannot contain control characters")
		}
	}
	return nil
}

// ValidPassword checks a new password: 1..72 bytes (bcrypt's limit).
func ValidPassword(pw string) error {
	if pw == "" {
		return errors.New("the password cannot be empty")
	}
	if len(pw) > 72 {
		return errors.New("the password is longer than 72 bytes")
	}
	return nil
}

type newUserBody struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
	Origin   string `json:"origin"`
}

// CreateUser serves POST /Users (scim.write or uaa.admin).
func (s *Server) CreateUser(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeSCIMWrite, ScopeUAAAdmin) {
		return
	}
	var b newUserBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.Origin == "" {
		b.Origin = "uaa"
	}
	if b.Origin != "uaa" {
		scimError(w, http.StatusBadRequest, "invalid_scim_resource", "Only users of origin 'uaa' can be created")
		return
	}
	if err := ValidUsername(b.UserName); err != nil {
		scimError(w, http.StatusBadRequest, "invalid_scim_resource", "Invalid username: "+err.Error())
		return
	}
	if err := ValidPassword(b.Password); err != nil {
		scimError(w, http.StatusBadRequest, "invalid_password", "Invalid password: "+err.Error())
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		return
	}
	hash, err := HashPassword(b.Password)
	release()
	if err != nil {
		serverError(w, "could not hash the password")
		return
	}
	u := &store.User{Meta: store.Meta{GUID: uuid.NewString()}, Username: b.UserName, Origin: b.Origin, PasswordHash: hash}
	err = s.st.Users().Create(r.Context(), u)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		scimError(w, http.StatusConflict, "scim_resource_already_exists", "Username already in use: "+b.UserName)
		return
	case err != nil:
		s.log.Error("user-create-failed", "error", err)
		serverError(w, "could not create the user")
		return
	}
	s.revs.forget(userKey(u.GUID))
	s.log.Info("user-created", "user_name", u.Username, "user_id", u.GUID, "by", actor(c))
	s.writeUser(w, r, http.StatusCreated, u)
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *store.User) {
	p, err := s.presentUser(r.Context(), u)
	if err != nil {
		s.log.Error("user-present-failed", "error", err)
		serverError(w, "could not read the user's groups")
		return
	}
	writeJSON(w, status, p)
}

func actor(c *Claims) string {
	if c.UserName != "" {
		return c.UserName
	}
	return "client:" + c.ClientID
}

// scimFilter is the subset of SCIM filters the cf CLI sends:
// attr eq "value" joined by "and", for userName, origin and id.
type scimFilter struct{ userName, origin, id *string }

func parseSCIMFilter(f string) (scimFilter, error) {
	var out scimFilter
	if strings.TrimSpace(f) == "" {
		return out, nil
	}
	rest := strings.TrimSpace(f)
	for {
		attr, after, ok := strings.Cut(rest, " ")
		if !ok {
			return out, fmt.Errorf("invalid filter %q", f)
		}
		after = strings.TrimLeft(after, " ")
		op, after, ok := strings.Cut(after, " ")
		if !ok || !strings.EqualFold(op, "eq") {
			return out, fmt.Errorf("invalid filter %q: only 'eq' is supported", f)
		}
		after = strings.TrimLeft(after, " ")
		if !strings.HasPrefix(after, `"`) {
			return out, fmt.Errorf("invalid filter %q: values must be quoted", f)
		}
		end := strings.Index(after[1:], `"`)
		if end < 0 {
			return out, fmt.Errorf("invalid filter %q: unterminated string", f)
		}
		val := after[1 : end+1]
		switch strings.ToLower(attr) {
		case "username":
			out.userName = &val
		case "origin":
			out.origin = &val
		case "id":
			out.id = &val
		default:
			return out, fmt.Errorf("invalid filter %q: unsupported attribute %s", f, attr)
		}
		rest = strings.TrimSpace(after[end+2:])
		if rest == "" {
			return out, nil
		}
		conj, next, ok := strings.Cut(rest, " ")
		if !ok || !strings.EqualFold(conj, "and") {
			return out, fmt.Errorf("invalid filter %q: only 'and' is supported", f)
		}
		rest = strings.TrimSpace(next)
	}
}

// maxSCIMPage bounds a /Users page.
const maxSCIMPage = 500

// ListUsers serves GET /Users (scim.read or uaa.admin).
func (s *Server) ListUsers(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeSCIMRead, ScopeUAAAdmin) {
		return
	}
	q := r.URL.Query()
	f, err := parseSCIMFilter(q.Get("filter"))
	if err != nil {
		scimError(w, http.StatusBadRequest, "invalid_filter", err.Error())
		return
	}
	start, count := 1, 100
	if v, err := strconv.Atoi(q.Get("startIndex")); err == nil && v > 0 {
		start = v
	}
	if v, err := strconv.Atoi(q.Get("count")); err == nil && v >= 0 {
		count = min(v, maxSCIMPage)
	}
	opt := store.ListOptions{}
	if f.userName != nil {
		opt.Names = []string{*f.userName}
	}
	if f.id != nil {
		opt.GUIDs = []string{*f.id}
	}
	users, err := s.st.Users().List(r.Context(), opt)
	if err != nil {
		s.log.Error("user-list-failed", "error", err)
		serverError(w, "could not list users")
		return
	}
	var matched []*store.User
	for _, u := range users {
		if f.origin == nil || u.Origin == *f.origin {
			matched = append(matched, u)
		}
	}
	resources := []SCIMUser{}
	for i := start - 1; i < len(matched) && len(resources) < count; i++ {
		p, err := s.presentUser(r.Context(), matched[i])
		if err != nil {
			serverError(w, "could not read the users' groups")
			return
		}
		resources = append(resources, p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": resources, "startIndex": start,
		"itemsPerPage": count, "totalResults": len(matched), "schemas": scimSchemas})
}

// userFor loads the user of the {id} path value; it answers 404 itself.
func (s *Server) userFor(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, err := s.st.Users().Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		scimError(w, http.StatusNotFound, "scim_resource_not_found", "User "+r.PathValue("id")+" does not exist")
		return nil, false
	case err != nil:
		s.log.Error("user-get-failed", "error", err)
		serverError(w, "could not read the user")
		return nil, false
	}
	return u, true
}

// GetUser serves GET /Users/{id} (scim.read, uaa.admin or the user).
func (s *Server) GetUser(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if c.UserID != r.PathValue("id") && !requireScope(w, c, ScopeSCIMRead, ScopeUAAAdmin) {
		return
	}
	if u, ok := s.userFor(w, r); ok {
		s.writeUser(w, r, http.StatusOK, u)
	}
}

// DeleteUser serves DELETE /Users/{id} (scim.write or uaa.admin); the
// user's tokens stop working at once.
func (s *Server) DeleteUser(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok || !requireScope(w, c, ScopeSCIMWrite, ScopeUAAAdmin) {
		return
	}
	u, ok := s.userFor(w, r)
	if !ok {
		return
	}
	p, err := s.presentUser(r.Context(), u)
	if err != nil {
		serverError(w, "could not read the user's groups")
		return
	}
	if err := s.st.Users().Delete(r.Context(), u.GUID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			scimError(w, http.StatusNotFound, "scim_resource_not_found", "User "+u.GUID+" does not exist")
			return
		}
		s.log.Error("user-delete-failed", "error", err)
		serverError(w, "could not delete the user")
		return
	}
	s.revs.forget(userKey(u.GUID))
	s.log.Info("user-deleted", "user_name", u.Username, "user_id", u.GUID, "by", actor(c))
	writeJSON(w, http.StatusOK, p)
}

type passwordBody struct {
	OldPassword string `json:"oldPassword"`
	Password    string `json:"password"`
}

// ChangePassword serves PUT /Users/{id}/password. A user changes their
// own password by giving the current one (failures count towards the
// lockout); scim.write or uaa.admin resets anyone's without it. Every
// token of the user issued before is revoked.
func (s *Server) ChangePassword(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	self := c.UserID != "" && c.UserID == r.PathValue("id")
	if !self && !requireScope(w, c, ScopeSCIMWrite, ScopeUAAAdmin) {
		return
	}
	var b passwordBody
	if !readJSON(w, r, &b) {
		return
	}
	if err := ValidPassword(b.Password); err != nil {
		scimError(w, http.StatusUnprocessableEntity, "invalid_password", err.Error())
		return
	}
	u, ok := s.userFor(w, r)
	if !ok {
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		return
	}
	defer release()
	if self {
		key := "user:" + u.Username
		if d := s.limits.lockedFor(key); d > 0 {
			throttled(w, d, "Your account has been locked because of too many failed attempts to login.")
			return
		}
		if !CheckPassword(u.PasswordHash, b.OldPassword) {
			s.failed(key, "user_name", u.Username, "bad old password")
			writeJSON(w, http.StatusUnauthorized, oauthError{Error: "unauthorized", Description: "Old password is incorrect"})
			return
		}
		s.limits.succeed(key)
	}
	hash, err := HashPassword(b.Password)
	if err != nil {
		serverError(w, "could not hash the password")
		return
	}
	if err := s.bumpUser(r.Context(), u.GUID, func(u *store.User) { u.PasswordHash = hash }); err != nil {
		s.userWriteFailed(w, err)
		return
	}
	s.log.Info("user-password-changed", "user_name", u.Username, "user_id", u.GUID, "by", actor(c))
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "message": "password updated"})
}

func (s *Server) userWriteFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		scimError(w, http.StatusNotFound, "scim_resource_not_found", "The user does not exist")
		return
	}
	s.log.Error("user-update-failed", "error", err)
	serverError(w, "could not update the user")
}

// bumpUser applies change to the user and increases their revocation
// epoch, retrying on concurrent updates; every older token is refused
// from then on.
func (s *Server) bumpUser(ctx context.Context, guid string, change func(*store.User)) error {
	for attempt := 0; ; attempt++ {
		u, err := s.st.Users().Get(ctx, guid)
		if err != nil {
			return err
		}
		change(u)
		u.RevocationEpoch++
		err = s.st.Users().Update(ctx, u)
		if err == nil {
			s.revs.forget(userKey(guid))
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 4 {
			return err
		}
	}
}

// UserInfo serves GET /userinfo for a user's token.
func (s *Server) UserInfo(w http.ResponseWriter, r *http.Request) {
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if c.UserID == "" {
		writeJSON(w, http.StatusForbidden, oauthError{Error: "insufficient_scope", Description: "A client token has no user"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": c.UserID, "sub": c.UserID, "user_name": c.UserName,
		"origin": c.Origin, "zid": "uaa", "previous_logon_time": nil})
}

// Package auth is the controller's UAA-compatible token service: an RS256
// signing key generated at first start, JWT access and refresh tokens with
// the claims the cf CLI reads, bcrypt passwords, and the /login and
// /oauth/token handlers.
package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

var (
	// ErrInvalidToken: the token is malformed, badly signed, of the wrong
	// use, or not from this issuer.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpiredToken: the token was valid but has expired.
	ErrExpiredToken = errors.New("auth: token expired")
)

// KeyFile is the signing key's file name inside the data dir.
const KeyFile = "uaa-signing-key.pem"

// Token uses, in the ingot_token_use claim: an access token can never
// serve as a refresh token and vice versa.
const (
	UseAccess  = "access"
	UseRefresh = "refresh"
)

// ClientID is the built-in public client of the cf CLI (empty secret,
// password and refresh_token grants).
const ClientID = "cf"

// Grant types.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Scopes granted to every user, and the admin scope.
var (
	UserScopes = []string{"openid", "cloud_controller.read", "cloud_controller.write", "uaa.user", "password.write"}
	AdminScope = "cloud_controller.admin"
	// AdminGroups are the groups the admin role is made of: the Cloud
	// Controller admin, user management (SCIM) and UAA administration.
	AdminGroups = []string{AdminScope, ScopeSCIMRead, ScopeSCIMWrite, ScopeUAAAdmin}
)

// UAA administration scopes.
const (
	ScopeSCIMRead  = "scim.read"
	ScopeSCIMWrite = "scim.write"
	ScopeUAAAdmin  = "uaa.admin"
	// ScopeClientsWrite lets a client register OAuth clients.
	ScopeClientsWrite = "clients.write"
	// ScopeTokensRevoke lets a client revoke any token by jti.
	ScopeTokensRevoke = "tokens.revoke"
)

// Claims are the JWT claims, shaped like UAA's.
type Claims struct {
	UserID    string   `json:"user_id,omitempty"`
	UserName  string   `json:"user_name,omitempty"`
	Origin    string   `json:"origin,omitempty"`
	ClientID  string   `json:"client_id"`
	CID       string   `json:"cid"`
	Scope     []string `json:"scope"`
	GrantType string   `json:"grant_type"`
	ZoneID    string   `json:"zid"`
	Revocable bool     `json:"revocable"`
	Use       string   `json:"ingot_token_use"`
	// Authorities are a client token's authorities (= its scopes).
	Authorities []string `json:"authorities,omitempty"`
	// Epoch and ClientEpoch are the user's and the client's revocation
	// epochs when the token was issued; a later epoch revokes it.
	Epoch       int64 `json:"ingot_rev_epoch,omitempty"`
	ClientEpoch int64 `json:"ingot_client_rev_epoch,omitempty"`
	jwt.RegisteredClaims
}

// IsClient reports whether the token is a client's own (no user).
func (c *Claims) IsClient() bool { return c.UserID == "" }

// HasScope reports whether the token carries scope.
func (c *Claims) HasScope(scope string) bool {
	for _, s := range c.Scope {
		if s == scope {
			return true
		}
	}
	return false
}

// IsAdmin reports whether the token carries the admin scope.
func (c *Claims) IsAdmin() bool { return c.HasScope(AdminScope) }

// LoadOrCreateKey reads the RSA signing key from dir, generating a
// 2048-bit key (mode 0600) at first start.
func LoadOrCreateKey(dir string) (*rsa.PrivateKey, error) {
	path := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("read signing key %s: no PEM block", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse signing key %s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s is not an RSA key", path)
		}
		return rk, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	return key, nil
}

// LoadOrCreateSecret reads a random secret of n bytes from dir/name,
// creating it (mode 0600) at first start.
func LoadOrCreateSecret(dir, name string, n int) ([]byte, error) {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err == nil {
		b, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(b) < 16 {
			return nil, fmt.Errorf("secret %s is malformed", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(b)+"\n")); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	return b, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Issuer signs and verifies tokens with the keys of its keyring.
type Issuer struct {
	keys       *Keyring
	issuer     string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
}

// NewIssuer makes an issuer signing with one key; iss is the token
// endpoint URL.
func NewIssuer(key *rsa.PrivateKey, iss string, accessTTL, refreshTTL time.Duration) *Issuer {
	return NewKeyringIssuer(NewKeyring(key), iss, accessTTL, refreshTTL)
}

// NewKeyringIssuer makes an issuer signing with the keyring's active key
// and verifying with any of its keys.
func NewKeyringIssuer(keys *Keyring, iss string, accessTTL, refreshTTL time.Duration) *Issuer {
	return &Issuer{keys: keys, issuer: iss, accessTTL: accessTTL, refreshTTL: refreshTTL, now: time.Now}
}

// SetClock replaces the clock (tests).
func (i *Issuer) SetClock(now func() time.Time) { i.now = now }

// KeyID is the kid of the active signing key.
func (i *Issuer) KeyID() string { return i.keys.ActiveKeyID() }

// Keys is the issuer's keyring.
func (i *Issuer) Keys() *Keyring { return i.keys }

// PublicKey is the active verification key.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.keys.active().key.PublicKey }

// MaxTokenTTL is the longest lifetime of any token the issuer signs.
func (i *Issuer) MaxTokenTTL() time.Duration { return max(i.accessTTL, i.refreshTTL) }

// Subject is who a token is for.
type Subject struct {
	UserID   string
	UserName string
	Origin   string
	// Admin adds AdminScope (when Groups does not already).
	Admin bool
	// Groups are the user's group memberships; each is a scope.
	Groups []string
	// Epoch is the user's revocation epoch.
	Epoch int64
}

// Grant is the client side of an issue: which client asked, how, and what
// it may receive.
type Grant struct {
	ClientID  string
	GrantType string
	// AllowedScopes bounds a user token's scopes; nil = no bound (the cf
	// client).
	AllowedScopes []string
	// ClientEpoch is the client's revocation epoch.
	ClientEpoch int64
	// AccessTTL and RefreshTTL shorten the issuer's lifetimes when > 0.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
}

// TokenResponse is /oauth/token's success body.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	JTI          string `json:"jti"`
}

// Issue makes an access and a refresh token for s through the cf client.
func (i *Issuer) Issue(s Subject, grantType string) (*TokenResponse, error) {
	return i.IssueUser(s, Grant{ClientID: ClientID, GrantType: grantType})
}

// userScopes is what a user's token carries: the default user scopes and
// the user's groups, bounded by the client's scopes.
func userScopes(s Subject, allowed []string) []string {
	scope := append([]string{}, UserScopes...)
	seen := map[string]bool{}
	for _, sc := range scope {
		seen[sc] = true
	}
	extra := append([]string{}, s.Groups...)
	if s.Admin {
		extra = append(extra, AdminScope)
	}
	for _, g := range extra {
		if !seen[g] {
			seen[g] = true
			scope = append(scope, g)
		}
	}
	if allowed == nil {
		return scope
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	out := scope[:0]
	for _, sc := range scope {
		if ok[sc] {
			out = append(out, sc)
		}
	}
	return out
}

func ttl(def, override time.Duration) time.Duration {
	if override > 0 && override < def {
		return override
	}
	return def
}

func newJTI() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

// IssueUser makes an access and a refresh token for user s through g.
func (i *Issuer) IssueUser(s Subject, g Grant) (*TokenResponse, error) {
	scope := userScopes(s, g.AllowedScopes)
	now := i.now()
	jti := newJTI()
	accessTTL, refreshTTL := ttl(i.accessTTL, g.AccessTTL), ttl(i.refreshTTL, g.RefreshTTL)
	base := Claims{
		UserID: s.UserID, UserName: s.UserName, Origin: s.Origin,
		ClientID: g.ClientID, CID: g.ClientID, Scope: scope, GrantType: g.GrantType,
		ZoneID: "uaa", Revocable: true, Epoch: s.Epoch, ClientEpoch: g.ClientEpoch,
	}
	aud := jwt.ClaimStrings{"cloud_controller", "openid", g.ClientID}
	access := base
	access.Use = UseAccess
	access.RegisteredClaims = jwt.RegisteredClaims{
		ID: jti, Subject: s.UserID, Issuer: i.issuer, Audience: aud,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(accessTTL)),
	}
	refresh := base
	refresh.Use = UseRefresh
	refresh.RegisteredClaims = jwt.RegisteredClaims{
		ID: RefreshJTI(jti), Subject: s.UserID, Issuer: i.issuer, Audience: aud,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(refreshTTL)),
	}
	at, err := i.sign(&access)
	if err != nil {
		return nil, err
	}
	rt, err := i.sign(&refresh)
	if err != nil {
		return nil, err
	}
	return &TokenResponse{
		AccessToken: at, RefreshToken: rt, TokenType: "bearer",
		ExpiresIn: int64(accessTTL / time.Second), Scope: strings.Join(scope, " "), JTI: jti,
	}, nil
}

// IssueClient makes an access token (no refresh token) for the client
// itself: its authorities are the scopes, and there is no user.
func (i *Issuer) IssueClient(g Grant, authorities []string) (*TokenResponse, error) {
	now := i.now()
	jti := newJTI()
	accessTTL := ttl(i.accessTTL, g.AccessTTL)
	scope := append([]string{}, authorities...)
	c := Claims{
		ClientID: g.ClientID, CID: g.ClientID, Scope: scope, Authorities: scope, GrantType: GrantClientCredentials,
		ZoneID: "uaa", Revocable: true, ClientEpoch: g.ClientEpoch, Use: UseAccess,
		RegisteredClaims: jwt.RegisteredClaims{
			ID: jti, Subject: g.ClientID, Issuer: i.issuer,
			Audience:  jwt.ClaimStrings{g.ClientID},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(accessTTL)),
		},
	}
	at, err := i.sign(&c)
	if err != nil {
		return nil, err
	}
	return &TokenResponse{AccessToken: at, TokenType: "bearer", ExpiresIn: int64(accessTTL / time.Second),
		Scope: strings.Join(scope, " "), JTI: jti}, nil
}

// RefreshJTI is the jti of the refresh token issued with the access token
// whose jti is jti; PairJTIs maps either back to both.
func RefreshJTI(jti string) string { return jti + "-r" }

// PairJTIs returns the access and refresh jtis of the pair jti belongs to.
func PairJTIs(jti string) (access, refresh string) {
	access = strings.TrimSuffix(jti, "-r")
	return access, RefreshJTI(access)
}

func (i *Issuer) sign(c *Claims) (string, error) {
	sk := i.keys.active()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = sk.kid
	s, err := t.SignedString(sk.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature (by its kid, RS256 only), issuer,
// expiry and use. It does not check revocation (see Server.VerifyAccess).
func (i *Issuer) Verify(token, use string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := i.keys.publicKey(kid)
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return pub, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(i.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(i.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpiredToken
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Use != use {
		return nil, fmt.Errorf("%w: not an %s token", ErrInvalidToken, use)
	}
	if c.ID == "" {
		return nil, fmt.Errorf("%w: no jti", ErrInvalidToken)
	}
	switch {
	case c.UserID != "":
	case c.GrantType == GrantClientCredentials && c.ClientID != "" && use == UseAccess:
	default:
		return nil, fmt.Errorf("%w: no user_id", ErrInvalidToken)
	}
	return &c, nil
}

// HashPassword bcrypts a password.
func HashPassword(pw string) (string, error) {
	if len(pw) > 72 {
		return "", errors.New("password is longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches the bcrypt hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

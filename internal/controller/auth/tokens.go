// Package auth is the controller's UAA-compatible token service: an RS256
// signing key generated at first start, JWT access and refresh tokens with
// the claims the cf CLI reads, bcrypt passwords, and the /login and
// /oauth/token handlers.
package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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

// ClientID is the only OAuth client: the cf CLI's public client.
const ClientID = "cf"

// Scopes granted to every user, and the admin scope.
var (
	UserScopes = []string{"openid", "cloud_controller.read", "cloud_controller.write", "uaa.user"}
	AdminScope = "cloud_controller.admin"
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
	jwt.RegisteredClaims
}

// IsAdmin reports whether the token carries the admin scope.
func (c *Claims) IsAdmin() bool {
	for _, s := range c.Scope {
		if s == AdminScope {
			return true
		}
	}
	return false
}

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

// Issuer signs and verifies tokens.
type Issuer struct {
	key        *rsa.PrivateKey
	kid        string
	issuer     string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
}

// NewIssuer makes an issuer; iss is the token endpoint URL.
func NewIssuer(key *rsa.PrivateKey, iss string, accessTTL, refreshTTL time.Duration) *Issuer {
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(der)
	return &Issuer{
		key: key, kid: "key-" + hex.EncodeToString(sum[:6]), issuer: iss,
		accessTTL: accessTTL, refreshTTL: refreshTTL, now: time.Now,
	}
}

// SetClock replaces the clock (tests).
func (i *Issuer) SetClock(now func() time.Time) { i.now = now }

// KeyID is the kid of the signing key.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey is the verification key.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// Subject is who a token is for.
type Subject struct {
	UserID   string
	UserName string
	Origin   string
	Admin    bool
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

// Issue makes an access and a refresh token for s.
func (i *Issuer) Issue(s Subject, grantType string) (*TokenResponse, error) {
	scope := append([]string{}, UserScopes...)
	if s.Admin {
		scope = append(scope, AdminScope)
	}
	now := i.now()
	jti := strings.ReplaceAll(uuid.NewString(), "-", "")
	base := Claims{
		UserID: s.UserID, UserName: s.UserName, Origin: s.Origin,
		ClientID: ClientID, CID: ClientID, Scope: scope, GrantType: grantType,
		ZoneID: "uaa", Revocable: false,
	}
	access := base
	access.Use = UseAccess
	access.RegisteredClaims = jwt.RegisteredClaims{
		ID: jti, Subject: s.UserID, Issuer: i.issuer,
		Audience:  jwt.ClaimStrings{"cloud_controller", "openid", ClientID},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(i.accessTTL)),
	}
	refresh := base
	refresh.Use = UseRefresh
	refresh.RegisteredClaims = jwt.RegisteredClaims{
		ID: jti + "-r", Subject: s.UserID, Issuer: i.issuer,
		Audience:  jwt.ClaimStrings{"cloud_controller", "openid", ClientID},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(i.refreshTTL)),
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
		ExpiresIn: int64(i.accessTTL / time.Second), Scope: strings.Join(scope, " "), JTI: jti,
	}, nil
}

func (i *Issuer) sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature, issuer, expiry and use.
func (i *Issuer) Verify(token, use string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != i.kid {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return &i.key.PublicKey, nil
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
	if c.UserID == "" {
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

package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// refreshMargin is how long before expiry a token is refreshed, as the cf
// CLI does.
const refreshMargin = time.Minute

// Tokens is a UAA token response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// UAA talks to the UAA-compatible token endpoint found at the API root's
// links.login.href.
type UAA struct {
	apiURL    string
	http      *http.Client
	userAgent string

	mu       sync.Mutex
	loginURL string
}

// NewUAA makes a UAA client for the API at apiURL; httpClient nil means
// NewHTTPClient(false).
func NewUAA(apiURL string, httpClient *http.Client, userAgent string) *UAA {
	if httpClient == nil {
		httpClient = NewHTTPClient(false)
	}
	if userAgent == "" {
		userAgent = "ingot-client"
	}
	return &UAA{apiURL: apiURL, http: httpClient, userAgent: userAgent}
}

// Login logs in with a password grant: GET / → links.login.href, then
// POST {login}/oauth/token as client "cf" with an empty secret.
func Login(ctx context.Context, apiURL, username, password string) (*Tokens, error) {
	return NewUAA(apiURL, nil, "").PasswordGrant(ctx, username, password)
}

// LoginURL returns links.login.href of the API root (cached).
func (u *UAA) LoginURL(ctx context.Context) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.loginURL != "" {
		return u.loginURL, nil
	}
	c, err := New(Config{APIURL: u.apiURL, HTTP: u.http, UserAgent: u.userAgent})
	if err != nil {
		return "", err
	}
	root, err := c.Root(ctx)
	if err != nil {
		return "", err
	}
	if root.Links.Login == nil || root.Links.Login.Href == "" {
		return "", ErrNoLoginLink
	}
	u.loginURL = strings.TrimRight(root.Links.Login.Href, "/")
	return u.loginURL, nil
}

// PasswordGrant exchanges a username and password for tokens.
func (u *UAA) PasswordGrant(ctx context.Context, username, password string) (*Tokens, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	t, err := u.token(ctx, form)
	if err != nil {
		return nil, fmt.Errorf("log in as %s: %w", username, err)
	}
	return t, nil
}

// RefreshGrant exchanges a refresh token for new tokens.
func (u *UAA) RefreshGrant(ctx context.Context, refreshToken string) (*Tokens, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	t, err := u.token(ctx, form)
	if err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

func (u *UAA) token(ctx context.Context, form url.Values) (*Tokens, error) {
	login, err := u.LoginURL(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, login+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", u.userAgent)
	req.SetBasicAuth("cf", "")
	res, err := u.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %s/oauth/token: %w", login, err)
	}
	defer res.Body.Close()
	body, err := readBounded(res.Body, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("read token response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		ue := &UAAError{StatusCode: res.StatusCode}
		_ = json.Unmarshal(body, ue)
		return nil, ue
	}
	var t Tokens
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("decode token response: %w", err)
	}
	if t.AccessToken == "" {
		return nil, errors.New("token response has no access_token")
	}
	return &t, nil
}

// TokenClaims returns the (unverified) claims of a JWT, or nil.
func TokenClaims(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil
	}
	return claims
}

// TokenExpiry returns the exp claim of a JWT; ok is false when the token
// is not a JWT or has no numeric exp.
func TokenExpiry(token string) (exp time.Time, ok bool) {
	claims := TokenClaims(token)
	v, found := claims["exp"].(float64)
	if !found {
		return time.Time{}, false
	}
	return time.Unix(int64(v), 0), true
}

// TokenUserName returns the user_name claim (or client_id) of a JWT.
func TokenUserName(token string) string {
	claims := TokenClaims(token)
	if s, ok := claims["user_name"].(string); ok && s != "" {
		return s
	}
	if s, ok := claims["client_id"].(string); ok {
		return s
	}
	return ""
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken string

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// TokenSourceConfig configures a RefreshingTokenSource.
type TokenSourceConfig struct {
	UAA *UAA
	// Tokens are the tokens known so far (may be empty).
	Tokens Tokens
	// Username and Password, when set, log in again when there is no
	// refresh token or the refresh fails.
	Username, Password string
	// OnRefresh, when set, receives every new set of tokens (to persist
	// them).
	OnRefresh func(Tokens)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RefreshingTokenSource keeps an access token fresh: it refreshes when the
// token's exp is less than a minute away (or unknown), with the refresh
// token, falling back to a password grant. It is safe for concurrent use.
type RefreshingTokenSource struct {
	cfg TokenSourceConfig

	mu     sync.Mutex
	tokens Tokens
}

// NewTokenSource makes a refreshing token source.
func NewTokenSource(cfg TokenSourceConfig) *RefreshingTokenSource {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &RefreshingTokenSource{cfg: cfg, tokens: cfg.Tokens}
}

// NewPasswordTokenSource logs in with username/password when needed and
// refreshes with the refresh token it got.
func NewPasswordTokenSource(uaa *UAA, username, password string, onRefresh func(Tokens)) *RefreshingTokenSource {
	return NewTokenSource(TokenSourceConfig{UAA: uaa, Username: username, Password: password, OnRefresh: onRefresh})
}

// NewRefreshTokenSource starts from existing tokens and refreshes them.
func NewRefreshTokenSource(uaa *UAA, tokens Tokens, onRefresh func(Tokens)) *RefreshingTokenSource {
	return NewTokenSource(TokenSourceConfig{UAA: uaa, Tokens: tokens, OnRefresh: onRefresh})
}

// Tokens returns the current tokens.
func (s *RefreshingTokenSource) Tokens() Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// Invalidate drops the access token so the next Token call gets a new one.
func (s *RefreshingTokenSource) Invalidate() {
	s.mu.Lock()
	s.tokens.AccessToken = ""
	s.mu.Unlock()
}

// Token returns a fresh access token.
func (s *RefreshingTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	access := s.tokens.AccessToken
	exp, hasExp := TokenExpiry(access)
	if access != "" && hasExp && exp.Sub(s.cfg.Now()) > refreshMargin {
		return access, nil
	}
	if s.cfg.UAA == nil {
		if access != "" && !hasExp {
			return access, nil
		}
		return "", ErrNotLoggedIn
	}
	var refreshErr error
	if s.tokens.RefreshToken != "" {
		t, err := s.cfg.UAA.RefreshGrant(ctx, s.tokens.RefreshToken)
		if err == nil {
			return s.store(*t), nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		refreshErr = err
	}
	if s.cfg.Username != "" {
		t, err := s.cfg.UAA.PasswordGrant(ctx, s.cfg.Username, s.cfg.Password)
		if err != nil {
			return "", err
		}
		return s.store(*t), nil
	}
	if refreshErr != nil {
		return "", fmt.Errorf("%w (log in again): %w", ErrNotLoggedIn, refreshErr)
	}
	if access != "" && (!hasExp || exp.After(s.cfg.Now())) {
		// Nothing to refresh with; let the server judge the token.
		return access, nil
	}
	return "", ErrNotLoggedIn
}

func (s *RefreshingTokenSource) store(t Tokens) string {
	if t.RefreshToken == "" {
		t.RefreshToken = s.tokens.RefreshToken
	}
	s.tokens = t
	if s.cfg.OnRefresh != nil {
		s.cfg.OnRefresh(t)
	}
	return t.AccessToken
}

package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

func TestIssueAndVerify(t *testing.T) {
	iss := NewIssuer(key(t), "http://cc/oauth/token", 10*time.Minute, time.Hour)
	tr, err := iss.Issue(Subject{UserID: "u1", UserName: "alice", Origin: "uaa", Admin: true}, "password")
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tr.AccessToken, UseAccess)
	if err != nil {
		t.Fatalf("verify access: %v", err)
	}
	if c.UserID != "u1" || c.UserName != "alice" || !c.IsAdmin() || c.ClientID != "cf" || !c.Revocable {
		t.Fatalf("claims: %+v", c)
	}
	if _, err := iss.Verify(tr.RefreshToken, UseRefresh); err != nil {
		t.Fatalf("verify refresh: %v", err)
	}
	if _, err := iss.Verify(tr.AccessToken, UseRefresh); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("access as refresh: %v", err)
	}
	if _, err := iss.Verify(tr.RefreshToken, UseAccess); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("refresh as access: %v", err)
	}
	user, _ := iss.Issue(Subject{UserID: "u2", UserName: "bob", Origin: "uaa"}, "password")
	if c, _ := iss.Verify(user.AccessToken, UseAccess); c.IsAdmin() || strings.Contains(user.Scope, AdminScope) {
		t.Fatalf("non-admin got the admin scope: %+v", c)
	}
}

func TestVerifyRejects(t *testing.T) {
	iss := NewIssuer(key(t), "http://cc/oauth/token", 10*time.Minute, time.Hour)
	tr, _ := iss.Issue(Subject{UserID: "u1", UserName: "alice", Origin: "uaa"}, "password")

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherIss := NewIssuer(other, "http://cc/oauth/token", 10*time.Minute, time.Hour)
	foreign, _ := otherIss.Issue(Subject{UserID: "u1", UserName: "alice", Origin: "uaa"}, "password")

	wrongIss := NewIssuer(key(t), "http://elsewhere/oauth/token", 10*time.Minute, time.Hour)
	elsewhere, _ := wrongIss.Issue(Subject{UserID: "u1", UserName: "alice", Origin: "uaa"}, "password")

	past := NewIssuer(key(t), "http://cc/oauth/token", 10*time.Minute, time.Hour)
	past.SetClock(func() time.Time { return time.Now().Add(-time.Hour) })
	expired, _ := past.Issue(Subject{UserID: "u1", UserName: "alice", Origin: "uaa"}, "password")

	// HS256 with the public key as secret: the classic algorithm confusion.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, &Claims{UserID: "u1", Use: UseAccess, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "http://cc/oauth/token", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}})
	hs.Header["kid"] = iss.KeyID()
	confused, _ := hs.SignedString([]byte("secret"))

	parts := strings.Split(tr.AccessToken, ".")
	for name, tok := range map[string]string{
		"foreign key":      foreign.AccessToken,
		"wrong issuer":     elsewhere.AccessToken,
		"alg confusion":    confused,
		"truncated":        parts[0] + "." + parts[1],
		"bad signature":    parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA",
		"empty":            "",
		"not a jwt at all": "hello",
	} {
		if _, err := iss.Verify(tok, UseAccess); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := iss.Verify(expired.AccessToken, UseAccess); !errors.Is(err, ErrExpiredToken) {
		t.Errorf("expired: %v", err)
	}
}

func TestKeyAndSecretPersist(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("key not reloaded: %v", err)
	}
	s1, err := LoadOrCreateSecret(dir, "s", 32)
	if err != nil || len(s1) != 32 {
		t.Fatalf("secret: %v", err)
	}
	s2, _ := LoadOrCreateSecret(dir, "s", 32)
	if string(s1) != string(s2) {
		t.Fatal("secret not reloaded")
	}
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600)
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("garbage key accepted")
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "pw") || CheckPassword(h, "PW") || CheckPassword("not-a-hash", "pw") {
		t.Fatal("password check wrong")
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Fatal("over-long password accepted")
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]struct {
		tok     string
		present bool
	}{
		"":                  {"", false},
		"bearer abc":        {"abc", true},
		"Bearer  abc ":      {"abc", true},
		"Basic abc":         {"", true},
		"bearerabc":         {"", true},
		"Bearer bearer abc": {"abc", true},
	} {
		tok, present := BearerToken(h)
		if tok != want.tok || present != want.present {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", h, tok, present, want.tok, want.present)
		}
	}
}

package auth

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
	"github.com/ingot-paas/ingot/internal/store/sqlstore"
)

func newTestServer(t testing.TB) (*Server, store.Store) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	iss := NewIssuer(key(t), "http://cc/oauth/token", 10*time.Minute, time.Hour)
	return NewServer(ServerConfig{}, iss, st, slog.New(slog.NewTextHandler(io.Discard, nil))), st
}

// TestRevocationEpochFromAnotherController: a password change made by
// another controller (straight in the store) applies within EpochTTL.
func TestRevocationEpochFromAnotherController(t *testing.T) {
	s, st := newTestServer(t)
	clk := newClock()
	s.revs.now = clk.now
	ctx := context.Background()
	u := &store.User{Meta: store.Meta{GUID: "u1"}, Username: "a", Origin: "uaa"}
	if err := st.Users().Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	tr, _ := s.issuer.IssueUser(Subject{UserID: "u1", UserName: "a", Origin: "uaa"}, Grant{ClientID: ClientID, GrantType: GrantPassword})
	if _, err := s.VerifyAccess(ctx, tr.AccessToken); err != nil {
		t.Fatal(err)
	}
	u.RevocationEpoch++
	if err := st.Users().Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Cached: still accepted until the entry is stale.
	if _, err := s.VerifyAccess(ctx, tr.AccessToken); err != nil {
		t.Fatalf("within the epoch ttl: %v", err)
	}
	clk.add(s.revs.cfg.EpochTTL)
	if _, err := s.VerifyAccess(ctx, tr.AccessToken); err == nil {
		t.Fatal("token from before the other controller's change accepted")
	}
}

// TestRevokedJTIsSyncFromStore: a jti revoked by another controller is
// picked up by the sync.
func TestRevokedJTIsSyncFromStore(t *testing.T) {
	s, st := newTestServer(t)
	ctx := context.Background()
	if err := st.Users().Create(ctx, &store.User{Meta: store.Meta{GUID: "u1"}, Username: "a", Origin: "uaa"}); err != nil {
		t.Fatal(err)
	}
	tr, _ := s.issuer.IssueUser(Subject{UserID: "u1", UserName: "a", Origin: "uaa"}, Grant{ClientID: ClientID, GrantType: GrantPassword})
	if _, err := s.VerifyAccess(ctx, tr.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokedTokens().Add(ctx, &store.RevokedToken{JTI: tr.JTI, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.revs.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyAccess(ctx, tr.AccessToken); err == nil {
		t.Fatal("revoked jti accepted after sync")
	}
}

func TestRevokedSetIsBounded(t *testing.T) {
	s, _ := newTestServer(t)
	s.revs.cfg.MaxRevokedJTIs = 3
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.revs.revoke(ctx, string(rune('a'+i)), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.revs.revoke(ctx, "d", time.Now().Add(time.Hour)); err != ErrTooManyRevocations {
		t.Fatalf("revoke beyond the cap: %v", err)
	}
	// Expired revocations make room.
	s.revs.mu.Lock()
	s.revs.jtis["a"] = time.Now().Add(-time.Second)
	s.revs.mu.Unlock()
	if err := s.revs.revoke(ctx, "d", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("revoke after expiry: %v", err)
	}
}

// BenchmarkVerifyAccess is one API call's token check: RS256 signature,
// claims, and the in-memory revocation checks (cache hit).
func BenchmarkVerifyAccess(b *testing.B) {
	s, st := newTestServer(b)
	ctx := context.Background()
	if err := st.Users().Create(ctx, &store.User{Meta: store.Meta{GUID: "u1"}, Username: "a", Origin: "uaa"}); err != nil {
		b.Fatal(err)
	}
	s.revs.cfg.EpochTTL = time.Hour
	tr, _ := s.issuer.IssueUser(Subject{UserID: "u1", UserName: "a", Origin: "uaa"}, Grant{ClientID: ClientID, GrantType: GrantPassword})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.VerifyAccess(ctx, tr.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

package storetest

import (
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := &store.User{Meta: store.Meta{GUID: newGUID()}, Username: "alice", Origin: "uaa"}
	bob := &store.User{Meta: store.Meta{GUID: newGUID()}, Username: "bob", Origin: "uaa"}
	for _, u := range []*store.User{alice, bob} {
		mustNil(t, s.Users().Create(ctx, u), "create user")
	}
	for _, m := range []*store.GroupMember{
		{Meta: store.Meta{GUID: newGUID()}, Group: "scim.write", UserGUID: alice.GUID},
		{Meta: store.Meta{GUID: newGUID()}, Group: "cloud_controller.admin", UserGUID: alice.GUID},
		{Meta: store.Meta{GUID: newGUID()}, Group: "cloud_controller.admin", UserGUID: bob.GUID},
	} {
		mustNil(t, s.Groups().Add(ctx, m), "add membership")
		if m.Version != 1 || m.CreatedAt.IsZero() {
			t.Fatalf("membership meta not set: %+v", m.Meta)
		}
	}
	mustIs(t, s.Groups().Add(ctx, &store.GroupMember{Meta: store.Meta{GUID: newGUID()}, Group: "scim.write", UserGUID: alice.GUID}),
		store.ErrDuplicate, "membership twice")
	mustIs(t, s.Groups().Add(ctx, &store.GroupMember{Meta: store.Meta{GUID: newGUID()}, Group: "scim.write", UserGUID: newGUID()}),
		store.ErrNotFound, "membership of a missing user")

	ms, err := s.Groups().ListForUser(ctx, alice.GUID)
	mustNil(t, err, "list alice's groups")
	if len(ms) != 2 || ms[0].Group != "cloud_controller.admin" || ms[1].Group != "scim.write" {
		t.Fatalf("alice's groups: %+v", ms)
	}
	ms, err = s.Groups().ListMembers(ctx, "cloud_controller.admin")
	mustNil(t, err, "list admins")
	if len(ms) != 2 || ms[0].UserGUID != alice.GUID || ms[1].UserGUID != bob.GUID {
		t.Fatalf("admins: %+v", ms)
	}

	mustNil(t, s.Groups().Remove(ctx, "cloud_controller.admin", alice.GUID), "remove membership")
	mustIs(t, s.Groups().Remove(ctx, "cloud_controller.admin", alice.GUID), store.ErrNotFound, "remove twice")
	ms, _ = s.Groups().ListForUser(ctx, alice.GUID)
	if len(ms) != 1 || ms[0].Group != "scim.write" {
		t.Fatalf("alice's groups after remove: %+v", ms)
	}

	// Memberships go with their user.
	mustNil(t, s.Users().Delete(ctx, bob.GUID), "delete bob")
	ms, err = s.Groups().ListMembers(ctx, "cloud_controller.admin")
	mustNil(t, err, "list admins after delete")
	if len(ms) != 0 {
		t.Fatalf("deleted user's memberships remain: %+v", ms)
	}
}

func testOAuthClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := &store.OAuthClient{Meta: store.Meta{GUID: newGUID()}, ClientID: "ci", SecretHash: "$2a$10$x",
		Scopes: []string{"cloud_controller.read"}, Authorities: []string{"cloud_controller.admin"},
		GrantTypes: []string{"client_credentials"}, AccessTokenTTL: 5 * time.Minute}
	mustNil(t, s.OAuthClients().Create(ctx, c), "create client")
	mustIs(t, s.OAuthClients().Create(ctx, &store.OAuthClient{Meta: store.Meta{GUID: newGUID()}, ClientID: "ci"}),
		store.ErrDuplicate, "client id taken")
	got, err := s.OAuthClients().GetByClientID(ctx, "ci")
	mustNil(t, err, "get client by id")
	mustEqual(t, got, c, "client")
	_, err = s.OAuthClients().GetByClientID(ctx, "nope")
	mustIs(t, err, store.ErrNotFound, "missing client")

	before := c.Meta
	c.RevocationEpoch = 3
	c.Scopes = nil
	mustNil(t, s.OAuthClients().Update(ctx, c), "update client")
	checkUpdatedMeta(t, before, c.Meta)
	got, err = s.OAuthClients().Get(ctx, c.GUID)
	mustNil(t, err, "get client")
	mustEqual(t, got, c, "updated client")

	other := &store.OAuthClient{Meta: store.Meta{GUID: newGUID()}, ClientID: "other"}
	mustNil(t, s.OAuthClients().Create(ctx, other), "create other client")
	cs, err := s.OAuthClients().List(ctx, store.ListOptions{Names: []string{"other"}})
	mustNil(t, err, "list clients by id")
	if len(cs) != 1 || cs[0].GUID != other.GUID {
		t.Fatalf("clients by id: %+v", cs)
	}
	mustNil(t, s.OAuthClients().Delete(ctx, c.GUID), "delete client")
	_, err = s.OAuthClients().GetByClientID(ctx, "ci")
	mustIs(t, err, store.ErrNotFound, "deleted client")
}

func testRevokedTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	t0 := time.Unix(1_800_000_000, 0).UTC()
	rs := s.RevokedTokens()
	mustNil(t, rs.Add(ctx, &store.RevokedToken{JTI: "a", ExpiresAt: t0.Add(time.Hour), RevokedAt: t0}), "revoke a")
	mustNil(t, rs.Add(ctx, &store.RevokedToken{JTI: "b", ExpiresAt: t0.Add(2 * time.Hour), RevokedAt: t0.Add(time.Second)}), "revoke b")
	mustNil(t, rs.Add(ctx, &store.RevokedToken{JTI: "old", ExpiresAt: t0.Add(-time.Minute), RevokedAt: t0.Add(-time.Hour)}), "revoke old")
	// Twice is fine and keeps the first revocation.
	mustNil(t, rs.Add(ctx, &store.RevokedToken{JTI: "a", ExpiresAt: t0.Add(time.Hour), RevokedAt: t0.Add(time.Minute)}), "revoke a again")
	if err := rs.Add(ctx, &store.RevokedToken{}); err == nil {
		t.Fatal("revocation without jti accepted")
	}

	got, err := rs.ListRevokedSince(ctx, time.Time{}, t0)
	mustNil(t, err, "list revocations")
	if len(got) != 2 || got[0].JTI != "a" || got[1].JTI != "b" || !got[0].RevokedAt.Equal(t0) || !got[1].ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("revocations: %+v", got)
	}
	got, err = rs.ListRevokedSince(ctx, t0.Add(time.Second), t0)
	mustNil(t, err, "list recent revocations")
	if len(got) != 1 || got[0].JTI != "b" {
		t.Fatalf("recent revocations: %+v", got)
	}
	n, err := rs.DeleteExpired(ctx, t0.Add(90*time.Minute))
	mustNil(t, err, "delete expired")
	if n != 2 {
		t.Fatalf("deleted %d expired revocations, want 2", n)
	}
	got, _ = rs.ListRevokedSince(ctx, time.Time{}, time.Time{})
	if len(got) != 1 || got[0].JTI != "b" {
		t.Fatalf("revocations after prune: %+v", got)
	}
}

func testCCUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := &store.CCUser{Meta: store.Meta{GUID: newGUID()}}
	mustNil(t, s.CCUsers().Create(ctx, u), "create cc user")
	mustIs(t, s.CCUsers().Create(ctx, &store.CCUser{Meta: store.Meta{GUID: u.GUID}}), store.ErrDuplicate, "cc user twice")
	got, err := s.CCUsers().Get(ctx, u.GUID)
	mustNil(t, err, "get cc user")
	mustEqual(t, got, u, "cc user")
	us, err := s.CCUsers().List(ctx, store.ListOptions{GUIDs: []string{u.GUID, newGUID()}})
	mustNil(t, err, "list cc users")
	if len(us) != 1 {
		t.Fatalf("cc users: %+v", us)
	}
	mustNil(t, s.CCUsers().Delete(ctx, u.GUID), "delete cc user")
	mustIs(t, s.CCUsers().Delete(ctx, u.GUID), store.ErrNotFound, "delete cc user twice")
}

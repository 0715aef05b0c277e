package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
	"github.com/ingot-paas/ingot/internal/store/sqlstore"
)

// TestMigrationMakesLegacyAdminsGroupMembers runs migration 3 over a
// database whose admin is the old flag and checks the flag became group
// memberships and a Cloud Controller user record.
func TestMigrationMakesLegacyAdminsGroupMembers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cc.db")
	s, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	admin := &store.User{Meta: store.Meta{GUID: "admin-guid"}, Username: "admin", Origin: "uaa", PasswordHash: "h", Admin: true}
	dev := &store.User{Meta: store.Meta{GUID: "dev-guid"}, Username: "dev", Origin: "uaa", PasswordHash: "h"}
	for _, u := range []*store.User{admin, dev} {
		if err := s.Users().Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// Pretend migration 3 never ran.
	for _, q := range []string{"DROP TABLE group_members", "DROP TABLE oauth_clients", "DROP TABLE revoked_tokens",
		"DROP TABLE cc_users", "DELETE FROM schema_migrations WHERE version = 3"} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s, err = sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.Groups().ListForUser(ctx, admin.GUID)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, m := range ms {
		groups = append(groups, m.Group)
	}
	if len(groups) != 4 || groups[0] != "cloud_controller.admin" || groups[3] != "uaa.admin" {
		t.Fatalf("admin's groups after migration: %v", groups)
	}
	if ms, _ := s.Groups().ListForUser(ctx, dev.GUID); len(ms) != 0 {
		t.Fatalf("non-admin got groups: %+v", ms)
	}
	u, err := s.Users().Get(ctx, admin.GUID)
	if err != nil || u.Admin {
		t.Fatalf("legacy flag kept: %+v %v", u, err)
	}
	for _, g := range []string{admin.GUID, dev.GUID} {
		if _, err := s.CCUsers().Get(ctx, g); err != nil {
			t.Fatalf("cc user %s: %v", g, err)
		}
	}
}

// Package storetest is the conformance suite every store.Store passes.
// An implementation's tests call Run with a function that opens a fresh,
// empty store (and registers its cleanup).
package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/store"
)

// Run runs the whole suite; open is called once per subtest and must return
// an empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"OrgCRUD", testOrgCRUD},
		{"OrgUnique", testOrgUnique},
		{"OrgList", testOrgList},
		{"CreateKeepsGivenTimestamps", testCreateKeepsTimestamps},
		{"CreateRequiresGUID", testCreateRequiresGUID},
		{"ListOrder", testListOrder},
		{"Space", testSpace},
		{"Domain", testDomain},
		{"App", testApp},
		{"AppEmptyCollections", testAppEmptyCollections},
		{"Process", testProcess},
		{"Package", testPackage},
		{"Build", testBuild},
		{"Droplet", testDroplet},
		{"Route", testRoute},
		{"Destination", testDestination},
		{"DestinationCascade", testDestinationCascade},
		{"Job", testJob},
		{"User", testUser},
		{"Deployment", testDeployment},
		{"AppRevision", testAppRevision},
		{"Lease", testLease},
		{"LeaseRace", testLeaseRace},
		{"ServiceBroker", testServiceBroker},
		{"ServiceOfferingAndPlan", testServiceOfferingAndPlan},
		{"ServiceInstance", testServiceInstance},
		{"ServiceBinding", testServiceBinding},
		{"Groups", testGroups},
		{"OAuthClients", testOAuthClients},
		{"RevokedTokens", testRevokedTokens},
		{"CCUsers", testCCUsers},
		{"Role", testRole},
		{"Quotas", testQuotas},
		{"AuditEvent", testAuditEvent},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TxNested", testTxNested},
		{"TxReadsOwnWrites", testTxReadsOwnWrites},
		{"TxDuplicateRollsBack", testTxDuplicateRollsBack},
		{"ConcurrentUpdateOneWins", testConcurrentUpdateOneWins},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		{"ConcurrentCreateSameName", testConcurrentCreateSameName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.f(t, s)
		})
	}
}

func newGUID() string { return uuid.NewString() }

func mustNil(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func mustIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func mustEqual[T any](t *testing.T, got, want T, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// guids returns the GUIDs of records in order.
func guids[T any](t *testing.T, rs []*T, meta func(*T) store.Meta) []string {
	t.Helper()
	out := []string{}
	for _, r := range rs {
		out = append(out, meta(r).GUID)
	}
	return out
}

// checkCreatedMeta checks what Create must set.
func checkCreatedMeta(t *testing.T, m store.Meta, before time.Time) {
	t.Helper()
	if m.Version != 1 {
		t.Fatalf("version after create = %d, want 1", m.Version)
	}
	if m.CreatedAt.IsZero() || m.UpdatedAt.IsZero() {
		t.Fatalf("create left timestamps zero: %+v", m)
	}
	if m.CreatedAt.Location() != time.UTC || m.UpdatedAt.Location() != time.UTC {
		t.Fatalf("timestamps are not UTC: %v %v", m.CreatedAt.Location(), m.UpdatedAt.Location())
	}
	if m.CreatedAt.Before(before.Add(-time.Second)) {
		t.Fatalf("created_at %v is before the test started (%v)", m.CreatedAt, before)
	}
}

// checkUpdatedMeta checks what Update must do to the meta.
func checkUpdatedMeta(t *testing.T, before, after store.Meta) {
	t.Helper()
	if after.Version != before.Version+1 {
		t.Fatalf("version after update = %d, want %d", after.Version, before.Version+1)
	}
	if after.UpdatedAt.Before(before.UpdatedAt) {
		t.Fatalf("updated_at went back: %v -> %v", before.UpdatedAt, after.UpdatedAt)
	}
	if !after.CreatedAt.Equal(before.CreatedAt) {
		t.Fatalf("update changed created_at: %v -> %v", before.CreatedAt, after.CreatedAt)
	}
}

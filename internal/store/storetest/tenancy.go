package storetest

import (
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

func roleMeta(o *store.Role) store.Meta             { return o.Meta }
func auditEventMeta(o *store.AuditEvent) store.Meta { return o.Meta }

func i64(v int64) *int64 { return &v }

func testRole(t *testing.T, s store.Store) {
	ctx := t.Context()
	u1, u2, org, space := newGUID(), newGUID(), newGUID(), newGUID()
	r1 := &store.Role{Meta: store.Meta{GUID: newGUID()}, Type: store.RoleOrgUser, UserGUID: u1, OrgGUID: org}
	r2 := &store.Role{Meta: store.Meta{GUID: newGUID()}, Type: store.RoleSpaceDeveloper, UserGUID: u1, OrgGUID: org, SpaceGUID: space}
	r3 := &store.Role{Meta: store.Meta{GUID: newGUID()}, Type: store.RoleOrgUser, UserGUID: u2, OrgGUID: org}
	for _, r := range []*store.Role{r1, r2, r3} {
		mustNil(t, s.Roles().Create(ctx, r), "create role")
		got, err := s.Roles().Get(ctx, r.GUID)
		mustNil(t, err, "get role")
		mustEqual(t, got, r, "role")
	}
	dup := &store.Role{Meta: store.Meta{GUID: newGUID()}, Type: store.RoleOrgUser, UserGUID: u1, OrgGUID: org}
	mustIs(t, s.Roles().Create(ctx, dup), store.ErrDuplicate, "duplicate role")
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Roles().List(ctx, opt)
		mustNil(t, err, "list roles")
		return guids(t, rs, roleMeta)
	}
	mustEqual(t, list(store.ListOptions{UserGUIDs: []string{u1}}), []string{r1.GUID, r2.GUID}, "roles by user")
	mustEqual(t, list(store.ListOptions{Types: []string{store.RoleOrgUser}}), []string{r1.GUID, r3.GUID}, "roles by type")
	mustEqual(t, list(store.ListOptions{SpaceGUIDs: []string{space}}), []string{r2.GUID}, "roles by space")
	mustEqual(t, list(store.ListOptions{OrgGUIDs: []string{org}, UserGUIDs: []string{u2}}), []string{r3.GUID}, "roles by org and user")
	mustNil(t, s.Roles().Delete(ctx, r1.GUID), "delete role")
	_, err := s.Roles().Get(ctx, r1.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted role")
	mustIs(t, s.Roles().Delete(ctx, r1.GUID), store.ErrNotFound, "delete deleted role")
}

func testQuotas(t *testing.T, s store.Store) {
	ctx := t.Context()
	oq := &store.OrgQuota{Meta: store.Meta{GUID: newGUID()}, Name: "small", QuotaLimits: store.QuotaLimits{
		TotalMemoryMB: i64(1024), InstanceMemoryMB: i64(256), TotalInstances: i64(4), TotalRoutes: i64(0),
		TotalServiceInstances: i64(2), PaidServicesAllowed: true}}
	mustNil(t, s.OrgQuotas().Create(ctx, oq), "create org quota")
	got, err := s.OrgQuotas().Get(ctx, oq.GUID)
	mustNil(t, err, "get org quota")
	mustEqual(t, got, oq, "org quota")
	mustIs(t, s.OrgQuotas().Create(ctx, &store.OrgQuota{Meta: store.Meta{GUID: newGUID()}, Name: "small"}), store.ErrDuplicate, "duplicate org quota")
	before := oq.Meta
	oq.TotalMemoryMB = nil // unlimited
	mustNil(t, s.OrgQuotas().Update(ctx, oq), "update org quota")
	checkUpdatedMeta(t, before, oq.Meta)
	got, err = s.OrgQuotas().Get(ctx, oq.GUID)
	mustNil(t, err, "get updated org quota")
	mustEqual(t, got, oq, "updated org quota")
	if got.TotalMemoryMB != nil || got.TotalRoutes == nil || *got.TotalRoutes != 0 {
		t.Fatalf("nil and zero limits must round-trip distinctly: %+v", got.QuotaLimits)
	}

	org := newGUID()
	sq := &store.SpaceQuota{Meta: store.Meta{GUID: newGUID()}, Name: "tiny", OrgGUID: org, QuotaLimits: store.QuotaLimits{TotalMemoryMB: i64(128)}}
	mustNil(t, s.SpaceQuotas().Create(ctx, sq), "create space quota")
	mustIs(t, s.SpaceQuotas().Create(ctx, &store.SpaceQuota{Meta: store.Meta{GUID: newGUID()}, Name: "tiny", OrgGUID: org}), store.ErrDuplicate, "duplicate space quota")
	mustNil(t, s.SpaceQuotas().Create(ctx, &store.SpaceQuota{Meta: store.Meta{GUID: newGUID()}, Name: "tiny", OrgGUID: newGUID()}), "same name in another org")
	sqs, err := s.SpaceQuotas().List(ctx, store.ListOptions{OrgGUIDs: []string{org}})
	mustNil(t, err, "list space quotas")
	if len(sqs) != 1 {
		t.Fatalf("space quotas of org: %d", len(sqs))
	}
	mustEqual(t, sqs[0], sq, "listed space quota")

	space := newGUID()
	a := &store.QuotaAssignment{Meta: store.Meta{GUID: org}, Kind: store.QuotaForOrg, QuotaGUID: oq.GUID}
	b := &store.QuotaAssignment{Meta: store.Meta{GUID: space}, Kind: store.QuotaForSpace, QuotaGUID: sq.GUID}
	mustNil(t, s.QuotaAssignments().Create(ctx, a), "assign org quota")
	mustNil(t, s.QuotaAssignments().Create(ctx, b), "assign space quota")
	mustIs(t, s.QuotaAssignments().Create(ctx, &store.QuotaAssignment{Meta: store.Meta{GUID: org}, Kind: store.QuotaForOrg, QuotaGUID: newGUID()}), store.ErrDuplicate, "second org assignment")
	as, err := s.QuotaAssignments().List(ctx, store.ListOptions{QuotaGUIDs: []string{sq.GUID}})
	mustNil(t, err, "list assignments")
	if len(as) != 1 || as[0].GUID != space {
		t.Fatalf("assignments of space quota: %+v", as)
	}
	as, err = s.QuotaAssignments().List(ctx, store.ListOptions{Types: []string{store.QuotaForOrg}})
	mustNil(t, err, "list org assignments")
	if len(as) != 1 || as[0].GUID != org {
		t.Fatalf("org assignments: %+v", as)
	}
	mustNil(t, s.QuotaAssignments().Delete(ctx, space), "unassign")
	_, err = s.QuotaAssignments().Get(ctx, space)
	mustIs(t, err, store.ErrNotFound, "get removed assignment")
}

func testAuditEvent(t *testing.T, s store.Store) {
	ctx := t.Context()
	app, space, org, user := newGUID(), newGUID(), newGUID(), newGUID()
	e1 := &store.AuditEvent{Meta: store.Meta{GUID: newGUID()}, Type: "audit.app.create", ActorGUID: user, ActorType: "user",
		ActorName: "alice", TargetGUID: app, TargetType: "app", TargetName: "web", SpaceGUID: space, OrgGUID: org,
		Data: map[string]any{"request": map[string]any{"name": "web"}}}
	e2 := &store.AuditEvent{Meta: store.Meta{GUID: newGUID()}, Type: "audit.app.start", ActorGUID: user, ActorType: "user",
		TargetGUID: app, TargetType: "app", SpaceGUID: space, OrgGUID: org}
	e3 := &store.AuditEvent{Meta: store.Meta{GUID: newGUID()}, Type: "audit.organization.create", ActorGUID: user, ActorType: "user",
		TargetGUID: org, TargetType: "organization", OrgGUID: org}
	for _, e := range []*store.AuditEvent{e1, e2, e3} {
		mustNil(t, s.AuditEvents().Create(ctx, e), "create event")
		got, err := s.AuditEvents().Get(ctx, e.GUID)
		mustNil(t, err, "get event")
		mustEqual(t, got, e, "event")
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		es, err := s.AuditEvents().List(ctx, opt)
		mustNil(t, err, "list events")
		return guids(t, es, auditEventMeta)
	}
	mustEqual(t, list(store.ListOptions{TargetGUIDs: []string{app}}), []string{e1.GUID, e2.GUID}, "events by target")
	mustEqual(t, list(store.ListOptions{Types: []string{"audit.app.start"}}), []string{e2.GUID}, "events by type")
	mustEqual(t, list(store.ListOptions{SpaceGUIDs: []string{space}}), []string{e1.GUID, e2.GUID}, "events by space")
	mustEqual(t, list(store.ListOptions{OrgGUIDs: []string{org}}), []string{e1.GUID, e2.GUID, e3.GUID}, "events by org")

	old := &store.AuditEvent{Meta: store.Meta{GUID: newGUID(), CreatedAt: time.Now().Add(-40 * 24 * time.Hour)}, Type: "audit.app.create", TargetGUID: app}
	mustNil(t, s.AuditEvents().Create(ctx, old), "create old event")
	n, err := s.AuditEvents().DeleteBefore(ctx, time.Now().Add(-31*24*time.Hour))
	mustNil(t, err, "delete old events")
	if n != 1 {
		t.Fatalf("deleted %d old events, want 1", n)
	}
	mustEqual(t, list(store.ListOptions{TargetGUIDs: []string{app}}), []string{e1.GUID, e2.GUID}, "events after pruning")
}

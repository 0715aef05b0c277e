package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// Tenancy: roles, quotas, quota assignments and audit events.

var roleTable = &table[store.Role]{
	name: "roles", what: "role",
	cols: []string{"type", "user_guid", "org_guid", "space_guid", "data"},
	meta: func(r *store.Role) *store.Meta { return &r.Meta },
	values: func(r *store.Role) ([]any, error) {
		return []any{r.Type, r.UserGUID, r.OrgGUID, r.SpaceGUID, "{}"}, nil
	},
	scan: func(r *store.Role) ([]any, func() error) {
		var d string
		return []any{&r.Type, &r.UserGUID, &r.OrgGUID, &r.SpaceGUID, &d}, nil
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"type", o.Types}, {"user_guid", o.UserGUIDs}, {"org_guid", o.OrgGUIDs}, {"space_guid", o.SpaceGUIDs}}
	},
}

type quotaData struct {
	TotalMemoryMB         *int64 `json:"total_memory_mb,omitempty"`
	InstanceMemoryMB      *int64 `json:"instance_memory_mb,omitempty"`
	TotalInstances        *int64 `json:"total_instances,omitempty"`
	PerAppTasks           *int64 `json:"per_app_tasks,omitempty"`
	LogRateLimit          *int64 `json:"log_rate_limit,omitempty"`
	TotalServiceInstances *int64 `json:"total_service_instances,omitempty"`
	TotalServiceKeys      *int64 `json:"total_service_keys,omitempty"`
	PaidServicesAllowed   bool   `json:"paid_services_allowed"`
	TotalRoutes           *int64 `json:"total_routes,omitempty"`
	TotalReservedPorts    *int64 `json:"total_reserved_ports,omitempty"`
	TotalDomains          *int64 `json:"total_domains,omitempty"`
}

func toQuotaData(l store.QuotaLimits) quotaData { return quotaData(l) }

func (d quotaData) limits() store.QuotaLimits { return store.QuotaLimits(d) }

var orgQuotaTable = &table[store.OrgQuota]{
	name: "org_quotas", what: "organization quota",
	cols: []string{"name", "data"},
	meta: func(r *store.OrgQuota) *store.Meta { return &r.Meta },
	values: func(r *store.OrgQuota) ([]any, error) {
		d, err := jsonCol(toQuotaData(r.QuotaLimits))
		return []any{r.Name, d}, err
	},
	scan: func(r *store.OrgQuota) ([]any, func() error) {
		var d quotaData
		p, fin := dataScan(&d)
		return []any{&r.Name, p}, finishData(fin, func() { r.QuotaLimits = d.limits() })
	},
	filters: func(o store.ListOptions) []filter { return []filter{{"name", o.Names}} },
}

var spaceQuotaTable = &table[store.SpaceQuota]{
	name: "space_quotas", what: "space quota",
	cols: []string{"name", "org_guid", "data"},
	meta: func(r *store.SpaceQuota) *store.Meta { return &r.Meta },
	values: func(r *store.SpaceQuota) ([]any, error) {
		d, err := jsonCol(toQuotaData(r.QuotaLimits))
		return []any{r.Name, r.OrgGUID, d}, err
	},
	scan: func(r *store.SpaceQuota) ([]any, func() error) {
		var d quotaData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.OrgGUID, p}, finishData(fin, func() { r.QuotaLimits = d.limits() })
	},
	filters: func(o store.ListOptions) []filter { return []filter{{"name", o.Names}, {"org_guid", o.OrgGUIDs}} },
}

var quotaAssignmentTable = &table[store.QuotaAssignment]{
	name: "quota_assignments", what: "quota assignment",
	cols: []string{"kind", "quota_guid", "data"},
	meta: func(r *store.QuotaAssignment) *store.Meta { return &r.Meta },
	values: func(r *store.QuotaAssignment) ([]any, error) {
		return []any{r.Kind, r.QuotaGUID, "{}"}, nil
	},
	scan: func(r *store.QuotaAssignment) ([]any, func() error) {
		var d string
		return []any{&r.Kind, &r.QuotaGUID, &d}, nil
	},
	filters: func(o store.ListOptions) []filter { return []filter{{"kind", o.Types}, {"quota_guid", o.QuotaGUIDs}} },
}

type auditEventData struct {
	ActorType  string         `json:"actor_type"`
	ActorName  string         `json:"actor_name"`
	TargetType string         `json:"target_type"`
	TargetName string         `json:"target_name"`
	Data       map[string]any `json:"data,omitempty"`
}

var auditEventTable = &table[store.AuditEvent]{
	name: "audit_events", what: "audit event",
	cols: []string{"type", "actor_guid", "target_guid", "space_guid", "org_guid", "data"},
	meta: func(r *store.AuditEvent) *store.Meta { return &r.Meta },
	values: func(r *store.AuditEvent) ([]any, error) {
		d, err := jsonCol(auditEventData{ActorType: r.ActorType, ActorName: r.ActorName,
			TargetType: r.TargetType, TargetName: r.TargetName, Data: r.Data})
		return []any{r.Type, r.ActorGUID, r.TargetGUID, r.SpaceGUID, r.OrgGUID, d}, err
	},
	scan: func(r *store.AuditEvent) ([]any, func() error) {
		var d auditEventData
		p, fin := dataScan(&d)
		return []any{&r.Type, &r.ActorGUID, &r.TargetGUID, &r.SpaceGUID, &r.OrgGUID, p}, finishData(fin, func() {
			r.ActorType, r.ActorName, r.TargetType, r.TargetName, r.Data = d.ActorType, d.ActorName, d.TargetType, d.TargetName, d.Data
		})
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"type", o.Types}, {"target_guid", o.TargetGUIDs}, {"space_guid", o.SpaceGUIDs}, {"org_guid", o.OrgGUIDs}}
	},
}

func (s *Store) Roles() store.RoleStore { return crud[store.Role]{s, roleTable} }
func (s *Store) OrgQuotas() store.OrgQuotaStore {
	return crud[store.OrgQuota]{s, orgQuotaTable}
}
func (s *Store) SpaceQuotas() store.SpaceQuotaStore {
	return crud[store.SpaceQuota]{s, spaceQuotaTable}
}
func (s *Store) QuotaAssignments() store.QuotaAssignmentStore {
	return crud[store.QuotaAssignment]{s, quotaAssignmentTable}
}
func (s *Store) AuditEvents() store.AuditEventStore {
	return auditEventStore{crud[store.AuditEvent]{s, auditEventTable}}
}

type auditEventStore struct{ crud[store.AuditEvent] }

func (x auditEventStore) DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := x.s.exec(ctx, "DELETE FROM audit_events WHERE created_at < ?", toNanos(cutoff.UTC()))
	if err != nil {
		return 0, fmt.Errorf("delete audit events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete audit events: %w", err)
	}
	return n, nil
}

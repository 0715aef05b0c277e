package store

import (
	"context"
	"time"
)

// Role types (CF v3).
const (
	RoleOrgManager        = "organization_manager"
	RoleOrgAuditor        = "organization_auditor"
	RoleOrgBillingManager = "organization_billing_manager"
	RoleOrgUser           = "organization_user"
	RoleSpaceManager      = "space_manager"
	RoleSpaceDeveloper    = "space_developer"
	RoleSpaceAuditor      = "space_auditor"
	RoleSpaceSupporter    = "space_supporter"
)

// Role gives a user a role in an org (SpaceGUID empty) or in a space
// (SpaceGUID set; OrgGUID is then the space's org, kept so that a user's
// roles in an org are one lookup). (Type, UserGUID, OrgGUID, SpaceGUID) is
// unique.
type Role struct {
	Meta
	Type      string
	UserGUID  string
	OrgGUID   string
	SpaceGUID string
}

// QuotaLimits are the limits of an org or space quota. A nil pointer is
// unlimited.
type QuotaLimits struct {
	TotalMemoryMB         *int64
	InstanceMemoryMB      *int64
	TotalInstances        *int64
	PerAppTasks           *int64
	LogRateLimit          *int64
	TotalServiceInstances *int64
	TotalServiceKeys      *int64
	PaidServicesAllowed   bool
	TotalRoutes           *int64
	TotalReservedPorts    *int64
	TotalDomains          *int64 // org quotas only
}

// OrgQuota is an organization quota definition; Name is unique.
type OrgQuota struct {
	Meta
	Name string
	QuotaLimits
}

// SpaceQuota is a space quota definition of an org; (OrgGUID, Name) is
// unique.
type SpaceQuota struct {
	Meta
	Name    string
	OrgGUID string
	QuotaLimits
}

// Quota assignment kinds.
const (
	QuotaForOrg   = "organization"
	QuotaForSpace = "space"
)

// QuotaAssignment applies a quota to an org or a space: Meta.GUID is the
// org's or the space's guid (so an org or space has at most one), Kind is
// QuotaForOrg or QuotaForSpace. An org without one has the default quota; a
// space without one has only its org's.
type QuotaAssignment struct {
	Meta
	Kind      string
	QuotaGUID string
}

// AuditEvent is one audit event (CF v3 audit_events). Data is free-form.
type AuditEvent struct {
	Meta
	Type       string
	ActorGUID  string
	ActorType  string // "user"
	ActorName  string
	TargetGUID string
	TargetType string // "app", "route", "service_instance", "user", ...
	TargetName string
	SpaceGUID  string // "" when not space-scoped
	OrgGUID    string // "" when not org-scoped
	Data       map[string]any
}

// RoleStore: (Type, UserGUID, OrgGUID, SpaceGUID) is unique.
type RoleStore interface {
	Create(ctx context.Context, r *Role) error
	Get(ctx context.Context, guid string) (*Role, error)
	List(ctx context.Context, opt ListOptions) ([]*Role, error) // GUIDs, Types, UserGUIDs, OrgGUIDs, SpaceGUIDs
	Delete(ctx context.Context, guid string) error
}

// OrgQuotaStore: Name is unique.
type OrgQuotaStore interface {
	Create(ctx context.Context, q *OrgQuota) error
	Get(ctx context.Context, guid string) (*OrgQuota, error)
	List(ctx context.Context, opt ListOptions) ([]*OrgQuota, error) // GUIDs, Names
	Update(ctx context.Context, q *OrgQuota) error
	Delete(ctx context.Context, guid string) error
}

// SpaceQuotaStore: (OrgGUID, Name) is unique.
type SpaceQuotaStore interface {
	Create(ctx context.Context, q *SpaceQuota) error
	Get(ctx context.Context, guid string) (*SpaceQuota, error)
	List(ctx context.Context, opt ListOptions) ([]*SpaceQuota, error) // GUIDs, Names, OrgGUIDs
	Update(ctx context.Context, q *SpaceQuota) error
	Delete(ctx context.Context, guid string) error
}

// QuotaAssignmentStore: one assignment per org or space guid.
type QuotaAssignmentStore interface {
	Create(ctx context.Context, a *QuotaAssignment) error
	Get(ctx context.Context, guid string) (*QuotaAssignment, error)
	List(ctx context.Context, opt ListOptions) ([]*QuotaAssignment, error) // GUIDs, Types (kinds), QuotaGUIDs
	Update(ctx context.Context, a *QuotaAssignment) error
	Delete(ctx context.Context, guid string) error
}

// AuditEventStore: append-only.
type AuditEventStore interface {
	Create(ctx context.Context, e *AuditEvent) error
	Get(ctx context.Context, guid string) (*AuditEvent, error)
	List(ctx context.Context, opt ListOptions) ([]*AuditEvent, error) // GUIDs, Types, TargetGUIDs, SpaceGUIDs, OrgGUIDs
	// DeleteBefore deletes the events created before cutoff and returns
	// how many it deleted.
	DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

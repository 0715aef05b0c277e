package presenters

import (
	"github.com/ingot-paas/ingot/internal/store"
)

// UserRecord renders a stored UAA user as a Cloud Controller user.
func (p Presenter) UserRecord(u *store.User) *User {
	return p.User(u.GUID, u.CreatedAt, u.UpdatedAt, u.Username, u.Origin)
}

// RoleRecord renders a stored role.
func (p Presenter) RoleRecord(r *store.Role) *Role {
	org := r.OrgGUID
	if r.SpaceGUID != "" {
		org = "" // a space role's org relationship is null in CF
	}
	out := p.Role(r.GUID, r.Type, r.UserGUID, org, r.SpaceGUID, Time(r.CreatedAt))
	out.UpdatedAt = Time(r.UpdatedAt)
	return out
}

// QuotaApps is a quota's apps block; nil limits are unlimited (null).
type QuotaApps struct {
	TotalMemoryInMB      *int64 `json:"total_memory_in_mb"`
	PerProcessMemoryInMB *int64 `json:"per_process_memory_in_mb"`
	LogRateLimit         *int64 `json:"log_rate_limit_in_bytes_per_second"`
	TotalInstances       *int64 `json:"total_instances"`
	PerAppTasks          *int64 `json:"per_app_tasks"`
}

// QuotaServices is a quota's services block.
type QuotaServices struct {
	PaidServicesAllowed   bool   `json:"paid_services_allowed"`
	TotalServiceInstances *int64 `json:"total_service_instances"`
	TotalServiceKeys      *int64 `json:"total_service_keys"`
}

// QuotaRoutes is a quota's routes block.
type QuotaRoutes struct {
	TotalRoutes        *int64 `json:"total_routes"`
	TotalReservedPorts *int64 `json:"total_reserved_ports"`
}

// QuotaDomains is an org quota's domains block.
type QuotaDomains struct {
	TotalDomains *int64 `json:"total_domains"`
}

// ToMany is a to-many relationship, {"data":[{"guid"}...]}.
type ToMany struct {
	Data []GUIDRef `json:"data"`
}

func toMany(guids []string) ToMany {
	out := ToMany{Data: []GUIDRef{}}
	for _, g := range guids {
		out.Data = append(out.Data, GUIDRef{GUID: g})
	}
	return out
}

// OrgQuota is an organization quota.
type OrgQuota struct {
	GUID          string        `json:"guid"`
	CreatedAt     string        `json:"created_at"`
	UpdatedAt     string        `json:"updated_at"`
	Name          string        `json:"name"`
	Apps          QuotaApps     `json:"apps"`
	Services      QuotaServices `json:"services"`
	Routes        QuotaRoutes   `json:"routes"`
	Domains       QuotaDomains  `json:"domains"`
	Relationships struct {
		Organizations ToMany `json:"organizations"`
	} `json:"relationships"`
	Links Links `json:"links"`
}

func quotaBlocks(l store.QuotaLimits) (QuotaApps, QuotaServices, QuotaRoutes) {
	return QuotaApps{TotalMemoryInMB: l.TotalMemoryMB, PerProcessMemoryInMB: l.InstanceMemoryMB, LogRateLimit: l.LogRateLimit,
			TotalInstances: l.TotalInstances, PerAppTasks: l.PerAppTasks},
		QuotaServices{PaidServicesAllowed: l.PaidServicesAllowed, TotalServiceInstances: l.TotalServiceInstances, TotalServiceKeys: l.TotalServiceKeys},
		QuotaRoutes{TotalRoutes: l.TotalRoutes, TotalReservedPorts: l.TotalReservedPorts}
}

// OrgQuota renders an organization quota applied to orgs (the ones the
// caller may see).
func (p Presenter) OrgQuota(q *store.OrgQuota, orgs []string) *OrgQuota {
	out := &OrgQuota{GUID: q.GUID, CreatedAt: Time(q.CreatedAt), UpdatedAt: Time(q.UpdatedAt), Name: q.Name,
		Domains: QuotaDomains{TotalDomains: q.TotalDomains},
		Links:   Links{"self": p.link("/v3/organization_quotas/" + q.GUID)}}
	out.Apps, out.Services, out.Routes = quotaBlocks(q.QuotaLimits)
	out.Relationships.Organizations = toMany(orgs)
	return out
}

// SpaceQuota is a space quota.
type SpaceQuota struct {
	GUID          string        `json:"guid"`
	CreatedAt     string        `json:"created_at"`
	UpdatedAt     string        `json:"updated_at"`
	Name          string        `json:"name"`
	Apps          QuotaApps     `json:"apps"`
	Services      QuotaServices `json:"services"`
	Routes        QuotaRoutes   `json:"routes"`
	Relationships struct {
		Organization ToOne  `json:"organization"`
		Spaces       ToMany `json:"spaces"`
	} `json:"relationships"`
	Links Links `json:"links"`
}

// SpaceQuota renders a space quota applied to spaces.
func (p Presenter) SpaceQuota(q *store.SpaceQuota, spaces []string) *SpaceQuota {
	out := &SpaceQuota{GUID: q.GUID, CreatedAt: Time(q.CreatedAt), UpdatedAt: Time(q.UpdatedAt), Name: q.Name,
		Links: Links{"self": p.link("/v3/space_quotas/" + q.GUID), "organization": p.link("/v3/organizations/" + q.OrgGUID)}}
	out.Apps, out.Services, out.Routes = quotaBlocks(q.QuotaLimits)
	out.Relationships.Organization = Rel(q.OrgGUID)
	out.Relationships.Spaces = toMany(spaces)
	return out
}

// EventParty is an audit event's actor or target.
type EventParty struct {
	GUID string `json:"guid"`
	Type string `json:"type"`
	Name string `json:"name"`
}

// AuditEvent is an audit event.
type AuditEvent struct {
	GUID         string         `json:"guid"`
	CreatedAt    string         `json:"created_at"`
	UpdatedAt    string         `json:"updated_at"`
	Type         string         `json:"type"`
	Actor        EventParty     `json:"actor"`
	Target       EventParty     `json:"target"`
	Data         map[string]any `json:"data"`
	Space        *GUIDRef       `json:"space"`
	Organization *GUIDRef       `json:"organization"`
	Links        Links          `json:"links"`
}

// AuditEvent renders an audit event.
func (p Presenter) AuditEvent(e *store.AuditEvent) *AuditEvent {
	out := &AuditEvent{GUID: e.GUID, CreatedAt: Time(e.CreatedAt), UpdatedAt: Time(e.UpdatedAt), Type: e.Type,
		Actor:  EventParty{GUID: e.ActorGUID, Type: e.ActorType, Name: e.ActorName},
		Target: EventParty{GUID: e.TargetGUID, Type: e.TargetType, Name: e.TargetName},
		Data:   e.Data, Links: Links{"self": p.link("/v3/audit_events/" + e.GUID)}}
	if out.Data == nil {
		out.Data = map[string]any{}
	}
	if e.SpaceGUID != "" {
		out.Space = &GUIDRef{GUID: e.SpaceGUID}
	}
	if e.OrgGUID != "" {
		out.Organization = &GUIDRef{GUID: e.OrgGUID}
	}
	return out
}

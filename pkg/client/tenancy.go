package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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

// Role is a role assignment.
type Role struct {
	GUID          string `json:"guid"`
	Type          string `json:"type"`
	CreatedAt     string `json:"created_at"`
	Relationships struct {
		User         Relationship `json:"user"`
		Organization Relationship `json:"organization"`
		Space        Relationship `json:"space"`
	} `json:"relationships"`
}

// RoleFilter selects roles; empty fields do not filter.
type RoleFilter struct {
	Types      []string
	UserGUIDs  []string
	OrgGUIDs   []string
	SpaceGUIDs []string
}

func (f RoleFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string][]string{"types": f.Types, "user_guids": f.UserGUIDs,
		"organization_guids": f.OrgGUIDs, "space_guids": f.SpaceGUIDs} {
		if len(v) > 0 {
			q.Set(k, strings.Join(v, ","))
		}
	}
	return q
}

// ListRoles lists the roles matching f with their users (include=user),
// following every page.
func (c *Client) ListRoles(ctx context.Context, f RoleFilter) ([]Role, map[string]User, error) {
	q := f.query()
	q.Set("include", "user")
	q.Set("per_page", "5000")
	var (
		roles []Role
		users = map[string]User{}
	)
	next, nq := "/v3/roles", q
	for n := 0; next != ""; n++ {
		if n >= maxPages {
			return nil, nil, ErrTooManyPages
		}
		var p struct {
			Pagination Pagination `json:"pagination"`
			Resources  *[]Role    `json:"resources"`
			Included   struct {
				Users []User `json:"users"`
			} `json:"included"`
		}
		if err := c.get(ctx, next, nq, &p); err != nil {
			return nil, nil, err
		}
		if p.Resources == nil {
			return nil, nil, fmt.Errorf("list roles: response has no resources")
		}
		roles = append(roles, *p.Resources...)
		for _, u := range p.Included.Users {
			users[u.GUID] = u
		}
		next, nq = "", nil
		if p.Pagination.Next != nil && p.Pagination.Next.Href != "" {
			next = p.Pagination.Next.Href
		}
	}
	return roles, users, nil
}

// CreateRole gives the user (by username and origin; "" = uaa) a role in
// an org (spaceGUID "") or in a space.
func (c *Client) CreateRole(ctx context.Context, roleType, username, origin, orgGUID, spaceGUID string) (*Role, error) {
	if origin == "" {
		origin = "uaa"
	}
	rel := map[string]any{"user": map[string]any{"data": map[string]string{"username": username, "origin": origin}}}
	if spaceGUID != "" {
		rel["space"] = map[string]any{"data": map[string]string{"guid": spaceGUID}}
	} else {
		rel["organization"] = map[string]any{"data": map[string]string{"guid": orgGUID}}
	}
	var r Role
	if _, err := c.send(ctx, http.MethodPost, "/v3/roles", map[string]any{"type": roleType, "relationships": rel}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeleteRole deletes a role and waits for the deletion job.
func (c *Client) DeleteRole(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/roles/"+pathEscape(guid), nil, nil)
	if err != nil {
		return err
	}
	return c.waitAsync(ctx, resp)
}

// GetUserByName finds a user by username (and origin, "" = any).
func (c *Client) GetUserByName(ctx context.Context, username, origin string) (*User, error) {
	q := url.Values{"usernames": {username}}
	if origin != "" {
		q.Set("origins", origin)
	}
	return first[User](ctx, c, "/v3/users", q, "User", username)
}

// QuotaLimits are a quota's limits; nil is unlimited.
type QuotaLimits struct {
	TotalMemoryInMB       *int64
	PerProcessMemoryInMB  *int64
	TotalInstances        *int64
	PerAppTasks           *int64
	TotalServiceInstances *int64
	PaidServicesAllowed   bool
	TotalRoutes           *int64
	TotalReservedPorts    *int64
}

// quotaJSON is the wire shape of a quota.
type quotaJSON struct {
	GUID string `json:"guid"`
	Name string `json:"name"`
	Apps struct {
		TotalMemoryInMB      *int64 `json:"total_memory_in_mb"`
		PerProcessMemoryInMB *int64 `json:"per_process_memory_in_mb"`
		TotalInstances       *int64 `json:"total_instances"`
		PerAppTasks          *int64 `json:"per_app_tasks"`
	} `json:"apps"`
	Services struct {
		PaidServicesAllowed   bool   `json:"paid_services_allowed"`
		TotalServiceInstances *int64 `json:"total_service_instances"`
	} `json:"services"`
	Routes struct {
		TotalRoutes        *int64 `json:"total_routes"`
		TotalReservedPorts *int64 `json:"total_reserved_ports"`
	} `json:"routes"`
	Relationships struct {
		Organizations struct {
			Data []GUIDRef `json:"data"`
		} `json:"organizations"`
		Organization Relationship `json:"organization"`
		Spaces       struct {
			Data []GUIDRef `json:"data"`
		} `json:"spaces"`
	} `json:"relationships"`
}

// Quota is an organization or space quota.
type Quota struct {
	GUID string
	Name string
	QuotaLimits
	// OrgGUID is a space quota's org; OrgGUIDs and SpaceGUIDs are where
	// the quota applies.
	OrgGUID    string
	OrgGUIDs   []string
	SpaceGUIDs []string
}

func (j quotaJSON) quota() Quota {
	q := Quota{GUID: j.GUID, Name: j.Name, QuotaLimits: QuotaLimits{
		TotalMemoryInMB: j.Apps.TotalMemoryInMB, PerProcessMemoryInMB: j.Apps.PerProcessMemoryInMB,
		TotalInstances: j.Apps.TotalInstances, PerAppTasks: j.Apps.PerAppTasks,
		TotalServiceInstances: j.Services.TotalServiceInstances, PaidServicesAllowed: j.Services.PaidServicesAllowed,
		TotalRoutes: j.Routes.TotalRoutes, TotalReservedPorts: j.Routes.TotalReservedPorts}}
	if j.Relationships.Organization.Data != nil {
		q.OrgGUID = j.Relationships.Organization.Data.GUID
	}
	for _, d := range j.Relationships.Organizations.Data {
		q.OrgGUIDs = append(q.OrgGUIDs, d.GUID)
	}
	for _, d := range j.Relationships.Spaces.Data {
		q.SpaceGUIDs = append(q.SpaceGUIDs, d.GUID)
	}
	return q
}

func (l QuotaLimits) body(name string) map[string]any {
	return map[string]any{
		"name": name,
		"apps": map[string]any{"total_memory_in_mb": l.TotalMemoryInMB, "per_process_memory_in_mb": l.PerProcessMemoryInMB,
			"total_instances": l.TotalInstances, "per_app_tasks": l.PerAppTasks},
		"services": map[string]any{"paid_services_allowed": l.PaidServicesAllowed, "total_service_instances": l.TotalServiceInstances},
		"routes":   map[string]any{"total_routes": l.TotalRoutes, "total_reserved_ports": l.TotalReservedPorts},
	}
}

// CreateOrgQuota creates an organization quota.
func (c *Client) CreateOrgQuota(ctx context.Context, name string, l QuotaLimits) (*Quota, error) {
	var j quotaJSON
	if _, err := c.send(ctx, http.MethodPost, "/v3/organization_quotas", l.body(name), &j); err != nil {
		return nil, err
	}
	q := j.quota()
	return &q, nil
}

// ListOrgQuotas lists the organization quotas by name.
func (c *Client) ListOrgQuotas(ctx context.Context) ([]Quota, error) {
	js, err := listAll[quotaJSON](ctx, c, "/v3/organization_quotas", url.Values{"order_by": {"name"}})
	if err != nil {
		return nil, err
	}
	out := make([]Quota, 0, len(js))
	for _, j := range js {
		out = append(out, j.quota())
	}
	return out, nil
}

// GetOrgQuotaByName finds an organization quota by name.
func (c *Client) GetOrgQuotaByName(ctx context.Context, name string) (*Quota, error) {
	j, err := first[quotaJSON](ctx, c, "/v3/organization_quotas", url.Values{"names": {name}}, "Organization quota", name)
	if err != nil {
		return nil, err
	}
	q := j.quota()
	return &q, nil
}

// ApplyOrgQuota applies an organization quota to an org.
func (c *Client) ApplyOrgQuota(ctx context.Context, quotaGUID, orgGUID string) error {
	_, err := c.send(ctx, http.MethodPost, "/v3/organization_quotas/"+pathEscape(quotaGUID)+"/relationships/organizations",
		map[string]any{"data": []GUIDRef{{GUID: orgGUID}}}, nil)
	return err
}

// CreateSpaceQuota creates a space quota in an org.
func (c *Client) CreateSpaceQuota(ctx context.Context, orgGUID, name string, l QuotaLimits) (*Quota, error) {
	body := l.body(name)
	body["relationships"] = map[string]any{"organization": map[string]any{"data": GUIDRef{GUID: orgGUID}}}
	var j quotaJSON
	if _, err := c.send(ctx, http.MethodPost, "/v3/space_quotas", body, &j); err != nil {
		return nil, err
	}
	q := j.quota()
	return &q, nil
}

// ListSpaceQuotas lists an org's space quotas by name.
func (c *Client) ListSpaceQuotas(ctx context.Context, orgGUID string) ([]Quota, error) {
	js, err := listAll[quotaJSON](ctx, c, "/v3/space_quotas", url.Values{"order_by": {"name"}, "organization_guids": {orgGUID}})
	if err != nil {
		return nil, err
	}
	out := make([]Quota, 0, len(js))
	for _, j := range js {
		out = append(out, j.quota())
	}
	return out, nil
}

// GetSpaceQuotaByName finds a space quota of an org by name.
func (c *Client) GetSpaceQuotaByName(ctx context.Context, orgGUID, name string) (*Quota, error) {
	j, err := first[quotaJSON](ctx, c, "/v3/space_quotas", url.Values{"names": {name}, "organization_guids": {orgGUID}}, "Space quota", name)
	if err != nil {
		return nil, err
	}
	q := j.quota()
	return &q, nil
}

// ApplySpaceQuota applies a space quota to a space.
func (c *Client) ApplySpaceQuota(ctx context.Context, quotaGUID, spaceGUID string) error {
	_, err := c.send(ctx, http.MethodPost, "/v3/space_quotas/"+pathEscape(quotaGUID)+"/relationships/spaces",
		map[string]any{"data": []GUIDRef{{GUID: spaceGUID}}}, nil)
	return err
}

// AuditEvent is an audit event.
type AuditEvent struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	Type      string `json:"type"`
	Actor     struct {
		GUID string `json:"guid"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"actor"`
	Target struct {
		GUID string `json:"guid"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"target"`
	Data map[string]any `json:"data"`
}

// ListAuditEvents lists the audit events of targets (and of types, when
// given), newest first, at most limit (0 = 50, as cf events shows).
func (c *Client) ListAuditEvents(ctx context.Context, targetGUIDs, types []string, limit int) ([]AuditEvent, error) {
	if limit <= 0 {
		limit = 50
	}
	q := url.Values{"order_by": {"-created_at"}, "per_page": {fmt.Sprint(limit)}, "page": {"1"}}
	if len(targetGUIDs) > 0 {
		q.Set("target_guids", strings.Join(targetGUIDs, ","))
	}
	if len(types) > 0 {
		q.Set("types", strings.Join(types, ","))
	}
	var p page[AuditEvent]
	if err := c.get(ctx, "/v3/audit_events", q, &p); err != nil {
		return nil, err
	}
	if p.Resources == nil {
		return nil, fmt.Errorf("list audit events: response has no resources")
	}
	return *p.Resources, nil
}

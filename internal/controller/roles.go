package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

// tenancyRoutes registers roles, users, quotas and audit events; their
// permissions are in routeRules.
func (c *Controller) tenancyRoutes(h func(pattern string, mode authMode, f apiHandler)) {
	h("GET /v3/roles", authBearer, c.listRoles)
	h("POST /v3/roles", authBearer, c.createRole)
	h("GET /v3/roles/{guid}", authBearer, c.getRole)
	h("DELETE /v3/roles/{guid}", authBearer, c.deleteRole)
	h("GET /v3/users", authBearer, c.listUsers)
	h("GET /v3/users/{guid}", authBearer, c.getUser)

	h("GET /v3/organization_quotas", authBearer, c.listOrgQuotas)
	h("POST /v3/organization_quotas", authBearer, c.createOrgQuota)
	h("GET /v3/organization_quotas/{guid}", authBearer, c.getOrgQuota)
	h("PATCH /v3/organization_quotas/{guid}", authBearer, c.updateOrgQuota)
	h("DELETE /v3/organization_quotas/{guid}", authBearer, c.deleteOrgQuota)
	h("POST /v3/organization_quotas/{guid}/relationships/organizations", authBearer, c.applyOrgQuota)
	h("GET /v3/space_quotas", authBearer, c.listSpaceQuotas)
	h("POST /v3/space_quotas", authBearer, c.createSpaceQuota)
	h("GET /v3/space_quotas/{guid}", authBearer, c.getSpaceQuota)
	h("PATCH /v3/space_quotas/{guid}", authBearer, c.updateSpaceQuota)
	h("DELETE /v3/space_quotas/{guid}", authBearer, c.deleteSpaceQuota)
	h("POST /v3/space_quotas/{guid}/relationships/spaces", authBearer, c.applySpaceQuota)
	h("DELETE /v3/space_quotas/{guid}/relationships/spaces/{space_guid}", authBearer, c.removeSpaceQuota)

	h("GET /v3/audit_events", authBearer, c.listAuditEvents)
	h("GET /v3/audit_events/{guid}", authBearer, c.getAuditEvent)
}

var roleTypes = map[string]bool{
	store.RoleOrgUser: true, store.RoleOrgAuditor: true, store.RoleOrgManager: true,
	store.RoleOrgBillingManager: true, store.RoleSpaceAuditor: true, store.RoleSpaceDeveloper: true,
	store.RoleSpaceManager: true, store.RoleSpaceSupporter: true,
}

type roleBody struct {
	Type          string `json:"type"`
	Relationships struct {
		User struct {
			Data *struct {
				GUID     string `json:"guid"`
				Username string `json:"username"`
				Origin   string `json:"origin"`
			} `json:"data"`
		} `json:"user"`
		Organization relBody `json:"organization"`
		Space        relBody `json:"space"`
	} `json:"relationships"`
}

const (
	msgInvalidOrg   = "Invalid organization. Ensure the organization exists and you have access to it."
	msgInvalidSpace = "Invalid space. Ensure that the space exists and you have access to it."
	msgInvalidUser  = "Invalid user. Ensure that the user exists and you have access to it."
)

// createRole serves POST /v3/roles: org roles need the org manager, space
// roles the org manager or the space manager, and a space role needs the
// user to be an organization_user of the space's org first (as in CF).
func (c *Controller) createRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b roleBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if !roleTypes[b.Type] {
		return apierr.Unprocessable("Type must be one of the allowed types [organization_auditor, organization_manager, organization_billing_manager, organization_user, space_auditor, space_manager, space_developer, space_supporter]")
	}
	role := &store.Role{Meta: store.Meta{GUID: newGUID()}, Type: b.Type}
	var where string // "organization 'o'" or "space 's'"
	az := authzFrom(ctx)
	if strings.HasPrefix(b.Type, "organization_") {
		orgGUID := b.Relationships.Organization.guid()
		if orgGUID == "" {
			return apierr.Unprocessable("Relationships Organization is required for an organization role")
		}
		o, err := c.deps.Store.Orgs().Get(ctx, orgGUID)
		if err != nil {
			return orUnprocessable(err, msgInvalidOrg)
		}
		if err := az.check(ctx, permManageRoles, target{org: o.GUID, notFound: apierr.Unprocessable(msgInvalidOrg)}); err != nil {
			return err
		}
		role.OrgGUID, where = o.GUID, fmt.Sprintf("organization '%s'", o.Name)
	} else {
		spaceGUID := b.Relationships.Space.guid()
		if spaceGUID == "" {
			return apierr.Unprocessable("Relationships Space is required for a space role")
		}
		s, err := c.deps.Store.Spaces().Get(ctx, spaceGUID)
		if err != nil {
			return orUnprocessable(err, msgInvalidSpace)
		}
		if err := az.check(ctx, permManageRoles, target{org: s.OrgGUID, space: s.GUID, roleSpace: true, notFound: apierr.Unprocessable(msgInvalidSpace)}); err != nil {
			return err
		}
		role.OrgGUID, role.SpaceGUID, where = s.OrgGUID, s.GUID, fmt.Sprintf("space '%s'", s.Name)
	}
	u, err := c.roleUser(ctx, b)
	if err != nil {
		return err
	}
	role.UserGUID = u.GUID
	err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
		if role.SpaceGUID != "" {
			member, err := tx.Roles().List(ctx, store.ListOptions{Types: []string{store.RoleOrgUser}, UserGUIDs: []string{u.GUID}, OrgGUIDs: []string{role.OrgGUID}})
			if err != nil {
				return fmt.Errorf("check org membership: %w", err)
			}
			if len(member) == 0 {
				return apierr.Unprocessable("Users cannot be assigned roles in a space if they do not have a role in that space's organization.")
			}
		}
		if err := tx.Roles().Create(ctx, role); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return apierr.Unprocessable("User '%s' already has '%s' role in %s.", u.Username, role.Type, where)
			}
			return err
		}
		return c.recordEvent(ctx, tx, "audit.user."+role.Type+"_add", roleEventTarget(u, role),
			map[string]any{"request": map[string]any{"type": role.Type, "user_guid": u.GUID}})
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, c.pres.RoleRecord(role))
}

func roleEventTarget(u *store.User, role *store.Role) eventTarget {
	return eventTarget{guid: u.GUID, typ: "user", name: u.Username, space: role.SpaceGUID, org: role.OrgGUID}
}

// roleUser finds the user a role body names, by guid or by username and
// origin.
func (c *Controller) roleUser(ctx context.Context, b roleBody) (*store.User, error) {
	ud := b.Relationships.User.Data
	if ud == nil || (ud.GUID == "" && ud.Username == "") {
		return nil, apierr.Unprocessable("Relationships User is required")
	}
	if ud.GUID != "" {
		u, err := c.deps.Store.Users().Get(ctx, ud.GUID)
		if err != nil {
			return nil, orUnprocessable(err, msgInvalidUser)
		}
		return u, nil
	}
	origin := ud.Origin
	if origin == "" {
		origin = "uaa"
	}
	u, err := c.deps.Store.Users().GetByName(ctx, origin, ud.Username)
	if err != nil {
		return nil, orUnprocessable(err, fmt.Sprintf("No user exists with the username '%s' and origin '%s'.", ud.Username, origin))
	}
	return u, nil
}

func (c *Controller) getRole(w http.ResponseWriter, r *http.Request) error {
	role, err := c.deps.Store.Roles().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Role")
	}
	return writeJSON(w, http.StatusOK, c.pres.RoleRecord(role))
}

// deleteRole serves DELETE /v3/roles/:guid; CF answers with a job.
func (c *Controller) deleteRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	role, err := c.deps.Store.Roles().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Role")
	}
	u, err := c.deps.Store.Users().Get(ctx, role.UserGUID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u == nil {
		u = &store.User{Meta: store.Meta{GUID: role.UserGUID}}
	}
	err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
		if role.Type == store.RoleOrgUser {
			inSpaces, err := tx.Roles().List(ctx, store.ListOptions{UserGUIDs: []string{role.UserGUID}, OrgGUIDs: []string{role.OrgGUID}})
			if err != nil {
				return err
			}
			for _, other := range inSpaces {
				if other.SpaceGUID != "" {
					return apierr.Unprocessable("Cannot delete organization_user role while user has roles in spaces of this organization.")
				}
			}
		}
		if err := tx.Roles().Delete(ctx, role.GUID); err != nil {
			return notFound(err, "Role")
		}
		return c.recordEvent(ctx, tx, "audit.user."+role.Type+"_remove", roleEventTarget(u, role), map[string]any{})
	})
	if err != nil {
		return err
	}
	return c.completedJob(w, r, "role.delete", "role", role.GUID)
}

// completedJob records a job that is already COMPLETE and answers 202
// with its Location, for operations CF runs as jobs but ingot finishes at
// once.
func (c *Controller) completedJob(w http.ResponseWriter, r *http.Request, op, resType, resGUID string) error {
	j := &store.Job{Meta: store.Meta{GUID: newGUID()}, Operation: op, State: store.JobComplete, ResourceType: resType, ResourceGUID: resGUID}
	if err := c.deps.Store.Jobs().Create(r.Context(), j); err != nil {
		return err
	}
	w.Header().Set("Location", c.url+"/v3/jobs/"+j.GUID)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func roleMeta(r *store.Role) *store.Meta { return &r.Meta }
func roleName(r *store.Role) string      { return r.Type }

// roleVisible: a space role is visible to those who see the space, an org
// role to those who see the org.
func (a *authorizer) roleVisible(role *store.Role) bool {
	if role.SpaceGUID != "" {
		return a.canSeeSpace(role.OrgGUID, role.SpaceGUID)
	}
	return a.canSeeOrg(role.OrgGUID)
}

func (c *Controller) listRoles(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	roles, err := c.deps.Store.Roles().List(ctx, store.ListOptions{
		GUIDs: filterValues(q, "guids"), Types: filterValues(q, "types"), UserGUIDs: filterValues(q, "user_guids"),
		SpaceGUIDs: filterValues(q, "space_guids"), OrgGUIDs: filterValues(q, "organization_guids"),
	})
	if err != nil {
		return err
	}
	if filterValues(q, "organization_guids") != nil {
		// Like CF, organization_guids selects organization roles only
		// (space roles keep their org for lookups).
		kept := roles[:0]
		for _, ro := range roles {
			if ro.SpaceGUID == "" {
				kept = append(kept, ro)
			}
		}
		roles = kept
	}
	az := authzFrom(ctx)
	if !az.admin() {
		if err := az.load(ctx); err != nil {
			return err
		}
		kept := roles[:0]
		for _, ro := range roles {
			if az.roleVisible(ro) {
				kept = append(kept, ro)
			}
		}
		roles = kept
	}
	page, total := sortAndPage(roles, lp, roleMeta, roleName)
	out := make([]*presenters.Role, 0, len(page))
	for _, ro := range page {
		out = append(out, c.pres.RoleRecord(ro))
	}
	included := map[string]any{}
	inc := includes(r)
	if inc["user"] {
		users := []*presenters.User{}
		seen := map[string]bool{}
		for _, ro := range page {
			if seen[ro.UserGUID] {
				continue
			}
			seen[ro.UserGUID] = true
			if u, err := c.deps.Store.Users().Get(ctx, ro.UserGUID); err == nil {
				users = append(users, c.pres.UserRecord(u))
			}
		}
		included["users"] = users
	}
	if inc["space"] {
		spaces := []*presenters.Space{}
		seen := map[string]bool{}
		for _, ro := range page {
			if ro.SpaceGUID == "" || seen[ro.SpaceGUID] {
				continue
			}
			seen[ro.SpaceGUID] = true
			if s, err := c.deps.Store.Spaces().Get(ctx, ro.SpaceGUID); err == nil {
				spaces = append(spaces, c.pres.Space(s))
			}
		}
		included["spaces"] = spaces
	}
	if inc["organization"] {
		orgs := []*presenters.Org{}
		seen := map[string]bool{}
		for _, ro := range page {
			if ro.SpaceGUID != "" || seen[ro.OrgGUID] {
				continue
			}
			seen[ro.OrgGUID] = true
			if o, err := c.deps.Store.Orgs().Get(ctx, ro.OrgGUID); err == nil {
				orgs = append(orgs, c.pres.Org(o))
			}
		}
		included["organizations"] = orgs
	}
	if len(included) == 0 {
		included = nil
	}
	return c.writeList(w, r, lp, total, out, included)
}

// userVisible: admins see every user; others see themselves and users with
// a role in an org they can see.
func (c *Controller) userVisible(ctx context.Context, guid string) (bool, error) {
	az := authzFrom(ctx)
	if az.admin() || guid == az.user.GUID {
		return true, nil
	}
	orgs, _, err := c.readableOrgs(ctx)
	if err != nil || len(orgs) == 0 {
		return false, err
	}
	roles, err := c.deps.Store.Roles().List(ctx, store.ListOptions{UserGUIDs: []string{guid}, OrgGUIDs: orgs})
	if err != nil {
		return false, fmt.Errorf("list user roles: %w", err)
	}
	return len(roles) > 0, nil
}

func userMeta(u *store.User) *store.Meta { return &u.Meta }
func userName(u *store.User) string      { return u.Username }

func (c *Controller) listUsers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	users, err := c.deps.Store.Users().List(ctx, store.ListOptions{GUIDs: filterValues(q, "guids"), Names: filterValues(q, "usernames")})
	if err != nil {
		return err
	}
	origins := filterValues(q, "origins")
	az := authzFrom(ctx)
	var visible map[string]bool
	if !az.admin() {
		visible = map[string]bool{az.user.GUID: true}
		orgs, _, err := c.readableOrgs(ctx)
		if err != nil {
			return err
		}
		if len(orgs) > 0 {
			roles, err := c.deps.Store.Roles().List(ctx, store.ListOptions{OrgGUIDs: orgs})
			if err != nil {
				return err
			}
			for _, ro := range roles {
				visible[ro.UserGUID] = true
			}
		}
	}
	known := map[string]bool{}
	if len(users) > 0 {
		ids := make([]string, 0, len(users))
		for _, u := range users {
			ids = append(ids, u.GUID)
		}
		cc, err := c.deps.Store.CCUsers().List(ctx, store.ListOptions{GUIDs: ids})
		if err != nil {
			return err
		}
		for _, u := range cc {
			known[u.GUID] = true
		}
	}
	kept := users[:0]
	for _, u := range users {
		if !known[u.GUID] || visible != nil && !visible[u.GUID] {
			continue
		}
		if origins != nil && !slices.Contains(origins, u.Origin) {
			continue
		}
		kept = append(kept, u)
	}
	return writePage(c, w, r, lp, kept, userMeta, userName, c.pres.UserRecord)
}

func (c *Controller) getUser(w http.ResponseWriter, r *http.Request) error {
	// A user the Cloud Controller does not know (never registered, or
	// deleted by `cf delete-user`) is not found, even if the UAA still has it.
	if _, err := c.deps.Store.CCUsers().Get(r.Context(), r.PathValue("guid")); err != nil {
		return notFound(err, "User")
	}
	u, err := c.deps.Store.Users().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "User")
	}
	return writeJSON(w, http.StatusOK, c.pres.UserRecord(u))
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// Authorization follows Cloud Foundry's role rules. Every authenticated
// route declares a rule in routeRules (permissions.go): the scope names
// what the path's {guid} is (an app, a route, …) and the permission says
// what the caller needs on the space or org that owns it. guard resolves
// the scope to (org, space) once, answers 404 when the caller cannot see
// it (no existence leak) and 403 when the caller sees it but lacks the
// permission. Handlers whose target is in the request body (creates) ask
// the same authorizer through checkSpace/checkOrg, and list handlers narrow
// their filters with readableSpaces/readableOrgs.

// permission is what a route needs on its space or org.
type permission int

const (
	// permAuthenticated: any authenticated user; the handler shows only
	// what the caller can see.
	permAuthenticated permission = iota
	// permRead: see the resource (space: any space role or org manager;
	// org: any role in the org or in one of its spaces).
	permRead
	// permReadSecrets: environment, credentials, bits (space developer).
	permReadSecrets
	// permManageApps: start, stop, restart, scale (space developer or
	// space supporter).
	permManageApps
	// permWrite: change apps, routes, services (space developer).
	permWrite
	// permManageSpace: update the space (space manager or org manager).
	permManageSpace
	// permManageRoles: org roles need the org manager; space roles the
	// org manager or the space's manager.
	permManageRoles
	// permManageOrg: update the org, create spaces and space quotas (org
	// manager).
	permManageOrg
	// permAdmin: cloud_controller.admin only.
	permAdmin
)

var permNames = [...]string{"authenticated", "read", "read-secrets", "manage-apps", "write", "manage-space", "manage-roles", "manage-org", "admin"}

func (p permission) String() string {
	if int(p) < len(permNames) {
		return permNames[p]
	}
	return fmt.Sprintf("permission(%d)", int(p))
}

// roleSet is a set of role types, one bit each.
type roleSet uint16

const (
	bitOrgManager roleSet = 1 << iota
	bitOrgAuditor
	bitOrgBillingManager
	bitOrgUser
	bitSpaceManager
	bitSpaceDeveloper
	bitSpaceAuditor
	bitSpaceSupporter
)

var roleBits = map[string]roleSet{
	store.RoleOrgManager: bitOrgManager, store.RoleOrgAuditor: bitOrgAuditor,
	store.RoleOrgBillingManager: bitOrgBillingManager, store.RoleOrgUser: bitOrgUser,
	store.RoleSpaceManager: bitSpaceManager, store.RoleSpaceDeveloper: bitSpaceDeveloper,
	store.RoleSpaceAuditor: bitSpaceAuditor, store.RoleSpaceSupporter: bitSpaceSupporter,
}

func (s roleSet) has(b roleSet) bool { return s&b != 0 }

// authorizer holds one request's caller and, loaded on first use, the
// caller's roles. It is not shared between requests.
type authorizer struct {
	st   store.Store
	user *currentUser

	once       sync.Once
	err        error
	orgRoles   map[string]roleSet // org guid → org roles
	spaceRoles map[string]roleSet // space guid → space roles
	spaceOrg   map[string]string  // space guid → org guid, for spaces with roles and resolved spaces
	mu         sync.Mutex
}

type authzKey struct{}
type ruleKey struct{}

func newAuthorizer(st store.Store, u *currentUser) *authorizer {
	return &authorizer{st: st, user: u, spaceOrg: map[string]string{}}
}

// authzFrom returns the request's authorizer; a request without one (an
// internal call) is treated as admin.
func authzFrom(ctx context.Context) *authorizer {
	if az, _ := ctx.Value(authzKey{}).(*authorizer); az != nil {
		return az
	}
	return nil
}

func (a *authorizer) admin() bool { return a == nil || a.user.Admin }

// maxRolesPerUser bounds the roles loaded for one request.
const maxRolesPerUser = 10000

func (a *authorizer) load(ctx context.Context) error {
	if a.admin() {
		return nil
	}
	a.once.Do(func() {
		a.orgRoles, a.spaceRoles = map[string]roleSet{}, map[string]roleSet{}
		roles, err := a.st.Roles().List(ctx, store.ListOptions{UserGUIDs: []string{a.user.GUID}})
		if err != nil {
			a.err = fmt.Errorf("load roles: %w", err)
			return
		}
		if len(roles) > maxRolesPerUser {
			roles = roles[:maxRolesPerUser]
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, r := range roles {
			if r.SpaceGUID != "" {
				a.spaceRoles[r.SpaceGUID] |= roleBits[r.Type]
				a.spaceOrg[r.SpaceGUID] = r.OrgGUID
			} else {
				a.orgRoles[r.OrgGUID] |= roleBits[r.Type]
			}
		}
	})
	return a.err
}

// orgOfSpace returns the org of a space, caching it; ErrNotFound when the
// space does not exist.
func (a *authorizer) orgOfSpace(ctx context.Context, spaceGUID string) (string, error) {
	a.mu.Lock()
	org, ok := a.spaceOrg[spaceGUID]
	a.mu.Unlock()
	if ok {
		return org, nil
	}
	s, err := a.st.Spaces().Get(ctx, spaceGUID)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.spaceOrg[spaceGUID] = s.OrgGUID
	a.mu.Unlock()
	return s.OrgGUID, nil
}

// target is what a rule is checked against: a space (with its org), an
// org alone, or nothing (global).
type target struct {
	org, space string
	// notFound is the error for a target the caller cannot see.
	notFound error
	// visible overrides the space/org visibility when set (users, roles,
	// space quotas have their own rules).
	visible func() bool
	// roleSpace tells permManageRoles whether the role is a space role.
	roleSpace bool
}

// canSeeSpace: any space role, or the org's manager.
func (a *authorizer) canSeeSpace(org, space string) bool {
	if a.admin() {
		return true
	}
	return a.spaceRoles[space] != 0 || a.orgRoles[org].has(bitOrgManager)
}

// canSeeOrg: any org role, or a role in one of its spaces.
func (a *authorizer) canSeeOrg(org string) bool {
	if a.admin() || a.orgRoles[org] != 0 {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for s, o := range a.spaceOrg {
		if o == org && a.spaceRoles[s] != 0 {
			return true
		}
	}
	return false
}

// allows reports whether the caller has p on t (visibility is checked
// separately).
func (a *authorizer) allows(p permission, t target) bool {
	if a.admin() {
		return true
	}
	org, sp := a.orgRoles[t.org], a.spaceRoles[t.space]
	switch p {
	case permAuthenticated:
		return true
	case permRead:
		if t.space != "" {
			return a.canSeeSpace(t.org, t.space)
		}
		return t.org == "" || a.canSeeOrg(t.org)
	case permReadSecrets, permWrite:
		return t.space != "" && sp.has(bitSpaceDeveloper)
	case permManageApps:
		return t.space != "" && sp.has(bitSpaceDeveloper|bitSpaceSupporter)
	case permManageSpace:
		return org.has(bitOrgManager) || (t.space != "" && sp.has(bitSpaceManager))
	case permManageRoles:
		return org.has(bitOrgManager) || (t.roleSpace && sp.has(bitSpaceManager))
	case permManageOrg:
		return t.org != "" && org.has(bitOrgManager)
	}
	return false
}

// check answers nil when the caller has p on t, t.notFound (a 404) when
// the caller cannot see t, and 403 otherwise.
func (a *authorizer) check(ctx context.Context, p permission, t target) error {
	if a.admin() {
		return nil
	}
	if p == permAdmin {
		return apierr.NotAuthorized()
	}
	if err := a.load(ctx); err != nil {
		return err
	}
	visible := true
	switch {
	case t.visible != nil:
		visible = t.visible()
	case t.space != "":
		visible = a.canSeeSpace(t.org, t.space)
	case t.org != "":
		visible = a.canSeeOrg(t.org)
	}
	if !visible {
		if t.notFound != nil {
			return t.notFound
		}
		return apierr.NotFound("Resource")
	}
	if !a.allows(p, t) {
		return apierr.NotAuthorized()
	}
	if p >= permManageApps && t.org != "" {
		// As in CF, nothing but reading happens in a suspended org.
		o, err := a.st.Orgs().Get(ctx, t.org)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("get org: %w", err)
		}
		if o != nil && o.Suspended {
			return apierr.NotAuthorized()
		}
	}
	return nil
}

// spaceTarget resolves a space guid to a target; a missing space is
// notFound.
func (a *authorizer) spaceTarget(ctx context.Context, spaceGUID string, notFound error) (target, error) {
	org, err := a.orgOfSpace(ctx, spaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return target{}, notFound
	}
	if err != nil {
		return target{}, err
	}
	return target{org: org, space: spaceGUID, notFound: notFound}, nil
}

// ruleFrom is the rule guard applied to this request.
func ruleFrom(ctx context.Context) rule {
	rl, _ := ctx.Value(ruleKey{}).(rule)
	return rl
}

// checkSpace checks the route's permission on a space named in the
// request body; notFound is what the handler answers for a space (or the
// resource that led to it) that does not exist, so an invisible one looks
// the same.
func (c *Controller) checkSpace(r *http.Request, spaceGUID string, notFound error) error {
	return c.checkSpacePerm(r, ruleFrom(r.Context()).perm, spaceGUID, notFound)
}

// checkSpacePerm is checkSpace with an explicit permission.
func (c *Controller) checkSpacePerm(r *http.Request, p permission, spaceGUID string, notFound error) error {
	az := authzFrom(r.Context())
	if az.admin() {
		return nil
	}
	t, err := az.spaceTarget(r.Context(), spaceGUID, notFound)
	if err != nil {
		return err
	}
	return az.check(r.Context(), p, t)
}

// checkOrg checks the route's permission on an org named in the body.
func (c *Controller) checkOrg(r *http.Request, orgGUID string, notFound error) error {
	az := authzFrom(r.Context())
	if az.admin() {
		return nil
	}
	if _, err := c.deps.Store.Orgs().Get(r.Context(), orgGUID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		return err
	}
	return az.check(r.Context(), ruleFrom(r.Context()).perm, target{org: orgGUID, notFound: notFound})
}

// readableSpaces returns the guids of the spaces the caller can see; all
// is true for admins (no restriction).
func (c *Controller) readableSpaces(ctx context.Context) (guids []string, all bool, err error) {
	az := authzFrom(ctx)
	if az.admin() {
		return nil, true, nil
	}
	if err := az.load(ctx); err != nil {
		return nil, false, err
	}
	set := map[string]bool{}
	for s, roles := range az.spaceRoles {
		if roles != 0 {
			set[s] = true
		}
	}
	var managed []string
	for o, roles := range az.orgRoles {
		if roles.has(bitOrgManager) {
			managed = append(managed, o)
		}
	}
	if len(managed) > 0 {
		spaces, err := c.deps.Store.Spaces().List(ctx, store.ListOptions{OrgGUIDs: managed})
		if err != nil {
			return nil, false, fmt.Errorf("list managed spaces: %w", err)
		}
		for _, s := range spaces {
			set[s.GUID] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out, false, nil
}

// readableOrgs returns the guids of the orgs the caller can see.
func (c *Controller) readableOrgs(ctx context.Context) (guids []string, all bool, err error) {
	az := authzFrom(ctx)
	if az.admin() {
		return nil, true, nil
	}
	if err := az.load(ctx); err != nil {
		return nil, false, err
	}
	set := map[string]bool{}
	for o, roles := range az.orgRoles {
		if roles != 0 {
			set[o] = true
		}
	}
	az.mu.Lock()
	defer az.mu.Unlock()
	for s, o := range az.spaceOrg {
		if az.spaceRoles[s] != 0 {
			set[o] = true
		}
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	return out, false, nil
}

// noMatch is a filter value no record has: a list restricted to nothing.
const noMatch = "\x00none"

// restrict narrows a list filter (nil = no filter) to allowed; all means
// no restriction. The result is never an empty non-nil slice (which the
// store reads as "no filter").
func restrict(filter, allowed []string, all bool) []string {
	if all {
		return filter
	}
	out := intersect(filter, allowed)
	if len(out) == 0 {
		return []string{noMatch}
	}
	return out
}

// restrictSpaces narrows a space filter to the readable spaces.
func (c *Controller) restrictSpaces(ctx context.Context, filter []string) ([]string, error) {
	ids, all, err := c.readableSpaces(ctx)
	if err != nil {
		return nil, err
	}
	return restrict(filter, ids, all), nil
}

// restrictApps narrows an app filter to the apps in readable spaces.
func (c *Controller) restrictApps(ctx context.Context, filter []string) ([]string, error) {
	ids, all, err := c.readableSpaces(ctx)
	if err != nil || all {
		return filter, err
	}
	var apps []string
	if len(ids) > 0 {
		as, err := c.deps.Store.Apps().List(ctx, store.ListOptions{SpaceGUIDs: ids, GUIDs: filter})
		if err != nil {
			return nil, fmt.Errorf("list readable apps: %w", err)
		}
		for _, a := range as {
			apps = append(apps, a.GUID)
		}
	}
	return restrict(filter, apps, false), nil
}

// canSeeSpace reports whether the caller sees the space (for filtering
// items whose space is known).
func (c *Controller) canSeeSpace(ctx context.Context, spaceGUID string) bool {
	az := authzFrom(ctx)
	if az.admin() {
		return true
	}
	if az.load(ctx) != nil {
		return false
	}
	org, err := az.orgOfSpace(ctx, spaceGUID)
	if err != nil {
		return false
	}
	return az.canSeeSpace(org, spaceGUID)
}

// spaceAllows reports whether the caller has p in the space.
func (c *Controller) spaceAllows(ctx context.Context, p permission, spaceGUID string) bool {
	az := authzFrom(ctx)
	if az.admin() {
		return true
	}
	t, err := az.spaceTarget(ctx, spaceGUID, nil)
	if err != nil {
		return false
	}
	return az.check(ctx, p, t) == nil
}

// callerSeesPlan returns whether the caller may see a plan: admins see all;
// others see public plans, organization plans of orgs they see, and plans
// of space-scoped brokers in spaces they see.
func (c *Controller) callerSeesPlan(ctx context.Context, v *catalogView) (func(p *store.ServicePlan) bool, error) {
	if authzFrom(ctx).admin() {
		return func(*store.ServicePlan) bool { return true }, nil
	}
	orgs, _, err := c.readableOrgs(ctx)
	if err != nil {
		return nil, err
	}
	spaces, _, err := c.readableSpaces(ctx)
	if err != nil {
		return nil, err
	}
	return func(p *store.ServicePlan) bool {
		o := v.offerings[p.OfferingGUID]
		if o == nil {
			return false
		}
		if b := v.brokers[o.BrokerGUID]; b != nil && b.SpaceGUID != "" {
			return slices.Contains(spaces, b.SpaceGUID)
		}
		switch p.VisibilityType {
		case store.VisibilityPublic:
			return true
		case store.VisibilityOrganization:
			for _, org := range p.VisibleOrgGUIDs {
				if slices.Contains(orgs, org) {
					return true
				}
			}
		}
		return false
	}, nil
}

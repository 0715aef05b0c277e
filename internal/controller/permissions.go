package controller

import (
	"context"
	"errors"
	"net/http"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// scope names what a route's path identifies, so guard can find the space
// or org the permission applies to.
type scope int

const (
	// scopeGlobal: nothing in the path; the permission is checked without
	// a space or org (permAuthenticated: the handler filters lists).
	scopeGlobal scope = iota
	// scopeBody: the target is in the request body; the handler calls
	// checkSpace/checkOrg, which apply the route's permission.
	scopeBody
	scopeOrg
	scopeSpace
	scopeApp
	scopeLogSource // {source_id} is an app guid
	scopeProcess
	scopePackage
	scopeBuild
	scopeDroplet
	scopeRoute
	scopeDomain
	scopeServiceInstance
	scopeServiceBinding
	scopeRole
	scopeUser
	scopeSpaceQuota
	scopeAuditEvent
	scopeDeployment
)

// rule is one route's authorization: the permission needed on the space or
// org its scope resolves to.
type rule struct {
	scope scope
	perm  permission
}

// routeRules is the authorization of every authenticated route, keyed by
// its mux pattern. A route missing here is admin-only (fail closed); a test
// checks that every registered route has an entry.
var routeRules = map[string]rule{
	// Root, info, log-cache.
	"GET /v3":                      {scopeGlobal, permAuthenticated},
	"GET /v3/{$}":                  {scopeGlobal, permAuthenticated},
	"GET /v3/info":                 {scopeGlobal, permAuthenticated},
	"GET /api/v1/info":             {scopeGlobal, permAuthenticated},
	"GET /api/v1/read/{source_id}": {scopeLogSource, permRead},

	// Orgs, spaces, domains.
	"GET /v3/organizations":                         {scopeGlobal, permAuthenticated},
	"POST /v3/organizations":                        {scopeGlobal, permAdmin},
	"GET /v3/organizations/{guid}":                  {scopeOrg, permRead},
	"PATCH /v3/organizations/{guid}":                {scopeOrg, permManageOrg},
	"DELETE /v3/organizations/{guid}":               {scopeOrg, permAdmin},
	"GET /v3/organizations/{guid}/domains":          {scopeOrg, permRead},
	"GET /v3/organizations/{guid}/domains/default":  {scopeOrg, permRead},
	"GET /v3/spaces":                                {scopeGlobal, permAuthenticated},
	"POST /v3/spaces":                               {scopeBody, permManageOrg},
	"GET /v3/spaces/{guid}":                         {scopeSpace, permRead},
	"PATCH /v3/spaces/{guid}":                       {scopeSpace, permManageSpace},
	"DELETE /v3/spaces/{guid}":                      {scopeSpace, permManageOrg},
	"POST /v3/spaces/{guid}/actions/apply_manifest": {scopeSpace, permWrite},
	"POST /v3/spaces/{guid}/manifest_diff":          {scopeSpace, permWrite},
	"GET /v3/domains":                               {scopeGlobal, permAuthenticated},
	"GET /v3/domains/{guid}":                        {scopeDomain, permRead},
	"POST /v3/domains":                              {scopeBody, permManageOrg},
	"DELETE /v3/domains/{guid}":                     {scopeDomain, permManageOrg},

	// Roles and users.
	"GET /v3/roles":           {scopeGlobal, permAuthenticated},
	"POST /v3/roles":          {scopeBody, permManageRoles},
	"GET /v3/roles/{guid}":    {scopeRole, permRead},
	"DELETE /v3/roles/{guid}": {scopeRole, permManageRoles},
	"GET /v3/users":           {scopeGlobal, permAuthenticated},
	"POST /v3/users":          {scopeGlobal, permAdmin},
	"DELETE /v3/users/{guid}": {scopeGlobal, permAdmin},
	"GET /v3/users/{guid}":    {scopeUser, permRead},

	// Quotas: organization quotas are global (admins change them, everyone
	// reads them); space quotas belong to an org and its managers.
	"GET /v3/organization_quotas":                                      {scopeGlobal, permAuthenticated},
	"POST /v3/organization_quotas":                                     {scopeGlobal, permAdmin},
	"GET /v3/organization_quotas/{guid}":                               {scopeGlobal, permAuthenticated},
	"PATCH /v3/organization_quotas/{guid}":                             {scopeGlobal, permAdmin},
	"DELETE /v3/organization_quotas/{guid}":                            {scopeGlobal, permAdmin},
	"POST /v3/organization_quotas/{guid}/relationships/organizations":  {scopeGlobal, permAdmin},
	"GET /v3/space_quotas":                                             {scopeGlobal, permAuthenticated},
	"POST /v3/space_quotas":                                            {scopeBody, permManageOrg},
	"GET /v3/space_quotas/{guid}":                                      {scopeSpaceQuota, permRead},
	"PATCH /v3/space_quotas/{guid}":                                    {scopeSpaceQuota, permManageOrg},
	"DELETE /v3/space_quotas/{guid}":                                   {scopeSpaceQuota, permManageOrg},
	"POST /v3/space_quotas/{guid}/relationships/spaces":                {scopeSpaceQuota, permManageOrg},
	"DELETE /v3/space_quotas/{guid}/relationships/spaces/{space_guid}": {scopeSpaceQuota, permManageOrg},

	// Audit events.
	"GET /v3/audit_events":        {scopeGlobal, permAuthenticated},
	"GET /v3/audit_events/{guid}": {scopeAuditEvent, permRead},

	// Apps.
	"GET /v3/apps":                                        {scopeGlobal, permAuthenticated},
	"POST /v3/apps":                                       {scopeBody, permWrite},
	"GET /v3/apps/{guid}":                                 {scopeApp, permRead},
	"PATCH /v3/apps/{guid}":                               {scopeApp, permWrite},
	"DELETE /v3/apps/{guid}":                              {scopeApp, permWrite},
	"GET /v3/apps/{guid}/env":                             {scopeApp, permReadSecrets},
	"GET /v3/apps/{guid}/environment_variables":           {scopeApp, permReadSecrets},
	"PATCH /v3/apps/{guid}/environment_variables":         {scopeApp, permWrite},
	"POST /v3/apps/{guid}/actions/start":                  {scopeApp, permManageApps},
	"POST /v3/apps/{guid}/actions/stop":                   {scopeApp, permManageApps},
	"POST /v3/apps/{guid}/actions/restart":                {scopeApp, permManageApps},
	"GET /v3/apps/{guid}/droplets/current":                {scopeApp, permRead},
	"GET /v3/apps/{guid}/relationships/current_droplet":   {scopeApp, permRead},
	"PATCH /v3/apps/{guid}/relationships/current_droplet": {scopeApp, permManageApps},
	"GET /v3/apps/{guid}/processes":                       {scopeApp, permRead},
	"GET /v3/apps/{guid}/processes/{type}":                {scopeApp, permRead},
	"GET /v3/apps/{guid}/processes/{type}/stats":          {scopeApp, permRead},
	"POST /v3/apps/{guid}/processes/{type}/actions/scale": {scopeApp, permManageApps},
	"GET /v3/apps/{guid}/routes":                          {scopeApp, permRead},
	"GET /v3/apps/{guid}/packages":                        {scopeApp, permRead},
	"GET /v3/apps/{guid}/droplets":                        {scopeApp, permRead},
	"GET /v3/apps/{guid}/builds":                          {scopeApp, permRead},

	// Processes.
	"GET /v3/processes":                          {scopeGlobal, permAuthenticated},
	"GET /v3/processes/{guid}":                   {scopeProcess, permRead},
	"PATCH /v3/processes/{guid}":                 {scopeProcess, permWrite},
	"POST /v3/processes/{guid}/actions/scale":    {scopeProcess, permManageApps},
	"GET /v3/processes/{guid}/stats":             {scopeProcess, permRead},
	"GET /v3/processes/{guid}/sidecars":          {scopeProcess, permRead},
	"GET /v3/deployments":                        {scopeGlobal, permAuthenticated},
	"POST /v3/deployments":                       {scopeBody, permWrite},
	"GET /v3/deployments/{guid}":                 {scopeDeployment, permRead},
	"POST /v3/deployments/{guid}/actions/cancel": {scopeDeployment, permManageApps},
	"GET /v3/service_route_bindings":             {scopeGlobal, permAuthenticated},

	// Packages, builds, droplets.
	"POST /v3/packages":                {scopeBody, permWrite},
	"GET /v3/packages":                 {scopeGlobal, permAuthenticated},
	"GET /v3/packages/{guid}":          {scopePackage, permRead},
	"POST /v3/packages/{guid}/upload":  {scopePackage, permWrite},
	"GET /v3/packages/{guid}/download": {scopePackage, permReadSecrets},
	"GET /v3/packages/{guid}/droplets": {scopePackage, permRead},
	"POST /v3/resource_matches":        {scopeGlobal, permAuthenticated},
	"POST /v3/builds":                  {scopeBody, permWrite},
	"GET /v3/builds":                   {scopeGlobal, permAuthenticated},
	"GET /v3/builds/{guid}":            {scopeBuild, permRead},
	"GET /v3/droplets":                 {scopeGlobal, permAuthenticated},
	"GET /v3/droplets/{guid}":          {scopeDroplet, permRead},
	"GET /v3/droplets/{guid}/download": {scopeDroplet, permReadSecrets},

	// Routes.
	"GET /v3/routes":                               {scopeGlobal, permAuthenticated},
	"POST /v3/routes":                              {scopeBody, permWrite},
	"GET /v3/routes/{guid}":                        {scopeRoute, permRead},
	"DELETE /v3/routes/{guid}":                     {scopeRoute, permWrite},
	"GET /v3/routes/{guid}/destinations":           {scopeRoute, permRead},
	"POST /v3/routes/{guid}/destinations":          {scopeRoute, permWrite},
	"PATCH /v3/routes/{guid}/destinations":         {scopeRoute, permWrite},
	"DELETE /v3/routes/{guid}/destinations/{dest}": {scopeRoute, permWrite},

	// Jobs: like CF, any authenticated user may poll a job by guid.
	"GET /v3/jobs/{guid}": {scopeGlobal, permAuthenticated},

	// Services: brokers and plan visibility are admin business; the
	// marketplace is public; instances and bindings live in spaces.
	"GET /v3/service_brokers":                            {scopeGlobal, permAdmin},
	"POST /v3/service_brokers":                           {scopeGlobal, permAdmin},
	"GET /v3/service_brokers/{guid}":                     {scopeGlobal, permAdmin},
	"PATCH /v3/service_brokers/{guid}":                   {scopeGlobal, permAdmin},
	"DELETE /v3/service_brokers/{guid}":                  {scopeGlobal, permAdmin},
	"GET /v3/service_offerings":                          {scopeGlobal, permAuthenticated},
	"GET /v3/service_offerings/{guid}":                   {scopeGlobal, permAuthenticated},
	"GET /v3/service_plans":                              {scopeGlobal, permAuthenticated},
	"GET /v3/service_plans/{guid}":                       {scopeGlobal, permAuthenticated},
	"GET /v3/service_plans/{guid}/visibility":            {scopeGlobal, permAdmin},
	"PATCH /v3/service_plans/{guid}/visibility":          {scopeGlobal, permAdmin},
	"POST /v3/service_plans/{guid}/visibility":           {scopeGlobal, permAdmin},
	"GET /v3/service_instances":                          {scopeGlobal, permAuthenticated},
	"POST /v3/service_instances":                         {scopeBody, permWrite},
	"GET /v3/service_instances/{guid}":                   {scopeServiceInstance, permRead},
	"PATCH /v3/service_instances/{guid}":                 {scopeServiceInstance, permWrite},
	"DELETE /v3/service_instances/{guid}":                {scopeServiceInstance, permWrite},
	"GET /v3/service_instances/{guid}/credentials":       {scopeServiceInstance, permReadSecrets},
	"GET /v3/service_credential_bindings":                {scopeGlobal, permAuthenticated},
	"POST /v3/service_credential_bindings":               {scopeBody, permWrite},
	"GET /v3/service_credential_bindings/{guid}":         {scopeServiceBinding, permRead},
	"GET /v3/service_credential_bindings/{guid}/details": {scopeServiceBinding, permReadSecrets},
	"DELETE /v3/service_credential_bindings/{guid}":      {scopeServiceBinding, permWrite},
}

// ruleFor returns the rule of a route pattern; unknown routes are
// admin-only.
func ruleFor(pattern string) rule {
	if rl, ok := routeRules[pattern]; ok {
		return rl
	}
	return rule{scopeGlobal, permAdmin}
}

// guard enforces the route's rule before f runs.
func (c *Controller) guard(pattern string, f apiHandler) apiHandler {
	rl := ruleFor(pattern)
	c.bearerRoutes = append(c.bearerRoutes, pattern)
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := context.WithValue(r.Context(), ruleKey{}, rl)
		r = r.WithContext(ctx)
		az := authzFrom(ctx)
		if az.admin() {
			return f(w, r)
		}
		if rl.scope == scopeBody {
			// The handler checks the body's target; permAdmin never
			// needs a body.
			if rl.perm == permAdmin {
				return apierr.NotAuthorized()
			}
			return f(w, r)
		}
		t, err := c.resolve(ctx, az, rl.scope, r)
		if err != nil {
			return err
		}
		if err := az.check(ctx, rl.perm, t); err != nil {
			return err
		}
		return f(w, r)
	}
}

// resolve finds the target of a scoped route; a missing resource is the
// resource's 404.
func (c *Controller) resolve(ctx context.Context, az *authorizer, sc scope, r *http.Request) (target, error) {
	st := c.deps.Store
	guid := r.PathValue("guid")
	missing := func(err error, nf error) (target, error) {
		if errors.Is(err, store.ErrNotFound) {
			return target{}, nf
		}
		return target{}, err
	}
	appTarget := func(appGUID string) (target, error) {
		a, err := st.Apps().Get(ctx, appGUID)
		if err != nil {
			return missing(err, apierr.NotFound("App"))
		}
		return az.spaceTarget(ctx, a.SpaceGUID, apierr.NotFound("App"))
	}
	withNotFound := func(t target, err error, nf error) (target, error) {
		if err != nil {
			if apierr.As(err) != nil {
				return target{}, nf
			}
			return target{}, err
		}
		t.notFound = nf
		return t, nil
	}
	switch sc {
	case scopeGlobal:
		return target{}, nil
	case scopeOrg:
		if _, err := st.Orgs().Get(ctx, guid); err != nil {
			return missing(err, apierr.NotFound("Organization"))
		}
		return target{org: guid, notFound: apierr.NotFound("Organization")}, nil
	case scopeSpace:
		return az.spaceTarget(ctx, guid, apierr.NotFound("Space"))
	case scopeApp:
		return appTarget(guid)
	case scopeLogSource:
		return appTarget(r.PathValue("source_id"))
	case scopeProcess:
		p, err := st.Processes().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Process"))
		}
		t, err := appTarget(p.AppGUID)
		return withNotFound(t, err, apierr.NotFound("Process"))
	case scopePackage:
		p, err := st.Packages().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Package"))
		}
		t, err := appTarget(p.AppGUID)
		return withNotFound(t, err, apierr.NotFound("Package"))
	case scopeBuild:
		b, err := st.Builds().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Build"))
		}
		t, err := appTarget(b.AppGUID)
		return withNotFound(t, err, apierr.NotFound("Build"))
	case scopeDroplet:
		d, err := st.Droplets().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Droplet"))
		}
		t, err := appTarget(d.AppGUID)
		return withNotFound(t, err, apierr.NotFound("Droplet"))
	case scopeRoute:
		rt, err := st.Routes().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Route"))
		}
		return az.spaceTarget(ctx, rt.SpaceGUID, apierr.NotFound("Route"))
	case scopeDeployment:
		d, err := st.Deployments().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Deployment"))
		}
		t, err := appTarget(d.AppGUID)
		return withNotFound(t, err, apierr.NotFound("Deployment"))
	case scopeDomain:
		d, err := st.Domains().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Domain"))
		}
		if d.OrgGUID == "" {
			return target{}, nil // shared domains are visible to all
		}
		return target{org: d.OrgGUID, notFound: apierr.NotFound("Domain")}, nil
	case scopeServiceInstance:
		si, err := st.ServiceInstances().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Service instance"))
		}
		return az.spaceTarget(ctx, si.SpaceGUID, apierr.NotFound("Service instance"))
	case scopeServiceBinding:
		b, err := st.ServiceBindings().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Service credential binding"))
		}
		si, err := st.ServiceInstances().Get(ctx, b.ServiceInstanceGUID)
		if err != nil {
			return missing(err, apierr.NotFound("Service credential binding"))
		}
		return az.spaceTarget(ctx, si.SpaceGUID, apierr.NotFound("Service credential binding"))
	case scopeRole:
		ro, err := st.Roles().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Role"))
		}
		return target{org: ro.OrgGUID, space: ro.SpaceGUID, roleSpace: ro.SpaceGUID != "", notFound: apierr.NotFound("Role")}, nil
	case scopeUser:
		visible, err := c.userVisible(ctx, guid)
		if err != nil {
			return target{}, err
		}
		return target{notFound: apierr.NotFound("User"), visible: func() bool { return visible }}, nil
	case scopeSpaceQuota:
		q, err := st.SpaceQuotas().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Space quota"))
		}
		visible, err := c.spaceQuotaVisible(ctx, q)
		if err != nil {
			return target{}, err
		}
		return target{org: q.OrgGUID, notFound: apierr.NotFound("Space quota"), visible: func() bool { return visible }}, nil
	case scopeAuditEvent:
		e, err := st.AuditEvents().Get(ctx, guid)
		if err != nil {
			return missing(err, apierr.NotFound("Event"))
		}
		visible, err := c.eventVisible(ctx, e)
		if err != nil {
			return target{}, err
		}
		return target{org: e.OrgGUID, space: e.SpaceGUID, notFound: apierr.NotFound("Event"), visible: func() bool { return visible }}, nil
	}
	return target{}, apierr.NotAuthorized()
}

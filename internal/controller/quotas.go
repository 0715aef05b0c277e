package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

// Quota enforcement. An org has its assigned organization quota, or the
// one named DefaultOrgQuota; a space may also have a space quota. Limits
// are checked, as in CF, when an app is started, scaled or pushed (memory
// per instance, total memory and instances of started apps), when a route
// is created and when a managed service instance is created; a request
// over a limit changes nothing and gets CF's 422.

// DefaultOrgQuota is the quota of orgs without an assigned one. It is
// seeded unlimited (with paid services allowed); admins may tighten it.
const DefaultOrgQuota = "default"

// quotas are the limits that apply to a space.
type quotas struct {
	org      *store.OrgQuota   // nil: no limits
	space    *store.SpaceQuota // nil: no space quota
	orgName  string
	spaceNm  string
	orgGUID  string
	spaceIDs []string // the org's spaces
}

// orgQuotaOf returns the org's quota (assigned or default); nil when
// neither exists.
func orgQuotaOf(ctx context.Context, st store.Store, orgGUID string) (*store.OrgQuota, error) {
	a, err := st.QuotaAssignments().Get(ctx, orgGUID)
	switch {
	case err == nil:
		q, err := st.OrgQuotas().Get(ctx, a.QuotaGUID)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return q, err
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("get org quota assignment: %w", err)
	}
	qs, err := st.OrgQuotas().List(ctx, store.ListOptions{Names: []string{DefaultOrgQuota}})
	if err != nil || len(qs) == 0 {
		return nil, err
	}
	return qs[0], nil
}

// spaceQuotaOf returns the space's quota, nil when it has none.
func spaceQuotaOf(ctx context.Context, st store.Store, spaceGUID string) (*store.SpaceQuota, error) {
	a, err := st.QuotaAssignments().Get(ctx, spaceGUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get space quota assignment: %w", err)
	}
	q, err := st.SpaceQuotas().Get(ctx, a.QuotaGUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return q, err
}

func (c *Controller) quotasFor(ctx context.Context, st store.Store, spaceGUID string) (*quotas, error) {
	s, err := st.Spaces().Get(ctx, spaceGUID)
	if err != nil {
		return nil, fmt.Errorf("quota: get space: %w", err)
	}
	q := &quotas{orgGUID: s.OrgGUID, spaceNm: s.Name}
	if o, err := st.Orgs().Get(ctx, s.OrgGUID); err == nil {
		q.orgName = o.Name
	}
	if q.org, err = orgQuotaOf(ctx, st, s.OrgGUID); err != nil {
		return nil, err
	}
	if q.space, err = spaceQuotaOf(ctx, st, spaceGUID); err != nil {
		return nil, err
	}
	spaces, err := st.Spaces().List(ctx, store.ListOptions{OrgGUIDs: []string{s.OrgGUID}})
	if err != nil {
		return nil, fmt.Errorf("quota: list spaces: %w", err)
	}
	for _, sp := range spaces {
		q.spaceIDs = append(q.spaceIDs, sp.GUID)
	}
	return q, nil
}

// appUsage sums memory (MB) and instances of the started apps in spaces,
// leaving out one app.
func appUsage(ctx context.Context, st store.Store, spaces []string, exceptApp string) (mem, inst int64, err error) {
	if len(spaces) == 0 {
		return 0, 0, nil
	}
	apps, err := st.Apps().List(ctx, store.ListOptions{SpaceGUIDs: spaces, States: []string{store.AppStarted}})
	if err != nil {
		return 0, 0, fmt.Errorf("quota: list apps: %w", err)
	}
	var ids []string
	for _, a := range apps {
		if a.GUID != exceptApp {
			ids = append(ids, a.GUID)
		}
	}
	if len(ids) == 0 {
		return 0, 0, nil
	}
	procs, err := st.Processes().List(ctx, store.ListOptions{AppGUIDs: ids})
	if err != nil {
		return 0, 0, fmt.Errorf("quota: list processes: %w", err)
	}
	for _, p := range procs {
		mem += int64(p.Instances) * p.MemoryMB
		inst += int64(p.Instances)
	}
	return mem, inst, nil
}

func over(limit *int64, v int64) bool { return limit != nil && v > *limit }

// checkAppQuota checks an app that is, or is about to be, started with the
// given processes (its processes after the change) against its org's and
// space's quotas. A stopped app uses nothing.
func (c *Controller) checkAppQuota(ctx context.Context, st store.Store, a *store.App, procs []*store.Process) error {
	if a.State != store.AppStarted {
		return nil
	}
	q, err := c.quotasFor(ctx, st, a.SpaceGUID)
	if err != nil {
		return err
	}
	if q.org == nil && q.space == nil {
		return nil
	}
	var mem, inst, maxInstMem int64
	for _, p := range procs {
		mem += int64(p.Instances) * p.MemoryMB
		inst += int64(p.Instances)
		if p.Instances > 0 && p.MemoryMB > maxInstMem {
			maxInstMem = p.MemoryMB
		}
	}
	var problems []string
	if q.space != nil {
		sMem, sInst, err := appUsage(ctx, st, []string{a.SpaceGUID}, a.GUID)
		if err != nil {
			return err
		}
		if over(q.space.InstanceMemoryMB, maxInstMem) {
			problems = append(problems, "memory space_instance_memory_limit_exceeded")
		}
		if over(q.space.TotalMemoryMB, sMem+mem) {
			problems = append(problems, "memory space_quota_exceeded")
		}
		if over(q.space.TotalInstances, sInst+inst) {
			problems = append(problems, "app_instance_limit space_app_instance_limit_exceeded")
		}
	}
	if q.org != nil {
		oMem, oInst, err := appUsage(ctx, st, q.spaceIDs, a.GUID)
		if err != nil {
			return err
		}
		if over(q.org.InstanceMemoryMB, maxInstMem) {
			problems = append(problems, "memory instance_memory_limit_exceeded")
		}
		if over(q.org.TotalMemoryMB, oMem+mem) {
			problems = append(problems, "memory quota_exceeded")
		}
		if over(q.org.TotalInstances, oInst+inst) {
			problems = append(problems, "app_instance_limit app_instance_limit_exceeded")
		}
	}
	if len(problems) > 0 {
		return apierr.Unprocessable("%s", strings.Join(problems, ", "))
	}
	return nil
}

// processesWith returns the app's processes with p replacing its stored
// version.
func processesWith(ctx context.Context, st store.Store, appGUID string, p *store.Process) ([]*store.Process, error) {
	procs, err := st.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}})
	if err != nil {
		return nil, fmt.Errorf("quota: list processes: %w", err)
	}
	out := make([]*store.Process, 0, len(procs)+1)
	found := false
	for _, o := range procs {
		if p != nil && o.GUID == p.GUID {
			o, found = p, true
		}
		out = append(out, o)
	}
	if p != nil && !found {
		out = append(out, p)
	}
	return out, nil
}

// checkRouteQuota checks that one more route fits the space's and org's
// quotas.
func (c *Controller) checkRouteQuota(ctx context.Context, st store.Store, spaceGUID string) error {
	q, err := c.quotasFor(ctx, st, spaceGUID)
	if err != nil {
		return err
	}
	if q.space != nil && q.space.TotalRoutes != nil {
		rs, err := st.Routes().List(ctx, store.ListOptions{SpaceGUIDs: []string{spaceGUID}})
		if err != nil {
			return fmt.Errorf("quota: list routes: %w", err)
		}
		if int64(len(rs))+1 > *q.space.TotalRoutes {
			return apierr.Unprocessable("Routes quota exceeded for space '%s'.", q.spaceNm)
		}
	}
	if q.org != nil && q.org.TotalRoutes != nil {
		rs, err := st.Routes().List(ctx, store.ListOptions{SpaceGUIDs: q.spaceIDs})
		if err != nil {
			return fmt.Errorf("quota: list routes: %w", err)
		}
		if int64(len(rs))+1 > *q.org.TotalRoutes {
			return apierr.Unprocessable("Routes quota exceeded for organization '%s'.", q.orgName)
		}
	}
	return nil
}

// checkServiceQuota checks that one more managed service instance of a
// plan (free or paid) fits the quotas.
func (c *Controller) checkServiceQuota(ctx context.Context, st store.Store, spaceGUID string, freePlan bool) error {
	q, err := c.quotasFor(ctx, st, spaceGUID)
	if err != nil {
		return err
	}
	if !freePlan {
		if q.org != nil && !q.org.PaidServicesAllowed {
			return apierr.Unprocessable("The service instance cannot be created because paid service plans are not allowed.")
		}
		if q.space != nil && !q.space.PaidServicesAllowed {
			return apierr.Unprocessable("The service instance cannot be created because paid service plans are not allowed for your space.")
		}
	}
	count := func(spaces []string) (int64, error) {
		sis, err := st.ServiceInstances().List(ctx, store.ListOptions{SpaceGUIDs: spaces, Types: []string{store.InstanceManaged}})
		if err != nil {
			return 0, fmt.Errorf("quota: list service instances: %w", err)
		}
		return int64(len(sis)), nil
	}
	if q.space != nil && q.space.TotalServiceInstances != nil {
		n, err := count([]string{spaceGUID})
		if err != nil {
			return err
		}
		if n+1 > *q.space.TotalServiceInstances {
			return apierr.Unprocessable("You have exceeded your space's services limit.")
		}
	}
	if q.org != nil && q.org.TotalServiceInstances != nil {
		n, err := count(q.spaceIDs)
		if err != nil {
			return err
		}
		if n+1 > *q.org.TotalServiceInstances {
			return apierr.Unprocessable("You have exceeded your organization's services limit.")
		}
	}
	return nil
}

// ensureDefaultOrgQuota seeds the unlimited default org quota.
func (c *Controller) ensureDefaultOrgQuota(ctx context.Context) error {
	qs, err := c.deps.Store.OrgQuotas().List(ctx, store.ListOptions{Names: []string{DefaultOrgQuota}})
	if err != nil {
		return fmt.Errorf("list org quotas: %w", err)
	}
	if len(qs) > 0 {
		return nil
	}
	q := &store.OrgQuota{Meta: store.Meta{GUID: newGUID()}, Name: DefaultOrgQuota, QuotaLimits: store.QuotaLimits{PaidServicesAllowed: true}}
	if err := c.deps.Store.OrgQuotas().Create(ctx, q); err != nil && !errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("create default org quota: %w", err)
	}
	return nil
}

// checkStartQuota checks an app about to start with its stored processes.
func (c *Controller) checkStartQuota(ctx context.Context, st store.Store, a *store.App) error {
	procs, err := processesWith(ctx, st, a.GUID, nil)
	if err != nil {
		return err
	}
	return c.checkAppQuota(ctx, st, a, procs)
}

// checkScaleQuota checks a process about to be written with new instances
// or memory, when its app is started.
func (c *Controller) checkScaleQuota(ctx context.Context, st store.Store, p *store.Process) error {
	a, err := st.Apps().Get(ctx, p.AppGUID)
	if err != nil {
		return notFound(err, "Process")
	}
	procs, err := processesWith(ctx, st, a.GUID, p)
	if err != nil {
		return err
	}
	return c.checkAppQuota(ctx, st, a, procs)
}

// quotaRefs tells the quota guid of orgs and spaces, for their
// relationships.quota; it reads every assignment once.
type quotaRefs struct {
	assigned     map[string]string // org or space guid → quota guid
	defaultQuota string
}

func (c *Controller) loadQuotaRefs(ctx context.Context) (*quotaRefs, error) {
	as, err := c.deps.Store.QuotaAssignments().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list quota assignments: %w", err)
	}
	q := &quotaRefs{assigned: make(map[string]string, len(as))}
	for _, a := range as {
		q.assigned[a.GUID] = a.QuotaGUID
	}
	def, err := c.deps.Store.OrgQuotas().List(ctx, store.ListOptions{Names: []string{DefaultOrgQuota}})
	if err != nil {
		return nil, fmt.Errorf("list org quotas: %w", err)
	}
	if len(def) > 0 {
		q.defaultQuota = def[0].GUID
	}
	return q, nil
}

func (q *quotaRefs) org(guid string) string {
	if g, ok := q.assigned[guid]; ok {
		return g
	}
	return q.defaultQuota
}

func (q *quotaRefs) space(guid string) string { return q.assigned[guid] }

// presentOrg renders an org with its quota relationship.
func (c *Controller) presentOrg(refs *quotaRefs, o *store.Org) *presenters.Org {
	out := c.pres.Org(o)
	if refs != nil {
		out.Relationships.Quota = presenters.Rel(refs.org(o.GUID))
	}
	return out
}

// presentSpace renders a space with its quota relationship.
func (c *Controller) presentSpace(refs *quotaRefs, s *store.Space) *presenters.Space {
	out := c.pres.Space(s)
	if refs != nil {
		out.Relationships.Quota = presenters.Rel(refs.space(s.GUID))
	}
	return out
}

// orgJSON and spaceJSON render one org or space with its quota.
func (c *Controller) orgJSON(ctx context.Context, o *store.Org) (*presenters.Org, error) {
	refs, err := c.loadQuotaRefs(ctx)
	if err != nil {
		return nil, err
	}
	return c.presentOrg(refs, o), nil
}

func (c *Controller) spaceJSON(ctx context.Context, s *store.Space) (*presenters.Space, error) {
	refs, err := c.loadQuotaRefs(ctx)
	if err != nil {
		return nil, err
	}
	return c.presentSpace(refs, s), nil
}

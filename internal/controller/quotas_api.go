package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// /v3/organization_quotas and /v3/space_quotas.

// quotaBody is a quota create/update body. Each limit is kept raw so that
// an absent field (unchanged) differs from null (unlimited).
type quotaBody struct {
	Name          *string                    `json:"name"`
	Apps          map[string]json.RawMessage `json:"apps"`
	Services      map[string]json.RawMessage `json:"services"`
	Routes        map[string]json.RawMessage `json:"routes"`
	Domains       map[string]json.RawMessage `json:"domains"`
	Relationships struct {
		Organizations struct {
			Data []struct {
				GUID string `json:"guid"`
			} `json:"data"`
		} `json:"organizations"`
		Organization relBody `json:"organization"`
		Spaces       struct {
			Data []struct {
				GUID string `json:"guid"`
			} `json:"data"`
		} `json:"spaces"`
	} `json:"relationships"`
}

// applyLimits copies the body's limits onto l.
func (b *quotaBody) applyLimits(l *store.QuotaLimits, org bool) error {
	limit := func(section string, m map[string]json.RawMessage, key string, dst **int64) error {
		raw, ok := m[key]
		if !ok {
			return nil
		}
		delete(m, key)
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			*dst = nil
			return nil
		}
		var v int64
		if err := json.Unmarshal(raw, &v); err != nil || v < 0 {
			return apierr.Unprocessable("%s %s must be an integer greater than or equal to 0 or null", fieldLabel(section), key)
		}
		*dst = &v
		return nil
	}
	type field struct {
		section string
		m       map[string]json.RawMessage
		key     string
		dst     **int64
	}
	fields := []field{
		{"apps", b.Apps, "total_memory_in_mb", &l.TotalMemoryMB},
		{"apps", b.Apps, "per_process_memory_in_mb", &l.InstanceMemoryMB},
		{"apps", b.Apps, "total_instances", &l.TotalInstances},
		{"apps", b.Apps, "per_app_tasks", &l.PerAppTasks},
		{"apps", b.Apps, "log_rate_limit_in_bytes_per_second", &l.LogRateLimit},
		{"services", b.Services, "total_service_instances", &l.TotalServiceInstances},
		{"services", b.Services, "total_service_keys", &l.TotalServiceKeys},
		{"routes", b.Routes, "total_routes", &l.TotalRoutes},
		{"routes", b.Routes, "total_reserved_ports", &l.TotalReservedPorts},
	}
	if org {
		fields = append(fields, field{"domains", b.Domains, "total_domains", &l.TotalDomains})
	} else if len(b.Domains) > 0 {
		return apierr.Unprocessable("Unknown field(s): 'domains'")
	}
	for _, f := range fields {
		if err := limit(f.section, f.m, f.key, f.dst); err != nil {
			return err
		}
	}
	if raw, ok := b.Services["paid_services_allowed"]; ok {
		delete(b.Services, "paid_services_allowed")
		if err := json.Unmarshal(raw, &l.PaidServicesAllowed); err != nil {
			return apierr.Unprocessable("Services paid_services_allowed must be a boolean")
		}
	}
	for section, m := range map[string]map[string]json.RawMessage{"apps": b.Apps, "services": b.Services, "routes": b.Routes, "domains": b.Domains} {
		for k := range m {
			return apierr.Unprocessable("%s Unknown field(s): '%s'", fieldLabel(section), k)
		}
	}
	return nil
}

func orgQuotaMeta(q *store.OrgQuota) *store.Meta     { return &q.Meta }
func orgQuotaName(q *store.OrgQuota) string          { return q.Name }
func spaceQuotaMeta(q *store.SpaceQuota) *store.Meta { return &q.Meta }
func spaceQuotaName(q *store.SpaceQuota) string      { return q.Name }

// orgsOfQuota lists the orgs an org quota applies to (for the default
// quota, every org without an assignment), limited to those the caller
// sees.
func (c *Controller) orgsOfQuota(ctx context.Context, q *store.OrgQuota) ([]string, error) {
	st := c.deps.Store
	as, err := st.QuotaAssignments().List(ctx, store.ListOptions{Types: []string{store.QuotaForOrg}})
	if err != nil {
		return nil, err
	}
	assigned := map[string]string{}
	for _, a := range as {
		assigned[a.GUID] = a.QuotaGUID
	}
	var orgs []string
	if q.Name == DefaultOrgQuota {
		all, err := st.Orgs().List(ctx, store.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, o := range all {
			if g, ok := assigned[o.GUID]; !ok || g == q.GUID {
				orgs = append(orgs, o.GUID)
			}
		}
	} else {
		for org, g := range assigned {
			if g == q.GUID {
				orgs = append(orgs, org)
			}
		}
	}
	visible, all, err := c.readableOrgs(ctx)
	if err != nil {
		return nil, err
	}
	if all {
		return orgs, nil
	}
	return intersect(orgs, visible), nil
}

func (c *Controller) presentOrgQuota(ctx context.Context, q *store.OrgQuota) (any, error) {
	orgs, err := c.orgsOfQuota(ctx, q)
	if err != nil {
		return nil, err
	}
	return c.pres.OrgQuota(q, orgs), nil
}

func (c *Controller) listOrgQuotas(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	qs, err := c.deps.Store.OrgQuotas().List(r.Context(), store.ListOptions{GUIDs: filterValues(q, "guids"), Names: filterValues(q, "names")})
	if err != nil {
		return err
	}
	page, total := sortAndPage(qs, lp, orgQuotaMeta, orgQuotaName)
	out := make([]any, 0, len(page))
	for _, oq := range page {
		p, err := c.presentOrgQuota(r.Context(), oq)
		if err != nil {
			return err
		}
		out = append(out, p)
	}
	return c.writeList(w, r, lp, total, out, nil)
}

func (c *Controller) getOrgQuota(w http.ResponseWriter, r *http.Request) error {
	q, err := c.deps.Store.OrgQuotas().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Organization quota")
	}
	p, err := c.presentOrgQuota(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (c *Controller) createOrgQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b quotaBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name can't be blank")
	}
	if err := validateName("Name", *b.Name); err != nil {
		return err
	}
	q := &store.OrgQuota{Meta: store.Meta{GUID: newGUID()}, Name: *b.Name, QuotaLimits: store.QuotaLimits{PaidServicesAllowed: true}}
	if err := b.applyLimits(&q.QuotaLimits, true); err != nil {
		return err
	}
	var orgs []string
	for _, d := range b.Relationships.Organizations.Data {
		orgs = append(orgs, d.GUID)
	}
	err := c.deps.Store.InTx(ctx, func(tx store.Store) error {
		if err := tx.OrgQuotas().Create(ctx, q); err != nil {
			return quotaWriteError(err, "Organization", q.Name)
		}
		return c.assignOrgQuota(ctx, tx, q, orgs)
	})
	if err != nil {
		return err
	}
	p, err := c.presentOrgQuota(ctx, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, p)
}

// assignOrgQuota applies q to orgs (replacing their previous quota).
func (c *Controller) assignOrgQuota(ctx context.Context, tx store.Store, q *store.OrgQuota, orgs []string) error {
	for _, org := range orgs {
		if _, err := tx.Orgs().Get(ctx, org); err != nil {
			return orUnprocessable(err, "Organizations with guids [\""+org+"\"] do not exist, or you do not have access to them.")
		}
		if err := upsertAssignment(ctx, tx, org, store.QuotaForOrg, q.GUID); err != nil {
			return err
		}
	}
	return nil
}

func upsertAssignment(ctx context.Context, tx store.Store, guid, kind, quotaGUID string) error {
	a, err := tx.QuotaAssignments().Get(ctx, guid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return tx.QuotaAssignments().Create(ctx, &store.QuotaAssignment{Meta: store.Meta{GUID: guid}, Kind: kind, QuotaGUID: quotaGUID})
	case err != nil:
		return err
	}
	a.Kind, a.QuotaGUID = kind, quotaGUID
	return tx.QuotaAssignments().Update(ctx, a)
}

func (c *Controller) updateOrgQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b quotaBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	q, err := c.deps.Store.OrgQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Organization quota")
	}
	if err := b.applyTo(&q.Name, &q.QuotaLimits, true); err != nil {
		return err
	}
	if err := c.deps.Store.OrgQuotas().Update(ctx, q); err != nil {
		return quotaWriteError(err, "Organization", q.Name)
	}
	p, err := c.presentOrgQuota(ctx, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (c *Controller) deleteOrgQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := c.deps.Store.OrgQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Organization quota")
	}
	orgs, err := c.orgsOfQuota(ctx, q)
	if err != nil {
		return err
	}
	if len(orgs) > 0 {
		return apierr.Unprocessable("This quota is applied to one or more organizations. Remove this quota from all organizations before deleting.")
	}
	if err := c.deps.Store.OrgQuotas().Delete(ctx, q.GUID); err != nil {
		return notFound(err, "Organization quota")
	}
	return c.completedJob(w, r, "organization_quota.delete", "organization_quota", q.GUID)
}

type toManyBody struct {
	Data []struct {
		GUID string `json:"guid"`
	} `json:"data"`
}

func (b toManyBody) guids() []string {
	out := []string{}
	for _, d := range b.Data {
		out = append(out, d.GUID)
	}
	return out
}

func (c *Controller) writeToMany(w http.ResponseWriter, self string, guids []string) error {
	data := []map[string]string{}
	for _, g := range guids {
		data = append(data, map[string]string{"guid": g})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": map[string]any{"self": map[string]string{"href": c.url + self}}})
}

// applyOrgQuota serves POST /v3/organization_quotas/:guid/relationships/organizations.
func (c *Controller) applyOrgQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b toManyBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	q, err := c.deps.Store.OrgQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Organization quota")
	}
	if err := c.deps.Store.InTx(ctx, func(tx store.Store) error { return c.assignOrgQuota(ctx, tx, q, b.guids()) }); err != nil {
		return err
	}
	orgs, err := c.orgsOfQuota(ctx, q)
	if err != nil {
		return err
	}
	return c.writeToMany(w, "/v3/organization_quotas/"+q.GUID+"/relationships/organizations", orgs)
}

// Space quotas.

// spacesOfQuota lists the spaces a space quota applies to, limited to
// those the caller sees (all for the org's managers).
func (c *Controller) spacesOfQuota(ctx context.Context, q *store.SpaceQuota) ([]string, error) {
	as, err := c.deps.Store.QuotaAssignments().List(ctx, store.ListOptions{QuotaGUIDs: []string{q.GUID}, Types: []string{store.QuotaForSpace}})
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, a := range as {
		if c.canSeeSpace(ctx, a.GUID) {
			out = append(out, a.GUID)
		}
	}
	return out, nil
}

// spaceQuotaVisible: the org's managers, and whoever sees a space it
// applies to.
func (c *Controller) spaceQuotaVisible(ctx context.Context, q *store.SpaceQuota) (bool, error) {
	az := authzFrom(ctx)
	if az.admin() {
		return true, nil
	}
	if err := az.load(ctx); err != nil {
		return false, err
	}
	if az.orgRoles[q.OrgGUID].has(bitOrgManager) {
		return true, nil
	}
	spaces, err := c.spacesOfQuota(ctx, q)
	return len(spaces) > 0, err
}

func (c *Controller) listSpaceQuotas(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	qs, err := c.deps.Store.SpaceQuotas().List(ctx, store.ListOptions{GUIDs: filterValues(q, "guids"), Names: filterValues(q, "names"),
		OrgGUIDs: filterValues(q, "organization_guids")})
	if err != nil {
		return err
	}
	kept := qs[:0]
	for _, sq := range qs {
		ok, err := c.spaceQuotaVisible(ctx, sq)
		if err != nil {
			return err
		}
		if ok {
			kept = append(kept, sq)
		}
	}
	page, total := sortAndPage(kept, lp, spaceQuotaMeta, spaceQuotaName)
	out := make([]any, 0, len(page))
	for _, sq := range page {
		spaces, err := c.spacesOfQuota(ctx, sq)
		if err != nil {
			return err
		}
		out = append(out, c.pres.SpaceQuota(sq, spaces))
	}
	return c.writeList(w, r, lp, total, out, nil)
}

func (c *Controller) writeSpaceQuota(w http.ResponseWriter, r *http.Request, status int, q *store.SpaceQuota) error {
	spaces, err := c.spacesOfQuota(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, status, c.pres.SpaceQuota(q, spaces))
}

func (c *Controller) getSpaceQuota(w http.ResponseWriter, r *http.Request) error {
	q, err := c.deps.Store.SpaceQuotas().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Space quota")
	}
	return c.writeSpaceQuota(w, r, http.StatusOK, q)
}

func (c *Controller) createSpaceQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b quotaBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name can't be blank")
	}
	if err := validateName("Name", *b.Name); err != nil {
		return err
	}
	orgGUID := b.Relationships.Organization.guid()
	if orgGUID == "" {
		return apierr.Unprocessable("Relationships Organization must be a relationship to an organization")
	}
	if err := c.checkOrg(r, orgGUID, apierr.Unprocessable("%s", msgInvalidOrg)); err != nil {
		return err
	}
	q := &store.SpaceQuota{Meta: store.Meta{GUID: newGUID()}, Name: *b.Name, OrgGUID: orgGUID, QuotaLimits: store.QuotaLimits{PaidServicesAllowed: true}}
	if err := b.applyLimits(&q.QuotaLimits, false); err != nil {
		return err
	}
	var spaces []string
	for _, d := range b.Relationships.Spaces.Data {
		spaces = append(spaces, d.GUID)
	}
	err := c.deps.Store.InTx(ctx, func(tx store.Store) error {
		if err := tx.SpaceQuotas().Create(ctx, q); err != nil {
			return quotaWriteError(err, "Space", q.Name)
		}
		return c.assignSpaceQuota(ctx, tx, q, spaces)
	})
	if err != nil {
		return err
	}
	return c.writeSpaceQuota(w, r, http.StatusCreated, q)
}

// assignSpaceQuota applies q to spaces of its org.
func (c *Controller) assignSpaceQuota(ctx context.Context, tx store.Store, q *store.SpaceQuota, spaces []string) error {
	for _, sg := range spaces {
		s, err := tx.Spaces().Get(ctx, sg)
		if err != nil {
			return orUnprocessable(err, fmt.Sprintf("Spaces with guids [\"%s\"] do not exist within the organization specified, or you do not have access to them.", sg))
		}
		if s.OrgGUID != q.OrgGUID {
			return apierr.Unprocessable("Spaces with guids [\"%s\"] do not exist within the organization specified, or you do not have access to them.", sg)
		}
		if err := upsertAssignment(ctx, tx, sg, store.QuotaForSpace, q.GUID); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) updateSpaceQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b quotaBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	q, err := c.deps.Store.SpaceQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Space quota")
	}
	if err := b.applyTo(&q.Name, &q.QuotaLimits, false); err != nil {
		return err
	}
	if err := c.deps.Store.SpaceQuotas().Update(ctx, q); err != nil {
		return quotaWriteError(err, "Space", q.Name)
	}
	return c.writeSpaceQuota(w, r, http.StatusOK, q)
}

func (c *Controller) deleteSpaceQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := c.deps.Store.SpaceQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Space quota")
	}
	as, err := c.deps.Store.QuotaAssignments().List(ctx, store.ListOptions{QuotaGUIDs: []string{q.GUID}, Types: []string{store.QuotaForSpace}})
	if err != nil {
		return err
	}
	if len(as) > 0 {
		return apierr.Unprocessable("This quota is applied to one or more spaces. Remove this quota from all spaces before deleting.")
	}
	if err := c.deps.Store.SpaceQuotas().Delete(ctx, q.GUID); err != nil {
		return notFound(err, "Space quota")
	}
	return c.completedJob(w, r, "space_quota.delete", "space_quota", q.GUID)
}

func (c *Controller) applySpaceQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b toManyBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	q, err := c.deps.Store.SpaceQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Space quota")
	}
	if err := c.deps.Store.InTx(ctx, func(tx store.Store) error { return c.assignSpaceQuota(ctx, tx, q, b.guids()) }); err != nil {
		return err
	}
	spaces, err := c.spacesOfQuota(ctx, q)
	if err != nil {
		return err
	}
	return c.writeToMany(w, "/v3/space_quotas/"+q.GUID+"/relationships/spaces", spaces)
}

func (c *Controller) removeSpaceQuota(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := c.deps.Store.SpaceQuotas().Get(ctx, r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Space quota")
	}
	spaceGUID := r.PathValue("space_guid")
	a, err := c.deps.Store.QuotaAssignments().Get(ctx, spaceGUID)
	if err != nil || a.QuotaGUID != q.GUID {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return apierr.Unprocessable("Unable to remove quota from space with guid '%s'. Ensure the space quota is applied to this space.", spaceGUID)
	}
	if err := c.deps.Store.QuotaAssignments().Delete(ctx, spaceGUID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyTo applies an update body to a quota's name and limits.
func (b *quotaBody) applyTo(name *string, l *store.QuotaLimits, org bool) error {
	if b.Name != nil {
		if err := validateName("Name", *b.Name); err != nil {
			return err
		}
		*name = *b.Name
	}
	return b.applyLimits(l, org)
}

// quotaWriteError turns a store error of a create or update of a kind ("Organization"
// or "Space") quota into CF's answer.
func quotaWriteError(err error, kind, name string) error {
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return apierr.Unprocessable("%s Quota '%s' already exists.", kind, name)
	case errors.Is(err, store.ErrConflict):
		return apierr.Unprocessable("The quota changed while it was updated; try again")
	}
	return notFound(err, kind+" quota")
}

package controller

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

// catalogView is every broker, offering and plan, indexed, for filtering
// and includes.
type catalogView struct {
	brokers   map[string]*store.ServiceBroker
	offerings map[string]*store.ServiceOffering
	plans     []*store.ServicePlan
}

func (c *Controller) loadCatalog(ctx context.Context) (*catalogView, error) {
	st := c.deps.Store
	bs, err := st.ServiceBrokers().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	os, err := st.ServiceOfferings().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	ps, err := st.ServicePlans().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	v := &catalogView{brokers: map[string]*store.ServiceBroker{}, offerings: map[string]*store.ServiceOffering{}, plans: ps}
	for _, b := range bs {
		v.brokers[b.GUID] = b
	}
	for _, o := range os {
		v.offerings[o.GUID] = o
	}
	return v, nil
}

// planVisible reports whether a plan may be used in space (of org).
func (v *catalogView) planVisible(p *store.ServicePlan, spaceGUID, orgGUID string) bool {
	o := v.offerings[p.OfferingGUID]
	if o == nil {
		return false
	}
	if b := v.brokers[o.BrokerGUID]; b != nil && b.SpaceGUID != "" {
		return b.SpaceGUID == spaceGUID
	}
	switch p.VisibilityType {
	case store.VisibilityPublic:
		return true
	case store.VisibilityOrganization:
		return slices.Contains(p.VisibleOrgGUIDs, orgGUID)
	}
	return false
}

// spaceOrgs maps the given spaces to their orgs (unknown spaces are left
// out).
func (c *Controller) spaceOrgs(ctx context.Context, spaceGUIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(spaceGUIDs) == 0 {
		return out, nil
	}
	ss, err := c.deps.Store.Spaces().List(ctx, store.ListOptions{GUIDs: spaceGUIDs})
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		out[s.GUID] = s.OrgGUID
	}
	return out, nil
}

func boolFilter(r *http.Request, key string) (*bool, error) {
	v, ok := r.URL.Query()[key]
	if !ok {
		return nil, nil
	}
	switch strings.Join(v, ",") {
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	}
	return nil, apierr.BadQueryParameter("%s must be a boolean", fieldLabel(key))
}

func matches(filter []string, v string) bool { return filter == nil || slices.Contains(filter, v) }

func (c *Controller) listServiceOfferings(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	avail, err := boolFilter(r, "available")
	if err != nil {
		return err
	}
	v, err := c.loadCatalog(r.Context())
	if err != nil {
		return err
	}
	names, brokerGUIDs, brokerNames := filterValues(q, "names"), filterValues(q, "service_broker_guids"), filterValues(q, "service_broker_names")
	sees, err := c.callerSeesPlan(r.Context(), v)
	if err != nil {
		return err
	}
	seenOffering := map[string]bool{}
	for _, p := range v.plans {
		if sees(p) {
			seenOffering[p.OfferingGUID] = true
		}
	}
	var offs []*store.ServiceOffering
	for _, o := range v.offerings {
		if !authzFrom(r.Context()).admin() && !seenOffering[o.GUID] {
			continue
		}
		b := v.brokers[o.BrokerGUID]
		if b == nil || !matches(names, o.Name) || !matches(brokerGUIDs, b.GUID) || !matches(brokerNames, b.Name) {
			continue
		}
		if avail != nil && o.Available != *avail {
			continue
		}
		offs = append(offs, o)
	}
	page, total := sortAndPage(offs, lp, func(o *store.ServiceOffering) *store.Meta { return &o.Meta },
		func(o *store.ServiceOffering) string { return o.Name })
	out := make([]*presenters.ServiceOffering, 0, len(page))
	for _, o := range page {
		out = append(out, c.pres.ServiceOffering(o))
	}
	var included map[string]any
	if fs := filterValues(q, "fields[service_broker]"); fs != nil {
		included = map[string]any{"service_brokers": c.brokerFields(v, page, fs)}
	}
	return c.writeList(w, r, lp, total, out, included)
}

// brokerFields renders the brokers of offerings with only the asked fields
// (guid, name).
func (c *Controller) brokerFields(v *catalogView, offs []*store.ServiceOffering, fields []string) []map[string]string {
	out := []map[string]string{}
	seen := map[string]bool{}
	for _, o := range offs {
		b := v.brokers[o.BrokerGUID]
		if b == nil || seen[b.GUID] {
			continue
		}
		seen[b.GUID] = true
		m := map[string]string{}
		for _, f := range fields {
			switch f {
			case "guid":
				m["guid"] = b.GUID
			case "name":
				m["name"] = b.Name
			}
		}
		out = append(out, m)
	}
	return out
}

func (c *Controller) getServiceOffering(w http.ResponseWriter, r *http.Request) error {
	o, err := c.deps.Store.ServiceOfferings().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Service offering")
	}
	if !authzFrom(r.Context()).admin() {
		v, err := c.loadCatalog(r.Context())
		if err != nil {
			return err
		}
		sees, err := c.callerSeesPlan(r.Context(), v)
		if err != nil {
			return err
		}
		visible := false
		for _, p := range v.plans {
			visible = visible || (p.OfferingGUID == o.GUID && sees(p))
		}
		if !visible {
			return apierr.NotFound("Service offering")
		}
	}
	return writeJSON(w, http.StatusOK, c.pres.ServiceOffering(o))
}

func (c *Controller) listServicePlans(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	avail, err := boolFilter(r, "available")
	if err != nil {
		return err
	}
	v, err := c.loadCatalog(r.Context())
	if err != nil {
		return err
	}
	names := filterValues(q, "names")
	offNames, offGUIDs := filterValues(q, "service_offering_names"), filterValues(q, "service_offering_guids")
	brokerNames, brokerGUIDs := filterValues(q, "service_broker_names"), filterValues(q, "service_broker_guids")
	spaceGUIDs, orgGUIDs := filterValues(q, "space_guids"), filterValues(q, "organization_guids")
	spaceOrg, err := c.spaceOrgs(r.Context(), spaceGUIDs)
	if err != nil {
		return err
	}
	sees, err := c.callerSeesPlan(r.Context(), v)
	if err != nil {
		return err
	}
	visible := func(p *store.ServicePlan) bool {
		if spaceGUIDs == nil && orgGUIDs == nil {
			return true
		}
		for s, o := range spaceOrg {
			if v.planVisible(p, s, o) {
				return true
			}
		}
		for _, o := range orgGUIDs {
			if v.planVisible(p, "", o) {
				return true
			}
		}
		return false
	}
	var plans []*store.ServicePlan
	for _, p := range v.plans {
		o := v.offerings[p.OfferingGUID]
		if o == nil {
			continue
		}
		b := v.brokers[o.BrokerGUID]
		if b == nil || !matches(names, p.Name) || !matches(offNames, o.Name) || !matches(offGUIDs, o.GUID) ||
			!matches(brokerNames, b.Name) || !matches(brokerGUIDs, b.GUID) {
			continue
		}
		if avail != nil && (p.Available && o.Available) != *avail {
			continue
		}
		if !visible(p) || !sees(p) {
			continue
		}
		plans = append(plans, p)
	}
	page, total := sortAndPage(plans, lp, func(p *store.ServicePlan) *store.Meta { return &p.Meta },
		func(p *store.ServicePlan) string { return p.Name })
	out := make([]*presenters.ServicePlan, 0, len(page))
	var offs []*store.ServiceOffering
	seen := map[string]bool{}
	for _, p := range page {
		out = append(out, c.pres.ServicePlan(p))
		if o := v.offerings[p.OfferingGUID]; o != nil && !seen[o.GUID] {
			seen[o.GUID] = true
			offs = append(offs, o)
		}
	}
	included := map[string]any{}
	if includes(r)["service_offering"] {
		po := make([]*presenters.ServiceOffering, 0, len(offs))
		for _, o := range offs {
			po = append(po, c.pres.ServiceOffering(o))
		}
		included["service_offerings"] = po
	}
	if fs := filterValues(q, "fields[service_offering.service_broker]"); fs != nil {
		included["service_brokers"] = c.brokerFields(v, offs, fs)
	}
	if len(included) == 0 {
		included = nil
	}
	return c.writeList(w, r, lp, total, out, included)
}

func (c *Controller) planRec(ctx context.Context, guid string) (*store.ServicePlan, error) {
	p, err := c.deps.Store.ServicePlans().Get(ctx, guid)
	return p, notFound(err, "Service plan")
}

func (c *Controller) getServicePlan(w http.ResponseWriter, r *http.Request) error {
	p, err := c.planRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if !authzFrom(r.Context()).admin() {
		v, err := c.loadCatalog(r.Context())
		if err != nil {
			return err
		}
		sees, err := c.callerSeesPlan(r.Context(), v)
		if err != nil {
			return err
		}
		if !sees(p) {
			return apierr.NotFound("Service plan")
		}
	}
	return writeJSON(w, http.StatusOK, c.pres.ServicePlan(p))
}

type visibilityOrg struct {
	GUID string `json:"guid"`
	Name string `json:"name,omitempty"`
}

func (c *Controller) visibilityJSON(ctx context.Context, p *store.ServicePlan) map[string]any {
	out := map[string]any{"type": p.VisibilityType}
	if p.VisibilityType == store.VisibilityOrganization {
		orgs := []visibilityOrg{}
		for _, g := range p.VisibleOrgGUIDs {
			vo := visibilityOrg{GUID: g}
			if o, err := c.deps.Store.Orgs().Get(ctx, g); err == nil {
				vo.Name = o.Name
			}
			orgs = append(orgs, vo)
		}
		out["organizations"] = orgs
	}
	return out
}

func (c *Controller) getPlanVisibility(w http.ResponseWriter, r *http.Request) error {
	p, err := c.planRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.visibilityJSON(r.Context(), p))
}

// setPlanVisibility: PATCH replaces the org list, POST appends to it.
func (c *Controller) setPlanVisibility(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Type          string          `json:"type"`
		Organizations []visibilityOrg `json:"organizations"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	switch body.Type {
	case store.VisibilityPublic, store.VisibilityAdmin, store.VisibilityOrganization:
	default:
		return apierr.Unprocessable("Type must be one of 'public', 'admin', 'organization'")
	}
	if body.Type == store.VisibilityOrganization && len(body.Organizations) == 0 {
		return apierr.Unprocessable("Organizations must be given for type 'organization'")
	}
	for _, o := range body.Organizations {
		if _, err := c.orgRec(r.Context(), o.GUID); err != nil {
			return apierr.Unprocessable("Could not find organization %s", o.GUID)
		}
	}
	for attempt := 0; ; attempt++ {
		p, err := c.planRec(r.Context(), r.PathValue("guid"))
		if err != nil {
			return err
		}
		var orgs []string
		if r.Method == http.MethodPost && p.VisibilityType == store.VisibilityOrganization {
			orgs = append(orgs, p.VisibleOrgGUIDs...)
		}
		for _, o := range body.Organizations {
			if !slices.Contains(orgs, o.GUID) {
				orgs = append(orgs, o.GUID)
			}
		}
		if body.Type != store.VisibilityOrganization {
			orgs = nil
		}
		p.VisibilityType, p.VisibleOrgGUIDs = body.Type, orgs
		err = c.deps.Store.ServicePlans().Update(r.Context(), p)
		if err == nil {
			return writeJSON(w, http.StatusOK, c.visibilityJSON(r.Context(), p))
		}
		if attempt >= 3 || !isConflict(err) {
			return err
		}
	}
}

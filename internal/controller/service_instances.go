package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

func (c *Controller) instanceRec(ctx context.Context, guid string) (*store.ServiceInstance, error) {
	si, err := c.deps.Store.ServiceInstances().Get(ctx, guid)
	return si, notFound(err, "Service instance")
}

// mutateInstance reads, changes and writes an instance, retrying on
// version conflicts.
func (c *Controller) mutateInstance(ctx context.Context, guid string, f func(si *store.ServiceInstance) error) (*store.ServiceInstance, error) {
	for attempt := 0; ; attempt++ {
		si, err := c.instanceRec(ctx, guid)
		if err != nil {
			return nil, err
		}
		if err := f(si); err != nil {
			return nil, err
		}
		err = c.deps.Store.ServiceInstances().Update(ctx, si)
		if err == nil {
			return si, nil
		}
		if !isConflict(err) || attempt >= 5 {
			return nil, err
		}
	}
}

// setInstanceOp records an instance's last operation (best effort, on a
// context that outlives the request).
func (c *Controller) setInstanceOp(ctx context.Context, guid string, op store.LastOperation) {
	_, err := c.mutateInstance(context.WithoutCancel(ctx), guid, func(si *store.ServiceInstance) error {
		si.LastOperation = op
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) && apierr.As(err) == nil {
		c.log.Error("service-instance-update-failed", "service_instance_guid", guid, "error", err)
	}
}

func operationInProgress(name string) error {
	return &apierr.Error{Status: http.StatusUnprocessableEntity, Code: 60016, Title: "CF-AsyncServiceInstanceOperationInProgress",
		Detail: fmt.Sprintf("An operation for service instance %s is in progress.", name)}
}

// planContext is what a managed instance's broker calls need.
type planContext struct {
	plan     *store.ServicePlan
	offering *store.ServiceOffering
	broker   *store.ServiceBroker
	client   *osbclient.Client
}

func (c *Controller) planCtx(ctx context.Context, planGUID string) (*planContext, error) {
	p, err := c.deps.Store.ServicePlans().Get(ctx, planGUID)
	if err != nil {
		return nil, fmt.Errorf("service plan %s: %w", planGUID, err)
	}
	o, err := c.deps.Store.ServiceOfferings().Get(ctx, p.OfferingGUID)
	if err != nil {
		return nil, fmt.Errorf("service offering of plan %s: %w", p.Name, err)
	}
	b, err := c.deps.Store.ServiceBrokers().Get(ctx, o.BrokerGUID)
	if err != nil {
		return nil, fmt.Errorf("service broker of offering %s: %w", o.Name, err)
	}
	cl, err := c.brokerClient(b)
	if err != nil {
		return nil, err
	}
	return &planContext{plan: p, offering: o, broker: b, client: cl}, nil
}

func userCtx(ctx context.Context) context.Context {
	return osbclient.WithOriginatingIdentity(ctx, userFrom(ctx).GUID)
}

// osbContext is the OSB "context" object Cloud Foundry sends.
func (c *Controller) osbContext(ctx context.Context, si *store.ServiceInstance) (json.RawMessage, string, error) {
	space, err := c.deps.Store.Spaces().Get(ctx, si.SpaceGUID)
	if err != nil {
		return nil, "", fmt.Errorf("space of service instance %s: %w", si.Name, err)
	}
	org, err := c.deps.Store.Orgs().Get(ctx, space.OrgGUID)
	if err != nil {
		return nil, "", fmt.Errorf("org of service instance %s: %w", si.Name, err)
	}
	b, _ := json.Marshal(map[string]string{
		"platform": "cloudfoundry", "organization_guid": org.GUID, "organization_name": org.Name,
		"space_guid": space.GUID, "space_name": space.Name, "instance_name": si.Name,
	})
	return b, org.GUID, nil
}

type relData struct {
	Data *struct {
		GUID string `json:"guid"`
	} `json:"data"`
}

func (r relData) guid() string {
	if r.Data == nil {
		return ""
	}
	return r.Data.GUID
}

func validateUPSURLs(drain, routeService string) error {
	if drain != "" {
		u, err := url.Parse(drain)
		if err != nil || u.Host == "" || !slices.Contains([]string{"syslog", "syslog-tls", "https", "http"}, u.Scheme) {
			return apierr.Unprocessable("Syslog drain url must be a syslog, syslog-tls, http or https URL")
		}
	}
	if routeService != "" {
		u, err := url.Parse(routeService)
		if err != nil || u.Host == "" || u.Scheme != "https" {
			return apierr.Unprocessable("Route service url must be an https URL")
		}
	}
	return nil
}

func paramsText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", apierr.Unprocessable("Parameters must be an object")
	}
	return string(raw), nil
}

func (c *Controller) createServiceInstance(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Type            string          `json:"type"`
		Name            string          `json:"name"`
		Tags            []string        `json:"tags"`
		Parameters      json.RawMessage `json:"parameters"`
		Credentials     json.RawMessage `json:"credentials"`
		SyslogDrainURL  string          `json:"syslog_drain_url"`
		RouteServiceURL string          `json:"route_service_url"`
		Relationships   struct {
			Space       relData `json:"space"`
			ServicePlan relData `json:"service_plan"`
		} `json:"relationships"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validateName("Name", body.Name); err != nil {
		return err
	}
	space, err := c.deps.Store.Spaces().Get(r.Context(), body.Relationships.Space.guid())
	if err != nil {
		return apierr.Unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
	}
	if err := c.checkSpace(r, space.GUID, apierr.Unprocessable("%s", msgInvalidSpace)); err != nil {
		return err
	}
	siTarget := func(si *store.ServiceInstance) eventTarget {
		return eventTarget{guid: si.GUID, typ: "service_instance", name: si.Name, space: space.GUID, org: space.OrgGUID}
	}
	si := &store.ServiceInstance{Meta: store.Meta{GUID: newGUID()}, Name: body.Name, SpaceGUID: space.GUID, Tags: body.Tags}
	switch body.Type {
	case store.InstanceUserProvided:
		si.Type = store.InstanceUserProvided
		if len(body.Credentials) > 0 && string(body.Credentials) != "null" {
			if err := json.Unmarshal(body.Credentials, &si.Credentials); err != nil {
				return apierr.Unprocessable("Credentials must be an object")
			}
		}
		if err := validateUPSURLs(body.SyslogDrainURL, body.RouteServiceURL); err != nil {
			return err
		}
		si.SyslogDrainURL, si.RouteServiceURL = body.SyslogDrainURL, body.RouteServiceURL
		si.LastOperation = lastOp(store.OpCreate, store.OpSucceeded, "Operation succeeded")
		err := c.deps.Store.InTx(r.Context(), func(tx store.Store) error {
			if err := tx.ServiceInstances().Create(r.Context(), si); err != nil {
				return instanceNameErr(err, si.Name)
			}
			return c.recordEvent(r.Context(), tx, "audit.user_provided_service_instance.create", siTarget(si),
				map[string]any{"request": map[string]any{"name": si.Name, "credentials": privateData}})
		})
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, c.pres.ServiceInstance(si))
	case store.InstanceManaged:
	default:
		return apierr.Unprocessable("Type must be one of 'managed', 'user-provided'")
	}
	si.Type = store.InstanceManaged
	if si.Parameters, err = paramsText(body.Parameters); err != nil {
		return err
	}
	invalidPlan := apierr.Unprocessable("Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.")
	v, err := c.loadCatalog(r.Context())
	if err != nil {
		return err
	}
	var plan *store.ServicePlan
	for _, p := range v.plans {
		if p.GUID == body.Relationships.ServicePlan.guid() {
			plan = p
		}
	}
	if plan == nil || !plan.Available || !v.offerings[plan.OfferingGUID].Available || !v.planVisible(plan, space.GUID, space.OrgGUID) {
		return invalidPlan
	}
	si.PlanGUID = plan.GUID
	si.LastOperation = lastOp(store.OpCreate, store.OpInProgress, "")
	err = c.deps.Store.InTx(r.Context(), func(tx store.Store) error {
		if err := c.checkServiceQuota(r.Context(), tx, space.GUID, plan.Free); err != nil {
			return err
		}
		if err := tx.ServiceInstances().Create(r.Context(), si); err != nil {
			return instanceNameErr(err, si.Name)
		}
		return c.recordEvent(r.Context(), tx, eventSICreate, siTarget(si),
			map[string]any{"request": map[string]any{"name": si.Name, "service_plan_guid": plan.GUID}})
	})
	if err != nil {
		return err
	}
	guid := si.GUID
	return c.serviceJob(w, r, "service_instance.create", "service_instances", guid,
		func(ctx context.Context, job string) ([]string, error) {
			return nil, c.provisionInstance(userCtx(ctx), job, guid)
		})
}

func instanceNameErr(err error, name string) error {
	if errors.Is(err, store.ErrDuplicate) {
		return &apierr.Error{Status: http.StatusUnprocessableEntity, Code: 60002, Title: "CF-ServiceInstanceNameTaken",
			Detail: fmt.Sprintf("The service instance name is taken: %s.", name)}
	}
	return err
}

// provisionInstance asks the broker for the instance and follows the
// operation to its end, recording it in last_operation.
func (c *Controller) provisionInstance(ctx context.Context, jobGUID, guid string) error {
	defer c.svc.locks.Lock(guid)()
	si, err := c.instanceRec(ctx, guid)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		e := brokerErr("create the service instance", err)
		desc := err.Error()
		if ae := apierr.As(e); ae != nil {
			desc = ae.Detail
		}
		c.setInstanceOp(ctx, guid, lastOp(store.OpCreate, store.OpFailed, desc))
		return e
	}
	c.setInstanceOp(ctx, guid, withJob(lastOp(store.OpCreate, store.OpInProgress, ""), jobGUID))
	pc, err := c.planCtx(ctx, si.PlanGUID)
	if err != nil {
		return fail(err)
	}
	octx, orgGUID, err := c.osbContext(ctx, si)
	if err != nil {
		return fail(err)
	}
	req := osb.ProvisionRequest{ServiceID: pc.offering.CatalogID, PlanID: pc.plan.CatalogID, Context: octx,
		OrganizationGUID: orgGUID, SpaceGUID: si.SpaceGUID}
	if si.Parameters != "" {
		req.Parameters = json.RawMessage(si.Parameters)
	}
	if pc.plan.MaintenanceVersion != "" {
		req.MaintenanceInfo = &osb.MaintenanceInfo{Version: pc.plan.MaintenanceVersion}
	}
	res, err := pc.client.Provision(ctx, si.GUID, req)
	if err != nil {
		return fail(err)
	}
	if res.DashboardURL != "" {
		_, _ = c.mutateInstance(ctx, guid, func(si *store.ServiceInstance) error {
			si.DashboardURL = res.DashboardURL
			return nil
		})
	}
	if !res.Async {
		c.setInstanceOp(ctx, guid, lastOp(store.OpCreate, store.OpSucceeded, "Operation succeeded"))
		return nil
	}
	return c.followInstanceOp(ctx, jobGUID, guid, store.OpCreate, pc, res.Operation, nil)
}

// followInstanceOp polls an asynchronous instance operation to its end;
// onSuccess runs (and may change the record) when it succeeded. A delete
// that succeeded (or is gone) deletes the record.
func (c *Controller) followInstanceOp(ctx context.Context, jobGUID, guid, typ string, pc *planContext, operation string, onSuccess func(si *store.ServiceInstance)) error {
	op := withJob(lastOp(typ, store.OpInProgress, ""), jobGUID)
	op.BrokerOperation = operation
	c.setInstanceOp(ctx, guid, op)
	if jobGUID != "" {
		c.markJobPolling(ctx, jobGUID)
	}
	lo, err := osbclient.Poll(ctx, c.pollOptions(func(lo osbclient.LastOperation) {
		if lo.Description != "" {
			p := withJob(lastOp(typ, store.OpInProgress, lo.Description), jobGUID)
			p.BrokerOperation = operation
			c.setInstanceOp(ctx, guid, p)
		}
	}), func(ctx context.Context) (osbclient.LastOperation, error) {
		return pc.client.InstanceLastOperation(ctx, guid, pc.offering.CatalogID, pc.plan.CatalogID, operation)
	})
	if typ == store.OpDelete && (errors.Is(err, osbclient.ErrGone) || err == nil && lo.State == osb.StateSucceeded) {
		return c.removeInstanceRecord(ctx, guid)
	}
	verb := map[string]string{store.OpCreate: "create", store.OpUpdate: "update", store.OpDelete: "delete"}[typ]
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: the operation is resumed on the next start
		}
		e := brokerErr(verb+" the service instance", err)
		desc := err.Error()
		if ae := apierr.As(e); ae != nil {
			desc = ae.Detail
		}
		c.setInstanceOp(ctx, guid, lastOp(typ, store.OpFailed, desc))
		return e
	}
	if lo.State == osb.StateFailed {
		c.setInstanceOp(ctx, guid, lastOp(typ, store.OpFailed, lo.Description))
		return &apierr.Error{Status: http.StatusBadGateway, Code: 10009, Title: "CF-ServiceInstanceOperationFailed",
			Detail: fmt.Sprintf("The service broker reported that the %s failed: %s", verb, lo.Description)}
	}
	_, err = c.mutateInstance(context.WithoutCancel(ctx), guid, func(si *store.ServiceInstance) error {
		si.LastOperation = lastOp(typ, store.OpSucceeded, orDefault(lo.Description, "Operation succeeded"))
		if onSuccess != nil {
			onSuccess(si)
		}
		return nil
	})
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// removeInstanceRecord deletes an instance and its binding records.
func (c *Controller) removeInstanceRecord(ctx context.Context, guid string) error {
	ctx = context.WithoutCancel(ctx)
	return c.deps.Store.InTx(ctx, func(tx store.Store) error {
		bs, err := tx.ServiceBindings().List(ctx, store.ListOptions{ServiceInstanceGUIDs: []string{guid}})
		if err != nil {
			return err
		}
		for _, b := range bs {
			if err := ignoreNotFound(tx.ServiceBindings().Delete(ctx, b.GUID)); err != nil {
				return err
			}
		}
		return ignoreNotFound(tx.ServiceInstances().Delete(ctx, guid))
	})
}

func (c *Controller) listServiceInstances(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opt := store.ListOptions{Names: filterValues(q, "names"), SpaceGUIDs: filterValues(q, "space_guids"),
		Types: filterValues(q, "type"), ServicePlanGUIDs: filterValues(q, "service_plan_guids")}
	if opt.SpaceGUIDs, err = c.restrictSpaces(r.Context(), opt.SpaceGUIDs); err != nil {
		return err
	}
	if orgs := filterValues(q, "organization_guids"); orgs != nil {
		ss, err := c.deps.Store.Spaces().List(r.Context(), store.ListOptions{OrgGUIDs: orgs})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, s := range ss {
			ids = append(ids, s.GUID)
		}
		opt.SpaceGUIDs = intersect(opt.SpaceGUIDs, ids)
	}
	if names := filterValues(q, "service_plan_names"); names != nil {
		ps, err := c.deps.Store.ServicePlans().List(r.Context(), store.ListOptions{Names: names})
		if err != nil {
			return err
		}
		opt.ServicePlanGUIDs = intersect(opt.ServicePlanGUIDs, planGUIDs(ps))
	}
	if (opt.SpaceGUIDs != nil && len(opt.SpaceGUIDs) == 0) || (opt.ServicePlanGUIDs != nil && len(opt.ServicePlanGUIDs) == 0) {
		return c.writeList(w, r, lp, 0, []any{}, nil)
	}
	sis, err := c.deps.Store.ServiceInstances().List(r.Context(), opt)
	if err != nil {
		return err
	}
	page, total := sortAndPage(sis, lp, func(si *store.ServiceInstance) *store.Meta { return &si.Meta },
		func(si *store.ServiceInstance) string { return si.Name })
	out := make([]*presenters.ServiceInstance, 0, len(page))
	for _, si := range page {
		out = append(out, c.pres.ServiceInstance(si))
	}
	return c.writeList(w, r, lp, total, out, c.instanceIncludes(r, page))
}

// instanceIncludes renders fields[service_plan]=guid,name and
// fields[service_plan.service_offering]=name (the cf CLI's services list).
func (c *Controller) instanceIncludes(r *http.Request, sis []*store.ServiceInstance) map[string]any {
	q := r.URL.Query()
	planFields, offFields := filterValues(q, "fields[service_plan]"), filterValues(q, "fields[service_plan.service_offering]")
	brokerFields := filterValues(q, "fields[service_plan.service_offering.service_broker]")
	if planFields == nil && offFields == nil && brokerFields == nil {
		return nil
	}
	v, err := c.loadCatalog(r.Context())
	if err != nil {
		return nil
	}
	plans, offs, brokers := []map[string]any{}, []map[string]any{}, []map[string]any{}
	seenP, seenO, seenB := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, si := range sis {
		for _, p := range v.plans {
			if p.GUID != si.PlanGUID || seenP[p.GUID] {
				continue
			}
			seenP[p.GUID] = true
			plans = append(plans, map[string]any{"guid": p.GUID, "name": p.Name,
				"relationships": map[string]any{"service_offering": presenters.Rel(p.OfferingGUID)}})
			if o := v.offerings[p.OfferingGUID]; o != nil && !seenO[o.GUID] {
				seenO[o.GUID] = true
				offs = append(offs, map[string]any{"guid": o.GUID, "name": o.Name,
					"relationships": map[string]any{"service_broker": presenters.Rel(o.BrokerGUID)}})
				if brokerFields != nil && o.BrokerGUID != "" && !seenB[o.BrokerGUID] {
					seenB[o.BrokerGUID] = true
					if b, err := c.deps.Store.ServiceBrokers().Get(r.Context(), o.BrokerGUID); err == nil {
						brokers = append(brokers, map[string]any{"guid": b.GUID, "name": b.Name})
					}
				}
			}
		}
	}
	out := map[string]any{"service_plans": plans, "service_offerings": offs}
	if brokerFields != nil {
		out["service_brokers"] = brokers
	}
	return out
}

func (c *Controller) getServiceInstance(w http.ResponseWriter, r *http.Request) error {
	si, err := c.instanceRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.pres.ServiceInstance(si))
}

func (c *Controller) getServiceInstanceCredentials(w http.ResponseWriter, r *http.Request) error {
	si, err := c.instanceRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if si.Type != store.InstanceUserProvided {
		return apierr.NotFound("Service instance")
	}
	creds := si.Credentials
	if creds == nil {
		creds = map[string]any{}
	}
	return writeJSON(w, http.StatusOK, creds)
}

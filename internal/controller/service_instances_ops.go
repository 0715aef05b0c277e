package controller

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
	"github.com/ingot-paas/ingot/internal/store"
)

func (c *Controller) updateServiceInstance(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name            *string          `json:"name"`
		Tags            *[]string        `json:"tags"`
		Parameters      json.RawMessage  `json:"parameters"`
		Credentials     *json.RawMessage `json:"credentials"`
		SyslogDrainURL  *string          `json:"syslog_drain_url"`
		RouteServiceURL *string          `json:"route_service_url"`
		Relationships   struct {
			ServicePlan *relData `json:"service_plan"`
		} `json:"relationships"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	si, err := c.instanceRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if si.LastOperation.State == store.OpInProgress {
		return operationInProgress(si.Name)
	}
	if body.Name != nil {
		if err := validateName("Name", *body.Name); err != nil {
			return err
		}
	}
	if si.Type == store.InstanceUserProvided {
		if body.Relationships.ServicePlan != nil || len(body.Parameters) > 0 {
			return apierr.Unprocessable("User-provided service instances have no plan or parameters")
		}
		var creds map[string]any
		if body.Credentials != nil {
			if err := json.Unmarshal(*body.Credentials, &creds); err != nil {
				return apierr.Unprocessable("Credentials must be an object")
			}
		}
		drain, rs := si.SyslogDrainURL, si.RouteServiceURL
		if body.SyslogDrainURL != nil {
			drain = *body.SyslogDrainURL
		}
		if body.RouteServiceURL != nil {
			rs = *body.RouteServiceURL
		}
		if err := validateUPSURLs(drain, rs); err != nil {
			return err
		}
		si, err = c.mutateInstance(r.Context(), si.GUID, func(si *store.ServiceInstance) error {
			if body.Name != nil {
				si.Name = *body.Name
			}
			if body.Tags != nil {
				si.Tags = *body.Tags
			}
			if body.Credentials != nil {
				si.Credentials = creds
			}
			si.SyslogDrainURL, si.RouteServiceURL = drain, rs
			si.LastOperation = lastOp(store.OpUpdate, store.OpSucceeded, "Operation succeeded")
			return nil
		})
		if err != nil {
			return instanceNameErr(err, *orDefaultPtr(body.Name, ""))
		}
		return writeJSON(w, http.StatusOK, c.pres.ServiceInstance(si))
	}
	if body.Credentials != nil || body.SyslogDrainURL != nil || body.RouteServiceURL != nil {
		return apierr.Unprocessable("Credentials, syslog drain and route service URLs belong to user-provided service instances")
	}
	params, err := paramsText(body.Parameters)
	if err != nil {
		return err
	}
	newPlan := ""
	if body.Relationships.ServicePlan != nil {
		newPlan = body.Relationships.ServicePlan.guid()
	}
	brokerCall := params != "" || (newPlan != "" && newPlan != si.PlanGUID)
	if newPlan != "" && newPlan != si.PlanGUID {
		space, err := c.spaceRec(r.Context(), si.SpaceGUID)
		if err != nil {
			return err
		}
		v, err := c.loadCatalog(r.Context())
		if err != nil {
			return err
		}
		var target, current *store.ServicePlan
		for _, p := range v.plans {
			switch p.GUID {
			case newPlan:
				target = p
			case si.PlanGUID:
				current = p
			}
		}
		if target == nil || !target.Available || !v.planVisible(target, space.GUID, space.OrgGUID) ||
			current == nil || target.OfferingGUID != current.OfferingGUID {
			return apierr.Unprocessable("Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.")
		}
		if !current.PlanUpdateable {
			return apierr.Unprocessable("The service does not support changing plans.")
		}
	}
	si, err = c.mutateInstance(r.Context(), si.GUID, func(si *store.ServiceInstance) error {
		if si.LastOperation.State == store.OpInProgress {
			return operationInProgress(si.Name)
		}
		if body.Name != nil {
			si.Name = *body.Name
		}
		if body.Tags != nil {
			si.Tags = *body.Tags
		}
		if brokerCall {
			si.LastOperation = lastOp(store.OpUpdate, store.OpInProgress, "")
		}
		return nil
	})
	if err != nil {
		return instanceNameErr(err, *orDefaultPtr(body.Name, ""))
	}
	if !brokerCall {
		return writeJSON(w, http.StatusOK, c.pres.ServiceInstance(si))
	}
	guid := si.GUID
	return c.serviceJob(w, r, "service_instance.update", "service_instances", guid,
		func(ctx context.Context, job string) ([]string, error) {
			return nil, c.updateInstanceAtBroker(userCtx(ctx), job, guid, newPlan, params)
		})
}

func orDefaultPtr(s *string, def string) *string {
	if s == nil {
		return &def
	}
	return s
}

func (c *Controller) updateInstanceAtBroker(ctx context.Context, jobGUID, guid, newPlan, params string) error {
	defer c.svc.locks.Lock(guid)()
	si, err := c.instanceRec(ctx, guid)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		e := brokerErr("update the service instance", err)
		desc := err.Error()
		if ae := apierr.As(e); ae != nil {
			desc = ae.Detail
		}
		c.setInstanceOp(ctx, guid, lastOp(store.OpUpdate, store.OpFailed, desc))
		return e
	}
	c.setInstanceOp(ctx, guid, withJob(lastOp(store.OpUpdate, store.OpInProgress, ""), jobGUID))
	pc, err := c.planCtx(ctx, si.PlanGUID)
	if err != nil {
		return fail(err)
	}
	octx, orgGUID, err := c.osbContext(ctx, si)
	if err != nil {
		return fail(err)
	}
	req := osb.UpdateRequest{ServiceID: pc.offering.CatalogID, Context: octx,
		PreviousValues: &osb.PreviousValues{ServiceID: pc.offering.CatalogID, PlanID: pc.plan.CatalogID,
			OrganizationID: orgGUID, SpaceID: si.SpaceGUID}}
	var target *store.ServicePlan
	if newPlan != "" && newPlan != si.PlanGUID {
		if target, err = c.deps.Store.ServicePlans().Get(ctx, newPlan); err != nil {
			return fail(err)
		}
		req.PlanID = target.CatalogID
	}
	if params != "" {
		req.Parameters = json.RawMessage(params)
	}
	apply := func(si *store.ServiceInstance) {
		if target != nil {
			si.PlanGUID = target.GUID
		}
		if params != "" {
			si.Parameters = params
		}
	}
	res, err := pc.client.Update(ctx, guid, req)
	if err != nil {
		return fail(err)
	}
	if !res.Async {
		_, err := c.mutateInstance(context.WithoutCancel(ctx), guid, func(si *store.ServiceInstance) error {
			apply(si)
			if res.DashboardURL != "" {
				si.DashboardURL = res.DashboardURL
			}
			si.LastOperation = lastOp(store.OpUpdate, store.OpSucceeded, "Operation succeeded")
			return nil
		})
		return err
	}
	return c.followInstanceOp(ctx, jobGUID, guid, store.OpUpdate, pc, res.Operation, apply)
}

func (c *Controller) deleteServiceInstance(w http.ResponseWriter, r *http.Request) error {
	si, err := c.instanceRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	purge, recursive := q.Get("purge") == "true", q.Get("recursive") == "true"
	bs, err := c.deps.Store.ServiceBindings().List(r.Context(), store.ListOptions{ServiceInstanceGUIDs: []string{si.GUID}})
	if err != nil {
		return err
	}
	if purge {
		if err := c.removeInstanceRecord(r.Context(), si.GUID); err != nil {
			return err
		}
		c.noteEvent(r.Context(), eventSIDelete, eventTarget{guid: si.GUID, typ: "service_instance", name: si.Name, space: si.SpaceGUID,
			org: c.orgOf(r.Context(), c.deps.Store, si.SpaceGUID)}, map[string]any{"request": map[string]any{"purge": purge, "recursive": recursive}})
		c.log.Info("service-instance-purged", "service_instance_guid", si.GUID, "bindings", len(bs))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if len(bs) > 0 && !recursive {
		return &apierr.Error{Status: http.StatusUnprocessableEntity, Code: 60004, Title: "CF-AssociationNotEmpty",
			Detail: "Cannot delete service instance " + si.Name + ": it has service bindings or service keys. " +
				"Unbind them and delete the keys first, or delete it recursively (ingot delete-service --force)."}
	}
	if si.LastOperation.State == store.OpInProgress && si.LastOperation.Type != store.OpCreate {
		return operationInProgress(si.Name)
	}
	c.noteEvent(r.Context(), eventSIDelete, eventTarget{guid: si.GUID, typ: "service_instance", name: si.Name, space: si.SpaceGUID,
		org: c.orgOf(r.Context(), c.deps.Store, si.SpaceGUID)}, map[string]any{"request": map[string]any{"purge": purge, "recursive": recursive}})
	if si.Type == store.InstanceUserProvided {
		if err := c.removeInstanceRecord(r.Context(), si.GUID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	guid := si.GUID
	return c.serviceJob(w, r, "service_instance.delete", "service_instances", guid,
		func(ctx context.Context, job string) ([]string, error) {
			ctx = userCtx(ctx)
			if recursive {
				bs, err := c.deps.Store.ServiceBindings().List(ctx, store.ListOptions{ServiceInstanceGUIDs: []string{guid}})
				if err != nil {
					return nil, err
				}
				for _, b := range bs {
					if err := c.unbindNow(ctx, "", b.GUID); err != nil {
						return nil, err
					}
				}
			}
			return nil, c.deprovisionInstance(ctx, job, guid)
		})
}

// deprovisionInstance deletes an instance at its broker and then its
// record; a broker that no longer knows the instance (410) counts as done.
func (c *Controller) deprovisionInstance(ctx context.Context, jobGUID, guid string) error {
	defer c.svc.locks.Lock(guid)()
	si, err := c.deps.Store.ServiceInstances().Get(ctx, guid)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	fail := func(err error) error {
		e := brokerErr("delete the service instance", err)
		desc := err.Error()
		if ae := apierr.As(e); ae != nil {
			desc = ae.Detail
		}
		c.setInstanceOp(ctx, guid, lastOp(store.OpDelete, store.OpFailed, desc))
		return e
	}
	c.setInstanceOp(ctx, guid, withJob(lastOp(store.OpDelete, store.OpInProgress, ""), jobGUID))
	pc, err := c.planCtx(ctx, si.PlanGUID)
	if err != nil {
		return fail(err)
	}
	res, err := pc.client.Deprovision(ctx, guid, pc.offering.CatalogID, pc.plan.CatalogID)
	if errors.Is(err, osbclient.ErrGone) || err == nil && !res.Async {
		return c.removeInstanceRecord(ctx, guid)
	}
	if err != nil {
		return fail(err)
	}
	return c.followInstanceOp(ctx, jobGUID, guid, store.OpDelete, pc, res.Operation, nil)
}

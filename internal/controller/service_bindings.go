package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

func (c *Controller) bindingRec(ctx context.Context, guid string) (*store.ServiceBinding, error) {
	b, err := c.deps.Store.ServiceBindings().Get(ctx, guid)
	return b, notFound(err, "Service credential binding")
}

func (c *Controller) mutateBinding(ctx context.Context, guid string, f func(b *store.ServiceBinding)) error {
	ctx = context.WithoutCancel(ctx)
	for attempt := 0; ; attempt++ {
		b, err := c.deps.Store.ServiceBindings().Get(ctx, guid)
		if err != nil {
			return err
		}
		f(b)
		err = c.deps.Store.ServiceBindings().Update(ctx, b)
		if err == nil || !isConflict(err) || attempt >= 5 {
			return err
		}
	}
}

func (c *Controller) createServiceBinding(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Type          string          `json:"type"`
		Name          string          `json:"name"`
		Parameters    json.RawMessage `json:"parameters"`
		Relationships struct {
			ServiceInstance relData `json:"service_instance"`
			App             relData `json:"app"`
		} `json:"relationships"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	si, err := c.deps.Store.ServiceInstances().Get(r.Context(), body.Relationships.ServiceInstance.guid())
	if err != nil {
		return apierr.Unprocessable("The service instance could not be found: %s", body.Relationships.ServiceInstance.guid())
	}
	if err := c.checkSpace(r, si.SpaceGUID, apierr.Unprocessable("The service instance could not be found: %s", si.GUID)); err != nil {
		return err
	}
	b := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: body.Type, Name: body.Name, ServiceInstanceGUID: si.GUID}
	switch body.Type {
	case store.BindingApp:
		app, err := c.deps.Store.Apps().Get(r.Context(), body.Relationships.App.guid())
		if err != nil || (app.SpaceGUID != si.SpaceGUID && !c.canSeeSpace(r.Context(), app.SpaceGUID)) {
			return apierr.Unprocessable("The app could not be found: %s", body.Relationships.App.guid())
		}
		if app.SpaceGUID != si.SpaceGUID {
			return apierr.Unprocessable("The service instance and the app are in different spaces.")
		}
		b.AppGUID = app.GUID
	case store.BindingKey:
		if err := validateName("Name", body.Name); err != nil {
			return err
		}
		if si.Type == store.InstanceUserProvided {
			return apierr.Unprocessable("Service credential bindings of type 'key' are not supported for user-provided service instances.")
		}
	default:
		return apierr.Unprocessable("Type must be one of 'app', 'key'")
	}
	if si.LastOperation.State == store.OpInProgress || (si.LastOperation.Type == store.OpCreate && si.LastOperation.State == store.OpFailed) {
		if si.LastOperation.State == store.OpInProgress {
			return operationInProgress(si.Name)
		}
		return apierr.Unprocessable("The service instance %s could not be created; it cannot be bound.", si.Name)
	}
	if b.Parameters, err = paramsText(body.Parameters); err != nil {
		return err
	}
	if si.Type == store.InstanceUserProvided {
		if b.Parameters != "" {
			return apierr.Unprocessable("Binding parameters are not supported for user-provided service instances.")
		}
		b.LastOperation = lastOp(store.OpCreate, store.OpSucceeded, "Operation succeeded")
		if err := c.deps.Store.ServiceBindings().Create(r.Context(), b); err != nil {
			return bindingDupErr(err, b)
		}
		return writeJSON(w, http.StatusCreated, c.pres.ServiceCredentialBinding(b))
	}
	pc, err := c.planCtx(r.Context(), si.PlanGUID)
	if err != nil {
		return err
	}
	if !pc.plan.Bindable {
		return apierr.Unprocessable("Service plan does not allow bindings.")
	}
	b.LastOperation = lastOp(store.OpCreate, store.OpInProgress, "")
	if err := c.deps.Store.ServiceBindings().Create(r.Context(), b); err != nil {
		return bindingDupErr(err, b)
	}
	guid := b.GUID
	return c.serviceJob(w, r, "service_bindings.create", "service_credential_binding", guid,
		func(ctx context.Context, job string) ([]string, error) {
			return nil, c.bindNow(userCtx(ctx), job, guid)
		})
}

func bindingDupErr(err error, b *store.ServiceBinding) error {
	if !errors.Is(err, store.ErrDuplicate) {
		return err
	}
	if b.Type == store.BindingKey {
		return apierr.Unprocessable("The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '%s'.", b.Name)
	}
	return &apierr.Error{Status: http.StatusUnprocessableEntity, Code: 90003, Title: "CF-ServiceBindingAppServiceTaken",
		Detail: "The app is already bound to the service instance."}
}

// bindNow asks the broker for a binding's credentials and records them. A
// synchronous failure removes the binding record (the broker cleans up by
// orphan mitigation where needed); an asynchronous one leaves it failed.
func (c *Controller) bindNow(ctx context.Context, jobGUID, guid string) error {
	b, err := c.bindingRec(ctx, guid)
	if err != nil {
		return err
	}
	si, err := c.instanceRec(ctx, b.ServiceInstanceGUID)
	if err != nil {
		return err
	}
	if err := c.mutateBinding(ctx, guid, func(b *store.ServiceBinding) {
		b.LastOperation = withJob(lastOp(store.OpCreate, store.OpInProgress, ""), jobGUID)
	}); err != nil {
		return err
	}
	drop := func(err error) error {
		if derr := c.deps.Store.ServiceBindings().Delete(context.WithoutCancel(ctx), guid); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			c.log.Error("service-binding-cleanup-failed", "service_binding_guid", guid, "error", derr)
		}
		return brokerErr("bind the service instance", err)
	}
	pc, err := c.planCtx(ctx, si.PlanGUID)
	if err != nil {
		return drop(err)
	}
	octx, _, err := c.osbContext(ctx, si)
	if err != nil {
		return drop(err)
	}
	req := osb.BindRequest{ServiceID: pc.offering.CatalogID, PlanID: pc.plan.CatalogID, Context: octx}
	if b.AppGUID != "" {
		req.AppGUID = b.AppGUID
		req.BindResource = &osb.BindResource{AppGUID: b.AppGUID}
	}
	if b.Parameters != "" {
		req.Parameters = json.RawMessage(b.Parameters)
	}
	res, err := pc.client.Bind(ctx, si.GUID, guid, req)
	if err != nil {
		return drop(err)
	}
	if !res.Async {
		return c.saveBinding(ctx, guid, &res.Binding)
	}
	return c.followBindOp(ctx, jobGUID, guid, store.OpCreate, pc, si.GUID, res.Operation)
}

func (c *Controller) saveBinding(ctx context.Context, guid string, br *osb.BindingResponse) error {
	return c.mutateBinding(ctx, guid, func(b *store.ServiceBinding) {
		b.Credentials, b.SyslogDrainURL = br.Credentials, br.SyslogDrainURL
		b.LastOperation = lastOp(store.OpCreate, store.OpSucceeded, "Operation succeeded")
	})
}

// followBindOp polls an asynchronous bind or unbind to its end.
func (c *Controller) followBindOp(ctx context.Context, jobGUID, guid, typ string, pc *planContext, siGUID, operation string) error {
	op := withJob(lastOp(typ, store.OpInProgress, ""), jobGUID)
	op.BrokerOperation = operation
	if err := c.mutateBinding(ctx, guid, func(b *store.ServiceBinding) { b.LastOperation = op }); err != nil {
		return err
	}
	if jobGUID != "" {
		c.markJobPolling(ctx, jobGUID)
	}
	lo, err := osbclient.Poll(ctx, c.pollOptions(nil), func(ctx context.Context) (osbclient.LastOperation, error) {
		return pc.client.BindingLastOperation(ctx, siGUID, guid, pc.offering.CatalogID, pc.plan.CatalogID, operation)
	})
	if typ == store.OpDelete && (errors.Is(err, osbclient.ErrGone) || err == nil && lo.State == osb.StateSucceeded) {
		return ignoreNotFound(c.deps.Store.ServiceBindings().Delete(context.WithoutCancel(ctx), guid))
	}
	verb := "bind"
	if typ == store.OpDelete {
		verb = "unbind"
	}
	if err == nil && lo.State == osb.StateSucceeded {
		br, ferr := pc.client.FetchBinding(ctx, siGUID, guid, pc.offering.CatalogID, pc.plan.CatalogID)
		if ferr == nil {
			return c.saveBinding(ctx, guid, br)
		}
		err = ferr
	}
	if err != nil && ctx.Err() != nil {
		return err
	}
	desc := ""
	if err != nil {
		desc = err.Error()
		if ae := apierr.As(brokerErr(verb, err)); ae != nil {
			desc = ae.Detail
		}
	} else {
		desc = lo.Description
	}
	_ = c.mutateBinding(ctx, guid, func(b *store.ServiceBinding) { b.LastOperation = lastOp(typ, store.OpFailed, desc) })
	return &apierr.Error{Status: http.StatusBadGateway, Code: 10009, Title: "CF-ServiceBindingOperationFailed",
		Detail: fmt.Sprintf("The service broker reported that the %s failed: %s", verb, desc)}
}

// unbindNow deletes a binding at its broker (managed instances) and then
// its record. jobGUID may be "".
func (c *Controller) unbindNow(ctx context.Context, jobGUID, guid string) error {
	b, err := c.deps.Store.ServiceBindings().Get(ctx, guid)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	si, err := c.deps.Store.ServiceInstances().Get(ctx, b.ServiceInstanceGUID)
	if errors.Is(err, store.ErrNotFound) || err == nil && si.Type == store.InstanceUserProvided {
		return ignoreNotFound(c.deps.Store.ServiceBindings().Delete(ctx, guid))
	}
	if err != nil {
		return err
	}
	fail := func(err error) error {
		e := brokerErr("unbind the service instance", err)
		desc := err.Error()
		if ae := apierr.As(e); ae != nil {
			desc = ae.Detail
		}
		_ = c.mutateBinding(ctx, guid, func(b *store.ServiceBinding) { b.LastOperation = lastOp(store.OpDelete, store.OpFailed, desc) })
		return e
	}
	if err := c.mutateBinding(ctx, guid, func(b *store.ServiceBinding) {
		b.LastOperation = withJob(lastOp(store.OpDelete, store.OpInProgress, ""), jobGUID)
	}); err != nil {
		return ignoreNotFound(err)
	}
	pc, err := c.planCtx(ctx, si.PlanGUID)
	if err != nil {
		return fail(err)
	}
	res, err := pc.client.Unbind(ctx, si.GUID, guid, pc.offering.CatalogID, pc.plan.CatalogID)
	if errors.Is(err, osbclient.ErrGone) || err == nil && !res.Async {
		return ignoreNotFound(c.deps.Store.ServiceBindings().Delete(context.WithoutCancel(ctx), guid))
	}
	if err != nil {
		return fail(err)
	}
	return c.followBindOp(ctx, jobGUID, guid, store.OpDelete, pc, si.GUID, res.Operation)
}

func (c *Controller) deleteServiceBinding(w http.ResponseWriter, r *http.Request) error {
	b, err := c.bindingRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	si, err := c.deps.Store.ServiceInstances().Get(r.Context(), b.ServiceInstanceGUID)
	if errors.Is(err, store.ErrNotFound) || err == nil && si.Type == store.InstanceUserProvided {
		if err := ignoreNotFound(c.deps.Store.ServiceBindings().Delete(r.Context(), b.GUID)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	if b.LastOperation.State == store.OpInProgress {
		return &apierr.Error{Status: http.StatusUnprocessableEntity, Code: 90008, Title: "CF-AsyncServiceBindingOperationInProgress",
			Detail: "An operation for the service binding between app and service instance " + si.Name + " is in progress."}
	}
	guid := b.GUID
	return c.serviceJob(w, r, "service_bindings.delete", "service_credential_binding", guid,
		func(ctx context.Context, job string) ([]string, error) {
			return nil, c.unbindNow(userCtx(ctx), job, guid)
		})
}

func (c *Controller) listServiceBindings(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opt := store.ListOptions{Names: filterValues(q, "names"), AppGUIDs: filterValues(q, "app_guids"),
		Types: filterValues(q, "type"), ServiceInstanceGUIDs: filterValues(q, "service_instance_guids")}
	if names := filterValues(q, "service_instance_names"); names != nil {
		sis, err := c.deps.Store.ServiceInstances().List(r.Context(), store.ListOptions{Names: names})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, si := range sis {
			ids = append(ids, si.GUID)
		}
		opt.ServiceInstanceGUIDs = intersect(opt.ServiceInstanceGUIDs, ids)
	}
	if names := filterValues(q, "app_names"); names != nil {
		apps, err := c.deps.Store.Apps().List(r.Context(), store.ListOptions{Names: names})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, a := range apps {
			ids = append(ids, a.GUID)
		}
		opt.AppGUIDs = intersect(opt.AppGUIDs, ids)
	}
	if !authzFrom(r.Context()).admin() {
		spaces, _, err := c.readableSpaces(r.Context())
		if err != nil {
			return err
		}
		var ids []string
		if len(spaces) > 0 {
			sis, err := c.deps.Store.ServiceInstances().List(r.Context(), store.ListOptions{SpaceGUIDs: spaces})
			if err != nil {
				return err
			}
			for _, si := range sis {
				ids = append(ids, si.GUID)
			}
		}
		opt.ServiceInstanceGUIDs = restrict(opt.ServiceInstanceGUIDs, ids, false)
	}
	if (opt.ServiceInstanceGUIDs != nil && len(opt.ServiceInstanceGUIDs) == 0) || (opt.AppGUIDs != nil && len(opt.AppGUIDs) == 0) {
		return c.writeList(w, r, lp, 0, []any{}, nil)
	}
	bs, err := c.deps.Store.ServiceBindings().List(r.Context(), opt)
	if err != nil {
		return err
	}
	page, total := sortAndPage(bs, lp, func(b *store.ServiceBinding) *store.Meta { return &b.Meta },
		func(b *store.ServiceBinding) string { return b.Name })
	out := make([]*presenters.ServiceCredentialBinding, 0, len(page))
	for _, b := range page {
		out = append(out, c.pres.ServiceCredentialBinding(b))
	}
	var included map[string]any
	if includes(r)["app"] {
		// The cf CLI's services list names the bound apps from here.
		apps := []map[string]any{}
		seen := map[string]bool{}
		for _, b := range page {
			if b.AppGUID == "" || seen[b.AppGUID] {
				continue
			}
			seen[b.AppGUID] = true
			if a, err := c.deps.Store.Apps().Get(r.Context(), b.AppGUID); err == nil {
				apps = append(apps, map[string]any{"guid": a.GUID, "name": a.Name,
					"relationships": map[string]any{"space": presenters.Rel(a.SpaceGUID)}})
			}
		}
		included = map[string]any{"apps": apps}
	}
	return c.writeList(w, r, lp, total, out, included)
}

func (c *Controller) getServiceBinding(w http.ResponseWriter, r *http.Request) error {
	b, err := c.bindingRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.pres.ServiceCredentialBinding(b))
}

func (c *Controller) getServiceBindingDetails(w http.ResponseWriter, r *http.Request) error {
	b, err := c.bindingRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	creds, drain := b.Credentials, b.SyslogDrainURL
	if si, err := c.deps.Store.ServiceInstances().Get(r.Context(), b.ServiceInstanceGUID); err == nil && si.Type == store.InstanceUserProvided {
		creds, drain = si.Credentials, si.SyslogDrainURL
	}
	if creds == nil {
		creds = map[string]any{}
	}
	out := map[string]any{"credentials": creds, "volume_mounts": volumeMounts(b.VolumeMounts)}
	if drain != "" {
		out["syslog_drain_url"] = drain
	}
	return writeJSON(w, http.StatusOK, out)
}

func volumeMounts(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage(`[]`)
	}
	return json.RawMessage(s)
}

package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/manifest"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
	"github.com/ingot-paas/ingot/internal/store"
)

// vcapServiceEntry is one binding in VCAP_SERVICES, in Cloud Foundry's
// shape (ccng's service_binding_presenter).
type vcapServiceEntry struct {
	Label          string          `json:"label"`
	Provider       *string         `json:"provider,omitempty"`
	Plan           string          `json:"plan,omitempty"`
	Name           string          `json:"name"`
	Tags           []string        `json:"tags"`
	InstanceGUID   string          `json:"instance_guid"`
	InstanceName   string          `json:"instance_name"`
	BindingGUID    string          `json:"binding_guid"`
	BindingName    *string         `json:"binding_name"`
	Credentials    map[string]any  `json:"credentials"`
	SyslogDrainURL *string         `json:"syslog_drain_url"`
	VolumeMounts   json.RawMessage `json:"volume_mounts"`
}

// serviceEnv is what an app's bindings add to its environment.
type serviceEnv struct {
	// VCAPServices maps a label to its bindings.
	VCAPServices map[string][]vcapServiceEntry
	// Env holds DATABASE_URL and REDIS_URL (from the first bound
	// PostgreSQL or MySQL, and Redis, service with a "uri" credential).
	Env map[string]string
}

// appServiceEnv builds an app's VCAP_SERVICES from its bindings whose
// creation succeeded, in binding order.
func (c *Controller) appServiceEnv(ctx context.Context, appGUID string) (*serviceEnv, error) {
	st := c.deps.Store
	out := &serviceEnv{VCAPServices: map[string][]vcapServiceEntry{}, Env: map[string]string{}}
	bs, err := st.ServiceBindings().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}, Types: []string{store.BindingApp}})
	if err != nil {
		return nil, fmt.Errorf("list bindings of app %s: %w", appGUID, err)
	}
	for _, b := range bs {
		if b.LastOperation.Type != store.OpCreate || b.LastOperation.State != store.OpSucceeded {
			continue
		}
		si, err := st.ServiceInstances().Get(ctx, b.ServiceInstanceGUID)
		if err != nil {
			continue // deleted concurrently
		}
		e := vcapServiceEntry{Name: si.Name, InstanceGUID: si.GUID, InstanceName: si.Name, BindingGUID: b.GUID,
			Tags: []string{}, VolumeMounts: volumeMounts(b.VolumeMounts)}
		if b.Name != "" {
			n := b.Name
			e.Name, e.BindingName = n, &n
		}
		creds, drain := b.Credentials, b.SyslogDrainURL
		if si.Type == store.InstanceUserProvided {
			e.Label = "user-provided"
			creds, drain = si.Credentials, si.SyslogDrainURL
		} else {
			p, err := st.ServicePlans().Get(ctx, si.PlanGUID)
			if err != nil {
				continue
			}
			o, err := st.ServiceOfferings().Get(ctx, p.OfferingGUID)
			if err != nil {
				continue
			}
			e.Label, e.Plan = o.Name, p.Name
			e.Tags = append(e.Tags, o.Tags...)
		}
		e.Tags = append(e.Tags, si.Tags...)
		if creds == nil {
			creds = map[string]any{}
		}
		e.Credentials = creds
		if drain != "" {
			e.SyslogDrainURL = &drain
		}
		out.VCAPServices[e.Label] = append(out.VCAPServices[e.Label], e)
		if uri, ok := creds["uri"].(string); ok {
			if u, err := url.Parse(uri); err == nil {
				switch strings.ToLower(u.Scheme) {
				case "postgres", "postgresql", "mysql", "mysql2":
					if out.Env["DATABASE_URL"] == "" {
						out.Env["DATABASE_URL"] = uri
					}
				case "redis", "rediss":
					if out.Env["REDIS_URL"] == "" {
						out.Env["REDIS_URL"] = uri
					}
				}
			}
		}
	}
	return out, nil
}

// JSON renders VCAP_SERVICES.
func (e *serviceEnv) JSON() json.RawMessage {
	b, err := json.Marshal(e.VCAPServices)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

// unbindApp removes every binding of an app (before the app is deleted).
func (c *Controller) unbindApp(ctx context.Context, appGUID string) error {
	bs, err := c.deps.Store.ServiceBindings().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}})
	if err != nil {
		return fmt.Errorf("list bindings of app %s: %w", appGUID, err)
	}
	for _, b := range bs {
		if err := c.unbindNow(ctx, "", b.GUID); err != nil {
			return fmt.Errorf("unbind app %s from service instance %s: %w", appGUID, b.ServiceInstanceGUID, err)
		}
	}
	return nil
}

// resumeServiceOperations follows, after a restart, the asynchronous
// broker operations a previous run was polling and finishes their jobs. An
// operation cut off before the broker answered is failed (a create is then
// orphan-mitigated and its record kept failed, so the user sees it; a bind
// record is dropped), except a delete, which is simply sent again.
func (c *Controller) resumeServiceOperations(ctx context.Context) {
	st := c.deps.Store
	lost := apierr.Unprocessable("The controller restarted before the service broker answered; try again")
	sis, err := st.ServiceInstances().List(ctx, store.ListOptions{Types: []string{store.InstanceManaged}})
	if err != nil {
		c.log.Error("service-resume-failed", "error", err)
		return
	}
	for _, si := range sis {
		op := si.LastOperation
		if op.State != store.OpInProgress {
			continue
		}
		guid, planGUID := si.GUID, si.PlanGUID
		if op.BrokerOperation == "" && op.Type != store.OpDelete {
			if op.Type == store.OpCreate {
				if pc, err := c.planCtx(ctx, planGUID); err == nil {
					c.svc.mitigator.Enqueue(osbclient.Task{Kind: osbclient.TaskDeprovision, Client: pc.client,
						InstanceID: guid, ServiceID: pc.offering.CatalogID, PlanID: pc.plan.CatalogID})
				}
			}
			c.setInstanceOp(ctx, guid, lastOp(op.Type, store.OpFailed, lost.Detail))
			c.finishResumedJob(ctx, op.JobGUID, lost)
			continue
		}
		c.resume(ctx, func(ctx context.Context) error {
			if op.BrokerOperation == "" { // an interrupted delete: send it again
				return c.deprovisionInstance(ctx, op.JobGUID, guid)
			}
			pc, err := c.planCtx(ctx, planGUID)
			if err != nil {
				return err
			}
			defer c.svc.locks.Lock(guid)()
			return c.followInstanceOp(ctx, op.JobGUID, guid, op.Type, pc, op.BrokerOperation, nil)
		}, op.JobGUID, "service_instance_guid", guid)
	}
	bs, err := st.ServiceBindings().List(ctx, store.ListOptions{})
	if err != nil {
		c.log.Error("service-resume-failed", "error", err)
		return
	}
	for _, b := range bs {
		op := b.LastOperation
		if op.State != store.OpInProgress {
			continue
		}
		guid, siGUID := b.GUID, b.ServiceInstanceGUID
		if op.Type == store.OpCreate && op.BrokerOperation == "" {
			if si, err := st.ServiceInstances().Get(ctx, siGUID); err == nil && si.Type == store.InstanceManaged {
				if pc, err := c.planCtx(ctx, si.PlanGUID); err == nil {
					c.svc.mitigator.Enqueue(osbclient.Task{Kind: osbclient.TaskUnbind, Client: pc.client, InstanceID: si.GUID,
						BindingID: guid, ServiceID: pc.offering.CatalogID, PlanID: pc.plan.CatalogID})
				}
			}
			_ = ignoreNotFound(st.ServiceBindings().Delete(ctx, guid))
			c.finishResumedJob(ctx, op.JobGUID, lost)
			continue
		}
		c.resume(ctx, func(ctx context.Context) error {
			if op.Type != store.OpCreate {
				return c.unbindNow(ctx, op.JobGUID, guid)
			}
			si, err := st.ServiceInstances().Get(ctx, siGUID)
			if err != nil {
				return err
			}
			pc, err := c.planCtx(ctx, si.PlanGUID)
			if err != nil {
				return err
			}
			return c.followBindOp(ctx, op.JobGUID, guid, store.OpCreate, pc, siGUID, op.BrokerOperation)
		}, op.JobGUID, "service_binding_guid", guid)
	}
}

// resume runs a resumed operation on the service pool and finishes its
// job.
func (c *Controller) resume(ctx context.Context, run func(ctx context.Context) error, jobGUID, key, guid string) {
	select { // resumes may wait for a slot
	case c.svc.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	c.goBackground(func(ctx context.Context) {
		defer func() { <-c.svc.sem }()
		err := run(ctx)
		if ctx.Err() != nil {
			return // stopping again: the next start resumes it
		}
		if err != nil {
			c.log.Warn("service-operation-resume-failed", key, guid, "error", err)
		} else {
			c.log.Info("service-operation-resumed", key, guid)
		}
		c.finishResumedJob(ctx, jobGUID, err)
	})
}

func (c *Controller) finishResumedJob(ctx context.Context, jobGUID string, err error) {
	if jobGUID != "" {
		c.finishJob(ctx, jobGUID, nil, err)
	}
}

// applyServices binds the service instances a manifest lists to its app
// (those already bound are left alone), synchronously, inside the
// apply_manifest job.
func (c *Controller) applyServices(ctx context.Context, spaceGUID string, ma *manifest.Application) error {
	if len(ma.Services) == 0 {
		return nil
	}
	st := c.deps.Store
	apps, err := st.Apps().List(ctx, store.ListOptions{Names: []string{ma.Name}, SpaceGUIDs: []string{spaceGUID}})
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return fmt.Errorf("app %s vanished while applying its manifest", ma.Name)
	}
	app := apps[0]
	for _, sb := range ma.Services {
		sis, err := st.ServiceInstances().List(ctx, store.ListOptions{Names: []string{sb.Name}, SpaceGUIDs: []string{spaceGUID}})
		if err != nil {
			return err
		}
		if len(sis) == 0 {
			return apierr.Unprocessable("Service instance '%s' not found", sb.Name)
		}
		si := sis[0]
		existing, err := st.ServiceBindings().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID},
			ServiceInstanceGUIDs: []string{si.GUID}, Types: []string{store.BindingApp}})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			continue
		}
		if op := si.LastOperation; (op.Type == store.OpCreate && op.State != store.OpSucceeded) || op.Type == store.OpDelete {
			return apierr.Unprocessable("Service instance '%s' is not ready to be bound (%s %s)", sb.Name,
				si.LastOperation.Type, si.LastOperation.State)
		}
		b := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingApp, Name: sb.BindingName,
			ServiceInstanceGUID: si.GUID, AppGUID: app.GUID}
		if sb.Parameters != nil {
			raw, err := json.Marshal(sb.Parameters)
			if err != nil {
				return apierr.Unprocessable("Parameters of service %s: %v", sb.Name, err)
			}
			b.Parameters = string(raw)
		}
		if si.Type == store.InstanceUserProvided {
			b.LastOperation = lastOp(store.OpCreate, store.OpSucceeded, "Operation succeeded")
			if err := st.ServiceBindings().Create(ctx, b); err != nil && !errors.Is(err, store.ErrDuplicate) {
				return err
			}
			continue
		}
		b.LastOperation = lastOp(store.OpCreate, store.OpInProgress, "")
		if err := st.ServiceBindings().Create(ctx, b); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				continue
			}
			return err
		}
		if err := c.bindNow(ctx, "", b.GUID); err != nil {
			return err
		}
	}
	return nil
}

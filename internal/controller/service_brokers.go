package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

func (c *Controller) serviceRoutes(h func(pattern string, mode authMode, f apiHandler)) {
	h("GET /v3/service_brokers", authBearer, c.listServiceBrokers)
	h("POST /v3/service_brokers", authBearer, c.createServiceBroker)
	h("GET /v3/service_brokers/{guid}", authBearer, c.getServiceBroker)
	h("PATCH /v3/service_brokers/{guid}", authBearer, c.updateServiceBroker)
	h("DELETE /v3/service_brokers/{guid}", authBearer, c.deleteServiceBroker)

	h("GET /v3/service_offerings", authBearer, c.listServiceOfferings)
	h("GET /v3/service_offerings/{guid}", authBearer, c.getServiceOffering)
	h("GET /v3/service_plans", authBearer, c.listServicePlans)
	h("GET /v3/service_plans/{guid}", authBearer, c.getServicePlan)
	h("GET /v3/service_plans/{guid}/visibility", authBearer, c.getPlanVisibility)
	h("PATCH /v3/service_plans/{guid}/visibility", authBearer, c.setPlanVisibility)
	h("POST /v3/service_plans/{guid}/visibility", authBearer, c.setPlanVisibility)

	h("GET /v3/service_instances", authBearer, c.listServiceInstances)
	h("POST /v3/service_instances", authBearer, c.createServiceInstance)
	h("GET /v3/service_instances/{guid}", authBearer, c.getServiceInstance)
	h("PATCH /v3/service_instances/{guid}", authBearer, c.updateServiceInstance)
	h("DELETE /v3/service_instances/{guid}", authBearer, c.deleteServiceInstance)
	h("GET /v3/service_instances/{guid}/credentials", authBearer, c.getServiceInstanceCredentials)

	h("GET /v3/service_credential_bindings", authBearer, c.listServiceBindings)
	h("POST /v3/service_credential_bindings", authBearer, c.createServiceBinding)
	h("GET /v3/service_credential_bindings/{guid}", authBearer, c.getServiceBinding)
	h("GET /v3/service_credential_bindings/{guid}/details", authBearer, c.getServiceBindingDetails)
	h("DELETE /v3/service_credential_bindings/{guid}", authBearer, c.deleteServiceBinding)
}

func (c *Controller) brokerRec(ctx context.Context, guid string) (*store.ServiceBroker, error) {
	b, err := c.deps.Store.ServiceBrokers().Get(ctx, guid)
	return b, notFound(err, "Service broker")
}

type brokerAuth struct {
	Type        string `json:"type"`
	Credentials struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"credentials"`
}

func validateBrokerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apierr.Unprocessable("Url must be a valid url")
	}
	if u.User != nil {
		return apierr.Unprocessable("Url must not contain credentials")
	}
	return nil
}

func validateBrokerAuth(a *brokerAuth) error {
	if a.Type != "basic" {
		return apierr.Unprocessable("Authentication type must be basic")
	}
	if a.Credentials.Username == "" || a.Credentials.Password == "" {
		return apierr.Unprocessable("Authentication credentials must include a username and a password")
	}
	return nil
}

func (c *Controller) createServiceBroker(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name           string      `json:"name"`
		URL            string      `json:"url"`
		Authentication *brokerAuth `json:"authentication"`
		Relationships  struct {
			Space struct {
				Data *struct {
					GUID string `json:"guid"`
				} `json:"data"`
			} `json:"space"`
		} `json:"relationships"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := validateName("Name", body.Name); err != nil {
		return err
	}
	if err := validateBrokerURL(body.URL); err != nil {
		return err
	}
	if body.Authentication == nil {
		return apierr.Unprocessable("Authentication must be an object")
	}
	if err := validateBrokerAuth(body.Authentication); err != nil {
		return err
	}
	b := &store.ServiceBroker{Meta: store.Meta{GUID: newGUID()}, Name: body.Name, URL: body.URL,
		Username: body.Authentication.Credentials.Username}
	if d := body.Relationships.Space.Data; d != nil {
		if _, err := c.spaceRec(r.Context(), d.GUID); err != nil {
			return apierr.Unprocessable("Invalid space. Ensure that the space exists and you have access to it.")
		}
		b.SpaceGUID = d.GUID
	}
	sealed, err := c.svc.seal(b.GUID, body.Authentication.Credentials.Password)
	if err != nil {
		return err
	}
	b.PasswordSealed = sealed
	if err := c.deps.Store.ServiceBrokers().Create(r.Context(), b); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return apierr.Unprocessable("Name must be unique")
		}
		return err
	}
	guid := b.GUID
	return c.serviceJob(w, r, "service_broker.catalog.synchronize", "service_broker", guid,
		func(ctx context.Context, _ string) ([]string, error) {
			warnings, err := c.syncCatalog(ctx, guid)
			if err != nil {
				// A broker whose first catalog fetch failed is not kept:
				// registering it again must be possible.
				if derr := c.deps.Store.ServiceBrokers().Delete(context.WithoutCancel(ctx), guid); derr != nil && !errors.Is(derr, store.ErrNotFound) {
					c.log.Error("service-broker-cleanup-failed", "service_broker_guid", guid, "error", derr)
				}
			}
			return warnings, err
		})
}

func (c *Controller) listServiceBrokers(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	bs, err := c.deps.Store.ServiceBrokers().List(r.Context(), store.ListOptions{
		Names: filterValues(q, "names"), SpaceGUIDs: filterValues(q, "space_guids")})
	if err != nil {
		return err
	}
	page, total := sortAndPage(bs, lp, func(b *store.ServiceBroker) *store.Meta { return &b.Meta },
		func(b *store.ServiceBroker) string { return b.Name })
	out := make([]*presenters.ServiceBroker, 0, len(page))
	for _, b := range page {
		out = append(out, c.pres.ServiceBroker(b))
	}
	return c.writeList(w, r, lp, total, out, nil)
}

func (c *Controller) getServiceBroker(w http.ResponseWriter, r *http.Request) error {
	b, err := c.brokerRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.pres.ServiceBroker(b))
}

func (c *Controller) updateServiceBroker(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name           *string     `json:"name"`
		URL            *string     `json:"url"`
		Authentication *brokerAuth `json:"authentication"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	b, err := c.brokerRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if body.Name != nil {
		if err := validateName("Name", *body.Name); err != nil {
			return err
		}
		b.Name = *body.Name
	}
	if body.URL != nil {
		if err := validateBrokerURL(*body.URL); err != nil {
			return err
		}
		b.URL = *body.URL
	}
	if body.Authentication != nil {
		if err := validateBrokerAuth(body.Authentication); err != nil {
			return err
		}
		b.Username = body.Authentication.Credentials.Username
		if b.PasswordSealed, err = c.svc.seal(b.GUID, body.Authentication.Credentials.Password); err != nil {
			return err
		}
	}
	if err := c.deps.Store.ServiceBrokers().Update(r.Context(), b); err != nil {
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return apierr.Unprocessable("Name must be unique")
		case errors.Is(err, store.ErrConflict):
			return apierr.Unprocessable("The service broker changed concurrently; try again")
		}
		return err
	}
	if body.URL == nil && body.Authentication == nil {
		return writeJSON(w, http.StatusOK, c.pres.ServiceBroker(b))
	}
	guid := b.GUID
	return c.serviceJob(w, r, "service_broker.update", "service_broker", guid,
		func(ctx context.Context, _ string) ([]string, error) { return c.syncCatalog(ctx, guid) })
}

func (c *Controller) deleteServiceBroker(w http.ResponseWriter, r *http.Request) error {
	b, err := c.brokerRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	plans, err := c.brokerPlans(r.Context(), b.GUID)
	if err != nil {
		return err
	}
	if len(plans) > 0 {
		sis, err := c.deps.Store.ServiceInstances().List(r.Context(), store.ListOptions{ServicePlanGUIDs: planGUIDs(plans)})
		if err != nil {
			return err
		}
		if len(sis) > 0 {
			return apierr.Unprocessable("Can not remove brokers that have associated service instances: %s", sis[0].Name)
		}
	}
	guid := b.GUID
	return c.serviceJob(w, r, "service_broker.delete", "service_broker", guid,
		func(ctx context.Context, _ string) ([]string, error) {
			return nil, c.deps.Store.InTx(ctx, func(tx store.Store) error {
				offs, err := tx.ServiceOfferings().List(ctx, store.ListOptions{ServiceBrokerGUIDs: []string{guid}})
				if err != nil {
					return err
				}
				for _, o := range offs {
					ps, err := tx.ServicePlans().List(ctx, store.ListOptions{ServiceOfferingGUIDs: []string{o.GUID}})
					if err != nil {
						return err
					}
					if len(ps) > 0 {
						sis, err := tx.ServiceInstances().List(ctx, store.ListOptions{ServicePlanGUIDs: planGUIDs(ps)})
						if err != nil {
							return err
						}
						if len(sis) > 0 {
							return apierr.Unprocessable("Can not remove brokers that have associated service instances: %s", sis[0].Name)
						}
					}
					for _, p := range ps {
						if err := ignoreNotFound(tx.ServicePlans().Delete(ctx, p.GUID)); err != nil {
							return err
						}
					}
					if err := ignoreNotFound(tx.ServiceOfferings().Delete(ctx, o.GUID)); err != nil {
						return err
					}
				}
				return ignoreNotFound(tx.ServiceBrokers().Delete(ctx, guid))
			})
		})
}

func planGUIDs(ps []*store.ServicePlan) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.GUID)
	}
	return out
}

// brokerPlans lists every plan of a broker's offerings.
func (c *Controller) brokerPlans(ctx context.Context, brokerGUID string) ([]*store.ServicePlan, error) {
	offs, err := c.deps.Store.ServiceOfferings().List(ctx, store.ListOptions{ServiceBrokerGUIDs: []string{brokerGUID}})
	if err != nil || len(offs) == 0 {
		return nil, err
	}
	ids := make([]string, 0, len(offs))
	for _, o := range offs {
		ids = append(ids, o.GUID)
	}
	return c.deps.Store.ServicePlans().List(ctx, store.ListOptions{ServiceOfferingGUIDs: ids})
}

func jsonText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return ""
	}
	return string(b)
}

// syncCatalog fetches a broker's catalog and makes its offerings and plans
// match: new ones are created (plans public), changed ones updated, and
// ones the catalog dropped are deleted, or marked unavailable while service
// instances still use them.
func (c *Controller) syncCatalog(ctx context.Context, brokerGUID string) ([]string, error) {
	b, err := c.brokerRec(ctx, brokerGUID)
	if err != nil {
		return nil, err
	}
	cl, err := c.brokerClient(b)
	if err != nil {
		return nil, err
	}
	cat, err := cl.Catalog(ctx)
	if err != nil {
		return nil, brokerErr("fetch the catalog", err)
	}
	var warnings []string
	err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
		warnings = nil
		offs, err := tx.ServiceOfferings().List(ctx, store.ListOptions{ServiceBrokerGUIDs: []string{brokerGUID}})
		if err != nil {
			return err
		}
		byID := map[string]*store.ServiceOffering{}
		for _, o := range offs {
			byID[o.CatalogID] = o
		}
		seen := map[string]bool{}
		for _, s := range cat.Services {
			seen[s.ID] = true
			o := byID[s.ID]
			isNew := o == nil
			if isNew {
				o = &store.ServiceOffering{Meta: store.Meta{GUID: newGUID()}, BrokerGUID: brokerGUID, CatalogID: s.ID}
			}
			o.Name, o.Description, o.Available, o.Bindable = s.Name, s.Description, true, s.Bindable
			o.PlanUpdateable, o.InstancesRetrievable, o.BindingsRetrievable = s.PlanUpdateable, s.InstancesRetrievable, s.BindingsRetrievable
			o.AllowContextUpdates, o.Tags, o.Requires = s.AllowContextUpdates, s.Tags, s.Requires
			o.Metadata = jsonText(s.Metadata)
			if doc, ok := s.Metadata["documentationUrl"].(string); ok {
				o.DocumentationURL = doc
			}
			if sh, ok := s.Metadata["shareable"].(bool); ok {
				o.Shareable = sh
			}
			if isNew {
				err = tx.ServiceOfferings().Create(ctx, o)
			} else {
				err = tx.ServiceOfferings().Update(ctx, o)
			}
			if err != nil {
				return fmt.Errorf("save offering %s: %w", s.Name, err)
			}
			ws, err := syncPlans(ctx, tx, o, s)
			if err != nil {
				return err
			}
			warnings = append(warnings, ws...)
		}
		for id, o := range byID {
			if seen[id] {
				continue
			}
			ws, err := syncPlans(ctx, tx, o, osb.Service{})
			if err != nil {
				return err
			}
			warnings = append(warnings, ws...)
			left, err := tx.ServicePlans().List(ctx, store.ListOptions{ServiceOfferingGUIDs: []string{o.GUID}})
			if err != nil {
				return err
			}
			if len(left) == 0 {
				if err := tx.ServiceOfferings().Delete(ctx, o.GUID); err != nil {
					return err
				}
				continue
			}
			o.Available = false
			if err := tx.ServiceOfferings().Update(ctx, o); err != nil {
				return err
			}
			warnings = append(warnings, fmt.Sprintf("Service offering %s was removed from the catalog but has service instances; it is now unavailable", o.Name))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("synchronize catalog of %s: %w", b.Name, err)
	}
	c.log.Info("service-broker-catalog-synchronized", "service_broker_guid", brokerGUID, "services", len(cat.Services))
	return warnings, nil
}

// syncPlans makes an offering's plans match s.Plans.
func syncPlans(ctx context.Context, tx store.Store, o *store.ServiceOffering, s osb.Service) ([]string, error) {
	plans, err := tx.ServicePlans().List(ctx, store.ListOptions{ServiceOfferingGUIDs: []string{o.GUID}})
	if err != nil {
		return nil, err
	}
	byID := map[string]*store.ServicePlan{}
	for _, p := range plans {
		byID[p.CatalogID] = p
	}
	seen := map[string]bool{}
	for _, cp := range s.Plans {
		seen[cp.ID] = true
		p := byID[cp.ID]
		isNew := p == nil
		if isNew {
			p = &store.ServicePlan{Meta: store.Meta{GUID: newGUID()}, OfferingGUID: o.GUID, CatalogID: cp.ID,
				VisibilityType: store.VisibilityPublic}
		}
		p.Name, p.Description, p.Available = cp.Name, cp.Description, true
		p.Free = cp.Free == nil || *cp.Free
		p.Bindable = s.Bindable
		if cp.Bindable != nil {
			p.Bindable = *cp.Bindable
		}
		p.PlanUpdateable = s.PlanUpdateable
		if cp.PlanUpdateable != nil {
			p.PlanUpdateable = *cp.PlanUpdateable
		}
		p.MaintenanceVersion = ""
		if cp.MaintenanceInfo != nil {
			p.MaintenanceVersion = cp.MaintenanceInfo.Version
		}
		p.Schemas, p.Metadata = jsonText(cp.Schemas), jsonText(cp.Metadata)
		if isNew {
			err = tx.ServicePlans().Create(ctx, p)
		} else {
			err = tx.ServicePlans().Update(ctx, p)
		}
		if err != nil {
			return nil, fmt.Errorf("save plan %s: %w", cp.Name, err)
		}
	}
	var warnings []string
	for id, p := range byID {
		if seen[id] {
			continue
		}
		sis, err := tx.ServiceInstances().List(ctx, store.ListOptions{ServicePlanGUIDs: []string{p.GUID}})
		if err != nil {
			return nil, err
		}
		if len(sis) == 0 {
			if err := tx.ServicePlans().Delete(ctx, p.GUID); err != nil {
				return nil, err
			}
			continue
		}
		p.Available = false
		if err := tx.ServicePlans().Update(ctx, p); err != nil {
			return nil, err
		}
		warnings = append(warnings, fmt.Sprintf("Service plan %s was removed from the catalog but has service instances; it is now unavailable", p.Name))
	}
	return warnings, nil
}

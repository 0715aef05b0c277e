package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Service instance and binding types.
const (
	ServiceInstanceManaged      = "managed"
	ServiceInstanceUserProvided = "user-provided"
	ServiceBindingApp           = "app"
	ServiceBindingKey           = "key"
)

// ServiceBroker is a registered service broker.
type ServiceBroker struct {
	GUID      string    `json:"guid"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	CreatedAt string    `json:"created_at"`
	Links     Links     `json:"links"`
	Rel       brokerRel `json:"relationships"`
}

type brokerRel struct {
	Space Relationship `json:"space"`
}

// Links maps link names to links.
type Links map[string]Link

// ServiceOffering is a service of a broker's catalog.
type ServiceOffering struct {
	GUID          string   `json:"guid"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Available     bool     `json:"available"`
	Tags          []string `json:"tags"`
	Relationships struct {
		ServiceBroker Relationship `json:"service_broker"`
	} `json:"relationships"`
}

// ServicePlan is a plan of an offering.
type ServicePlan struct {
	GUID           string `json:"guid"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	Free           bool   `json:"free"`
	Available      bool   `json:"available"`
	VisibilityType string `json:"visibility_type"`
	Relationships  struct {
		ServiceOffering Relationship `json:"service_offering"`
	} `json:"relationships"`
}

// LastOperation is an instance's or binding's last operation.
type LastOperation struct {
	Type        string `json:"type"`
	State       string `json:"state"`
	Description string `json:"description"`
	UpdatedAt   string `json:"updated_at"`
}

// ServiceInstance is a managed or user-provided service instance.
type ServiceInstance struct {
	GUID            string         `json:"guid"`
	Name            string         `json:"name"`
	Type            string         `json:"type"`
	Tags            []string       `json:"tags"`
	LastOperation   *LastOperation `json:"last_operation"`
	DashboardURL    *string        `json:"dashboard_url"`
	SyslogDrainURL  *string        `json:"syslog_drain_url"`
	RouteServiceURL *string        `json:"route_service_url"`
	Relationships   struct {
		Space       Relationship `json:"space"`
		ServicePlan Relationship `json:"service_plan"`
	} `json:"relationships"`
}

// ServiceCredentialBinding is an app binding or a service key.
type ServiceCredentialBinding struct {
	GUID          string         `json:"guid"`
	Name          *string        `json:"name"`
	Type          string         `json:"type"`
	LastOperation *LastOperation `json:"last_operation"`
	Relationships struct {
		App             *Relationship `json:"app"`
		ServiceInstance Relationship  `json:"service_instance"`
	} `json:"relationships"`
}

// ServiceBindingDetails is a binding's credentials.
type ServiceBindingDetails struct {
	Credentials    map[string]any `json:"credentials"`
	SyslogDrainURL string         `json:"syslog_drain_url"`
	VolumeMounts   []any          `json:"volume_mounts"`
}

type brokerAuthBody struct {
	Type        string `json:"type"`
	Credentials struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"credentials"`
}

func brokerAuth(user, pass string) *brokerAuthBody {
	a := &brokerAuthBody{Type: "basic"}
	a.Credentials.Username, a.Credentials.Password = user, pass
	return a
}

// CreateServiceBroker registers a broker and waits until its catalog is
// fetched.
func (c *Client) CreateServiceBroker(ctx context.Context, name, brokerURL, username, password string) error {
	body := struct {
		Name           string          `json:"name"`
		URL            string          `json:"url"`
		Authentication *brokerAuthBody `json:"authentication"`
	}{name, brokerURL, brokerAuth(username, password)}
	resp, err := c.send(ctx, http.MethodPost, "/v3/service_brokers", body, nil)
	if err != nil {
		return fmt.Errorf("create service broker: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// ListServiceBrokers lists every broker.
func (c *Client) ListServiceBrokers(ctx context.Context) ([]ServiceBroker, error) {
	return listAll[ServiceBroker](ctx, c, "/v3/service_brokers", nil)
}

// GetServiceBrokerByName finds a broker by name.
func (c *Client) GetServiceBrokerByName(ctx context.Context, name string) (*ServiceBroker, error) {
	return first[ServiceBroker](ctx, c, "/v3/service_brokers", url.Values{"names": {name}}, "Service broker", name)
}

// UpdateServiceBroker changes a broker's URL and credentials (and name,
// when newName is not "") and waits for the catalog refresh.
func (c *Client) UpdateServiceBroker(ctx context.Context, guid, newName, brokerURL, username, password string) error {
	body := map[string]any{"url": brokerURL, "authentication": brokerAuth(username, password)}
	if newName != "" {
		body["name"] = newName
	}
	resp, err := c.send(ctx, http.MethodPatch, "/v3/service_brokers/"+pathEscape(guid), body, nil)
	if err != nil {
		return fmt.Errorf("update service broker: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// DeleteServiceBroker deletes a broker and waits for the job.
func (c *Client) DeleteServiceBroker(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/service_brokers/"+pathEscape(guid), nil, nil)
	if err != nil {
		return fmt.Errorf("delete service broker: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// Marketplace is the plans usable in a space with their offerings and
// brokers.
type Marketplace struct {
	Plans     []ServicePlan
	Offerings map[string]ServiceOffering // by guid
	Brokers   map[string]string          // guid → name
}

// GetMarketplace fetches the marketplace as the cf CLI does.
func (c *Client) GetMarketplace(ctx context.Context, spaceGUID string) (*Marketplace, error) {
	q := url.Values{"available": {"true"}, "include": {"service_offering"},
		"fields[service_offering.service_broker]": {"name,guid"}, "per_page": {"5000"}}
	if spaceGUID != "" {
		q.Set("space_guids", spaceGUID)
	}
	var p struct {
		Resources []ServicePlan `json:"resources"`
		Included  struct {
			ServiceOfferings []ServiceOffering `json:"service_offerings"`
			ServiceBrokers   []struct {
				GUID string `json:"guid"`
				Name string `json:"name"`
			} `json:"service_brokers"`
		} `json:"included"`
	}
	if err := c.get(ctx, "/v3/service_plans", q, &p); err != nil {
		return nil, fmt.Errorf("get marketplace: %w", err)
	}
	m := &Marketplace{Plans: p.Resources, Offerings: map[string]ServiceOffering{}, Brokers: map[string]string{}}
	for _, o := range p.Included.ServiceOfferings {
		m.Offerings[o.GUID] = o
	}
	for _, b := range p.Included.ServiceBrokers {
		m.Brokers[b.GUID] = b.Name
	}
	return m, nil
}

// FindServicePlan finds a plan by offering and plan name.
func (c *Client) FindServicePlan(ctx context.Context, offering, plan string) (*ServicePlan, error) {
	return first[ServicePlan](ctx, c, "/v3/service_plans",
		url.Values{"names": {plan}, "service_offering_names": {offering}}, "Service plan", offering+" "+plan)
}

// GetServicePlan fetches a plan.
func (c *Client) GetServicePlan(ctx context.Context, guid string) (*ServicePlan, error) {
	var p ServicePlan
	if err := c.get(ctx, "/v3/service_plans/"+pathEscape(guid), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetServiceOffering fetches an offering.
func (c *Client) GetServiceOffering(ctx context.Context, guid string) (*ServiceOffering, error) {
	var o ServiceOffering
	if err := c.get(ctx, "/v3/service_offerings/"+pathEscape(guid), nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateServiceInstanceRequest describes a new instance: managed (PlanGUID,
// Parameters) or user-provided (Credentials, SyslogDrainURL,
// RouteServiceURL).
type CreateServiceInstanceRequest struct {
	Type            string
	Name            string
	SpaceGUID       string
	PlanGUID        string
	Parameters      map[string]any
	Tags            []string
	Credentials     map[string]any
	SyslogDrainURL  string
	RouteServiceURL string
}

// CreateServiceInstance creates an instance; for a managed one it waits
// for the creation job (the broker's operation).
func (c *Client) CreateServiceInstance(ctx context.Context, r CreateServiceInstanceRequest) error {
	rel := map[string]any{"space": To(r.SpaceGUID)}
	body := map[string]any{"type": r.Type, "name": r.Name, "relationships": rel}
	if r.Tags != nil {
		body["tags"] = r.Tags
	}
	if r.Type == ServiceInstanceManaged {
		rel["service_plan"] = To(r.PlanGUID)
		if r.Parameters != nil {
			body["parameters"] = r.Parameters
		}
	} else {
		body["credentials"] = r.Credentials
		if r.SyslogDrainURL != "" {
			body["syslog_drain_url"] = r.SyslogDrainURL
		}
		if r.RouteServiceURL != "" {
			body["route_service_url"] = r.RouteServiceURL
		}
	}
	resp, err := c.send(ctx, http.MethodPost, "/v3/service_instances", body, nil)
	if err != nil {
		return fmt.Errorf("create service instance: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// ListServiceInstances lists the instances of a space.
func (c *Client) ListServiceInstances(ctx context.Context, spaceGUID string) ([]ServiceInstance, error) {
	return listAll[ServiceInstance](ctx, c, "/v3/service_instances", url.Values{"space_guids": {spaceGUID}})
}

// GetServiceInstanceByName finds an instance of a space by name.
func (c *Client) GetServiceInstanceByName(ctx context.Context, spaceGUID, name string) (*ServiceInstance, error) {
	return first[ServiceInstance](ctx, c, "/v3/service_instances",
		url.Values{"names": {name}, "space_guids": {spaceGUID}}, "Service instance", name)
}

// DeleteServiceInstance deletes an instance (with recursive, its bindings
// and keys first) and waits for the job.
func (c *Client) DeleteServiceInstance(ctx context.Context, guid string, recursive bool) error {
	var q url.Values
	if recursive {
		q = url.Values{"recursive": {"true"}}
	}
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: "/v3/service_instances/" + pathEscape(guid), query: q}, nil)
	if err != nil {
		return fmt.Errorf("delete service instance: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// CreateServiceBinding binds an app (appGUID set, type app) or creates a
// key (name set, type key) and waits for the job.
func (c *Client) CreateServiceBinding(ctx context.Context, typ, name, instanceGUID, appGUID string, params map[string]any) error {
	rel := map[string]any{"service_instance": To(instanceGUID)}
	if appGUID != "" {
		rel["app"] = To(appGUID)
	}
	body := map[string]any{"type": typ, "relationships": rel}
	if name != "" {
		body["name"] = name
	}
	if params != nil {
		body["parameters"] = params
	}
	resp, err := c.send(ctx, http.MethodPost, "/v3/service_credential_bindings", body, nil)
	if err != nil {
		return fmt.Errorf("create service binding: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// ServiceBindingFilter narrows ListServiceBindings.
type ServiceBindingFilter struct {
	Type          string
	Name          string
	InstanceGUIDs []string
	AppGUIDs      []string
}

// ListServiceBindings lists bindings and keys.
func (c *Client) ListServiceBindings(ctx context.Context, f ServiceBindingFilter) ([]ServiceCredentialBinding, error) {
	q := url.Values{}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.Name != "" {
		q.Set("names", f.Name)
	}
	if len(f.InstanceGUIDs) > 0 {
		q.Set("service_instance_guids", joinGUIDs(f.InstanceGUIDs))
	}
	if len(f.AppGUIDs) > 0 {
		q.Set("app_guids", joinGUIDs(f.AppGUIDs))
	}
	return listAll[ServiceCredentialBinding](ctx, c, "/v3/service_credential_bindings", q)
}

// DeleteServiceBinding unbinds (or deletes a key) and waits for the job.
func (c *Client) DeleteServiceBinding(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/service_credential_bindings/"+pathEscape(guid), nil, nil)
	if err != nil {
		return fmt.Errorf("delete service binding: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// GetServiceBindingDetails fetches a binding's credentials.
func (c *Client) GetServiceBindingDetails(ctx context.Context, guid string) (*ServiceBindingDetails, error) {
	var d ServiceBindingDetails
	if err := c.get(ctx, "/v3/service_credential_bindings/"+pathEscape(guid)+"/details", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ParseJSONObject parses a -c/-p argument: a JSON object.
func ParseJSONObject(s string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, fmt.Errorf("invalid JSON object %q: it must be an object like '{\"key\":\"value\"}'", s)
	}
	return m, nil
}

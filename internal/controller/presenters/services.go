package presenters

import (
	"encoding/json"

	"github.com/ingot-paas/ingot/internal/store"
)

// ServiceBroker is a v3 service broker.
type ServiceBroker struct {
	GUID          string `json:"guid"`
	Name          string `json:"name"`
	URL           string `json:"url"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Relationships struct {
		Space ToOne `json:"space"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// ServiceBroker presents a broker (never its credentials).
func (p Presenter) ServiceBroker(b *store.ServiceBroker) *ServiceBroker {
	out := &ServiceBroker{GUID: b.GUID, Name: b.Name, URL: b.URL, CreatedAt: Time(b.CreatedAt), UpdatedAt: Time(b.UpdatedAt),
		Metadata: emptyMetadata(), Links: Links{
			"self":              p.link("/v3/service_brokers/" + b.GUID),
			"service_offerings": p.link("/v3/service_offerings?service_broker_guids=" + b.GUID),
		}}
	out.Relationships.Space = Rel(b.SpaceGUID)
	if b.SpaceGUID != "" {
		out.Links["space"] = p.link("/v3/spaces/" + b.SpaceGUID)
	}
	return out
}

// rawObject returns a JSON object for a stored JSON text ("{}" when empty).
func rawObject(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(s)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ServiceOffering is a v3 service offering.
type ServiceOffering struct {
	GUID             string   `json:"guid"`
	Name             string   `json:"name"`
	Description      string   `json:"description"`
	Available        bool     `json:"available"`
	Tags             []string `json:"tags"`
	Requires         []string `json:"requires"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
	Shareable        bool     `json:"shareable"`
	DocumentationURL *string  `json:"documentation_url"`
	BrokerCatalog    struct {
		ID       string          `json:"id"`
		Metadata json.RawMessage `json:"metadata"`
		Features struct {
			PlanUpdateable       bool `json:"plan_updateable"`
			Bindable             bool `json:"bindable"`
			InstancesRetrievable bool `json:"instances_retrievable"`
			BindingsRetrievable  bool `json:"bindings_retrievable"`
			AllowContextUpdates  bool `json:"allow_context_updates"`
		} `json:"features"`
	} `json:"broker_catalog"`
	Relationships struct {
		ServiceBroker ToOne `json:"service_broker"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// ServiceOffering presents an offering.
func (p Presenter) ServiceOffering(o *store.ServiceOffering) *ServiceOffering {
	out := &ServiceOffering{GUID: o.GUID, Name: o.Name, Description: o.Description, Available: o.Available,
		Tags: nonNil(o.Tags), Requires: nonNil(o.Requires), CreatedAt: Time(o.CreatedAt), UpdatedAt: Time(o.UpdatedAt),
		Shareable: o.Shareable, Metadata: emptyMetadata(), Links: Links{
			"self":           p.link("/v3/service_offerings/" + o.GUID),
			"service_plans":  p.link("/v3/service_plans?service_offering_guids=" + o.GUID),
			"service_broker": p.link("/v3/service_brokers/" + o.BrokerGUID),
		}}
	if o.DocumentationURL != "" {
		u := o.DocumentationURL
		out.DocumentationURL = &u
	}
	out.BrokerCatalog.ID = o.CatalogID
	out.BrokerCatalog.Metadata = rawObject(o.Metadata)
	f := &out.BrokerCatalog.Features
	f.PlanUpdateable, f.Bindable, f.InstancesRetrievable = o.PlanUpdateable, o.Bindable, o.InstancesRetrievable
	f.BindingsRetrievable, f.AllowContextUpdates = o.BindingsRetrievable, o.AllowContextUpdates
	out.Relationships.ServiceBroker = Rel(o.BrokerGUID)
	return out
}

// MaintenanceInfo is a plan's or instance's maintenance_info.
type MaintenanceInfo struct {
	Version     string `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
}

// ServicePlan is a v3 service plan.
type ServicePlan struct {
	GUID            string          `json:"guid"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	VisibilityType  string          `json:"visibility_type"`
	Available       bool            `json:"available"`
	Free            bool            `json:"free"`
	Costs           []any           `json:"costs"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	MaintenanceInfo MaintenanceInfo `json:"maintenance_info"`
	BrokerCatalog   struct {
		ID                     string          `json:"id"`
		Metadata               json.RawMessage `json:"metadata"`
		MaximumPollingDuration *int            `json:"maximum_polling_duration"`
		Features               struct {
			PlanUpdateable bool `json:"plan_updateable"`
			Bindable       bool `json:"bindable"`
		} `json:"features"`
	} `json:"broker_catalog"`
	Schemas       json.RawMessage `json:"schemas"`
	Relationships struct {
		ServiceOffering ToOne `json:"service_offering"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// ServicePlan presents a plan.
func (p Presenter) ServicePlan(pl *store.ServicePlan) *ServicePlan {
	out := &ServicePlan{GUID: pl.GUID, Name: pl.Name, Description: pl.Description, VisibilityType: pl.VisibilityType,
		Available: pl.Available, Free: pl.Free, Costs: []any{}, CreatedAt: Time(pl.CreatedAt), UpdatedAt: Time(pl.UpdatedAt),
		MaintenanceInfo: MaintenanceInfo{Version: pl.MaintenanceVersion}, Schemas: rawObject(pl.Schemas),
		Metadata: emptyMetadata(), Links: Links{
			"self":             p.link("/v3/service_plans/" + pl.GUID),
			"service_offering": p.link("/v3/service_offerings/" + pl.OfferingGUID),
			"visibility":       p.link("/v3/service_plans/" + pl.GUID + "/visibility"),
		}}
	out.BrokerCatalog.ID = pl.CatalogID
	out.BrokerCatalog.Metadata = rawObject(pl.Metadata)
	out.BrokerCatalog.Features.PlanUpdateable, out.BrokerCatalog.Features.Bindable = pl.PlanUpdateable, pl.Bindable
	out.Relationships.ServiceOffering = Rel(pl.OfferingGUID)
	return out
}

// LastOperation is an instance's or binding's last_operation.
type LastOperation struct {
	Type        string `json:"type"`
	State       string `json:"state"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

func lastOperation(o store.LastOperation, m store.Meta) *LastOperation {
	if o.Type == "" {
		return nil
	}
	at := m.UpdatedAt
	if !o.UpdatedAt.IsZero() {
		at = o.UpdatedAt
	}
	return &LastOperation{Type: o.Type, State: o.State, Description: o.Description, CreatedAt: Time(at), UpdatedAt: Time(at)}
}

// ServiceInstance is a v3 service instance.
type ServiceInstance struct {
	GUID             string           `json:"guid"`
	CreatedAt        string           `json:"created_at"`
	UpdatedAt        string           `json:"updated_at"`
	Name             string           `json:"name"`
	Type             string           `json:"type"`
	Tags             []string         `json:"tags"`
	LastOperation    *LastOperation   `json:"last_operation"`
	SyslogDrainURL   *string          `json:"syslog_drain_url,omitempty"`
	RouteServiceURL  *string          `json:"route_service_url,omitempty"`
	DashboardURL     *string          `json:"dashboard_url,omitempty"`
	MaintenanceInfo  *MaintenanceInfo `json:"maintenance_info,omitempty"`
	UpgradeAvailable *bool            `json:"upgrade_available,omitempty"`
	Relationships    struct {
		Space       ToOne  `json:"space"`
		ServicePlan *ToOne `json:"service_plan,omitempty"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ServiceInstance presents a managed or user-provided instance (never its
// credentials).
func (p Presenter) ServiceInstance(si *store.ServiceInstance) *ServiceInstance {
	base := "/v3/service_instances/" + si.GUID
	out := &ServiceInstance{GUID: si.GUID, CreatedAt: Time(si.CreatedAt), UpdatedAt: Time(si.UpdatedAt), Name: si.Name,
		Type: si.Type, Tags: nonNil(si.Tags), LastOperation: lastOperation(si.LastOperation, si.Meta),
		Metadata: emptyMetadata(), Links: Links{
			"self":                        p.link(base),
			"space":                       p.link("/v3/spaces/" + si.SpaceGUID),
			"service_credential_bindings": p.link("/v3/service_credential_bindings?service_instance_guids=" + si.GUID),
		}}
	out.Relationships.Space = Rel(si.SpaceGUID)
	if si.Type == store.InstanceUserProvided {
		drain, rs := si.SyslogDrainURL, si.RouteServiceURL
		out.SyslogDrainURL, out.RouteServiceURL = &drain, &rs
		out.Links["credentials"] = p.link(base + "/credentials")
	} else {
		no := false
		rel := Rel(si.PlanGUID)
		out.Relationships.ServicePlan = &rel
		out.DashboardURL = strPtr(si.DashboardURL)
		out.MaintenanceInfo = &MaintenanceInfo{}
		out.UpgradeAvailable = &no
		out.Links["service_plan"] = p.link("/v3/service_plans/" + si.PlanGUID)
		out.Links["parameters"] = p.link(base + "/parameters")
	}
	return out
}

// ServiceCredentialBinding is a v3 service credential binding.
type ServiceCredentialBinding struct {
	GUID          string         `json:"guid"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	Name          *string        `json:"name"`
	Type          string         `json:"type"`
	LastOperation *LastOperation `json:"last_operation"`
	Relationships struct {
		App             *ToOne `json:"app,omitempty"`
		ServiceInstance ToOne  `json:"service_instance"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// ServiceCredentialBinding presents a binding (never its credentials).
func (p Presenter) ServiceCredentialBinding(b *store.ServiceBinding) *ServiceCredentialBinding {
	base := "/v3/service_credential_bindings/" + b.GUID
	out := &ServiceCredentialBinding{GUID: b.GUID, CreatedAt: Time(b.CreatedAt), UpdatedAt: Time(b.UpdatedAt),
		Name: strPtr(b.Name), Type: b.Type, LastOperation: lastOperation(b.LastOperation, b.Meta),
		Metadata: emptyMetadata(), Links: Links{
			"self":             p.link(base),
			"details":          p.link(base + "/details"),
			"service_instance": p.link("/v3/service_instances/" + b.ServiceInstanceGUID),
		}}
	out.Relationships.ServiceInstance = Rel(b.ServiceInstanceGUID)
	if b.Type == store.BindingApp {
		rel := Rel(b.AppGUID)
		out.Relationships.App = &rel
		out.Links["app"] = p.link("/v3/apps/" + b.AppGUID)
	}
	return out
}

package sqlstore

import (
	"github.com/ingot-paas/ingot/internal/store"
)

// Services: brokers, offerings, plans, instances and credential bindings.

// finishData wraps dataScan's decoder with a function that copies the
// decoded data into the record.
func finishData(fin func() error, apply func()) func() error {
	return func() error {
		if err := fin(); err != nil {
			return err
		}
		apply()
		return nil
	}
}

type lastOpData struct {
	Type            string `json:"type"`
	State           string `json:"state"`
	Description     string `json:"description"`
	BrokerOperation string `json:"broker_operation"`
	JobGUID         string `json:"job_guid,omitempty"`
	UpdatedAt       int64  `json:"updated_at"`
}

func toLastOpData(o store.LastOperation) lastOpData {
	d := lastOpData{Type: o.Type, State: o.State, Description: o.Description, BrokerOperation: o.BrokerOperation, JobGUID: o.JobGUID}
	if !o.UpdatedAt.IsZero() {
		d.UpdatedAt = toNanos(o.UpdatedAt)
	}
	return d
}

func (d lastOpData) op() store.LastOperation {
	o := store.LastOperation{Type: d.Type, State: d.State, Description: d.Description, BrokerOperation: d.BrokerOperation, JobGUID: d.JobGUID}
	if d.UpdatedAt != 0 {
		o.UpdatedAt = fromNanos(d.UpdatedAt)
	}
	return o
}

type brokerData struct {
	URL            string `json:"url"`
	Username       string `json:"username"`
	PasswordSealed string `json:"password_sealed"`
}

var serviceBrokerTable = &table[store.ServiceBroker]{
	name: "service_brokers", what: "service broker",
	cols: []string{"name", "space_guid", "data"},
	meta: func(r *store.ServiceBroker) *store.Meta { return &r.Meta },
	values: func(r *store.ServiceBroker) ([]any, error) {
		d, err := jsonCol(brokerData{URL: r.URL, Username: r.Username, PasswordSealed: r.PasswordSealed})
		return []any{r.Name, r.SpaceGUID, d}, err
	},
	scan: func(r *store.ServiceBroker) ([]any, func() error) {
		var d brokerData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.SpaceGUID, p}, finishData(fin, func() {
			r.URL, r.Username, r.PasswordSealed = d.URL, d.Username, d.PasswordSealed
		})
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"space_guid", o.SpaceGUIDs}}
	},
}

type offeringData struct {
	Description          string   `json:"description"`
	Available            bool     `json:"available"`
	Bindable             bool     `json:"bindable"`
	PlanUpdateable       bool     `json:"plan_updateable"`
	InstancesRetrievable bool     `json:"instances_retrievable"`
	BindingsRetrievable  bool     `json:"bindings_retrievable"`
	AllowContextUpdates  bool     `json:"allow_context_updates"`
	Tags                 []string `json:"tags"`
	Requires             []string `json:"requires"`
	Shareable            bool     `json:"shareable"`
	DocumentationURL     string   `json:"documentation_url"`
	Metadata             string   `json:"metadata"`
}

var serviceOfferingTable = &table[store.ServiceOffering]{
	name: "service_offerings", what: "service offering",
	cols: []string{"name", "broker_guid", "catalog_id", "data"},
	meta: func(r *store.ServiceOffering) *store.Meta { return &r.Meta },
	values: func(r *store.ServiceOffering) ([]any, error) {
		d, err := jsonCol(offeringData{Description: r.Description, Available: r.Available, Bindable: r.Bindable,
			PlanUpdateable: r.PlanUpdateable, InstancesRetrievable: r.InstancesRetrievable,
			BindingsRetrievable: r.BindingsRetrievable, AllowContextUpdates: r.AllowContextUpdates,
			Tags: r.Tags, Requires: r.Requires, Shareable: r.Shareable, DocumentationURL: r.DocumentationURL,
			Metadata: r.Metadata})
		return []any{r.Name, r.BrokerGUID, r.CatalogID, d}, err
	},
	scan: func(r *store.ServiceOffering) ([]any, func() error) {
		var d offeringData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.BrokerGUID, &r.CatalogID, p}, finishData(fin, func() {
			r.Description, r.Available, r.Bindable = d.Description, d.Available, d.Bindable
			r.PlanUpdateable, r.InstancesRetrievable = d.PlanUpdateable, d.InstancesRetrievable
			r.BindingsRetrievable, r.AllowContextUpdates = d.BindingsRetrievable, d.AllowContextUpdates
			r.Tags, r.Requires, r.Shareable = d.Tags, d.Requires, d.Shareable
			r.DocumentationURL, r.Metadata = d.DocumentationURL, d.Metadata
		})
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"broker_guid", o.ServiceBrokerGUIDs}}
	},
}

type planData struct {
	Description        string   `json:"description"`
	Free               bool     `json:"free"`
	Bindable           bool     `json:"bindable"`
	PlanUpdateable     bool     `json:"plan_updateable"`
	Available          bool     `json:"available"`
	VisibilityType     string   `json:"visibility_type"`
	VisibleOrgGUIDs    []string `json:"visible_org_guids"`
	MaintenanceVersion string   `json:"maintenance_version"`
	Schemas            string   `json:"schemas"`
	Metadata           string   `json:"metadata"`
}

var servicePlanTable = &table[store.ServicePlan]{
	name: "service_plans", what: "service plan",
	cols: []string{"name", "offering_guid", "catalog_id", "data"},
	meta: func(r *store.ServicePlan) *store.Meta { return &r.Meta },
	values: func(r *store.ServicePlan) ([]any, error) {
		d, err := jsonCol(planData{Description: r.Description, Free: r.Free, Bindable: r.Bindable,
			PlanUpdateable: r.PlanUpdateable, Available: r.Available, VisibilityType: r.VisibilityType,
			VisibleOrgGUIDs: r.VisibleOrgGUIDs, MaintenanceVersion: r.MaintenanceVersion,
			Schemas: r.Schemas, Metadata: r.Metadata})
		return []any{r.Name, r.OfferingGUID, r.CatalogID, d}, err
	},
	scan: func(r *store.ServicePlan) ([]any, func() error) {
		var d planData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.OfferingGUID, &r.CatalogID, p}, finishData(fin, func() {
			r.Description, r.Free, r.Bindable = d.Description, d.Free, d.Bindable
			r.PlanUpdateable, r.Available, r.VisibilityType = d.PlanUpdateable, d.Available, d.VisibilityType
			r.VisibleOrgGUIDs, r.MaintenanceVersion = d.VisibleOrgGUIDs, d.MaintenanceVersion
			r.Schemas, r.Metadata = d.Schemas, d.Metadata
		})
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"offering_guid", o.ServiceOfferingGUIDs}}
	},
}

type instanceData struct {
	Tags            []string       `json:"tags"`
	Credentials     map[string]any `json:"credentials"`
	SyslogDrainURL  string         `json:"syslog_drain_url"`
	RouteServiceURL string         `json:"route_service_url"`
	DashboardURL    string         `json:"dashboard_url"`
	Parameters      string         `json:"parameters"`
	LastOperation   lastOpData     `json:"last_operation"`
}

var serviceInstanceTable = &table[store.ServiceInstance]{
	name: "service_instances", what: "service instance",
	cols: []string{"name", "space_guid", "type", "plan_guid", "data"},
	meta: func(r *store.ServiceInstance) *store.Meta { return &r.Meta },
	values: func(r *store.ServiceInstance) ([]any, error) {
		d, err := jsonCol(instanceData{Tags: r.Tags, Credentials: r.Credentials, SyslogDrainURL: r.SyslogDrainURL,
			RouteServiceURL: r.RouteServiceURL, DashboardURL: r.DashboardURL, Parameters: r.Parameters,
			LastOperation: toLastOpData(r.LastOperation)})
		return []any{r.Name, r.SpaceGUID, r.Type, r.PlanGUID, d}, err
	},
	scan: func(r *store.ServiceInstance) ([]any, func() error) {
		var d instanceData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.SpaceGUID, &r.Type, &r.PlanGUID, p}, finishData(fin, func() {
			r.Tags, r.Credentials, r.SyslogDrainURL = d.Tags, d.Credentials, d.SyslogDrainURL
			r.RouteServiceURL, r.DashboardURL, r.Parameters = d.RouteServiceURL, d.DashboardURL, d.Parameters
			r.LastOperation = d.LastOperation.op()
		})
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"space_guid", o.SpaceGUIDs}, {"type", o.Types},
			{"plan_guid", o.ServicePlanGUIDs}}
	},
}

type bindingData struct {
	Credentials    map[string]any `json:"credentials"`
	SyslogDrainURL string         `json:"syslog_drain_url"`
	VolumeMounts   string         `json:"volume_mounts"`
	Parameters     string         `json:"parameters"`
	LastOperation  lastOpData     `json:"last_operation"`
}

// bindingUniq is the value of the uniq column: an app binds an instance
// once, and key names are unique per instance.
func bindingUniq(r *store.ServiceBinding) string {
	if r.Type == store.BindingKey {
		return "key:" + r.Name
	}
	return "app:" + r.AppGUID
}

var serviceBindingTable = &table[store.ServiceBinding]{
	name: "service_bindings", what: "service binding",
	cols: []string{"type", "name", "instance_guid", "app_guid", "uniq", "data"},
	meta: func(r *store.ServiceBinding) *store.Meta { return &r.Meta },
	values: func(r *store.ServiceBinding) ([]any, error) {
		d, err := jsonCol(bindingData{Credentials: r.Credentials, SyslogDrainURL: r.SyslogDrainURL,
			VolumeMounts: r.VolumeMounts, Parameters: r.Parameters, LastOperation: toLastOpData(r.LastOperation)})
		return []any{r.Type, r.Name, r.ServiceInstanceGUID, r.AppGUID, bindingUniq(r), d}, err
	},
	scan: func(r *store.ServiceBinding) ([]any, func() error) {
		var (
			d    bindingData
			uniq string
		)
		p, fin := dataScan(&d)
		return []any{&r.Type, &r.Name, &r.ServiceInstanceGUID, &r.AppGUID, &uniq, p}, finishData(fin, func() {
			r.Credentials, r.SyslogDrainURL, r.VolumeMounts = d.Credentials, d.SyslogDrainURL, d.VolumeMounts
			r.Parameters, r.LastOperation = d.Parameters, d.LastOperation.op()
		})
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"app_guid", o.AppGUIDs}, {"type", o.Types},
			{"instance_guid", o.ServiceInstanceGUIDs}}
	},
}

func (s *Store) ServiceBrokers() store.ServiceBrokerStore {
	return crud[store.ServiceBroker]{s, serviceBrokerTable}
}
func (s *Store) ServiceOfferings() store.ServiceOfferingStore {
	return crud[store.ServiceOffering]{s, serviceOfferingTable}
}
func (s *Store) ServicePlans() store.ServicePlanStore {
	return crud[store.ServicePlan]{s, servicePlanTable}
}
func (s *Store) ServiceInstances() store.ServiceInstanceStore {
	return crud[store.ServiceInstance]{s, serviceInstanceTable}
}
func (s *Store) ServiceBindings() store.ServiceBindingStore {
	return crud[store.ServiceBinding]{s, serviceBindingTable}
}

package osb

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// APIVersion is the Open Service Broker API version these brokers implement.
const APIVersion = "2.17"

// Header names of the OSB API.
const (
	HeaderAPIVersion          = "X-Broker-API-Version"
	HeaderOriginatingIdentity = "X-Broker-API-Originating-Identity"
	HeaderRequestIdentity     = "X-Broker-API-Request-Identity"
)

// Error codes of the OSB API (the "error" field of an error body).
const (
	CodeAsyncRequired           = "AsyncRequired"
	CodeConcurrencyError        = "ConcurrencyError"
	CodeRequiresApp             = "RequiresApp"
	CodeMaintenanceInfoConflict = "MaintenanceInfoConflict"
	// The codes below are not defined by the spec; they name the other
	// failures so that a platform can show something more than a status.
	CodeBadRequest         = "BadRequest"
	CodeUnauthorized       = "Unauthorized"
	CodePreconditionFailed = "PreconditionFailed"
	CodeNotFound           = "NotFound"
	CodeInternal           = "InternalError"
	CodeUnavailable        = "ServiceUnavailable"
)

// Last operation states.
const (
	StateInProgress = "in progress"
	StateSucceeded  = "succeeded"
	StateFailed     = "failed"
)

// Catalog is the body of GET /v2/catalog.
type Catalog struct {
	Services []Service `json:"services"`
}

// Service is a service offering.
type Service struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	Tags                 []string       `json:"tags,omitempty"`
	Requires             []string       `json:"requires,omitempty"`
	Bindable             bool           `json:"bindable"`
	InstancesRetrievable bool           `json:"instances_retrievable,omitempty"`
	BindingsRetrievable  bool           `json:"bindings_retrievable,omitempty"`
	AllowContextUpdates  bool           `json:"allow_context_updates,omitempty"`
	PlanUpdateable       bool           `json:"plan_updateable,omitempty"`
	Metadata             map[string]any `json:"metadata,omitempty"`
	Plans                []Plan         `json:"plans"`
}

// Plan is a service plan.
type Plan struct {
	ID              string           `json:"id"`
	Name            string           `json:"name"`
	Description     string           `json:"description"`
	Metadata        map[string]any   `json:"metadata,omitempty"`
	Free            *bool            `json:"free,omitempty"`
	Bindable        *bool            `json:"bindable,omitempty"`
	PlanUpdateable  *bool            `json:"plan_updateable,omitempty"`
	MaintenanceInfo *MaintenanceInfo `json:"maintenance_info,omitempty"`
	Schemas         map[string]any   `json:"schemas,omitempty"`
}

// MaintenanceInfo identifies a plan's maintenance version.
type MaintenanceInfo struct {
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// BoolPtr is a helper for the optional booleans of a Plan.
func BoolPtr(b bool) *bool { return &b }

var catalogName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Validate checks the catalog's shape: at least one service, required
// fields, unique ids (services and plans together) and unique names.
func (c *Catalog) Validate() error {
	var errs []error
	if len(c.Services) == 0 {
		errs = append(errs, errors.New("no services"))
	}
	ids := map[string]bool{}
	names := map[string]bool{}
	for i, s := range c.Services {
		if s.ID == "" || s.Name == "" || s.Description == "" {
			errs = append(errs, fmt.Errorf("service %d: id, name and description are required", i))
		}
		if !catalogName.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("service %q: name must be lowercase letters, digits, '.', '-' or '_'", s.Name))
		}
		if ids[s.ID] {
			errs = append(errs, fmt.Errorf("duplicate id %q", s.ID))
		}
		ids[s.ID] = true
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("duplicate service name %q", s.Name))
		}
		names[s.Name] = true
		if len(s.Plans) == 0 {
			errs = append(errs, fmt.Errorf("service %q: no plans", s.Name))
		}
		planNames := map[string]bool{}
		for j, p := range s.Plans {
			if p.ID == "" || p.Name == "" || p.Description == "" {
				errs = append(errs, fmt.Errorf("service %q plan %d: id, name and description are required", s.Name, j))
			}
			if !catalogName.MatchString(p.Name) {
				errs = append(errs, fmt.Errorf("service %q plan %q: bad name", s.Name, p.Name))
			}
			if ids[p.ID] {
				errs = append(errs, fmt.Errorf("duplicate id %q", p.ID))
			}
			ids[p.ID] = true
			if planNames[p.Name] {
				errs = append(errs, fmt.Errorf("service %q: duplicate plan name %q", s.Name, p.Name))
			}
			planNames[p.Name] = true
		}
	}
	return errors.Join(errs...)
}

// Lookup finds a service and one of its plans by id.
func (c *Catalog) Lookup(serviceID, planID string) (*Service, *Plan, bool) {
	for i := range c.Services {
		s := &c.Services[i]
		if s.ID != serviceID {
			continue
		}
		for j := range s.Plans {
			if s.Plans[j].ID == planID {
				return s, &s.Plans[j], true
			}
		}
		return s, nil, false
	}
	return nil, nil, false
}

// planBindable is the effective bindable flag of a plan of s.
func planBindable(s *Service, p *Plan) bool {
	if p.Bindable != nil {
		return *p.Bindable
	}
	return s.Bindable
}

// planUpdateable is the effective plan_updateable flag of a plan of s.
func planUpdateable(s *Service, p *Plan) bool {
	if p.PlanUpdateable != nil {
		return *p.PlanUpdateable
	}
	return s.PlanUpdateable
}

// ProvisionRequest is the body of PUT /v2/service_instances/:id.
type ProvisionRequest struct {
	ServiceID        string           `json:"service_id"`
	PlanID           string           `json:"plan_id"`
	Context          json.RawMessage  `json:"context,omitempty"`
	OrganizationGUID string           `json:"organization_guid,omitempty"`
	SpaceGUID        string           `json:"space_guid,omitempty"`
	Parameters       json.RawMessage  `json:"parameters,omitempty"`
	MaintenanceInfo  *MaintenanceInfo `json:"maintenance_info,omitempty"`
}

// ProvisionResponse is the body of a 200/201/202 answer to a provision.
type ProvisionResponse struct {
	DashboardURL string `json:"dashboard_url,omitempty"`
	Operation    string `json:"operation,omitempty"`
}

// UpdateRequest is the body of PATCH /v2/service_instances/:id.
type UpdateRequest struct {
	ServiceID       string           `json:"service_id"`
	PlanID          string           `json:"plan_id,omitempty"`
	Context         json.RawMessage  `json:"context,omitempty"`
	Parameters      json.RawMessage  `json:"parameters,omitempty"`
	PreviousValues  *PreviousValues  `json:"previous_values,omitempty"`
	MaintenanceInfo *MaintenanceInfo `json:"maintenance_info,omitempty"`
}

// PreviousValues is the platform's view of an instance before an update.
type PreviousValues struct {
	ServiceID       string           `json:"service_id,omitempty"`
	PlanID          string           `json:"plan_id,omitempty"`
	OrganizationID  string           `json:"organization_id,omitempty"`
	SpaceID         string           `json:"space_id,omitempty"`
	MaintenanceInfo *MaintenanceInfo `json:"maintenance_info,omitempty"`
}

// UpdateResponse is the body of a 200/202 answer to an update.
type UpdateResponse struct {
	DashboardURL string `json:"dashboard_url,omitempty"`
	Operation    string `json:"operation,omitempty"`
}

// OperationResponse is the body of a 202 answer to a delete.
type OperationResponse struct {
	Operation string `json:"operation,omitempty"`
}

// InstanceResponse is the body of GET /v2/service_instances/:id.
type InstanceResponse struct {
	ServiceID       string           `json:"service_id"`
	PlanID          string           `json:"plan_id"`
	DashboardURL    string           `json:"dashboard_url,omitempty"`
	Parameters      json.RawMessage  `json:"parameters,omitempty"`
	MaintenanceInfo *MaintenanceInfo `json:"maintenance_info,omitempty"`
}

// LastOperationResponse is the body of GET …/last_operation.
type LastOperationResponse struct {
	State            string `json:"state"`
	Description      string `json:"description,omitempty"`
	InstanceUsable   *bool  `json:"instance_usable,omitempty"`
	UpdateRepeatable *bool  `json:"update_repeatable,omitempty"`
}

// BindResource names what a binding is for.
type BindResource struct {
	AppGUID string `json:"app_guid,omitempty"`
	Route   string `json:"route,omitempty"`
}

// BindRequest is the body of PUT …/service_bindings/:binding_id.
type BindRequest struct {
	ServiceID    string          `json:"service_id"`
	PlanID       string          `json:"plan_id"`
	AppGUID      string          `json:"app_guid,omitempty"`
	BindResource *BindResource   `json:"bind_resource,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
	Parameters   json.RawMessage `json:"parameters,omitempty"`
}

// BindingResponse is the body of a 200/201 answer to a bind and of GET
// …/service_bindings/:binding_id.
type BindingResponse struct {
	Credentials     map[string]any  `json:"credentials,omitempty"`
	SyslogDrainURL  string          `json:"syslog_drain_url,omitempty"`
	RouteServiceURL string          `json:"route_service_url,omitempty"`
	Parameters      json.RawMessage `json:"parameters,omitempty"`
}

// ErrorResponse is the OSB error body.
type ErrorResponse struct {
	Error       string `json:"error,omitempty"`
	Description string `json:"description,omitempty"`
}

package store

import (
	"context"
	"time"
)

// ServiceBroker is a registered Open Service Broker; Name is unique.
type ServiceBroker struct {
	Meta
	Name     string
	URL      string
	Username string
	// PasswordSealed is the broker's basic-auth password sealed by the
	// controller (AES-GCM with a key in its data dir); the store never sees
	// the plaintext.
	PasswordSealed string
	// SpaceGUID scopes a space-scoped broker; "" = global.
	SpaceGUID string
}

// ServiceOffering is one service of a broker's catalog;
// (BrokerGUID, CatalogID) is unique.
type ServiceOffering struct {
	Meta
	Name                 string
	BrokerGUID           string
	CatalogID            string // the broker's service id
	Description          string
	Available            bool
	Bindable             bool
	PlanUpdateable       bool
	InstancesRetrievable bool
	BindingsRetrievable  bool
	AllowContextUpdates  bool
	Tags                 []string
	Requires             []string
	Shareable            bool
	DocumentationURL     string
	// Metadata is the catalog's free-form metadata object (JSON text).
	Metadata string
}

// Service plan visibility types (CF v3).
const (
	VisibilityPublic       = "public"
	VisibilityAdmin        = "admin"
	VisibilityOrganization = "organization"
	VisibilitySpace        = "space"
)

// ServicePlan is one plan of an offering; (OfferingGUID, CatalogID) is
// unique.
type ServicePlan struct {
	Meta
	Name           string
	OfferingGUID   string
	CatalogID      string // the broker's plan id
	Description    string
	Free           bool
	Bindable       bool
	PlanUpdateable bool
	Available      bool
	// VisibilityType is public, admin, organization or space.
	VisibilityType string
	// VisibleOrgGUIDs lists the orgs that see an "organization" plan.
	VisibleOrgGUIDs []string
	// MaintenanceVersion is the catalog's maintenance_info.version.
	MaintenanceVersion string
	// Schemas and Metadata are the catalog's objects (JSON text).
	Schemas  string
	Metadata string
}

// Service instance types (CF v3).
const (
	InstanceManaged      = "managed"
	InstanceUserProvided = "user-provided"
)

// Last-operation types and states (CF v3, OSB).
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"

	OpInitial    = "initial"
	OpInProgress = "in progress"
	OpSucceeded  = "succeeded"
	OpFailed     = "failed"
)

// LastOperation is the state of a service instance's or binding's latest
// operation.
type LastOperation struct {
	Type        string // OpCreate, OpUpdate, OpDelete
	State       string // OpInitial, OpInProgress, OpSucceeded, OpFailed
	Description string
	// BrokerOperation is the broker's "operation" string to hand back when
	// polling last_operation; "" when none.
	BrokerOperation string
	// JobGUID is the API job that follows the operation, "" when none
	// (so a restarted controller can finish it).
	JobGUID   string
	UpdatedAt time.Time
}

// ServiceInstance is a managed or user-provided service instance;
// (SpaceGUID, Name) is unique.
type ServiceInstance struct {
	Meta
	Name      string
	SpaceGUID string
	Type      string // InstanceManaged or InstanceUserProvided
	// PlanGUID is the plan of a managed instance; "" for user-provided.
	PlanGUID string
	Tags     []string
	// Credentials of a user-provided instance.
	Credentials     map[string]any
	SyslogDrainURL  string
	RouteServiceURL string
	DashboardURL    string
	// Parameters last sent to the broker (JSON text, "" when none).
	Parameters    string
	LastOperation LastOperation
}

// Service credential binding types (CF v3).
const (
	BindingApp = "app"
	BindingKey = "key"
)

// ServiceBinding is a service credential binding: an app binding
// (Type "app", AppGUID set) or a service key (Type "key", Name unique per
// instance).
type ServiceBinding struct {
	Meta
	Type                string // BindingApp or BindingKey
	Name                string
	ServiceInstanceGUID string
	AppGUID             string
	Credentials         map[string]any
	SyslogDrainURL      string
	// VolumeMounts as the broker returned them (JSON text, "" when none).
	VolumeMounts  string
	Parameters    string
	LastOperation LastOperation
}

// ServiceBrokerStore: Name is unique.
type ServiceBrokerStore interface {
	Create(ctx context.Context, b *ServiceBroker) error
	Get(ctx context.Context, guid string) (*ServiceBroker, error)
	List(ctx context.Context, opt ListOptions) ([]*ServiceBroker, error) // GUIDs, Names, SpaceGUIDs
	Update(ctx context.Context, b *ServiceBroker) error
	Delete(ctx context.Context, guid string) error
}

// ServiceOfferingStore: (BrokerGUID, CatalogID) is unique.
type ServiceOfferingStore interface {
	Create(ctx context.Context, o *ServiceOffering) error
	Get(ctx context.Context, guid string) (*ServiceOffering, error)
	List(ctx context.Context, opt ListOptions) ([]*ServiceOffering, error) // GUIDs, Names, ServiceBrokerGUIDs
	Update(ctx context.Context, o *ServiceOffering) error
	Delete(ctx context.Context, guid string) error
}

// ServicePlanStore: (OfferingGUID, CatalogID) is unique.
type ServicePlanStore interface {
	Create(ctx context.Context, p *ServicePlan) error
	Get(ctx context.Context, guid string) (*ServicePlan, error)
	List(ctx context.Context, opt ListOptions) ([]*ServicePlan, error) // GUIDs, Names, ServiceOfferingGUIDs
	Update(ctx context.Context, p *ServicePlan) error
	Delete(ctx context.Context, guid string) error
}

// ServiceInstanceStore: (SpaceGUID, Name) is unique.
type ServiceInstanceStore interface {
	Create(ctx context.Context, si *ServiceInstance) error
	Get(ctx context.Context, guid string) (*ServiceInstance, error)
	List(ctx context.Context, opt ListOptions) ([]*ServiceInstance, error) // GUIDs, Names, SpaceGUIDs, Types, ServicePlanGUIDs
	Update(ctx context.Context, si *ServiceInstance) error
	Delete(ctx context.Context, guid string) error
}

// ServiceBindingStore: (ServiceInstanceGUID, AppGUID) is unique for app
// bindings and (ServiceInstanceGUID, Name) for keys.
type ServiceBindingStore interface {
	Create(ctx context.Context, b *ServiceBinding) error
	Get(ctx context.Context, guid string) (*ServiceBinding, error)
	List(ctx context.Context, opt ListOptions) ([]*ServiceBinding, error) // GUIDs, Names, AppGUIDs, Types, ServiceInstanceGUIDs
	Update(ctx context.Context, b *ServiceBinding) error
	Delete(ctx context.Context, guid string) error
}

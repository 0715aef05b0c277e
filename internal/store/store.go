// Package store holds the Cloud Controller's desired state: records and the
// narrow interfaces the controller uses to read and write them. The sqlstore
// subpackage implements them on SQLite and PostgreSQL; storetest is the
// conformance suite both pass.
package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the record changed since it was read (optimistic
	// Version mismatch).
	ErrConflict = errors.New("store: version conflict")
	// ErrDuplicate: a unique key (a name within its parent) is taken.
	ErrDuplicate = errors.New("store: duplicate")
)

// Meta is common to every record. GUID is set by the caller before Create.
// Create sets CreatedAt/UpdatedAt (if zero) and Version=1; Update checks
// Version, increments it and sets UpdatedAt.
type Meta struct {
	GUID      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Org is an organization.
type Org struct {
	Meta
	Name      string
	Suspended bool
}

// Space belongs to an org; Name is unique per org.
type Space struct {
	Meta
	Name    string
	OrgGUID string
}

// Domain is a shared domain (OrgGUID empty) or private to an org. Name is
// globally unique.
type Domain struct {
	Meta
	Name     string
	Internal bool
	OrgGUID  string
}

// App states.
const (
	AppStarted = "STARTED"
	AppStopped = "STOPPED"
)

// App is an application; Name is unique per space.
type App struct {
	Meta
	Name      string
	SpaceGUID string
	State     string // AppStarted or AppStopped
	// DropletGUID is the current droplet, "" when none.
	DropletGUID string
	// Revision distinguishes runs of the same droplet: a rolling deployment
	// sets it so that its new instances are a version of their own. It is
	// only meaningful while it names DropletGUID (see RunVersion).
	Revision string
	// Buildpacks requested for staging, in order; empty = detect.
	Buildpacks []string
	Stack      string
	// Env holds the user's environment variables.
	Env map[string]string
}

// RunVersion is the version the app's instances must run: the current
// droplet, or the revision a deployment made of it. A revision made of an
// earlier droplet is ignored, so every path that changes the droplet
// changes the version too.
func (a *App) RunVersion() string {
	if a.DropletGUID != "" && strings.HasPrefix(a.Revision, a.DropletGUID+"~") {
		return a.Revision
	}
	return a.DropletGUID
}

// NewRevision returns a fresh version string of droplet for a deployment.
func NewRevision(droplet, suffix string) string { return droplet + "~" + suffix }

// DropletOfVersion returns the droplet guid a version runs.
func DropletOfVersion(version string) string {
	d, _, _ := strings.Cut(version, "~")
	return d
}

// Process is one process type of an app; (AppGUID, Type) is unique.
type Process struct {
	Meta
	AppGUID string
	Type    string // "web", "worker", ...
	// Command is the user's start command; "" = the droplet's.
	Command   string
	Instances int
	MemoryMB  int64
	DiskMB    int64
	// HealthCheckType is port, http or process.
	HealthCheckType              string
	HealthCheckEndpoint          string
	HealthCheckTimeout           int // seconds; 0 = default
	HealthCheckInvocationTimeout int // seconds; 0 = default
}

// Package states (CF v3).
const (
	PackageAwaitingUpload   = "AWAITING_UPLOAD"
	PackageProcessingUpload = "PROCESSING_UPLOAD"
	PackageReady            = "READY"
	PackageFailed           = "FAILED"
	PackageExpired          = "EXPIRED"
)

// Package is an upload of app bits; the zip lives in the blobstore under
// the package guid.
type Package struct {
	Meta
	AppGUID string
	Type    string // "bits"
	State   string
	// Digest is the sha256 (hex) of the stored zip.
	Digest string
	Size   int64
	Error  string
}

// Build and droplet states (CF v3).
const (
	BuildStaging = "STAGING"
	BuildStaged  = "STAGED"
	BuildFailed  = "FAILED"

	DropletAwaitingUpload   = "AWAITING_UPLOAD"
	DropletProcessingUpload = "PROCESSING_UPLOAD"
	DropletStaged           = "STAGED"
	DropletFailed           = "FAILED"
	DropletExpired          = "EXPIRED"
)

// Build is one staging of a package.
type Build struct {
	Meta
	AppGUID     string
	PackageGUID string
	State       string
	Error       string
	// DropletGUID is the droplet this build produces (set at create).
	DropletGUID     string
	StagingMemoryMB int64
	StagingDiskMB   int64
	// Buildpacks requested for this build.
	Buildpacks []string
	Stack      string
	CreatedBy  string // user guid
}

// Droplet is a staged app; the tgz lives in the blobstore under the droplet
// guid.
type Droplet struct {
	Meta
	AppGUID           string
	PackageGUID       string
	BuildGUID         string
	State             string
	Error             string
	Digest            string // sha256 hex of the tgz
	Size              int64
	DetectedBuildpack string
	BuildpackName     string
	StartCommand      string
	ProcessTypes      map[string]string
	Stack             string
}

// Route is host[.domain][/path]; (DomainGUID, Host, Path) is unique.
type Route struct {
	Meta
	Host       string
	Path       string
	DomainGUID string
	SpaceGUID  string
}

// Destination maps a route to an app's process; (RouteGUID, AppGUID,
// ProcessType) is unique.
type Destination struct {
	Meta
	RouteGUID   string
	AppGUID     string
	ProcessType string
	Port        int // 0 = the instance's PORT
}

// Job states (CF v3).
const (
	JobProcessing = "PROCESSING"
	JobPolling    = "POLLING"
	JobComplete   = "COMPLETE"
	JobFailed     = "FAILED"
)

// JobError is one entry of a failed job's errors.
type JobError struct {
	Code   int
	Title  string
	Detail string
}

// Job is an asynchronous operation.
type Job struct {
	Meta
	Operation    string // e.g. "app.delete", "space.apply_manifest"
	State        string
	ResourceGUID string
	ResourceType string
	Errors       []JobError
	Warnings     []string
}

// User is a UAA user. Username is unique per origin.
type User struct {
	Meta
	Username     string
	Origin       string // "uaa"
	PasswordHash string // bcrypt
	// Admin is legacy: admin is membership of the cloud_controller.admin
	// group (GroupStore). Migration 0003 turned every Admin into a
	// membership; nothing sets it any more.
	Admin bool
	// RevocationEpoch increases when the password changes or every token
	// of the user is revoked; tokens carrying an older epoch are refused.
	RevocationEpoch int64
}

// ListOptions filters a list. Empty slices mean "no filter". Results are
// ordered by CreatedAt then GUID unless a store documents otherwise.
type ListOptions struct {
	GUIDs      []string
	Names      []string
	SpaceGUIDs []string
	OrgGUIDs   []string
	AppGUIDs   []string
	// Extra per-resource filters:
	Types        []string // process types, package types
	States       []string // app/package/build/droplet states
	RouteGUIDs   []string // destinations
	DomainGUIDs  []string // routes
	Hosts        []string // routes
	Paths        []string // routes (nil = any; []string{""} = root only)
	PackageGUIDs []string // builds, droplets
	// Services:
	ServiceBrokerGUIDs   []string // offerings
	ServiceOfferingGUIDs []string // plans
	ServicePlanGUIDs     []string // service instances
	ServiceInstanceGUIDs []string // service bindings
	// Tenancy:
	UserGUIDs   []string // roles
	TargetGUIDs []string // audit events
	QuotaGUIDs  []string // quota assignments
}

// OrgStore: Name is unique (ErrDuplicate).
type OrgStore interface {
	Create(ctx context.Context, o *Org) error
	Get(ctx context.Context, guid string) (*Org, error)
	List(ctx context.Context, opt ListOptions) ([]*Org, error) // GUIDs, Names
	Update(ctx context.Context, o *Org) error
	Delete(ctx context.Context, guid string) error
}

// SpaceStore: (OrgGUID, Name) is unique.
type SpaceStore interface {
	Create(ctx context.Context, s *Space) error
	Get(ctx context.Context, guid string) (*Space, error)
	List(ctx context.Context, opt ListOptions) ([]*Space, error) // GUIDs, Names, OrgGUIDs
	Update(ctx context.Context, s *Space) error
	Delete(ctx context.Context, guid string) error
}

// DomainStore: Name is unique.
type DomainStore interface {
	Create(ctx context.Context, d *Domain) error
	Get(ctx context.Context, guid string) (*Domain, error)
	List(ctx context.Context, opt ListOptions) ([]*Domain, error) // GUIDs, Names, OrgGUIDs
	Delete(ctx context.Context, guid string) error
}

// AppStore: (SpaceGUID, Name) is unique.
type AppStore interface {
	Create(ctx context.Context, a *App) error
	Get(ctx context.Context, guid string) (*App, error)
	List(ctx context.Context, opt ListOptions) ([]*App, error) // GUIDs, Names, SpaceGUIDs, States
	Update(ctx context.Context, a *App) error
	Delete(ctx context.Context, guid string) error
}

// ProcessStore: (AppGUID, Type) is unique.
type ProcessStore interface {
	Create(ctx context.Context, p *Process) error
	Get(ctx context.Context, guid string) (*Process, error)
	List(ctx context.Context, opt ListOptions) ([]*Process, error) // GUIDs, AppGUIDs, Types
	Update(ctx context.Context, p *Process) error
	Delete(ctx context.Context, guid string) error
}

// PackageStore.
type PackageStore interface {
	Create(ctx context.Context, p *Package) error
	Get(ctx context.Context, guid string) (*Package, error)
	List(ctx context.Context, opt ListOptions) ([]*Package, error) // GUIDs, AppGUIDs, States, Types
	Update(ctx context.Context, p *Package) error
	Delete(ctx context.Context, guid string) error
}

// BuildStore.
type BuildStore interface {
	Create(ctx context.Context, b *Build) error
	Get(ctx context.Context, guid string) (*Build, error)
	List(ctx context.Context, opt ListOptions) ([]*Build, error) // GUIDs, AppGUIDs, States, PackageGUIDs
	Update(ctx context.Context, b *Build) error
	Delete(ctx context.Context, guid string) error
}

// DropletStore.
type DropletStore interface {
	Create(ctx context.Context, d *Droplet) error
	Get(ctx context.Context, guid string) (*Droplet, error)
	List(ctx context.Context, opt ListOptions) ([]*Droplet, error) // GUIDs, AppGUIDs, States, PackageGUIDs
	Update(ctx context.Context, d *Droplet) error
	Delete(ctx context.Context, guid string) error
}

// RouteStore: (DomainGUID, Host, Path) is unique.
type RouteStore interface {
	Create(ctx context.Context, r *Route) error
	Get(ctx context.Context, guid string) (*Route, error)
	List(ctx context.Context, opt ListOptions) ([]*Route, error) // GUIDs, SpaceGUIDs, DomainGUIDs, Hosts, Paths
	Delete(ctx context.Context, guid string) error
}

// DestinationStore: (RouteGUID, AppGUID, ProcessType) is unique.
type DestinationStore interface {
	Create(ctx context.Context, d *Destination) error
	List(ctx context.Context, opt ListOptions) ([]*Destination, error) // GUIDs, RouteGUIDs, AppGUIDs
	Delete(ctx context.Context, guid string) error
}

// JobStore.
type JobStore interface {
	Create(ctx context.Context, j *Job) error
	Get(ctx context.Context, guid string) (*Job, error)
	Update(ctx context.Context, j *Job) error
}

// UserStore: (Origin, Username) is unique.
type UserStore interface {
	Create(ctx context.Context, u *User) error
	Get(ctx context.Context, guid string) (*User, error)
	GetByName(ctx context.Context, origin, username string) (*User, error)
	List(ctx context.Context, opt ListOptions) ([]*User, error) // GUIDs, Names (usernames)
	Update(ctx context.Context, u *User) error
	Delete(ctx context.Context, guid string) error
}

// Store is the controller's whole desired state.
type Store interface {
	Orgs() OrgStore
	Spaces() SpaceStore
	Domains() DomainStore
	Apps() AppStore
	Processes() ProcessStore
	Packages() PackageStore
	Builds() BuildStore
	Droplets() DropletStore
	Routes() RouteStore
	Destinations() DestinationStore
	Jobs() JobStore
	Users() UserStore
	Leases() LeaseStore
	Deployments() DeploymentStore
	ServiceBrokers() ServiceBrokerStore
	ServiceOfferings() ServiceOfferingStore
	ServicePlans() ServicePlanStore
	ServiceInstances() ServiceInstanceStore
	ServiceBindings() ServiceBindingStore
	Groups() GroupStore
	OAuthClients() OAuthClientStore
	RevokedTokens() RevokedTokenStore
	CCUsers() CCUserStore
	Roles() RoleStore
	OrgQuotas() OrgQuotaStore
	SpaceQuotas() SpaceQuotaStore
	QuotaAssignments() QuotaAssignmentStore
	AuditEvents() AuditEventStore
	// InTx runs f in one transaction: all of f's writes land, or none.
	// The Store passed to f must be used for every access inside f.
	InTx(ctx context.Context, f func(tx Store) error) error
	Close() error
}

package client

import "time"

// States and types the API uses.
const (
	AppStarted = "STARTED"
	AppStopped = "STOPPED"

	PackageReady   = "READY"
	PackageFailed  = "FAILED"
	PackageExpired = "EXPIRED"

	BuildStaging = "STAGING"
	BuildStaged  = "STAGED"
	BuildFailed  = "FAILED"

	JobComplete   = "COMPLETE"
	JobFailed     = "FAILED"
	JobProcessing = "PROCESSING"
	JobPolling    = "POLLING"

	InstanceRunning  = "RUNNING"
	InstanceStarting = "STARTING"
	InstanceCrashed  = "CRASHED"
	InstanceDown     = "DOWN"

	ProcessTypeWeb = "web"
)

// Link is one entry of a resource's links.
type Link struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

// Relationship is a to-one relationship: {"data":{"guid":...}} or
// {"data":null}.
type Relationship struct {
	Data *RelationshipData `json:"data"`
}

// RelationshipData names the related resource.
type RelationshipData struct {
	GUID string `json:"guid"`
}

// GUID returns the related guid, "" when the relationship is null.
func (r Relationship) GUID() string {
	if r.Data == nil {
		return ""
	}
	return r.Data.GUID
}

// To makes a relationship to guid.
func To(guid string) Relationship { return Relationship{Data: &RelationshipData{GUID: guid}} }

// GUIDRef is a plain {"guid":...} reference (build.package, build.droplet).
type GUIDRef struct {
	GUID string `json:"guid"`
}

// Pagination is the paging block of a list response.
type Pagination struct {
	TotalResults int   `json:"total_results"`
	TotalPages   int   `json:"total_pages"`
	First        *Link `json:"first"`
	Last         *Link `json:"last"`
	Next         *Link `json:"next"`
	Previous     *Link `json:"previous"`
}

// Root is the answer of GET /.
type Root struct {
	Links RootLinks `json:"links"`
}

// RootLinks are the endpoints the API root advertises.
type RootLinks struct {
	Self              *RootLink `json:"self"`
	CloudControllerV3 *RootLink `json:"cloud_controller_v3"`
	Login             *RootLink `json:"login"`
	UAA               *RootLink `json:"uaa"`
	LogCache          *RootLink `json:"log_cache"`
	Logging           *RootLink `json:"logging"`
	Routing           *RootLink `json:"routing"`
}

// RootLink is a root link with optional metadata.
type RootLink struct {
	Href string `json:"href"`
	Meta struct {
		Version string `json:"version"`
	} `json:"meta"`
}

// APIVersion returns links.cloud_controller_v3.meta.version, or "".
func (r *Root) APIVersion() string {
	if r.Links.CloudControllerV3 == nil {
		return ""
	}
	return r.Links.CloudControllerV3.Meta.Version
}

// Org is an organization.
type Org struct {
	GUID      string    `json:"guid"`
	Name      string    `json:"name"`
	Suspended bool      `json:"suspended"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Space is a space inside an org.
type Space struct {
	GUID          string             `json:"guid"`
	Name          string             `json:"name"`
	CreatedAt     time.Time          `json:"created_at"`
	UpdatedAt     time.Time          `json:"updated_at"`
	Relationships SpaceRelationships `json:"relationships"`
}

// SpaceRelationships of a space.
type SpaceRelationships struct {
	Organization Relationship `json:"organization"`
}

// Domain is a routing domain.
type Domain struct {
	GUID      string    `json:"guid"`
	Name      string    `json:"name"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"created_at"`
}

// Lifecycle says how an app is staged.
type Lifecycle struct {
	Type string        `json:"type"`
	Data LifecycleData `json:"data"`
}

// LifecycleData of a buildpack lifecycle.
type LifecycleData struct {
	Buildpacks []string `json:"buildpacks"`
	Stack      string   `json:"stack,omitempty"`
}

// App is an application.
type App struct {
	GUID          string           `json:"guid"`
	Name          string           `json:"name"`
	State         string           `json:"state"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	Lifecycle     Lifecycle        `json:"lifecycle"`
	Relationships AppRelationships `json:"relationships"`
}

// AppRelationships of an app.
type AppRelationships struct {
	Space Relationship `json:"space"`
}

// HealthCheck of a process.
type HealthCheck struct {
	Type string          `json:"type"`
	Data HealthCheckData `json:"data"`
}

// HealthCheckData of a process health check.
type HealthCheckData struct {
	Timeout           *int    `json:"timeout"`
	InvocationTimeout *int    `json:"invocation_timeout"`
	Endpoint          *string `json:"endpoint"`
}

// Process is one process type of an app (web, worker...).
type Process struct {
	GUID          string               `json:"guid"`
	Type          string               `json:"type"`
	Command       *string              `json:"command"`
	Instances     int                  `json:"instances"`
	MemoryInMB    int64                `json:"memory_in_mb"`
	DiskInMB      int64                `json:"disk_in_mb"`
	HealthCheck   HealthCheck          `json:"health_check"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
	Relationships ProcessRelationships `json:"relationships"`
}

// ProcessRelationships of a process.
type ProcessRelationships struct {
	App Relationship `json:"app"`
}

// ProcessStats is the answer of GET /v3/processes/:guid/stats.
type ProcessStats struct {
	Resources []InstanceStats `json:"resources"`
}

// InstanceStats is the state and usage of one instance.
type InstanceStats struct {
	Type      string        `json:"type"`
	Index     int           `json:"index"`
	State     string        `json:"state"`
	Routable  *bool         `json:"routable"`
	Usage     InstanceUsage `json:"usage"`
	Host      string        `json:"host"`
	Uptime    int64         `json:"uptime"`
	MemQuota  *uint64       `json:"mem_quota"`
	DiskQuota *uint64       `json:"disk_quota"`
	FDSQuota  *uint64       `json:"fds_quota"`
	Details   string        `json:"details"`
}

// InstanceUsage is a sample of an instance's resource use. CPU is a
// fraction of one core (0.003 = 0.3%); Mem and Disk are bytes.
type InstanceUsage struct {
	Time string  `json:"time"`
	CPU  float64 `json:"cpu"`
	Mem  uint64  `json:"mem"`
	Disk uint64  `json:"disk"`
}

// Package is an app's source bits.
type Package struct {
	GUID          string               `json:"guid"`
	Type          string               `json:"type"`
	State         string               `json:"state"`
	Data          PackageData          `json:"data"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
	Relationships ProcessRelationships `json:"relationships"`
}

// PackageData of a bits package.
type PackageData struct {
	Error *string `json:"error"`
}

// Build turns a package into a droplet.
type Build struct {
	GUID      string    `json:"guid"`
	State     string    `json:"state"`
	Error     *string   `json:"error"`
	Lifecycle Lifecycle `json:"lifecycle"`
	Package   GUIDRef   `json:"package"`
	Droplet   *GUIDRef  `json:"droplet"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrorText returns the build's error, or "".
func (b *Build) ErrorText() string {
	if b.Error == nil {
		return ""
	}
	return *b.Error
}

// Droplet is a staged, runnable app.
type Droplet struct {
	GUID         string             `json:"guid"`
	State        string             `json:"state"`
	Error        *string            `json:"error"`
	Stack        string             `json:"stack"`
	Buildpacks   []DropletBuildpack `json:"buildpacks"`
	ProcessTypes map[string]string  `json:"process_types"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
}

// DropletBuildpack is a buildpack that staged a droplet.
type DropletBuildpack struct {
	Name          string `json:"name"`
	BuildpackName string `json:"buildpack_name"`
	DetectOutput  string `json:"detect_output"`
	Version       string `json:"version"`
}

// Route maps host.domain/path to destinations.
type Route struct {
	GUID          string             `json:"guid"`
	Protocol      string             `json:"protocol"`
	Host          string             `json:"host"`
	Path          string             `json:"path"`
	Port          *int               `json:"port"`
	URL           string             `json:"url"`
	Destinations  []Destination      `json:"destinations"`
	CreatedAt     time.Time          `json:"created_at"`
	UpdatedAt     time.Time          `json:"updated_at"`
	Relationships RouteRelationships `json:"relationships"`
}

// RouteRelationships of a route.
type RouteRelationships struct {
	Space  Relationship `json:"space"`
	Domain Relationship `json:"domain"`
}

// Destination is an app process a route sends traffic to.
type Destination struct {
	GUID string         `json:"guid,omitempty"`
	App  DestinationApp `json:"app"`
	Port *int           `json:"port,omitempty"`
}

// DestinationApp names the app (and process type) of a destination.
type DestinationApp struct {
	GUID    string              `json:"guid"`
	Process *DestinationProcess `json:"process,omitempty"`
}

// DestinationProcess names a process type.
type DestinationProcess struct {
	Type string `json:"type"`
}

// Job is an asynchronous operation.
type Job struct {
	GUID      string          `json:"guid"`
	Operation string          `json:"operation"`
	State     string          `json:"state"`
	Errors    []ErrorItem     `json:"errors"`
	Warnings  []JobWarning    `json:"warnings"`
	CreatedAt time.Time       `json:"created_at"`
	Links     map[string]Link `json:"links"`
}

// JobWarning is a warning a job produced.
type JobWarning struct {
	Detail string `json:"detail"`
}

// EnvResponse is the answer of GET /v3/apps/:guid/env.
type EnvResponse struct {
	StagingEnvJSON       map[string]any `json:"staging_env_json"`
	RunningEnvJSON       map[string]any `json:"running_env_json"`
	EnvironmentVariables map[string]any `json:"environment_variables"`
	SystemEnvJSON        map[string]any `json:"system_env_json"`
	ApplicationEnvJSON   map[string]any `json:"application_env_json"`
}

// ManifestDiffEntry is one change a manifest would make (RFC 6902 style).
type ManifestDiffEntry struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Was   any    `json:"was,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Resource describes one file for resource matching and upload.
type Resource struct {
	Path        string           `json:"path"`
	Mode        string           `json:"mode"`
	Checksum    ResourceChecksum `json:"checksum"`
	SizeInBytes int64            `json:"size_in_bytes"`
}

// ResourceChecksum is a SHA-1 of the file's content.
type ResourceChecksum struct {
	Value string `json:"value"`
}

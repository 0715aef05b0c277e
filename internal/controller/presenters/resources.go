package presenters

import (
	"github.com/ingot-paas/ingot/internal/store"
)

// Org is an organization.
type Org struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Name          string `json:"name"`
	Suspended     bool   `json:"suspended"`
	Relationships struct {
		Quota ToOne `json:"quota"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// Org renders an organization.
func (p Presenter) Org(o *store.Org) *Org {
	out := &Org{
		GUID: o.GUID, CreatedAt: Time(o.CreatedAt), UpdatedAt: Time(o.UpdatedAt),
		Name: o.Name, Suspended: o.Suspended, Metadata: emptyMetadata(),
		Links: Links{
			"self":           p.link("/v3/organizations/" + o.GUID),
			"domains":        p.link("/v3/organizations/" + o.GUID + "/domains"),
			"default_domain": p.link("/v3/organizations/" + o.GUID + "/domains/default"),
		},
	}
	return out
}

// Space is a space.
type Space struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Name          string `json:"name"`
	Relationships struct {
		Organization ToOne `json:"organization"`
		Quota        ToOne `json:"quota"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// Space renders a space.
func (p Presenter) Space(s *store.Space) *Space {
	out := &Space{
		GUID: s.GUID, CreatedAt: Time(s.CreatedAt), UpdatedAt: Time(s.UpdatedAt),
		Name: s.Name, Metadata: emptyMetadata(),
		Links: Links{
			"self":           p.link("/v3/spaces/" + s.GUID),
			"organization":   p.link("/v3/organizations/" + s.OrgGUID),
			"apply_manifest": p.post("/v3/spaces/" + s.GUID + "/actions/apply_manifest"),
		},
	}
	out.Relationships.Organization = Rel(s.OrgGUID)
	return out
}

// Domain is a domain.
type Domain struct {
	GUID               string   `json:"guid"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	Name               string   `json:"name"`
	Internal           bool     `json:"internal"`
	RouterGroup        *string  `json:"router_group"`
	SupportedProtocols []string `json:"supported_protocols"`
	Relationships      struct {
		Organization ToOne `json:"organization"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// Domain renders a domain.
func (p Presenter) Domain(d *store.Domain) *Domain {
	out := &Domain{
		GUID: d.GUID, CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt),
		Name: d.Name, Internal: d.Internal, SupportedProtocols: []string{"http"},
		Metadata: emptyMetadata(),
		Links: Links{
			"self":               p.link("/v3/domains/" + d.GUID),
			"route_reservations": p.link("/v3/domains/" + d.GUID + "/route_reservations"),
		},
	}
	out.Relationships.Organization = Rel(d.OrgGUID)
	return out
}

// Lifecycle is an app's or build's lifecycle.
type Lifecycle struct {
	Type string        `json:"type"`
	Data LifecycleData `json:"data"`
}

// LifecycleData is the buildpack lifecycle's data.
type LifecycleData struct {
	Buildpacks []string `json:"buildpacks"`
	Stack      *string  `json:"stack"`
}

func lifecycle(buildpacks []string, stack string) Lifecycle {
	l := Lifecycle{Type: "buildpack", Data: LifecycleData{Buildpacks: append([]string{}, buildpacks...)}}
	if stack != "" {
		l.Data.Stack = &stack
	}
	return l
}

// App is an application.
type App struct {
	GUID          string    `json:"guid"`
	CreatedAt     string    `json:"created_at"`
	UpdatedAt     string    `json:"updated_at"`
	Name          string    `json:"name"`
	State         string    `json:"state"`
	Lifecycle     Lifecycle `json:"lifecycle"`
	Relationships struct {
		Space ToOne `json:"space"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// App renders an app.
func (p Presenter) App(a *store.App) *App {
	base := "/v3/apps/" + a.GUID
	out := &App{
		GUID: a.GUID, CreatedAt: Time(a.CreatedAt), UpdatedAt: Time(a.UpdatedAt),
		Name: a.Name, State: a.State, Lifecycle: lifecycle(a.Buildpacks, a.Stack),
		Metadata: emptyMetadata(),
		Links: Links{
			"self":                  p.link(base),
			"space":                 p.link("/v3/spaces/" + a.SpaceGUID),
			"processes":             p.link(base + "/processes"),
			"packages":              p.link(base + "/packages"),
			"environment_variables": p.link(base + "/environment_variables"),
			"current_droplet":       p.link(base + "/droplets/current"),
			"droplets":              p.link(base + "/droplets"),
			"builds":                p.link(base + "/builds"),
			"routes":                p.link(base + "/routes"),
			"start":                 p.post(base + "/actions/start"),
			"stop":                  p.post(base + "/actions/stop"),
		},
	}
	out.Relationships.Space = Rel(a.SpaceGUID)
	return out
}

// HealthCheckData is a health check's settings.
type HealthCheckData struct {
	Timeout           *int    `json:"timeout"`
	InvocationTimeout *int    `json:"invocation_timeout"`
	Endpoint          *string `json:"endpoint,omitempty"`
}

// HealthCheck is a process's health check.
type HealthCheck struct {
	Type string          `json:"type"`
	Data HealthCheckData `json:"data"`
}

// ReadinessHealthCheck is always the process type (readiness checks are
// not supported).
type ReadinessHealthCheck struct {
	Type string `json:"type"`
	Data struct {
		InvocationTimeout *int `json:"invocation_timeout"`
		Interval          *int `json:"interval"`
	} `json:"data"`
}

// EmbeddedInstance is one entry of process_instances (embed=process_instances).
type EmbeddedInstance struct {
	Index int    `json:"index"`
	State string `json:"state"`
	Since int64  `json:"since"`
}

// Process is a process.
type Process struct {
	GUID                 string               `json:"guid"`
	CreatedAt            string               `json:"created_at"`
	UpdatedAt            string               `json:"updated_at"`
	Type                 string               `json:"type"`
	Command              *string              `json:"command"`
	Instances            int                  `json:"instances"`
	MemoryInMB           int64                `json:"memory_in_mb"`
	DiskInMB             int64                `json:"disk_in_mb"`
	LogRateLimit         int64                `json:"log_rate_limit_in_bytes_per_second"`
	HealthCheck          HealthCheck          `json:"health_check"`
	ReadinessHealthCheck ReadinessHealthCheck `json:"readiness_health_check"`
	Relationships        struct {
		App      ToOne `json:"app"`
		Revision ToOne `json:"revision"`
	} `json:"relationships"`
	Metadata         Metadata           `json:"metadata"`
	Links            Links              `json:"links"`
	ProcessInstances []EmbeddedInstance `json:"process_instances,omitempty"`
}

// Process renders a process. spaceGUID is for the space link.
func (p Presenter) Process(pr *store.Process, spaceGUID string) *Process {
	base := "/v3/processes/" + pr.GUID
	out := &Process{
		GUID: pr.GUID, CreatedAt: Time(pr.CreatedAt), UpdatedAt: Time(pr.UpdatedAt),
		Type: pr.Type, Instances: pr.Instances, MemoryInMB: pr.MemoryMB, DiskInMB: pr.DiskMB,
		LogRateLimit: -1, Metadata: emptyMetadata(),
		Links: Links{
			"self":  p.link(base),
			"scale": p.post(base + "/actions/scale"),
			"app":   p.link("/v3/apps/" + pr.AppGUID),
			"space": p.link("/v3/spaces/" + spaceGUID),
			"stats": p.link(base + "/stats"),
		},
	}
	if pr.Command != "" {
		c := pr.Command
		out.Command = &c
	}
	hcType := pr.HealthCheckType
	if hcType == "" {
		hcType = "port"
	}
	out.HealthCheck.Type = hcType
	if pr.HealthCheckTimeout > 0 {
		t := pr.HealthCheckTimeout
		out.HealthCheck.Data.Timeout = &t
	}
	if pr.HealthCheckInvocationTimeout > 0 {
		t := pr.HealthCheckInvocationTimeout
		out.HealthCheck.Data.InvocationTimeout = &t
	}
	if hcType == "http" {
		ep := pr.HealthCheckEndpoint
		if ep == "" {
			ep = "/"
		}
		out.HealthCheck.Data.Endpoint = &ep
	}
	out.ReadinessHealthCheck.Type = "process"
	out.Relationships.App = Rel(pr.AppGUID)
	return out
}

// Checksum is a digest.
type Checksum struct {
	Type  string  `json:"type"`
	Value *string `json:"value"`
}

// Package is a package.
type Package struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Type      string `json:"type"`
	State     string `json:"state"`
	Data      struct {
		Checksum Checksum `json:"checksum"`
		Error    *string  `json:"error"`
	} `json:"data"`
	Relationships struct {
		App ToOne `json:"app"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// Package renders a package.
func (p Presenter) Package(pk *store.Package) *Package {
	base := "/v3/packages/" + pk.GUID
	out := &Package{
		GUID: pk.GUID, CreatedAt: Time(pk.CreatedAt), UpdatedAt: Time(pk.UpdatedAt),
		Type: pk.Type, State: pk.State, Metadata: emptyMetadata(),
		Links: Links{
			"self":     p.link(base),
			"upload":   p.post(base + "/upload"),
			"download": p.link(base + "/download"),
			"app":      p.link("/v3/apps/" + pk.AppGUID),
		},
	}
	out.Data.Checksum.Type = "sha256"
	if pk.Digest != "" {
		d := pk.Digest
		out.Data.Checksum.Value = &d
	}
	if pk.Error != "" {
		e := pk.Error
		out.Data.Error = &e
	}
	out.Relationships.App = Rel(pk.AppGUID)
	return out
}

// UserRef names a user.
type UserRef struct {
	GUID  string `json:"guid"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Build is a build.
type Build struct {
	GUID              string    `json:"guid"`
	CreatedAt         string    `json:"created_at"`
	UpdatedAt         string    `json:"updated_at"`
	State             string    `json:"state"`
	StagingMemoryInMB int64     `json:"staging_memory_in_mb"`
	StagingDiskInMB   int64     `json:"staging_disk_in_mb"`
	StagingLogRate    int64     `json:"staging_log_rate_limit_bytes_per_second"`
	Error             *string   `json:"error"`
	Lifecycle         Lifecycle `json:"lifecycle"`
	Package           GUIDRef   `json:"package"`
	Droplet           *GUIDRef  `json:"droplet"`
	CreatedBy         UserRef   `json:"created_by"`
	Relationships     struct {
		App ToOne `json:"app"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// Build renders a build; createdBy names its creator.
func (p Presenter) Build(b *store.Build, createdBy UserRef) *Build {
	out := &Build{
		GUID: b.GUID, CreatedAt: Time(b.CreatedAt), UpdatedAt: Time(b.UpdatedAt),
		State: b.State, StagingMemoryInMB: b.StagingMemoryMB, StagingDiskInMB: b.StagingDiskMB,
		StagingLogRate: -1, Lifecycle: lifecycle(b.Buildpacks, b.Stack),
		Package: GUIDRef{GUID: b.PackageGUID}, CreatedBy: createdBy, Metadata: emptyMetadata(),
		Links: Links{
			"self": p.link("/v3/builds/" + b.GUID),
			"app":  p.link("/v3/apps/" + b.AppGUID),
		},
	}
	if b.Error != "" {
		e := b.Error
		out.Error = &e
	}
	if b.State == store.BuildStaged && b.DropletGUID != "" {
		out.Droplet = &GUIDRef{GUID: b.DropletGUID}
		out.Links["droplet"] = p.link("/v3/droplets/" + b.DropletGUID)
	}
	out.Relationships.App = Rel(b.AppGUID)
	return out
}

// DropletBuildpack is one buildpack that staged a droplet.
type DropletBuildpack struct {
	Name          string  `json:"name"`
	DetectOutput  *string `json:"detect_output"`
	BuildpackName *string `json:"buildpack_name"`
	Version       *string `json:"version"`
}

// Droplet is a droplet.
type Droplet struct {
	GUID      string  `json:"guid"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	State     string  `json:"state"`
	Error     *string `json:"error"`
	Lifecycle struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	} `json:"lifecycle"`
	ExecutionMetadata string             `json:"execution_metadata"`
	ProcessTypes      map[string]string  `json:"process_types"`
	Checksum          *Checksum          `json:"checksum"`
	Buildpacks        []DropletBuildpack `json:"buildpacks"`
	Stack             *string            `json:"stack"`
	Image             *string            `json:"image"`
	Relationships     struct {
		App ToOne `json:"app"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// Droplet renders a droplet.
func (p Presenter) Droplet(d *store.Droplet) *Droplet {
	base := "/v3/droplets/" + d.GUID
	out := &Droplet{
		GUID: d.GUID, CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt),
		State: d.State, ProcessTypes: map[string]string{}, Buildpacks: []DropletBuildpack{},
		Metadata: emptyMetadata(),
		Links: Links{
			"self":                   p.link(base),
			"app":                    p.link("/v3/apps/" + d.AppGUID),
			"assign_current_droplet": {Href: p.BaseURL + "/v3/apps/" + d.AppGUID + "/relationships/current_droplet", Method: "PATCH"},
		},
	}
	out.Lifecycle.Type = "buildpack"
	out.Lifecycle.Data = map[string]any{}
	if d.PackageGUID != "" {
		out.Links["package"] = p.link("/v3/packages/" + d.PackageGUID)
	}
	if d.Error != "" {
		e := d.Error
		out.Error = &e
	}
	for k, v := range d.ProcessTypes {
		out.ProcessTypes[k] = v
	}
	if d.Digest != "" {
		v := d.Digest
		out.Checksum = &Checksum{Type: "sha256", Value: &v}
	}
	if d.State == store.DropletStaged {
		out.Links["download"] = p.link(base + "/download")
		name := d.BuildpackName
		if name == "" {
			name = d.DetectedBuildpack
		}
		if name != "" {
			bp := DropletBuildpack{Name: name}
			if d.DetectedBuildpack != "" {
				do := d.DetectedBuildpack
				bp.DetectOutput = &do
			}
			if d.BuildpackName != "" {
				bn := d.BuildpackName
				bp.BuildpackName = &bn
			}
			out.Buildpacks = append(out.Buildpacks, bp)
		}
	}
	if d.Stack != "" {
		s := d.Stack
		out.Stack = &s
	}
	out.Relationships.App = Rel(d.AppGUID)
	return out
}

// DestinationApp is a destination's app and process.
type DestinationApp struct {
	GUID    string `json:"guid"`
	Process struct {
		Type string `json:"type"`
	} `json:"process"`
}

// Destination is a route destination.
type Destination struct {
	GUID     string         `json:"guid"`
	App      DestinationApp `json:"app"`
	Weight   *int           `json:"weight"`
	Port     int            `json:"port"`
	Protocol string         `json:"protocol"`
}

// Destination renders a destination.
func (p Presenter) Destination(d *store.Destination) Destination {
	out := Destination{GUID: d.GUID, Port: d.Port, Protocol: "http1"}
	if out.Port == 0 {
		out.Port = 8080
	}
	out.App.GUID = d.AppGUID
	out.App.Process.Type = d.ProcessType
	return out
}

// Route is a route.
type Route struct {
	GUID          string            `json:"guid"`
	CreatedAt     string            `json:"created_at"`
	UpdatedAt     string            `json:"updated_at"`
	Protocol      string            `json:"protocol"`
	Host          string            `json:"host"`
	Path          string            `json:"path"`
	Port          *int              `json:"port"`
	URL           string            `json:"url"`
	Destinations  []Destination     `json:"destinations"`
	Options       map[string]string `json:"options"`
	Relationships struct {
		Space  ToOne `json:"space"`
		Domain ToOne `json:"domain"`
	} `json:"relationships"`
	Metadata Metadata `json:"metadata"`
	Links    Links    `json:"links"`
}

// RouteURL is host.domain/path (no scheme), the form routers register.
func RouteURL(host, domain, path string) string {
	u := domain
	if host != "" {
		u = host + "." + domain
	}
	return u + path
}

// Route renders a route with its domain name and destinations.
func (p Presenter) Route(r *store.Route, domainName string, dests []*store.Destination) *Route {
	base := "/v3/routes/" + r.GUID
	out := &Route{
		GUID: r.GUID, CreatedAt: Time(r.CreatedAt), UpdatedAt: Time(r.UpdatedAt),
		Protocol: "http", Host: r.Host, Path: r.Path, URL: RouteURL(r.Host, domainName, r.Path),
		Destinations: []Destination{}, Options: map[string]string{}, Metadata: emptyMetadata(),
		Links: Links{
			"self":         p.link(base),
			"space":        p.link("/v3/spaces/" + r.SpaceGUID),
			"domain":       p.link("/v3/domains/" + r.DomainGUID),
			"destinations": p.link(base + "/destinations"),
		},
	}
	for _, d := range dests {
		out.Destinations = append(out.Destinations, p.Destination(d))
	}
	out.Relationships.Space = Rel(r.SpaceGUID)
	out.Relationships.Domain = Rel(r.DomainGUID)
	return out
}

// Destinations is the body of the route destinations endpoints.
type Destinations struct {
	Destinations []Destination `json:"destinations"`
	Links        Links         `json:"links"`
}

// RouteDestinations renders a route's destinations.
func (p Presenter) RouteDestinations(routeGUID string, dests []*store.Destination) *Destinations {
	out := &Destinations{Destinations: []Destination{}, Links: Links{
		"self":  p.link("/v3/routes/" + routeGUID + "/destinations"),
		"route": p.link("/v3/routes/" + routeGUID),
	}}
	for _, d := range dests {
		out.Destinations = append(out.Destinations, p.Destination(d))
	}
	return out
}

// JobError is one error of a failed job.
type JobError struct {
	Code   int    `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// JobWarning is one warning of a job.
type JobWarning struct {
	Detail string `json:"detail"`
}

// Job is an asynchronous operation.
type Job struct {
	GUID      string       `json:"guid"`
	CreatedAt string       `json:"created_at"`
	UpdatedAt string       `json:"updated_at"`
	Operation string       `json:"operation"`
	State     string       `json:"state"`
	Errors    []JobError   `json:"errors"`
	Warnings  []JobWarning `json:"warnings"`
	Links     Links        `json:"links"`
}

// Job renders a job.
func (p Presenter) Job(j *store.Job) *Job {
	out := &Job{
		GUID: j.GUID, CreatedAt: Time(j.CreatedAt), UpdatedAt: Time(j.UpdatedAt),
		Operation: j.Operation, State: j.State, Errors: []JobError{}, Warnings: []JobWarning{},
		Links: Links{"self": p.link("/v3/jobs/" + j.GUID)},
	}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, JobError{Code: e.Code, Title: e.Title, Detail: e.Detail})
	}
	for _, w := range j.Warnings {
		out.Warnings = append(out.Warnings, JobWarning{Detail: w})
	}
	switch j.ResourceType {
	case "space":
		out.Links["space"] = p.link("/v3/spaces/" + j.ResourceGUID)
	case "app":
		if j.State != store.JobComplete {
			out.Links["app"] = p.link("/v3/apps/" + j.ResourceGUID)
		}
	case "service_instances":
		out.Links["service_instances"] = p.link("/v3/service_instances/" + j.ResourceGUID)
	case "service_credential_binding":
		out.Links["service_credential_binding"] = p.link("/v3/service_credential_bindings/" + j.ResourceGUID)
	case "service_broker":
		out.Links["service_brokers"] = p.link("/v3/service_brokers/" + j.ResourceGUID)
	}
	return out
}

// Role is a role assignment.
type Role struct {
	GUID          string `json:"guid"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Type          string `json:"type"`
	Relationships struct {
		User         ToOne `json:"user"`
		Organization ToOne `json:"organization"`
		Space        ToOne `json:"space"`
	} `json:"relationships"`
	Links Links `json:"links"`
}

// Role renders a role.
func (p Presenter) Role(guid, typ, userGUID, orgGUID, spaceGUID, created string) *Role {
	out := &Role{GUID: guid, CreatedAt: created, UpdatedAt: created, Type: typ,
		Links: Links{"self": p.link("/v3/roles/" + guid), "user": p.link("/v3/users/" + userGUID)}}
	out.Relationships.User = Rel(userGUID)
	out.Relationships.Organization = Rel(orgGUID)
	out.Relationships.Space = Rel(spaceGUID)
	if orgGUID != "" {
		out.Links["organization"] = p.link("/v3/organizations/" + orgGUID)
	}
	if spaceGUID != "" {
		out.Links["space"] = p.link("/v3/spaces/" + spaceGUID)
	}
	return out
}

// InstancePort is one port mapping of an instance.
type InstancePort struct {
	External int `json:"external"`
	Internal int `json:"internal"`
}

// Usage is an instance's measured usage.
type Usage struct {
	Time    string  `json:"time"`
	CPU     float64 `json:"cpu"`
	Mem     uint64  `json:"mem"`
	Disk    uint64  `json:"disk"`
	LogRate uint64  `json:"log_rate"`
}

// InstanceStats is one entry of a process's stats.
type InstanceStats struct {
	Type             string         `json:"type"`
	Index            int            `json:"index"`
	State            string         `json:"state"`
	Routable         bool           `json:"routable"`
	Host             string         `json:"host"`
	InstancePorts    []InstancePort `json:"instance_ports"`
	Uptime           int64          `json:"uptime"`
	MemQuota         uint64         `json:"mem_quota"`
	DiskQuota        uint64         `json:"disk_quota"`
	FDSQuota         uint64         `json:"fds_quota"`
	LogRateLimit     int64          `json:"log_rate_limit"`
	IsolationSegment *string        `json:"isolation_segment"`
	Details          *string        `json:"details"`
	Usage            Usage          `json:"usage"`
	InstanceGUID     string         `json:"instance_guid,omitempty"`
}

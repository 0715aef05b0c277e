// Package messages defines every payload that crosses the bus. Each type is
// plain JSON with snake_case keys, and each has Validate so a receiver can
// reject a malformed message with a clear error instead of acting on it.
package messages

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Decode unmarshals data into v and validates it.
func Decode[T interface{ Validate() error }](data []byte, v T) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return v.Validate()
}

// Instance states as reported by DEAs and shown in process stats.
const (
	StateStarting = "STARTING"
	StateRunning  = "RUNNING"
	StateCrashed  = "CRASHED"
	StateStopping = "STOPPING"
	StateDown     = "DOWN"
	// StateEvacuating: the instance still runs and serves on a DEA that
	// is leaving; a replacement is being started elsewhere, and the
	// instance stops once the replacement runs. It does not count as
	// running for the health manager or placement.
	StateEvacuating = "EVACUATING"
)

// Exit reasons carried by droplet.exited.
const (
	ReasonCrashed       = "CRASHED"
	ReasonStopped       = "STOPPED"
	ReasonDEAShutdown   = "DEA_SHUTDOWN"
	ReasonDEAEvacuation = "DEA_EVACUATION"
)

// Health check types.
const (
	HealthCheckPort    = "port"
	HealthCheckHTTP    = "http"
	HealthCheckProcess = "process"
)

// DEAAdvertise is published by every DEA on bus.SubjectDEAAdvertise every
// advertise interval and whenever its resources change.
type DEAAdvertise struct {
	ID                string         `json:"id"`
	Host              string         `json:"host"`
	Stacks            []string       `json:"stacks"`
	Zone              string         `json:"zone"`
	AvailableMemoryMB int64          `json:"available_memory"`
	AvailableDiskMB   int64          `json:"available_disk"`
	AppIDToCount      map[string]int `json:"app_id_to_count"`
	// ExpiresInSeconds tells the pool how long the advertisement holds.
	ExpiresInSeconds int `json:"expires_in_seconds"`
}

func (m *DEAAdvertise) Validate() error {
	if m.ID == "" {
		return invalid("dea advertise: id is required")
	}
	if m.AvailableMemoryMB < 0 || m.AvailableDiskMB < 0 {
		return invalid("dea advertise: negative capacity")
	}
	return nil
}

// DEAShutdown is published by a DEA leaving the pool: with Evacuating when
// it starts to evacuate (it takes no more starts, but its instances keep
// running and heartbeating until replaced), and without once it is gone.
type DEAShutdown struct {
	ID         string `json:"id"`
	Evacuating bool   `json:"evacuating,omitempty"`
}

func (m *DEAShutdown) Validate() error {
	if m.ID == "" {
		return invalid("dea shutdown: id is required")
	}
	return nil
}

// HealthCheck describes how a DEA decides an instance is healthy.
type HealthCheck struct {
	Type string `json:"type"` // port (default), http, process
	// Endpoint is the HTTP path for type http.
	Endpoint string `json:"endpoint,omitempty"`
	// TimeoutSeconds is how long an instance may take to become healthy.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
	// InvocationTimeoutSeconds bounds one probe.
	InvocationTimeoutSeconds int `json:"invocation_timeout_seconds,omitempty"`
}

// StartInstance is sent by the controller to one DEA as a request on
// bus.DEAStartSubject(id). The DEA replies with StartReply. A start naming an
// app guid + droplet guid + index that the DEA already runs is a no-op that
// replies Accepted.
type StartInstance struct {
	AppGUID     string `json:"app_guid"`
	AppName     string `json:"app_name"`
	ProcessGUID string `json:"process_guid"`
	ProcessType string `json:"process_type"`
	SpaceGUID   string `json:"space_guid"`
	SpaceName   string `json:"space_name"`
	OrgGUID     string `json:"organization_guid"`
	OrgName     string `json:"organization_name"`
	// Version is the droplet guid: instances of another droplet are of
	// another version.
	Version string `json:"version"`
	// DropletURI is a signed URL the DEA GETs the droplet tgz from.
	DropletURI string `json:"droplet_uri"`
	// DropletDigest is the droplet's sha256 (hex); the DEA caches by it.
	DropletDigest string `json:"droplet_digest"`
	Index         int    `json:"index"`
	// InstanceGUID is assigned by the controller, unique per start.
	InstanceGUID    string `json:"instance_guid"`
	MemoryMB        int64  `json:"memory_mb"`
	DiskMB          int64  `json:"disk_mb"`
	FileDescriptors int64  `json:"fds"`
	// StartCommand overrides the droplet's own start command when set.
	StartCommand string            `json:"start_command,omitempty"`
	Env          map[string]string `json:"env"`
	// VCAPApplication is the controller's part of VCAP_APPLICATION; the DEA
	// merges in instance fields.
	VCAPApplication map[string]any  `json:"vcap_application"`
	VCAPServices    json.RawMessage `json:"vcap_services,omitempty"`
	URIs            []string        `json:"uris"`
	HealthCheck     HealthCheck     `json:"health_check"`
	Stack           string          `json:"stack"`
	CFAPI           string          `json:"cf_api,omitempty"`
}

func (m *StartInstance) Validate() error {
	switch {
	case m.AppGUID == "":
		return invalid("start: app_guid is required")
	case m.Version == "":
		return invalid("start: version is required")
	case m.DropletURI == "":
		return invalid("start: droplet_uri is required")
	case m.InstanceGUID == "":
		return invalid("start: instance_guid is required")
	case m.Index < 0:
		return invalid("start: index must be >= 0")
	case m.MemoryMB <= 0:
		return invalid("start: memory_mb must be > 0")
	case m.DiskMB <= 0:
		return invalid("start: disk_mb must be > 0")
	}
	switch m.HealthCheck.Type {
	case "", HealthCheckPort, HealthCheckHTTP, HealthCheckProcess:
	default:
		return invalid("start: unknown health check type %q", m.HealthCheck.Type)
	}
	return nil
}

// StartReply answers StartInstance.
type StartReply struct {
	Accepted bool   `json:"accepted"`
	Error    string `json:"error,omitempty"`
}

func (m *StartReply) Validate() error { return nil }

// StopInstances is published to all DEAs on bus.SubjectDEAStop. It is a
// filter: every DEA stops every instance matching all given fields. AppGUID
// alone stops every instance of the app.
type StopInstances struct {
	AppGUID       string   `json:"app_guid"`
	Version       string   `json:"version,omitempty"`
	InstanceGUIDs []string `json:"instance_guids,omitempty"`
	Indices       []int    `json:"indices,omitempty"`
	// Reason is reported back in droplet.exited (default STOPPED).
	Reason string `json:"reason,omitempty"`
}

func (m *StopInstances) Validate() error {
	if m.AppGUID == "" {
		return invalid("stop: app_guid is required")
	}
	return nil
}

// UpdateRoutes is published on bus.SubjectDEAUpdate when an app's routes
// change; DEAs re-register running instances with the new URIs.
type UpdateRoutes struct {
	AppGUID string   `json:"app_guid"`
	URIs    []string `json:"uris"`
}

func (m *UpdateRoutes) Validate() error {
	if m.AppGUID == "" {
		return invalid("update: app_guid is required")
	}
	return nil
}

// InstanceUsage is the measured usage of one instance.
type InstanceUsage struct {
	CPU         float64   `json:"cpu"` // fraction of one core, 0..N
	MemoryBytes uint64    `json:"mem"`
	DiskBytes   uint64    `json:"disk"`
	Time        time.Time `json:"time"`
}

// InstanceHeartbeat is the actual state of one instance.
type InstanceHeartbeat struct {
	AppGUID        string        `json:"app_guid"`
	ProcessType    string        `json:"process_type,omitempty"`
	Version        string        `json:"version"`
	InstanceGUID   string        `json:"instance_guid"`
	Index          int           `json:"index"`
	State          string        `json:"state"`
	StateTimestamp float64       `json:"state_timestamp"` // unix seconds
	Host           string        `json:"host"`
	Port           int           `json:"port"`
	MemQuota       uint64        `json:"mem_quota"`
	DiskQuota      uint64        `json:"disk_quota"`
	FDSQuota       uint64        `json:"fds_quota"`
	Usage          InstanceUsage `json:"usage"`
	StartedAt      time.Time     `json:"started_at"`
	// Details explains a non-running state (for example a failing health
	// check), shown in stats.
	Details string `json:"details,omitempty"`
}

// Heartbeat is published by each DEA on bus.SubjectDEAHeartbeat every
// heartbeat interval (even when empty), and with a single instance the
// moment that instance changes state.
type Heartbeat struct {
	DEA       string              `json:"dea"`
	Instances []InstanceHeartbeat `json:"droplets"`
	// Partial is true for a single-instance heartbeat: absence of other
	// instances means nothing.
	Partial bool `json:"partial,omitempty"`
}

func (m *Heartbeat) Validate() error {
	if m.DEA == "" {
		return invalid("heartbeat: dea is required")
	}
	for i, in := range m.Instances {
		if in.AppGUID == "" || in.InstanceGUID == "" {
			return invalid("heartbeat: droplet %d lacks app_guid or instance_guid", i)
		}
		if in.Index < 0 {
			return invalid("heartbeat: droplet %d has a negative index", i)
		}
	}
	return nil
}

// DropletExited is published when an instance stops for any reason.
type DropletExited struct {
	DEA             string  `json:"dea"`
	AppGUID         string  `json:"app_guid"`
	ProcessType     string  `json:"process_type,omitempty"`
	Version         string  `json:"version"`
	InstanceGUID    string  `json:"instance_guid"`
	Index           int     `json:"index"`
	Reason          string  `json:"reason"`
	ExitStatus      int     `json:"exit_status"`
	ExitDescription string  `json:"exit_description"`
	CrashTimestamp  float64 `json:"crash_timestamp,omitempty"`
}

func (m *DropletExited) Validate() error {
	if m.AppGUID == "" || m.InstanceGUID == "" {
		return invalid("droplet.exited: app_guid and instance_guid are required")
	}
	switch m.Reason {
	case ReasonCrashed, ReasonStopped, ReasonDEAShutdown, ReasonDEAEvacuation:
	default:
		return invalid("droplet.exited: unknown reason %q", m.Reason)
	}
	return nil
}

// StagingRequest is sent as a request on bus.StagingStartSubject(deaID). The
// stager replies once, when staging has finished (successfully or not), with
// StagingResult. Staging output goes to the app's log as source STG while it
// runs.
type StagingRequest struct {
	AppGUID   string `json:"app_guid"`
	AppName   string `json:"app_name"`
	BuildGUID string `json:"build_guid"`
	Stack     string `json:"stack"`
	// PackageURI is a signed URL to GET the package zip from.
	PackageURI string `json:"package_uri"`
	// DropletUploadURI is a signed URL to PUT the droplet tgz to.
	DropletUploadURI string `json:"droplet_upload_uri"`
	// BuildpackCacheURI is a signed URL to GET (404 = empty) and PUT the
	// app's buildpack cache tgz.
	BuildpackCacheURI string `json:"buildpack_cache_uri"`
	// Buildpacks names the buildpacks to use, in order: a built-in name
	// (go, nodejs, python, java, staticfile, binary, also with the
	// "_buildpack" suffix) or an absolute path to a buildpack directory on
	// the DEA host. Empty means detect among the built-ins.
	Buildpacks []string `json:"buildpacks,omitempty"`
	// StartCommand is the user's command (manifest or -c), if any.
	StartCommand   string            `json:"start_command,omitempty"`
	Env            map[string]string `json:"env"`
	MemoryMB       int64             `json:"memory_mb"`
	DiskMB         int64             `json:"disk_mb"`
	TimeoutSeconds int               `json:"timeout_seconds"`
}

func (m *StagingRequest) Validate() error {
	switch {
	case m.AppGUID == "":
		return invalid("staging: app_guid is required")
	case m.BuildGUID == "":
		return invalid("staging: build_guid is required")
	case m.PackageURI == "" || m.DropletUploadURI == "":
		return invalid("staging: package_uri and droplet_upload_uri are required")
	}
	return nil
}

// StagingResult answers a StagingRequest.
type StagingResult struct {
	BuildGUID         string `json:"build_guid"`
	DetectedBuildpack string `json:"detected_buildpack,omitempty"`
	BuildpackName     string `json:"buildpack_name,omitempty"`
	StartCommand      string `json:"start_command,omitempty"`
	// ProcessTypes are from Procfile and the buildpack's release.
	ProcessTypes map[string]string `json:"process_types,omitempty"`
	// DropletDigest is the sha256 of the uploaded droplet tgz.
	DropletDigest string `json:"droplet_digest,omitempty"`
	DropletSize   int64  `json:"droplet_size,omitempty"`
	Error         string `json:"error,omitempty"`
}

func (m *StagingResult) Validate() error {
	if m.BuildGUID == "" {
		return invalid("staging result: build_guid is required")
	}
	if m.Error == "" && m.DropletDigest == "" {
		return invalid("staging result: droplet_digest is required on success")
	}
	return nil
}

// HM operations.
const (
	OpStart = "START"
	OpStop  = "STOP"
)

// HMRequest is published by the health manager on bus.SubjectHMRequests
// (the controller subscribes in a queue group). The controller re-validates
// it against current desired state before acting.
type HMRequest struct {
	Op      string `json:"op"`
	AppGUID string `json:"app_guid"`
	// Version is the droplet guid the HM believes is current.
	Version string `json:"version"`
	// Indices to start (START).
	Indices []int `json:"indices,omitempty"`
	// InstanceGUIDs to stop (STOP).
	InstanceGUIDs []string `json:"instance_guids,omitempty"`
	Reason        string   `json:"reason"` // CRASHED, MISSING, EXTRA, DUPLICATE, OLD_VERSION, UNKNOWN_APP
	// LastUpdated is the desired state's updated_at the HM acted on.
	LastUpdated time.Time `json:"last_updated"`
	// Key de-duplicates: app-version-index for starts, instance guid for stops.
	Key string `json:"key"`
}

func (m *HMRequest) Validate() error {
	if m.AppGUID == "" {
		return invalid("hm request: app_guid is required")
	}
	switch m.Op {
	case OpStart:
		if len(m.Indices) == 0 {
			return invalid("hm request: START needs indices")
		}
		for _, i := range m.Indices {
			if i < 0 {
				return invalid("hm request: negative index")
			}
		}
	case OpStop:
		if len(m.InstanceGUIDs) == 0 {
			return invalid("hm request: STOP needs instance_guids")
		}
	default:
		return invalid("hm request: unknown op %q", m.Op)
	}
	return nil
}

// DesiredApp is one app's desired state, as served by the controller.
type DesiredApp struct {
	AppGUID   string    `json:"app_guid"`
	State     string    `json:"state"`   // STARTED or STOPPED
	Version   string    `json:"version"` // current droplet guid, "" when none
	Instances int       `json:"instances"`
	UpdatedAt time.Time `json:"updated_at"`
	// Deploying: a rolling deployment is replacing the app's instances;
	// the health manager leaves the app to it meanwhile.
	Deploying bool `json:"deploying,omitempty"`
}

// DesiredStateRequest asks the controller (request on
// bus.SubjectDesiredState) for desired state of all apps with a droplet.
type DesiredStateRequest struct{}

func (m *DesiredStateRequest) Validate() error { return nil }

// DesiredStateReply answers DesiredStateRequest.
type DesiredStateReply struct {
	Apps []DesiredApp `json:"apps"`
	// GeneratedAt is when the controller read the state.
	GeneratedAt time.Time `json:"generated_at"`
}

func (m *DesiredStateReply) Validate() error {
	for i, a := range m.Apps {
		if a.AppGUID == "" {
			return invalid("desired state: app %d lacks app_guid", i)
		}
		if a.Instances < 0 {
			return invalid("desired state: app %d has negative instances", i)
		}
	}
	return nil
}

// Log source types (log-cache tags source_type).
const (
	SourceApp     = "APP"
	SourceStaging = "STG"
	SourceRouter  = "RTR"
	SourceAPI     = "API"
	SourceCell    = "CELL"
)

// LogLine is one line of an app's log, published on bus.LogSubject(appGUID).
type LogLine struct {
	AppGUID string `json:"app_guid"`
	// SourceType is the log-cache source_type, e.g. "APP/PROC/WEB", "STG",
	// "RTR", "API", "CELL".
	SourceType string `json:"source_type"`
	// InstanceID is the instance index as a string ("0"), or a component id.
	InstanceID string `json:"instance_id"`
	Message    string `json:"message"`
	// Stream is OUT or ERR.
	Stream    string `json:"stream"`
	Timestamp int64  `json:"timestamp"` // unix nanoseconds
}

func (m *LogLine) Validate() error {
	if m.AppGUID == "" {
		return invalid("log: app_guid is required")
	}
	if m.Stream != "OUT" && m.Stream != "ERR" {
		return invalid("log: stream must be OUT or ERR")
	}
	return nil
}

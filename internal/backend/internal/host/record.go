package host

import (
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
)

// The states of a container.
const (
	StateActive  = "active"
	StateStopped = "stopped"
)

// Record is what every backend keeps of a container in its
// container.json. A backend's record embeds it (so its fields stay at the
// top level of the JSON) and adds its own.
type Record struct {
	Handle           string                `json:"handle"`
	MemoryLimitBytes uint64                `json:"memory_limit_bytes"`
	DiskLimitBytes   uint64                `json:"disk_limit_bytes"`
	CPUShares        uint64                `json:"cpu_shares"`
	MaxPids          uint64                `json:"max_pids"`
	Env              []string              `json:"env"`
	Properties       map[string]string     `json:"properties"`
	State            string                `json:"state"`
	Events           []string              `json:"events"`
	Ports            []backend.PortMapping `json:"ports"`
	CreatedAt        time.Time             `json:"created_at"`
}

// NewRecord is the record of a container created now from spec: active,
// with copies of its env and properties.
func NewRecord(spec backend.ContainerSpec) Record {
	return Record{
		Handle:           spec.Handle,
		MemoryLimitBytes: spec.MemoryLimitBytes,
		DiskLimitBytes:   spec.DiskLimitBytes,
		CPUShares:        spec.CPUShares,
		MaxPids:          spec.MaxPids,
		Env:              append([]string(nil), spec.Env...),
		Properties:       CopyProps(spec.Properties),
		State:            StateActive,
		CreatedAt:        time.Now().UTC(),
	}
}

// Normalize fixes up a record read from disk: any state but stopped is
// active, and properties are never nil.
func (r *Record) Normalize() {
	if r.State != StateStopped {
		r.State = StateActive
	}
	if r.Properties == nil {
		r.Properties = map[string]string{}
	}
}

// HasPort reports whether m is recorded already.
func (r *Record) HasPort(m backend.PortMapping) bool {
	for _, p := range r.Ports {
		if p == m {
			return true
		}
	}
	return false
}

// Info is the container's backend.Info with usage u: copies of the
// record's events, ports and properties. The ports are on the host's
// loopback address.
func (r *Record) Info(u backend.Usage) backend.Info {
	return backend.Info{
		Handle:     r.Handle,
		State:      r.State,
		Events:     append([]string(nil), r.Events...),
		Usage:      u,
		Ports:      append([]backend.PortMapping(nil), r.Ports...),
		Properties: CopyProps(r.Properties),
		HostIP:     "127.0.0.1",
	}
}

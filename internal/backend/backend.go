// Package backend defines the isolation backends the DEA and the stager run
// containers on. The contract follows Garden's: a Backend creates and
// destroys Containers; a Container takes files in and out, runs processes,
// maps a port, and reports usage. Implementations: process (plain host
// processes with resource accounting) and, later, runc. backendtest is the
// conformance suite every implementation passes.
package backend

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

var (
	// ErrNotFound: no container with that handle.
	ErrNotFound = errors.New("backend: container not found")
	// ErrExists: Create with a handle already in use.
	ErrExists = errors.New("backend: container already exists")
	// ErrNoCapacity: Create would exceed the backend's capacity.
	ErrNoCapacity = errors.New("backend: insufficient capacity")
	// ErrStopped: the container is stopped and cannot run processes.
	ErrStopped = errors.New("backend: container stopped")
	// ErrInvalidPath: a path outside the container, or a tar entry that
	// escapes its destination.
	ErrInvalidPath = errors.New("backend: invalid path")
)

// EventOutOfMemory is recorded in Info.Events when the container went over
// its memory limit and was killed.
const EventOutOfMemory = "out of memory"

// ContainerSpec describes a container to create.
type ContainerSpec struct {
	// Handle names the container; unique per backend. Required.
	Handle string
	// MemoryLimitBytes is the hard memory limit (0 = none).
	MemoryLimitBytes uint64
	// DiskLimitBytes is the disk quota of the container's home (0 = none).
	DiskLimitBytes uint64
	// CPUShares is the relative CPU weight (0 = default).
	CPUShares uint64
	// MaxPids bounds the number of processes (0 = default).
	MaxPids uint64
	// Env is added to the environment of every process run in it.
	Env []string
	// Properties are kept with the container and returned by Info, so a
	// restarted DEA can tell what each container was for.
	Properties map[string]string
}

// ProcessSpec describes a process to run in a container.
type ProcessSpec struct {
	// Path is the program (looked up in PATH when it has no slash).
	Path string
	Args []string
	// Env is added after the container's Env.
	Env []string
	// Dir is the working directory as the process sees it; "" = HomeDir.
	Dir string
	// Detached asks for a process that outlives whoever started it (the
	// DEA crashing or being killed): on a backend whose containers
	// implement Attacher, it runs in a session of its own and writes its
	// output to files the backend copies to ProcessIO (Stdin is not
	// supported), so that a restarted DEA can Attach to it. Other
	// backends ignore it.
	Detached bool
}

// Attacher is implemented by containers whose detached processes (see
// ProcessSpec.Detached) can be taken over after a restart of the DEA, by a
// new Backend on the same state directory.
type Attacher interface {
	// Attach returns the detached process id (its Process.ID) if it still
	// runs, checked against pid reuse, copying its output from now on (and
	// a bounded backlog of what it wrote while nobody read it) to pio.
	// ErrNotFound when it is gone or was never detached.
	Attach(id string, pio ProcessIO) (Process, error)
}

// ProcessIO wires a process's standard streams; nil means discard.
type ProcessIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Process is a running process.
type Process interface {
	// ID identifies the process within its container.
	ID() string
	// Wait blocks until the process exits and returns its exit status
	// (128+signal when killed by a signal).
	Wait() (int, error)
	// Signal sends sig to the process and all its children.
	Signal(sig os.Signal) error
}

// PortMapping is one port that outside clients reach the container on.
type PortMapping struct {
	HostPort      uint32
	ContainerPort uint32
}

// Usage is measured resource use.
type Usage struct {
	MemoryBytes uint64
	DiskBytes   uint64
	// CPUTime is total CPU time consumed so far.
	CPUTime time.Duration
}

// Info describes a container.
type Info struct {
	Handle string
	State  string // "active" or "stopped"
	// Events such as EventOutOfMemory.
	Events     []string
	Usage      Usage
	Ports      []PortMapping
	Properties map[string]string
	// HostIP is the address the container's ports are reachable on.
	HostIP string
}

// Container is one isolated environment.
type Container interface {
	Handle() string
	// HomeDir is the directory, as the container's processes see it, where
	// the app lives (the DEA puts the droplet's app/ under it). Writable,
	// counted against the disk quota.
	HomeDir() string
	// StreamIn extracts the tar stream r into dstPath (a path as the
	// container sees it, under HomeDir). Entries escaping dstPath fail with
	// ErrInvalidPath.
	StreamIn(ctx context.Context, dstPath string, r io.Reader) error
	// StreamOut returns a tar stream of srcPath (file or directory).
	StreamOut(ctx context.Context, srcPath string) (io.ReadCloser, error)
	// Run starts a process. ErrStopped if the container was stopped.
	Run(ctx context.Context, spec ProcessSpec, pio ProcessIO) (Process, error)
	// NetIn maps a host port to a container port; 0 picks a free one for
	// either (the process backend uses the same number for both).
	NetIn(hostPort, containerPort uint32) (PortMapping, error)
	// Stop terminates every process: SIGTERM, then SIGKILL after the grace
	// period (or at once when kill is true). Files remain until Destroy.
	Stop(ctx context.Context, kill bool) error
	// Info reports state, events, usage, ports and properties.
	Info(ctx context.Context) (Info, error)
}

// Capacity is what the backend can hold.
type Capacity struct {
	MemoryBytes   uint64
	DiskBytes     uint64
	MaxContainers int
}

// Backend creates and finds containers.
type Backend interface {
	// Name is "process", "runc", ...
	Name() string
	Create(ctx context.Context, spec ContainerSpec) (Container, error)
	// Lookup finds a container by handle (ErrNotFound).
	Lookup(handle string) (Container, error)
	// List returns every container, including ones that survived a restart
	// of the DEA and can be re-adopted.
	List(ctx context.Context) ([]Container, error)
	// Destroy stops a container and removes its files (ErrNotFound).
	Destroy(ctx context.Context, handle string) error
	Capacity() (Capacity, error)
}

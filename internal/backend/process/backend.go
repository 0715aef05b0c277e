// Package process is ingot's portable isolation backend. A container is a
// directory on the host (RootDir/<handle>, the app's home in
// RootDir/<handle>/home) and its processes are plain host processes run as
// the DEA's own user, each started in a process group of its own so that
// Signal and Stop reach the whole tree.
//
// There is no kernel enforcement: the process backend measures and kills.
// A monitor samples the resident memory and CPU time of every container's
// process tree from /proc every MonitorInterval and the size of its
// directory every DiskCheckInterval; a container over its memory limit is
// killed with the event backend.EventOutOfMemory, one over its disk limit
// with EventDiskQuotaExceeded, and is then stopped. A process that leaves
// its group and is orphaned (double fork plus setsid) escapes accounting.
// CPU shares and pid limits are recorded but not enforced; ports are host
// ports (host port == container port) handed out from a range.
//
// Each container's spec, ports, process groups and detached processes are
// persisted in RootDir/<handle>/container.json, so a Backend created again
// on the same RootDir lists the containers that survived a restart, holds
// their ports again, accounts their memory, can still stop their processes
// and can Attach to their detached ones (see detached.go).
package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// EventDiskQuotaExceeded is recorded in Info.Events when a container went
// over its disk limit and was killed.
const EventDiskQuotaExceeded = "disk quota exceeded"

// ErrInvalidSpec is returned by Create for a malformed spec.
var ErrInvalidSpec = errors.New("process backend: invalid container spec")

// ErrPortUnavailable is returned by NetIn when no port (or not the asked
// one) can be had.
var ErrPortUnavailable = errors.New("process backend: port unavailable")

const (
	stateActive  = host.StateActive
	stateStopped = host.StateStopped
	recordFile   = "container.json"
)

// Config configures the process backend.
type Config struct {
	// RootDir holds one directory per container. Required.
	RootDir string
	// PortRangeStart..PortRangeEnd is the pool NetIn draws from (default
	// 61001..65000, outside Linux's ephemeral range).
	PortRangeStart, PortRangeEnd uint32
	// MemoryBytes and DiskBytes are the capacity reported by Capacity
	// (default: the host's MemTotal and the free space of RootDir).
	MemoryBytes, DiskBytes uint64
	// MonitorInterval is how often memory and CPU are sampled (500ms).
	MonitorInterval time.Duration
	// DiskCheckInterval is how often disk use is measured (5s).
	DiskCheckInterval time.Duration
	// StopGrace is the time between SIGTERM and SIGKILL in Stop (10s).
	StopGrace time.Duration
}

func (c *Config) defaults() error {
	if c.RootDir == "" {
		return errors.New("process backend: root dir is required")
	}
	abs, err := filepath.Abs(c.RootDir)
	if err != nil {
		return fmt.Errorf("process backend: root dir: %w", err)
	}
	c.RootDir = abs
	if c.PortRangeStart == 0 && c.PortRangeEnd == 0 {
		c.PortRangeStart, c.PortRangeEnd = 61001, 65000
	}
	if c.PortRangeStart == 0 || c.PortRangeEnd < c.PortRangeStart || c.PortRangeEnd > 65535 {
		return fmt.Errorf("process backend: bad port range %d-%d", c.PortRangeStart, c.PortRangeEnd)
	}
	if c.MonitorInterval <= 0 {
		c.MonitorInterval = 500 * time.Millisecond
	}
	if c.DiskCheckInterval <= 0 {
		c.DiskCheckInterval = 5 * time.Second
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 10 * time.Second
	}
	return nil
}

// Backend runs containers as host processes. It implements backend.Backend.
type Backend struct {
	cfg Config
	log *slog.Logger
	cap backend.Capacity

	ports *host.PortPool
	mon   *host.Monitor[*container]

	mu         sync.Mutex
	containers map[string]*container
	closed     bool
}

var _ backend.Backend = (*Backend)(nil)

// New creates RootDir if needed and loads the containers recorded in it.
func New(cfg Config, log *slog.Logger) (*Backend, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.RootDir, 0o755); err != nil {
		return nil, fmt.Errorf("process backend: create root dir: %w", err)
	}
	mem, disk, err := host.Capacity(cfg.RootDir, cfg.MemoryBytes, cfg.DiskBytes)
	if err != nil {
		return nil, fmt.Errorf("process backend: %w", err)
	}
	cfg.MemoryBytes, cfg.DiskBytes = mem, disk
	b := &Backend{
		cfg: cfg,
		log: log,
		cap: backend.Capacity{
			MemoryBytes:   cfg.MemoryBytes,
			DiskBytes:     cfg.DiskBytes,
			MaxContainers: int(cfg.PortRangeEnd - cfg.PortRangeStart + 1),
		},
		containers: map[string]*container{},
		ports:      host.NewPortPool(cfg.PortRangeStart, cfg.PortRangeEnd, ErrPortUnavailable),
	}
	b.mon = host.NewMonitor(&b.mu, cfg.MonitorInterval, func() []*container {
		return slices.Collect(maps.Values(b.containers))
	}, b.sampleAll)
	if err := b.load(); err != nil {
		return nil, err
	}
	return b, nil
}

// load reads every RootDir/<handle>/container.json.
func (b *Backend) load() error {
	found, err := host.LoadRecords(b.cfg.RootDir, recordFile, func(r *record) string { return r.Handle },
		func(_, dir string) {
			// Create writes the record right after making the directory:
			// without one, the container was never created.
			_ = host.RemoveTree(dir)
		}, b.log)
	if err != nil {
		return fmt.Errorf("process backend: %w", err)
	}
	for _, f := range found {
		rec := f.Rec
		c := newContainer(b, f.Dir, rec)
		b.containers[rec.Handle] = c
		for _, p := range rec.Ports {
			b.ports.Hold(p.HostPort, rec.Handle)
		}
		b.log.Info("container-restored", "handle", rec.Handle, "state", rec.State, "process_groups", len(rec.Groups))
	}
	if len(b.containers) > 0 {
		b.mu.Lock()
		b.mon.EnsureLocked()
		b.mu.Unlock()
	}
	return nil
}

// Name is "process".
func (b *Backend) Name() string { return "process" }

// Capacity reports the configured capacity. MaxContainers is the size of
// the port range: every instance needs one port.
func (b *Backend) Capacity() (backend.Capacity, error) { return b.cap, nil }

// Create makes the container directory and its home. Errors: ErrExists,
// ErrNoCapacity (the limit exceeds the whole capacity, or no containers
// left), ErrInvalidSpec.
func (b *Backend) Create(ctx context.Context, spec backend.ContainerSpec) (backend.Container, error) {
	if err := host.CheckSpec(spec, b.cap, ErrInvalidSpec); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("process backend: closed")
	}
	if _, ok := b.containers[spec.Handle]; ok {
		return nil, fmt.Errorf("%w: %s", backend.ErrExists, spec.Handle)
	}
	if len(b.containers) >= b.cap.MaxContainers {
		return nil, fmt.Errorf("%w: %d containers", backend.ErrNoCapacity, len(b.containers))
	}
	dir := filepath.Join(b.cfg.RootDir, spec.Handle)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s (directory left over)", backend.ErrExists, spec.Handle)
		}
		return nil, fmt.Errorf("create container %s: %w", spec.Handle, err)
	}
	rec := record{Record: host.NewRecord(spec)}
	c := newContainer(b, dir, rec)
	err := os.Mkdir(c.home, 0o755)
	if err == nil {
		c.mu.Lock()
		err = c.saveLocked()
		c.mu.Unlock()
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create container %s: %w", spec.Handle, err)
	}
	b.containers[spec.Handle] = c
	b.mon.EnsureLocked()
	b.log.Debug("container-created", "handle", spec.Handle, "memory_limit", spec.MemoryLimitBytes, "disk_limit", spec.DiskLimitBytes)
	return c, nil
}

// Lookup finds a container by handle (ErrNotFound).
func (b *Backend) Lookup(handle string) (backend.Container, error) {
	return host.Lookup(&b.mu, b.containers, handle)
}

// List returns every container, including those loaded from RootDir.
func (b *Backend) List(ctx context.Context) ([]backend.Container, error) {
	return host.List(ctx, &b.mu, b.containers)
}

// Destroy kills every process of the container, releases its ports and
// removes its directory (ErrNotFound).
func (b *Backend) Destroy(ctx context.Context, handle string) error {
	b.mu.Lock()
	c, ok := b.containers[handle]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, handle)
	}
	if err := c.Stop(ctx, true); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("destroy %s: %w", handle, err)
	}
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", backend.ErrNotFound, handle)
	}
	c.destroyed = true
	c.mu.Unlock()

	b.mu.Lock()
	delete(b.containers, handle)
	b.mu.Unlock()
	b.ports.ReleaseAll(handle)
	if err := host.RemoveTree(c.dir); err != nil {
		return fmt.Errorf("destroy %s: remove files: %w", handle, err)
	}
	b.log.Debug("container-destroyed", "handle", handle)
	return nil
}

// Close stops the monitor. Containers and their processes are left as they
// are (a new Backend on the same RootDir finds them).
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mon.StopLocked()
	b.mu.Unlock()
	b.mon.Wait()
	return nil
}

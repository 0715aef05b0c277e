//go:build !linux

package runc

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
)

// ErrUnavailable: runc cannot be used here. On this operating system it
// never can: runc containers are a Linux feature.
var ErrUnavailable = errors.New("runc backend unavailable: it needs Linux")

// Config configures the runc backend (see the Linux build).
type Config struct {
	RootDir, RuncPath, RuncRoot, StackRootfs string
	PortRangeStart, PortRangeEnd             uint32
	MemoryBytes, DiskBytes                   uint64
	DefaultPids, NoFile                      uint64
	StopGrace                                time.Duration
	UIDBase                                  uint32
	MonitorInterval, DiskCheckInterval       time.Duration
	CgroupParent, MkfsPath                   string
}

// Backend is never made on this operating system.
type Backend struct{}

var _ backend.Backend = (*Backend)(nil)

// Available always fails: runc needs Linux.
func Available(string) error { return ErrUnavailable }

// New always fails with ErrUnavailable.
func New(Config, *slog.Logger) (*Backend, error) { return nil, ErrUnavailable }

func (*Backend) Name() string { return "runc" }
func (*Backend) Create(context.Context, backend.ContainerSpec) (backend.Container, error) {
	return nil, ErrUnavailable
}
func (*Backend) Lookup(string) (backend.Container, error)          { return nil, ErrUnavailable }
func (*Backend) List(context.Context) ([]backend.Container, error) { return nil, ErrUnavailable }
func (*Backend) Destroy(context.Context, string) error             { return ErrUnavailable }
func (*Backend) Capacity() (backend.Capacity, error)               { return backend.Capacity{}, ErrUnavailable }
func (*Backend) Close() error                                      { return nil }

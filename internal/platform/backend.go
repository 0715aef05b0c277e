package platform

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/process"
	"github.com/ingot-paas/ingot/internal/backend/runc"
)

// Backend kinds a DEA can run its containers with.
const (
	// BackendAuto picks runc when it can create a container here, else
	// process.
	BackendAuto = "auto"
	// BackendRunc isolates every instance and staging in a runc container
	// (Linux, root).
	BackendRunc = "runc"
	// BackendProcess runs apps as plain host processes (no isolation).
	BackendProcess = "process"
)

// ErrBadBackend is returned for a backend kind other than auto, runc or
// process.
var ErrBadBackend = errors.New("unknown backend")

// BackendChoice says which backend a DEA runs and why.
type BackendChoice struct {
	// Kind is "runc" or "process".
	Kind string
	// Reason explains the choice (for `ingot up` and the logs).
	Reason string
}

// validBackend checks a kind; "" is process (the default of Start, which
// the e2e harness and tests rely on).
func validBackend(kind string) error {
	switch kind {
	case "", BackendAuto, BackendRunc, BackendProcess:
		return nil
	}
	return fmt.Errorf("%w %q: want auto, runc or process", ErrBadBackend, kind)
}

// runcUIDBase derives the first container uid of a runc DEA from its data
// dir, so that DEAs (and `ingot up` next to a test run) on one host get
// disjoint uid ranges: two containers sharing a uid could read each
// other's files. The ranges are 4096 wide (the default port range holds
// 4000 containers) in 100000..4196000.
func runcUIDBase(dataDir string) uint32 {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(abs))
	return 100000 + (h.Sum32()%1024)*4096
}

// dropBackend is a backend the DEA's platform closes at stop.
type dropBackend interface {
	backend.Backend
	Close() error
}

// newBackend makes the DEA's backend of kind (auto, runc, process; "" =
// process) rooted at dataDir/containers.
func newBackend(kind string, o DEAOptions, log *slog.Logger) (dropBackend, BackendChoice, error) {
	if err := validBackend(kind); err != nil {
		return nil, BackendChoice{}, err
	}
	root := filepath.Join(o.DataDir, "containers")
	newProcess := func(reason string) (dropBackend, BackendChoice, error) {
		be, err := process.New(process.Config{RootDir: root, PortRangeStart: o.PortRangeStart, PortRangeEnd: o.PortRangeEnd}, log)
		if err != nil {
			return nil, BackendChoice{}, fmt.Errorf("process backend: %w", err)
		}
		return be, BackendChoice{Kind: BackendProcess, Reason: reason}, nil
	}
	if kind == "" || kind == BackendProcess {
		return newProcess("--backend process: apps are not isolated from each other")
	}
	uidBase := o.RuncUIDBase
	if uidBase == 0 {
		uidBase = runcUIDBase(o.DataDir)
	}
	cfg := runc.Config{
		RootDir:  filepath.Join(o.DataDir, "runc"),
		RuncPath: o.RuncPath,
		UIDBase:  uidBase,
		// The same pool as the process backend's.
		PortRangeStart: o.PortRangeStart,
		PortRangeEnd:   o.PortRangeEnd,
	}
	if kind == BackendRunc {
		if err := runc.Available(o.RuncPath); err != nil {
			return nil, BackendChoice{}, fmt.Errorf("--backend runc: %w", err)
		}
		be, err := runc.New(cfg, log)
		if err != nil {
			return nil, BackendChoice{}, fmt.Errorf("--backend runc: %w (or run with --backend process, which does not isolate apps)", err)
		}
		return be, BackendChoice{Kind: BackendRunc, Reason: "--backend runc: every instance and staging runs isolated with hard limits"}, nil
	}
	// auto: runc when it is installed, we are root, and a trial container
	// runs (runc.New runs one); else process, saying why.
	if err := runc.Available(o.RuncPath); err != nil {
		return newProcess(fmt.Sprintf("runc is not usable here (%v); apps are not isolated from each other", err))
	}
	be, err := runc.New(cfg, log)
	if err != nil {
		log.Warn("runc-backend-unusable", "error", err, "fallback", BackendProcess)
		return newProcess(fmt.Sprintf("runc could not create a container (%v); apps are not isolated from each other", err))
	}
	return be, BackendChoice{Kind: BackendRunc, Reason: "runc is installed and created a trial container: every instance and staging runs isolated with hard limits"}, nil
}

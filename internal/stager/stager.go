// Package stager turns an app package (a zip of source) into a droplet (a
// tgz) by running buildpacks in a staging container of an isolation
// backend, the way Cloud Foundry's DEA and Diego builder did:
//
//	container → package in → cache in → buildpacks in → detect (in order) →
//	supply / finalize (or compile) → release → droplet tgz + cache tgz out
//
// Every line the buildpacks print, and every stage, goes to the app's log
// as source STG.
//
// The droplet tgz holds app/ (the staged app; at run time $HOME), deps/
// (what supply buildpacks installed; at run time $DEPS_DIR), tmp/ and logs/
// (empty) and staging_info.yml. It is relocatable: buildpacks and start
// commands refer to $HOME and $DEPS_DIR only. app/.profile.d/*.sh are to be
// sourced before the start command (and app/.profile.d/000_ingot_deps.sh
// sources the supply buildpacks' deps/<idx>/profile.d/*.sh).
package stager

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/buildpacks"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

// Sentinel errors; Stage reports them as StagingResult.Error text.
var (
	ErrStackMismatch      = errors.New("stack not supported")
	ErrUnknownBuildpack   = errors.New("unknown buildpack")
	ErrNoBuildpackMatched = errors.New("no buildpack detected the app")
	ErrBuildpackFailed    = errors.New("buildpack failed")
	ErrTimeout            = errors.New("staging timed out")
	ErrTransfer           = errors.New("transfer failed")
	ErrDropletTooLarge    = errors.New("droplet too large")
)

// stagingError is a failure with a message for the user that is
// classified by one of the sentinel errors.
type stagingError struct {
	kind error
	msg  string
}

func (e *stagingError) Error() string { return e.msg }
func (e *stagingError) Unwrap() error { return e.kind }

func failf(kind error, format string, args ...any) error {
	return &stagingError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Config tunes a stager. Zero values take the defaults.
type Config struct {
	// Stack is the stack this stager stages for (default "host").
	Stack string
	// DefaultMemoryMB and DefaultDiskMB are the staging container's limits
	// when the request gives 0 (defaults 1024 and 4096).
	DefaultMemoryMB int64
	DefaultDiskMB   int64
	// Timeout bounds one staging (default 15m); a request's
	// TimeoutSeconds wins.
	Timeout time.Duration
	// MaxPackageBytes bounds the unpacked app package (default 1 GiB).
	MaxPackageBytes int64
	// MaxPackageFiles bounds the number of entries of the package
	// (default 100000).
	MaxPackageFiles int
	// MaxCacheBytes bounds the buildpack cache (unpacked) that is saved
	// and restored (default 1 GiB). A larger cache is not saved.
	MaxCacheBytes int64
	// DetectOrder lists the built-in buildpacks tried by detection, in
	// order (default buildpacks.Names()).
	DetectOrder []string
	// TempDir is where droplets and caches are spooled before upload
	// (default os.TempDir()).
	TempDir string
	// SharedGoCache, when set, is a Go build cache that the go and
	// staticfile buildpacks use instead of the app's own (passed to them
	// as INGOT_GOCACHE), so a first push of a Go app does not rebuild the
	// standard library. Only for backends that do not isolate apps from
	// each other (process): a writable cache shared between apps would let
	// one app's staging poison another's build.
	SharedGoCache string
}

// Validate checks the config after defaults.
func (c *Config) Validate() error {
	switch {
	case c.Stack == "":
		return errors.New("stager config: stack is required")
	case c.DefaultMemoryMB <= 0 || c.DefaultDiskMB <= 0:
		return errors.New("stager config: default memory and disk must be > 0")
	case c.Timeout <= 0:
		return errors.New("stager config: timeout must be > 0")
	case c.MaxPackageBytes <= 0 || c.MaxPackageFiles <= 0 || c.MaxCacheBytes <= 0:
		return errors.New("stager config: package and cache limits must be > 0")
	case len(c.DetectOrder) == 0:
		return errors.New("stager config: detect order is empty")
	}
	return nil
}

func (c *Config) defaults() {
	if c.Stack == "" {
		c.Stack = "host"
	}
	if c.DefaultMemoryMB == 0 {
		c.DefaultMemoryMB = 1024
	}
	if c.DefaultDiskMB == 0 {
		c.DefaultDiskMB = 4096
	}
	if c.Timeout == 0 {
		c.Timeout = 15 * time.Minute
	}
	if c.MaxPackageBytes == 0 {
		c.MaxPackageBytes = 1 << 30
	}
	if c.MaxPackageFiles == 0 {
		c.MaxPackageFiles = 100000
	}
	if c.MaxCacheBytes == 0 {
		c.MaxCacheBytes = 1 << 30
	}
	if len(c.DetectOrder) == 0 {
		c.DetectOrder = buildpacks.Names()
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
}

// Deps are the stager's collaborators.
type Deps struct {
	// Backend runs the staging containers. Required.
	Backend backend.Backend
	// Logs receives the staging output (source STG); nil discards it.
	Logs *logs.Emitter
	// HTTP fetches packages and caches and uploads droplets (default: a
	// client with connect and response-header timeouts).
	HTTP *http.Client
	// Buildpacks holds the built-in buildpacks (default buildpacks.FS()).
	Buildpacks fs.FS
}

// Stager stages apps. It is safe for concurrent use: each Stage call has
// its own container.
type Stager struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
}

// New makes a stager.
func New(cfg Config, deps Deps, log *slog.Logger) (*Stager, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Backend == nil {
		return nil, errors.New("stager: a backend is required")
	}
	if deps.HTTP == nil {
		deps.HTTP = defaultHTTPClient()
	}
	if deps.Buildpacks == nil {
		deps.Buildpacks = buildpacks.FS()
	}
	for _, name := range cfg.DetectOrder {
		if _, err := fs.Stat(deps.Buildpacks, name+"/bin/detect"); err != nil {
			return nil, fmt.Errorf("stager: built-in buildpack %q has no bin/detect: %w", name, err)
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stager{cfg: cfg, deps: deps, log: log}, nil
}

func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}}
}

// Stage stages one app. It never panics: every failure is reported as the
// result's Error, a message meant for the user. The staging container is
// destroyed before Stage returns.
func (s *Stager) Stage(ctx context.Context, req *messages.StagingRequest) (res *messages.StagingResult) {
	if req == nil {
		return &messages.StagingResult{Error: "staging failed: no staging request"}
	}
	res = &messages.StagingResult{BuildGUID: req.BuildGUID}
	start := time.Now()
	log := s.log.With("app_guid", req.AppGUID, "build_guid", req.BuildGUID)
	defer func() {
		if r := recover(); r != nil {
			log.Error("staging-panicked", "panic", fmt.Sprint(r))
			res = &messages.StagingResult{BuildGUID: req.BuildGUID, Error: fmt.Sprintf("staging failed: internal error: %v", r)}
		}
	}()
	if err := req.Validate(); err != nil {
		res.Error = "staging failed: " + err.Error()
		return res
	}
	log.Info("staging-started", "buildpacks", req.Buildpacks)
	st := newStaging(s, req, log)
	out, err := st.run(ctx)
	if err != nil {
		res.Error = "staging failed: " + err.Error()
		st.emitErr("Staging failed: " + err.Error())
		log.Warn("staging-failed", "error", err, "duration", time.Since(start).Round(time.Millisecond))
		return res
	}
	out.BuildGUID = req.BuildGUID
	log.Info("staging-finished", "buildpack", out.BuildpackName, "droplet_digest", out.DropletDigest,
		"droplet_size", out.DropletSize, "duration", time.Since(start).Round(time.Millisecond))
	return out
}

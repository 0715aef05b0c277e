package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/blobstore"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller"
	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/dea"
	"github.com/ingot-paas/ingot/internal/healthmgr"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/router"
	"github.com/ingot-paas/ingot/internal/stager"
	"github.com/ingot-paas/ingot/internal/store/sqlstore"
)

// Start boots every component and returns once the API answers and a DEA
// has advertised, so a push can begin at once.
func Start(ctx context.Context, opts Options) (*Platform, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := validBackend(opts.Backend); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	admin, first, err := loadOrCreateAdmin(opts.DataDir)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p := &Platform{Domain: opts.Domain, Admin: admin, FirstStart: first, log: opts.Log, cancel: cancel}
	fail := func(err error) (*Platform, error) {
		_ = p.Stop()
		return nil, err
	}

	natsURL := opts.NATSURL
	if natsURL == "" {
		e, err := bus.StartEmbedded(opts.NATSAddr)
		if err != nil {
			return fail(err)
		}
		p.closers = append(p.closers, e.Shutdown)
		natsURL = e.URL()
	}
	p.NATSURL = natsURL

	// Router first, so it is listening for registrations; then the
	// controller; then DEAs, which register with both.
	rt, err := StartRouter(runCtx, p, RouterOptions{NATSURL: natsURL, ListenAddr: opts.RouterAddr, Log: opts.Log})
	if err != nil {
		return fail(err)
	}
	p.RouterURL = httpURL(rt.Addr())

	cc, err := StartController(runCtx, p, ControllerOptions{
		NATSURL: natsURL, DataDir: opts.DataDir, ListenAddr: opts.APIAddr,
		Domain: opts.Domain, Admin: admin, RouterURL: p.RouterURL, Log: opts.Log,
		MaxPackageBytes: opts.MaxPackageBytes, MaxPackageFiles: opts.MaxPackageFiles,
		DropletsKept: opts.DropletsKept,
	})
	if err != nil {
		return fail(err)
	}
	p.APIURL = cc.URL()

	for i := 0; i < opts.DEAs; i++ {
		dir := filepath.Join(opts.DataDir, "dea")
		if opts.DEAs > 1 {
			dir = filepath.Join(opts.DataDir, fmt.Sprintf("dea-%d", i))
		}
		o := DEAOptions{NATSURL: natsURL, DataDir: dir, Backend: opts.Backend, RuncPath: opts.RuncPath, Log: opts.Log}
		if opts.DEAs > 1 {
			// Disjoint port ranges, so two DEAs never hand out one port
			// (on runc each container may bind only its own).
			span := uint32(4000 / opts.DEAs)
			o.PortRangeStart = 61001 + uint32(i)*span
			o.PortRangeEnd = o.PortRangeStart + span - 1
		}
		if _, err := StartDEA(runCtx, p, o); err != nil {
			return fail(err)
		}
	}
	if err := StartHealthManager(runCtx, p, HealthManagerOptions{NATSURL: natsURL, Log: opts.Log}); err != nil {
		return fail(err)
	}
	if err := waitReady(ctx, p.APIURL); err != nil {
		return fail(err)
	}
	if err := startServices(ctx, runCtx, p, opts.Services, opts); err != nil {
		return fail(err)
	}
	return p, nil
}

// waitReady polls the API root until it answers.
func waitReady(ctx context.Context, apiURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("api at %s not ready: %w", apiURL, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func connect(url, name string, log *slog.Logger) (*bus.NATS, error) {
	return bus.Connect(bus.Options{URL: url, Name: name}, log.With("component", name))
}

// RouterOptions configures one router.
type RouterOptions struct {
	NATSURL    string
	ListenAddr string
	Log        *slog.Logger
}

// StartRouter runs a router under p.
func StartRouter(ctx context.Context, p *Platform, o RouterOptions) (*router.Router, error) {
	b, err := connect(o.NATSURL, "router", o.Log)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, b.Close)
	log := o.Log // the router names itself in its logs
	rt, err := router.New(router.Config{ListenAddr: o.ListenAddr}, router.Deps{Bus: b, Logs: logs.NewEmitter(b, log)}, log)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	p.run("router", rt.Run, ctx)
	return rt, nil
}

// ControllerOptions configures one controller.
type ControllerOptions struct {
	NATSURL    string
	DataDir    string
	ListenAddr string
	Domain     string
	Admin      Credentials
	RouterURL  string
	// DatabaseURL selects PostgreSQL ("postgres://..."); empty = SQLite in
	// DataDir.
	DatabaseURL string
	// MaxPackageBytes and MaxPackageFiles bound uploads (0 = defaults).
	MaxPackageBytes int64
	MaxPackageFiles int
	// DropletsKept is how many droplets per app are kept (0 = 5).
	DropletsKept int
	Log          *slog.Logger
	// AccessTokenTTL and RefreshTokenTTL are token lifetimes (0 = 10m
	// and 7 days).
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For login
	// throttling believes; without them the TCP peer is the client.
	TrustedProxies []netip.Prefix
}

// StartController runs the Cloud Controller (with its log store) under p.
func StartController(ctx context.Context, p *Platform, o ControllerOptions) (*controller.Controller, error) {
	log := o.Log.With("component", "controller")
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	var (
		st  *sqlstore.Store
		err error
	)
	if o.DatabaseURL != "" {
		st, err = sqlstore.Open(ctx, sqlstore.Config{Driver: "postgres", DSN: o.DatabaseURL})
	} else {
		st, err = sqlstore.OpenSQLite(ctx, filepath.Join(o.DataDir, "ingot.db"))
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	p.closers = append(p.closers, func() { _ = st.Close() })
	blobs, err := blobstore.NewLocal(filepath.Join(o.DataDir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("open blobstore: %w", err)
	}
	if n, err := blobs.RemoveStaleTemp(ctx, time.Hour); err != nil {
		log.Warn("blobstore-cleanup-failed", "error", err)
	} else if n > 0 {
		log.Info("blobstore-cleanup", "removed_temp_files", n)
	}
	b, err := connect(o.NATSURL, "controller", o.Log)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, b.Close)
	logStore := logs.NewStore(logs.Config{})
	col, err := logs.Collect(b, logStore, log)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, col.Stop)
	cc, err := controller.New(controller.Config{
		ListenAddr:      o.ListenAddr,
		Domain:          o.Domain,
		DataDir:         o.DataDir,
		AdminUsername:   o.Admin.Username,
		AdminPassword:   o.Admin.Password,
		RouterURL:       o.RouterURL,
		MaxPackageBytes: o.MaxPackageBytes,
		MaxPackageFiles: o.MaxPackageFiles,
		DropletsKept:    o.DropletsKept,
		AccessTokenTTL:  o.AccessTokenTTL,
		RefreshTokenTTL: o.RefreshTokenTTL,
		UAA:             auth.ServerConfig{Limits: auth.LimitConfig{TrustedProxies: o.TrustedProxies}},
	}, controller.Deps{Bus: b, Store: st, Blobs: blobs, Logs: logStore, Emitter: logs.NewEmitter(b, log)}, log)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	p.run("controller", cc.Run, ctx)
	return cc, nil
}

// DEAOptions configures one DEA and its stager.
type DEAOptions struct {
	NATSURL string
	DataDir string
	// Backend is auto, runc or process ("" = process).
	Backend string
	// RuncPath is the runc binary ("" = runc from PATH).
	RuncPath string
	// RuncUIDBase is the first container uid of the runc backend (0 =
	// derived from DataDir, so DEAs on one host do not share uids).
	RuncUIDBase uint32
	// PortRangeStart..PortRangeEnd is the pool of instance ports (0 =
	// the backend's default, 61001..65000). DEAs on one host need
	// disjoint ranges.
	PortRangeStart, PortRangeEnd uint32
	// StagingMemoryMB and StagingDiskMB are the staging container's limits
	// when a staging request gives none (0 = the stager's defaults).
	StagingMemoryMB, StagingDiskMB int64
	// Evacuate makes the DEA evacuate when it is stopped: its instances
	// keep serving until replacements run on other DEAs (bounded by
	// dea.Config.EvacuationTimeout, 30s). `ingot dea` sets it: that DEA
	// leaves alone while the rest of the platform runs on. `ingot up`
	// does not: it stops every component at once, so there is nowhere
	// to evacuate to, and the stop stays fast.
	Evacuate bool
	Log      *slog.Logger
}

// StartDEA runs a DEA with its backend (see DEAOptions.Backend) under p.
// The choice is logged and returned by the DEA's Platform.Backends.
func StartDEA(ctx context.Context, p *Platform, o DEAOptions) (*dea.DEA, error) {
	log := o.Log.With("component", "dea")
	be, choice, err := newBackend(o.Backend, o, log)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, func() { _ = be.Close() })
	p.Backends = append(p.Backends, choice)
	log.Info("dea-backend", "backend", choice.Kind, "reason", choice.Reason)
	// The host's Go build cache is shared between stagings only on the
	// process backend: a runc container cannot see it, and a cache every
	// app's staging writes would let one app poison another's build.
	goCache := ""
	if choice.Kind == BackendProcess {
		goCache = sharedGoCache(o.DataDir)
	}
	b, err := connect(o.NATSURL, "dea", o.Log)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, b.Close)
	em := logs.NewEmitter(b, log)
	httpc := &http.Client{Timeout: 30 * time.Minute}
	st, err := stager.New(stager.Config{Stack: "host", SharedGoCache: goCache, DefaultMemoryMB: o.StagingMemoryMB, DefaultDiskMB: o.StagingDiskMB}, stager.Deps{Backend: be, Logs: em, HTTP: httpc}, o.Log.With("component", "stager"))
	if err != nil {
		return nil, fmt.Errorf("stager: %w", err)
	}
	d, err := dea.New(dea.Config{DataDir: o.DataDir, Evacuate: o.Evacuate}, dea.Deps{Bus: b, Backend: be, Stager: st, Logs: em, HTTP: httpc}, log)
	if err != nil {
		return nil, fmt.Errorf("dea: %w", err)
	}
	p.run("dea", d.Run, ctx)
	return d, nil
}

// HealthManagerOptions configures a health manager.
type HealthManagerOptions struct {
	NATSURL string
	// ID and LeaseTTL: see healthmgr.Config.
	ID       string
	LeaseTTL time.Duration
	Log      *slog.Logger
}

// StartHealthManager runs a health manager under p.
func StartHealthManager(ctx context.Context, p *Platform, o HealthManagerOptions) error {
	log := o.Log // the health manager names itself in its logs
	b, err := connect(o.NATSURL, "healthmgr", o.Log)
	if err != nil {
		return err
	}
	p.closers = append(p.closers, b.Close)
	hm, err := healthmgr.New(healthmgr.Config{ID: o.ID, LeaseTTL: o.LeaseTTL},
		healthmgr.Deps{Bus: b, Leaser: healthmgr.BusLeaser{Bus: b}}, log)
	if err != nil {
		return fmt.Errorf("health manager: %w", err)
	}
	p.run("healthmgr", hm.Run, ctx)
	return nil
}

// sharedGoCache is the Go build cache the process backend's stagings share:
// the host's own (`go env GOCACHE`), which is usually warm, else one in the
// DEA's data dir. The process backend does not isolate apps from each
// other, so sharing the cache costs no isolation.
func sharedGoCache(dataDir string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" && dir != "off" {
			return dir
		}
	}
	return filepath.Join(dataDir, "gocache")
}

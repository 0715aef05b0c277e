// Package controller is ingot's Cloud Controller: the Cloud Foundry v3 API
// and UAA-compatible token endpoints, the desired state of orgs, spaces,
// apps, processes and routes (in a store.Store), package uploads and
// droplets (in a blobstore.Store), staging through stagers on DEAs, and
// placement of app instances on DEAs over the bus, and the services
// marketplace: Open Service Broker brokers, their offerings and plans,
// managed and user-provided service instances and credential bindings,
// rendered into apps' VCAP_SERVICES. It keeps an in-memory
// view of actual state (advertisements, heartbeats, exits) to answer stats
// quickly and to re-validate every health-manager request.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/store"
)

// APIVersion is the v3 API version advertised at the root. 3.211.0 makes
// the cf CLI use embedded process instances.
const APIVersion = "3.211.0"

// Bounds on concurrent work.
const (
	maxConcurrentUploads  = 8
	maxConcurrentStagings = 64
	jobWorkers            = 4
	jobQueue              = 256
	placeWorkers          = 4
	placeQueue            = 4096
	startTimeout          = 5 * time.Second
	blobURLTTL            = time.Hour
)

// Controller is the Cloud Controller.
type Controller struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	ln      net.Listener
	url     string
	pres    presenters.Presenter
	issuer  *auth.Issuer
	uaa     *auth.Server
	secret  []byte // blob URL signing secret
	tmpDir  string
	handler http.Handler
	started time.Time

	// baseCtx outlives requests; it is cancelled when Run returns.
	baseCtx  context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	bgMu     sync.Mutex
	bgClosed bool

	jobQ       chan jobTask
	placeQ     chan placeTask
	uploadSem  chan struct{}
	stagingSem chan struct{}
	appLocks   keyedMutex
	deploys    *deployments

	rt *runtimeView

	svc *services

	// bearerRoutes are the patterns of the token-authenticated routes
	// (each guarded by its routeRules entry).
	bearerRoutes []string

	rndMu sync.Mutex
	rnd   *rand.Rand
}

// New builds the controller: it binds the listener, loads (or creates) the
// signing key and secret, and seeds the default org, space, shared domain
// and admin user idempotently.
func New(cfg Config, deps Deps, log *slog.Logger) (*Controller, error) {
	if log == nil {
		log = discardLogger()
	}
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	if deps.Emitter == nil {
		deps.Emitter = logs.NewEmitter(deps.Bus, log)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("controller: create data dir: %w", err)
	}
	tmpDir := filepath.Join(cfg.DataDir, "tmp")
	// Scratch files of an earlier run are garbage.
	_ = os.RemoveAll(tmpDir)
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("controller: create scratch dir: %w", err)
	}
	keys, err := auth.LoadKeyring(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	secret, err := auth.LoadOrCreateSecret(cfg.DataDir, "blob-url-secret", 32)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	svc, err := newServices(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("controller: listen on %s: %w", cfg.ListenAddr, err)
	}
	u := cfg.ExternalURL
	if u == "" {
		u = "http://" + ln.Addr().String()
	}
	baseCtx, cancel := context.WithCancel(context.Background())
	c := &Controller{
		cfg: cfg, deps: deps, log: log,
		ln: ln, url: u, pres: presenters.Presenter{BaseURL: u},
		secret: secret, tmpDir: tmpDir, started: time.Now(),
		baseCtx: baseCtx, cancel: cancel,
		jobQ:       make(chan jobTask, jobQueue),
		placeQ:     make(chan placeTask, placeQueue),
		uploadSem:  make(chan struct{}, maxConcurrentUploads),
		stagingSem: make(chan struct{}, maxConcurrentStagings),
		rt:         newRuntimeView(cfg.AdvertisementTTL, cfg.HeartbeatTTL),
		deploys:    newDeployments(),
		svc:        svc,
		rnd:        rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), rand.Uint64())),
	}
	c.issuer = auth.NewKeyringIssuer(keys, u+"/oauth/token", cfg.AccessTokenTTL, cfg.RefreshTokenTTL)
	c.uaa = auth.NewServer(cfg.UAA, c.issuer, deps.Store, log)
	c.handler = c.routes()
	ctx, cancelSeed := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelSeed()
	if err := c.seed(ctx); err != nil {
		ln.Close()
		cancel()
		return nil, fmt.Errorf("controller: seed: %w", err)
	}
	return c, nil
}

// URL is the API's base URL.
func (c *Controller) URL() string { return c.url }

// Handler is the API's HTTP handler (for tests).
func (c *Controller) Handler() http.Handler { return c.handler }

// Run subscribes to the bus, starts the workers and serves the API until
// ctx is done, then shuts down gracefully.
func (c *Controller) Run(ctx context.Context) error {
	defer c.cancel()
	subs, err := c.subscribe()
	if err != nil {
		c.ln.Close()
		return err
	}
	unsubscribe := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		subs = nil
	}
	defer unsubscribe()
	for i := 0; i < jobWorkers; i++ {
		c.goBackground(c.jobWorker)
	}
	for i := 0; i < placeWorkers; i++ {
		c.goBackground(c.placeWorker)
	}
	c.goBackground(c.janitor)
	c.goBackground(c.uaa.Run)
	c.goBackground(c.pruneAuditEvents)
	c.goBackground(func(ctx context.Context) { _ = c.svc.mitigator.Run(ctx) })
	c.goBackground(c.resumeServiceOperations)
	c.goBackground(c.restartStartedApps)
	c.goBackground(c.resumeDeployments)
	c.deps.Bus.OnReconnect(func() { c.locateDEAs() })
	c.locateDEAs()

	srv := &http.Server{
		Handler:           c.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		BaseContext:       func(net.Listener) context.Context { return c.baseCtx },
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(c.ln) }()
	c.log.Info("controller-started", "url", c.url, "domain", c.cfg.Domain)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			unsubscribe()
			c.stopBackground()
			return fmt.Errorf("controller: serve: %w", err)
		}
	}
	unsubscribe()
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		c.log.Warn("controller-shutdown-incomplete", "error", err)
		_ = srv.Close()
	}
	c.stopBackground()
	c.log.Info("controller-stopped")
	return nil
}

// goBackground runs f on a tracked goroutine; after shutdown began it
// does nothing.
func (c *Controller) goBackground(f func(ctx context.Context)) {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgClosed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f(c.baseCtx)
	}()
}

// stopBackground cancels background work and waits for it.
func (c *Controller) stopBackground() {
	c.bgMu.Lock()
	c.bgClosed = true
	c.bgMu.Unlock()
	c.cancel()
	c.wg.Wait()
}

func (c *Controller) locateDEAs() {
	if err := c.deps.Bus.Publish(bus.SubjectDEALocate, []byte("{}")); err != nil {
		c.log.Warn("dea-locate-failed", "error", err)
	}
}

func newGUID() string { return uuid.NewString() }

func (c *Controller) randIntN(n int) int {
	c.rndMu.Lock()
	defer c.rndMu.Unlock()
	return c.rnd.IntN(n)
}

// rand returns a private random source seeded from the controller's.
func (c *Controller) newRand() *rand.Rand {
	c.rndMu.Lock()
	defer c.rndMu.Unlock()
	return rand.New(rand.NewPCG(c.rnd.Uint64(), c.rnd.Uint64()))
}

// seed creates the shared domain, default org and space, and the admin
// user when they do not exist, and fails builds a previous run left
// staging. Every step tolerates a concurrent controller doing the same.
func (c *Controller) seed(ctx context.Context) error {
	st := c.deps.Store
	if _, err := c.ensureDomain(ctx, c.cfg.Domain); err != nil {
		return err
	}
	org, err := c.ensureOrg(ctx, c.cfg.DefaultOrg)
	if err != nil {
		return err
	}
	if _, err := c.ensureSpace(ctx, org.GUID, c.cfg.DefaultSpace); err != nil {
		return err
	}
	if err := c.ensureDefaultOrgQuota(ctx); err != nil {
		return err
	}
	if c.cfg.AdminPassword != "" {
		if err := c.seedAdmin(ctx); err != nil {
			return err
		}
	}
	builds, err := st.Builds().List(ctx, store.ListOptions{States: []string{store.BuildStaging}})
	if err != nil {
		return fmt.Errorf("list staging builds: %w", err)
	}
	for _, b := range builds {
		c.failBuild(ctx, b.GUID, "StagingError - the controller restarted while staging")
	}
	return nil
}

func (c *Controller) ensureDomain(ctx context.Context, name string) (*store.Domain, error) {
	for attempt := 0; attempt < 2; attempt++ {
		ds, err := c.deps.Store.Domains().List(ctx, store.ListOptions{Names: []string{name}})
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		if len(ds) > 0 {
			return ds[0], nil
		}
		d := &store.Domain{Meta: store.Meta{GUID: newGUID()}, Name: name}
		err = c.deps.Store.Domains().Create(ctx, d)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("create domain %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("create domain %s: raced twice", name)
}

func (c *Controller) ensureOrg(ctx context.Context, name string) (*store.Org, error) {
	for attempt := 0; attempt < 2; attempt++ {
		orgs, err := c.deps.Store.Orgs().List(ctx, store.ListOptions{Names: []string{name}})
		if err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		if len(orgs) > 0 {
			return orgs[0], nil
		}
		o := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: name}
		err = c.deps.Store.Orgs().Create(ctx, o)
		if err == nil {
			return o, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("create org %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("create org %s: raced twice", name)
}

func (c *Controller) ensureSpace(ctx context.Context, orgGUID, name string) (*store.Space, error) {
	for attempt := 0; attempt < 2; attempt++ {
		ss, err := c.deps.Store.Spaces().List(ctx, store.ListOptions{Names: []string{name}, OrgGUIDs: []string{orgGUID}})
		if err != nil {
			return nil, fmt.Errorf("list spaces: %w", err)
		}
		if len(ss) > 0 {
			return ss[0], nil
		}
		s := &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: name, OrgGUID: orgGUID}
		err = c.deps.Store.Spaces().Create(ctx, s)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("create space %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("create space %s: raced twice", name)
}

// keyedMutex serializes work per key (an app guid) without holding a
// global lock.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) Lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

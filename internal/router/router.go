// Package router is ingot's HTTP router: a gorouter-compatible reverse proxy
// whose routing table is built from router.register / router.unregister
// messages on the bus. It balances round-robin or least-connection
// (options.lb_algo) over each route's endpoints, keeps sticky sessions with
// __VCAP_ID__, proxies websockets and streaming responses, retries other
// endpoints when a connect fails, ejects endpoints that keep failing,
// prunes endpoints that stop re-registering, and writes an RTR access-log
// line into each app's log. Clients may speak HTTP/1.1 or HTTP/2 (h2c, or
// h2 over TLS terminated with a certificate per domain chosen by SNI).
// HTTP/1.1, in clear text or over TLS, is served by the router's own server
// loop (loop.go), which hands connections it does not handle (HTTP/2,
// upgrades, unusual framing) to net/http and the ReverseProxy path; backends are spoken to over pooled HTTP/1.1 keep-alive connections
// on the request's own goroutine (loopproxy.go, fastpath.go). Prometheus
// metrics are served on a separate address.
package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

// Sentinel errors.
var (
	ErrInvalidConfig  = errors.New("invalid router config")
	ErrAlreadyRunning = errors.New("router is already running")
)

// Defaults.
const (
	DefaultListenAddr              = "127.0.0.1:8080"
	DefaultRegisterInterval        = 5 * time.Second
	DefaultStaleThreshold          = 20 * time.Second
	DefaultPruneInterval           = 5 * time.Second
	DefaultMaxAttempts             = 3
	DefaultDialTimeout             = 5 * time.Second
	DefaultEndpointTimeout         = 60 * time.Second
	DefaultMaxIdleConnsPerEndpoint = 64
	DefaultEjectAfterFailures      = 3
	DefaultEjectFor                = 10 * time.Second

	// defaultDrainTimeout bounds the graceful drain of in-flight requests.
	defaultDrainTimeout = 10 * time.Second
	// accessLogQueue bounds the access lines waiting to be emitted.
	accessLogQueue = 4096
	// maxHeaderBytes bounds request headers, as gorouter's max_header_bytes.
	maxHeaderBytes = 1 << 20
)

// Config configures a Router. Zero values take the defaults above.
type Config struct {
	ListenAddr string
	// ID is advertised in router.start; default "0-<uuid>". The part before
	// the first '-' is the router index used as the access log instance id.
	ID string
	// RegisterInterval is advertised as minimumRegisterIntervalInSeconds.
	RegisterInterval time.Duration
	// StaleThreshold is pruneThresholdInSeconds: endpoints not refreshed
	// within it are pruned, and an emptied route is forgotten after it.
	StaleThreshold time.Duration
	PruneInterval  time.Duration
	// MaxAttempts bounds the endpoints tried when connecting fails.
	MaxAttempts int
	DialTimeout time.Duration
	// EndpointTimeout bounds the wait for a backend's response headers.
	EndpointTimeout   time.Duration
	StickyCookieNames []string
	// MaxIdleConnsPerEndpoint bounds the pooled keep-alive connections to
	// each backend.
	MaxIdleConnsPerEndpoint int
	// EjectAfterFailures consecutive connect failures eject an endpoint for
	// EjectFor.
	EjectAfterFailures int
	EjectFor           time.Duration
	// TLSAddr is where TLS connections are terminated (empty = off); it
	// needs Certificates, chosen per connection by SNI.
	TLSAddr      string
	Certificates []CertFiles
	// DisableHTTP2 turns off HTTP/2 from clients (h2 over TLS, h2c on
	// the plain listener). Backends are always spoken to in HTTP/1.1.
	DisableHTTP2 bool
	// MetricsAddr is where Prometheus metrics are served (GET /metrics);
	// empty turns them off.
	MetricsAddr string
	// LBAlgo balances routes whose registrations set no options.lb_algo:
	// LBRoundRobin (default) or LBLeastConnection.
	LBAlgo string
	// MaxConns bounds the client connections served at once on the plain
	// listener (default DefaultMaxConns); more are closed at once.
	MaxConns int
}

func (c *Config) applyDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.ID == "" {
		c.ID = "0-" + uuid.NewString()
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.RegisterInterval, DefaultRegisterInterval)
	setDur(&c.StaleThreshold, DefaultStaleThreshold)
	setDur(&c.PruneInterval, DefaultPruneInterval)
	setDur(&c.DialTimeout, DefaultDialTimeout)
	setDur(&c.EndpointTimeout, DefaultEndpointTimeout)
	setDur(&c.EjectFor, DefaultEjectFor)
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxIdleConnsPerEndpoint == 0 {
		c.MaxIdleConnsPerEndpoint = DefaultMaxIdleConnsPerEndpoint
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.EjectAfterFailures == 0 {
		c.EjectAfterFailures = DefaultEjectAfterFailures
	}
	if c.LBAlgo == "" {
		c.LBAlgo = LBRoundRobin
	}
	if len(c.StickyCookieNames) == 0 {
		c.StickyCookieNames = []string{"JSESSIONID"}
	}
}

// Validate checks a defaulted config.
func (c *Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"register_interval": c.RegisterInterval, "stale_threshold": c.StaleThreshold,
		"prune_interval": c.PruneInterval, "dial_timeout": c.DialTimeout,
		"endpoint_timeout": c.EndpointTimeout, "eject_for": c.EjectFor,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if c.MaxAttempts < 0 || c.MaxIdleConnsPerEndpoint < 0 || c.EjectAfterFailures < 0 || c.MaxConns < 0 {
		errs = append(errs, errors.New("max_attempts, max_idle_conns_per_endpoint, eject_after_failures and max_conns must not be negative"))
	}
	if !validLBAlgo(c.LBAlgo) {
		errs = append(errs, fmt.Errorf("lb_algo must be %s or %s, not %q", LBRoundRobin, LBLeastConnection, c.LBAlgo))
	}
	for _, n := range c.StickyCookieNames {
		if n == "" || strings.ContainsAny(n, " \t;=,\"") {
			errs = append(errs, fmt.Errorf("bad sticky cookie name %q", n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// Deps are the router's collaborators. Logs may be nil (no access log).
type Deps struct {
	Bus  bus.Bus
	Logs *logs.Emitter
}

// Router is the HTTP router.
type Router struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	ln    net.Listener
	srv   *http.Server
	reg   *registry
	proxy *proxy
	acc   *accessLog
	ids   *idGen
	loop  *loopServer // serves ln; hands what it does not handle to srv

	metrics   *metrics
	metricsLn net.Listener // nil when MetricsAddr is empty
	tlsLn     net.Listener // TCP; nil when TLSAddr is empty
	tlsConfig *tls.Config
	metricSrv *http.Server

	index string // router index, the access log instance id
	start messages.RouterStart

	drainTimeout time.Duration
	baseCtx      context.Context
	baseCancel   context.CancelFunc

	running      atomic.Bool
	inflight     atomic.Int64
	pruneSkipped atomic.Int64 // prune passes skipped while the bus was down
}

// New validates cfg, binds the listener and prepares the router; Run serves
// and, when it returns, has closed the listener.
func New(cfg Config, deps Deps, log *slog.Logger) (*Router, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if deps.Bus == nil {
		return nil, fmt.Errorf("%w: a bus is required", ErrInvalidConfig)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, tlsLn, mln, tc, err := listen(&cfg)
	if err != nil {
		return nil, err
	}
	log = log.With("component", "router", "router_id", cfg.ID)
	r := &Router{
		cfg:          cfg,
		deps:         deps,
		log:          log,
		ln:           ln,
		reg:          newRegistry(cfg.StaleThreshold, log),
		index:        routerIndex(cfg.ID),
		drainTimeout: defaultDrainTimeout,
		ids:          newIDGen(),
		metrics:      &metrics{},
		metricsLn:    mln,
		tlsLn:        tlsLn,
		tlsConfig:    tc,
	}
	if mln != nil {
		r.metricSrv = &http.Server{
			Handler:           http.HandlerFunc(r.serveMetrics),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       90 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	r.reg.defaultAlgo = cfg.LBAlgo
	r.start = messages.RouterStart{
		ID:                               cfg.ID,
		Hosts:                            []string{advertisedIP(ln.Addr())},
		MinimumRegisterIntervalInSeconds: ceilSeconds(cfg.RegisterInterval),
		PruneThresholdInSeconds:          ceilSeconds(cfg.StaleThreshold),
	}
	r.acc = newAccessLog(deps.Logs, r.index, accessLogQueue, log)
	r.proxy = newProxy(r)
	r.loop = newLoopServer(r)
	r.baseCtx, r.baseCancel = context.WithCancel(context.Background())
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return r.baseCtx },
		ConnContext:       handedOffTLS,
		Protocols:         protocols(&cfg),
	}
	return r, nil
}

// Addr is the address the router listens on.
func (r *Router) Addr() string { return r.ln.Addr().String() }

// MetricsAddr is the address metrics are served on; "" when off.
func (r *Router) MetricsAddr() string {
	if r.metricsLn == nil {
		return ""
	}
	return r.metricsLn.Addr().String()
}

// Routes is a snapshot of the registry: normalised uri → endpoints.
func (r *Router) Routes() map[string][]EndpointInfo { return r.reg.snapshot() }

// AccessLogDropped counts access log lines dropped because the queue was full.
func (r *Router) AccessLogDropped() int64 { return r.acc.dropped.Load() }

// Run subscribes to the route subjects, announces router.start, serves until
// ctx is done, then stops accepting, drains in-flight requests (bounded)
// and returns.
func (r *Router) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer r.baseCancel()
	subs, err := r.subscribe()
	if err != nil {
		for _, l := range []net.Listener{r.ln, r.tlsLn, r.metricsLn} {
			if l != nil {
				_ = l.Close()
			}
		}
		return err
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.deps.Bus.OnReconnect(func() {
		if runCtx.Err() == nil {
			r.publishStart("reconnect")
		}
	})

	var wg sync.WaitGroup
	wg.Go(func() { r.publishLoop(runCtx) })
	wg.Go(func() { r.pruneLoop(runCtx) })
	accDone := make(chan struct{})
	accCtx, accCancel := context.WithCancel(context.Background())
	go func() { defer close(accDone); r.acc.run(accCtx) }()

	r.publishStart("start")
	serveErr := make(chan error, 2)
	go func() {
		if err := r.loop.serve(r.ln, nil); err != nil {
			serveErr <- err
		}
	}()
	go func() {
		if err := r.srv.Serve(r.loop.handoff); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	if r.tlsLn != nil {
		go func() {
			if err := r.loop.serve(r.tlsLn, r.tlsConfig); err != nil {
				serveErr <- err
			}
		}()
	}
	if r.metricSrv != nil {
		go func() { _ = r.metricSrv.Serve(r.metricsLn) }()
	}
	r.log.Info("router-started", "addr", r.Addr(), "tls_addr", r.TLSAddr(), "metrics_addr", r.MetricsAddr())

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("router serve: %w", err)
	}
	cancel()
	if r.metricSrv != nil {
		_ = r.metricSrv.Close()
	}
	r.shutdown()
	wg.Wait()
	accCancel()
	<-accDone
	r.log.Info("router-stopped", "access_log_dropped", r.acc.dropped.Load())
	return runErr
}

// shutdown stops accepting, waits (bounded) for in-flight requests, then
// closes what is left, including hijacked websocket connections.
func (r *Router) shutdown() {
	deadline := time.Now().Add(r.drainTimeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_ = r.ln.Close()
	if r.tlsLn != nil {
		_ = r.tlsLn.Close()
	}
	r.loop.beginDrain()
	if err := r.srv.Shutdown(sctx); err != nil {
		r.log.Warn("router-drain-timeout", "error", err, "in_flight", r.inflight.Load())
		_ = r.srv.Close()
	}
	for r.loop.active() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.loop.active(); n > 0 {
		r.log.Warn("router-drain-timeout", "connections", n, "in_flight", r.inflight.Load())
		r.loop.closeAll()
	}
	r.baseCancel()
	for r.inflight.Load() > 0 && time.Now().Before(deadline.Add(time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Router) publishLoop(ctx context.Context) {
	r.reg.publish()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.reg.kick:
			r.reg.publish()
		}
	}
}

func (r *Router) pruneLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reg.sweepIdle(r.proxy.tr.IdleConnTimeout)
			if !r.deps.Bus.Connected() {
				r.reg.freshen()
				r.pruneSkipped.Add(1)
				r.log.Warn("prune-suspended", "reason", "bus disconnected")
				continue
			}
			r.reg.prune()
		}
	}
}

func routerIndex(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return "0"
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// advertisedIP is the IP announced in router.start: the listener's own IP
// when it is bound to one, else the first non-loopback interface address.
func advertisedIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP != nil && !ta.IP.IsUnspecified() {
		return ta.IP.String()
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

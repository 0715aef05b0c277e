package osb

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults.
const (
	DefaultSyncTimeout             = 55 * time.Second
	DefaultOperationTimeout        = 10 * time.Minute
	DefaultMaxConcurrentOperations = 16
	DefaultMaxBodyBytes            = 1 << 20
	DefaultDrainTimeout            = 10 * time.Second

	maxHeaderBytes = 64 << 10
)

// Config configures a Server.
type Config struct {
	// ListenAddr is where Run serves; "127.0.0.1:0" picks a free port.
	ListenAddr string
	// Username and Password are the broker's basic-auth credentials.
	Username string
	Password string
	// Catalog is served by GET /v2/catalog and validates every request.
	Catalog Catalog
	// SyncTimeout bounds an operation run while the platform waits.
	SyncTimeout time.Duration
	// OperationTimeout bounds an asynchronous operation.
	OperationTimeout time.Duration
	// MaxConcurrentOperations bounds the asynchronous operations running
	// at once; beyond it new ones are refused with 503.
	MaxConcurrentOperations int
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// DrainTimeout bounds the wait for in-flight requests and operations
	// when Run stops.
	DrainTimeout time.Duration
}

func (c *Config) applyDefaults() {
	if c.SyncTimeout == 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.OperationTimeout == 0 {
		c.OperationTimeout = DefaultOperationTimeout
	}
	if c.MaxConcurrentOperations == 0 {
		c.MaxConcurrentOperations = DefaultMaxConcurrentOperations
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
}

// Validate checks a defaulted config.
func (c *Config) Validate() error {
	var errs []error
	if c.ListenAddr == "" {
		errs = append(errs, errors.New("listen address is required"))
	}
	if c.Username == "" || c.Password == "" {
		errs = append(errs, errors.New("basic-auth username and password are required"))
	}
	if c.SyncTimeout < 0 || c.OperationTimeout < 0 || c.DrainTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if c.MaxConcurrentOperations < 0 || c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	if err := c.Catalog.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("catalog: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// Server is an OSB API server over a Provider and a Store.
type Server struct {
	cfg      Config
	provider Provider
	store    Store
	log      *slog.Logger
	ln       net.Listener
	srv      *http.Server
	handler  http.Handler
	catalog  []byte
	userHash [32]byte
	passHash [32]byte

	locks *keyLock
	slots chan struct{}

	baseCtx    context.Context
	baseCancel context.CancelFunc
	ops        sync.WaitGroup
	runningMu  sync.Mutex
	running    map[string]string // resource key → operation id running here

	started atomic.Bool
	closed  atomic.Bool
}

// New validates cfg, binds the listener and returns a Server; Run serves.
// The Server does not own provider or store: the caller closes them after
// Run returns (or after Close).
func New(cfg Config, provider Provider, store Store, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if provider == nil || store == nil {
		return nil, fmt.Errorf("%w: a provider and a store are required", ErrInvalidConfig)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	catalog, err := json.Marshal(cfg.Catalog)
	if err != nil {
		return nil, fmt.Errorf("%w: catalog: %w", ErrInvalidConfig, err)
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("broker listen on %s: %w", cfg.ListenAddr, err)
	}
	s := &Server{
		cfg:      cfg,
		provider: provider,
		store:    store,
		log:      log,
		ln:       ln,
		catalog:  catalog,
		userHash: sha256.Sum256([]byte(cfg.Username)),
		passHash: sha256.Sum256([]byte(cfg.Password)),
		locks:    newKeyLock(),
		slots:    make(chan struct{}, cfg.MaxConcurrentOperations),
		running:  map[string]string{},
	}
	s.baseCtx, s.baseCancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.SyncTimeout + 30*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Handler is the OSB API handler (also usable without Run, e.g. behind
// httptest; then call Close when done).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the address the listener is bound to.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the broker's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Run resumes the asynchronous operations the store has in progress, serves
// until ctx is done, then drains in-flight requests and operations
// (bounded by DrainTimeout; operations still running are cancelled and will
// be resumed by the next Run) and returns.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	if s.closed.Load() {
		return fmt.Errorf("%w: server is closed", ErrInvalidConfig)
	}
	if err := s.Resume(ctx); err != nil {
		s.log.Warn("operations-resume-failed", "error", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.srv.Serve(s.ln) }()
	s.log.Info("broker-started", "addr", s.Addr())
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("broker serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
	}
	s.drainOps(sctx)
	s.log.Info("broker-stopped")
	return runErr
}

// Close stops serving (if Run was not used, closes the listener), cancels
// running operations and waits for them. It is safe to call more than once.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	_ = s.srv.Close()
	_ = s.ln.Close()
	s.baseCancel()
	s.ops.Wait()
	return nil
}

// drainOps waits for running operations until ctx is done, then cancels
// them and waits for them to return.
func (s *Server) drainOps(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.ops.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("operations-cancelled-at-stop")
	}
	s.baseCancel()
	<-done
}

var versionPattern = regexp.MustCompile(`^(\d+)\.(\d+)$`)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/catalog", s.getCatalog)
	mux.HandleFunc("PUT /v2/service_instances/{instance_id}", s.provision)
	mux.HandleFunc("PATCH /v2/service_instances/{instance_id}", s.update)
	mux.HandleFunc("DELETE /v2/service_instances/{instance_id}", s.deprovision)
	mux.HandleFunc("GET /v2/service_instances/{instance_id}", s.getInstance)
	mux.HandleFunc("GET /v2/service_instances/{instance_id}/last_operation", s.instanceLastOperation)
	mux.HandleFunc("PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}", s.bind)
	mux.HandleFunc("DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}", s.unbind)
	mux.HandleFunc("GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}", s.getBinding)
	mux.HandleFunc("GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation", s.bindingLastOperation)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		if id := r.Header.Get(HeaderRequestIdentity); id != "" && len(id) <= 256 {
			rec.Header().Set(HeaderRequestIdentity, id)
		}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("osb-request-panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, CodeInternal, "internal error")
				}
			}
			s.log.Debug("osb-request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", time.Since(start).Milliseconds(),
				"request_identity", r.Header.Get(HeaderRequestIdentity),
				"originating_user", originatingUser(r.Header.Get(HeaderOriginatingIdentity)))
		}()
		if !s.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Basic realm="ingot-broker"`)
			writeError(rec, http.StatusUnauthorized, CodeUnauthorized, "valid basic-auth credentials are required")
			return
		}
		if msg := checkVersion(r.Header.Get(HeaderAPIVersion)); msg != "" {
			writeError(rec, http.StatusPreconditionFailed, CodePreconditionFailed, msg)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(rec, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(u[:], s.userHash[:])&subtle.ConstantTimeCompare(p[:], s.passHash[:]) == 1
}

// checkVersion returns "" when the X-Broker-API-Version header names a 2.x
// version, else the reason for a 412.
func checkVersion(v string) string {
	if v == "" {
		return "the " + HeaderAPIVersion + " header is required (this broker speaks " + APIVersion + ")"
	}
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return fmt.Sprintf("malformed %s %q", HeaderAPIVersion, v)
	}
	if major, err := strconv.Atoi(m[1]); err != nil || major != 2 {
		return fmt.Sprintf("unsupported API version %s: this broker speaks %s", v, APIVersion)
	}
	return ""
}

// originatingUser extracts user_id from "platform base64(json)" for logs.
func originatingUser(h string) string {
	platform, value, ok := strings.Cut(h, " ")
	if !ok || len(value) > 4096 {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return ""
	}
	var id struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal(raw, &id) != nil || id.UserID == "" {
		return ""
	}
	return platform + "/" + id.UserID
}

func (s *Server) getCatalog(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.catalog)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// acceptsIncomplete reports the accepts_incomplete query parameter.
func acceptsIncomplete(r *http.Request) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get("accepts_incomplete"))
	return v
}

// writeFailure answers an error from the store or the provider.
func (s *Server) writeFailure(w http.ResponseWriter, event string, err error, attrs ...any) {
	switch {
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, CodeBadRequest, errorText(err))
	case errors.Is(err, context.Canceled) && s.baseCtx.Err() != nil:
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "the broker is shutting down")
	default:
		s.log.Error(event, append(attrs, "error", err)...)
		writeError(w, http.StatusInternalServerError, CodeInternal, err.Error())
	}
}

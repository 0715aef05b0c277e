// Package dea is ingot's Droplet Execution Agent. It advertises its
// capacity, starts app instances in containers of an isolation backend
// (downloading droplets by digest), health-checks them, registers their
// routes with the routers, heartbeats their actual state, reports exits,
// runs staging requests through a Stager, and keeps a snapshot of its
// instances in its data directory.
//
// Apps stay up when anything dies:
//   - a DEA leaving on its own evacuates (Config.Evacuate, evacuate.go):
//     its instances serve until replacements run on other DEAs;
//   - a DEA that crashed re-adopts, when it comes back on the same data
//     dir, the instances whose app processes ran on without it (adopt.go;
//     the app processes are detached, see backend.ProcessSpec.Detached);
//   - a NATS outage leaves instances untouched, and the DEA announces
//     everything again the moment the bus reconnects.
package dea

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

// ErrShuttingDown is the reason starts are refused while the DEA stops.
var ErrShuttingDown = errors.New("dea: shutting down")

// Config configures a DEA.
type Config struct {
	// ID names the DEA on the bus (default: the id in the snapshot, else a
	// random uuid).
	ID string
	// DataDir holds the droplet cache and the snapshot. Required.
	DataDir string
	// Host is the address instances are reachable at (default 127.0.0.1).
	Host string
	// Zone is the placement zone (default "default").
	Zone string
	// Stacks served (default ["host"]).
	Stacks []string
	// MemoryMB and DiskMB are the capacity (default from Backend.Capacity).
	MemoryMB, DiskMB int64
	// AdvertiseInterval between dea.advertise messages (2s).
	AdvertiseInterval time.Duration
	// HeartbeatInterval between full dea.heartbeat messages (2s).
	HeartbeatInterval time.Duration
	// RegisterInterval between route re-registrations (5s); a router
	// asking for a shorter interval wins.
	RegisterInterval time.Duration
	// HealthCheckInterval between health checks until healthy (500ms).
	HealthCheckInterval time.Duration
	// HealthyCheckInterval between health checks once healthy (10s).
	HealthyCheckInterval time.Duration
	// DefaultStartTimeout is how long an instance may take to become
	// healthy when the start message does not say (60s).
	DefaultStartTimeout time.Duration
	// MaxConcurrentStaging bounds stagings run at once (2).
	MaxConcurrentStaging int
	// StopTimeout bounds stopping one instance (2m); the backend's own
	// grace period applies within it.
	StopTimeout time.Duration
	// MaxDropletBytes bounds a droplet download (4 GiB).
	MaxDropletBytes int64
	// DownloadTimeout bounds a droplet download (15m).
	DownloadTimeout time.Duration
	// Evacuate makes the end of Run's context an evacuation (see
	// evacuate.go): the instances keep serving until replacements run on
	// other DEAs, or EvacuationTimeout passes. Set it for a DEA that leaves
	// on its own (`ingot dea`); leave it off when the whole platform stops
	// at once (`ingot up`), where no other DEA could take the instances
	// and waiting would only slow the stop.
	Evacuate bool
	// EvacuationTimeout bounds the wait for replacements (30s).
	EvacuationTimeout time.Duration
	// EvacuationDrain is the pause between withdrawing an evacuated
	// instance's routes and stopping it, for the routers to catch up (1s).
	EvacuationDrain time.Duration
	// StopDrain is the same pause before a requested stop (500ms; negative:
	// none).
	StopDrain time.Duration
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("dea: data dir is required")
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Zone == "" {
		c.Zone = "default"
	}
	if len(c.Stacks) == 0 {
		c.Stacks = []string{"host"}
	}
	if c.MemoryMB < 0 || c.DiskMB < 0 {
		return errors.New("dea: negative capacity")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AdvertiseInterval, 2*time.Second)
	def(&c.HeartbeatInterval, 2*time.Second)
	def(&c.RegisterInterval, 5*time.Second)
	def(&c.HealthCheckInterval, 500*time.Millisecond)
	def(&c.HealthyCheckInterval, 10*time.Second)
	def(&c.DefaultStartTimeout, 60*time.Second)
	def(&c.StopTimeout, 2*time.Minute)
	def(&c.DownloadTimeout, 15*time.Minute)
	def(&c.EvacuationTimeout, 30*time.Second)
	def(&c.EvacuationDrain, time.Second)
	def(&c.StopDrain, 500*time.Millisecond)
	if c.MaxConcurrentStaging <= 0 {
		c.MaxConcurrentStaging = 2
	}
	if c.MaxDropletBytes <= 0 {
		c.MaxDropletBytes = 4 << 30
	}
	return nil
}

// Stager stages an app; it returns when staging has finished.
type Stager interface {
	Stage(ctx context.Context, req *messages.StagingRequest) *messages.StagingResult
}

// Deps are the DEA's collaborators.
type Deps struct {
	Bus     bus.Bus
	Backend backend.Backend
	// Stager runs staging requests; nil refuses them.
	Stager Stager
	// Logs receives app and CELL log lines; nil discards them.
	Logs *logs.Emitter
	// HTTP downloads droplets (default: a client with sane timeouts).
	HTTP *http.Client
}

// DEA is one Droplet Execution Agent.
type DEA struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	id   string

	droplets *dropletCache
	// health probes instances directly, never through a proxy.
	health *http.Client

	mu           sync.Mutex
	instances    map[string]*instance // by instance guid
	stagingMemMB int64
	stagingDisk  int64
	shutting     bool
	regInterval  time.Duration
	regReset     chan struct{}
	reconnected  chan struct{}
	stagingSlots chan struct{}
	wg           sync.WaitGroup // instance lifecycles and stagings

	snapMu sync.Mutex
	// pubFailing is set while publishing fails (the bus is down), so the
	// failure is logged once, not at every publish.
	pubFailing atomic.Bool

	// stagingCtx is cancelled at shutdown, aborting stagings in flight.
	stagingCtx  context.Context
	stopStaging context.CancelFunc
}

// New validates the configuration and prepares the data directory. It
// does not touch the bus; Run does.
func New(cfg Config, deps Deps, log *slog.Logger) (*DEA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil || deps.Backend == nil {
		return nil, errors.New("dea: bus and backend are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
		}}
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "droplets"), 0o755); err != nil {
		return nil, fmt.Errorf("dea: create data dir: %w", err)
	}
	capa, err := deps.Backend.Capacity()
	if err != nil {
		return nil, fmt.Errorf("dea: backend capacity: %w", err)
	}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = int64(capa.MemoryBytes >> 20)
	}
	if cfg.DiskMB == 0 {
		cfg.DiskMB = int64(capa.DiskBytes >> 20)
	}
	if cfg.ID == "" {
		if snap, err := readSnapshot(cfg.DataDir); err == nil && snap.ID != "" {
			cfg.ID = snap.ID
		} else {
			cfg.ID = uuid.NewString()
		}
	}
	d := &DEA{
		cfg:          cfg,
		deps:         deps,
		log:          log.With("dea_id", cfg.ID),
		id:           cfg.ID,
		instances:    map[string]*instance{},
		regInterval:  cfg.RegisterInterval,
		regReset:     make(chan struct{}, 1),
		reconnected:  make(chan struct{}, 1),
		stagingSlots: make(chan struct{}, cfg.MaxConcurrentStaging),
	}
	d.health = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	d.stagingCtx, d.stopStaging = context.WithCancel(context.Background())
	d.droplets = newDropletCache(filepath.Join(cfg.DataDir, "droplets"), deps.HTTP, cfg.MaxDropletBytes, cfg.DownloadTimeout)
	return d, nil
}

// ID is the DEA's id on the bus.
func (d *DEA) ID() string { return d.id }

// Run recovers from the snapshot, subscribes, and announces the DEA until
// ctx is done; then it evacuates when Config.Evacuate is set, stops every
// instance left (reason DEA_SHUTDOWN), publishes dea.shutdown and returns.
func (d *DEA) Run(ctx context.Context) error {
	d.recover(ctx)
	subs, err := d.subscribe()
	if err != nil {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		return err
	}
	d.log.Info("dea-started", "host", d.cfg.Host, "memory_mb", d.cfg.MemoryMB, "disk_mb", d.cfg.DiskMB, "stacks", d.cfg.Stacks)
	go d.greetRouters(ctx)
	// While the bus is down, instances run on untouched (publishes are
	// buffered by the client, then fail fast; nothing waits on them).
	// Once it is back, everything is announced again at once: routers
	// and the controller may have pruned this DEA meanwhile.
	d.deps.Bus.OnReconnect(func() {
		select {
		case d.reconnected <- struct{}{}:
		default:
		}
	})
	d.advertise()
	d.heartbeat()

	adv := time.NewTicker(d.cfg.AdvertiseInterval)
	defer adv.Stop()
	hb := time.NewTicker(d.cfg.HeartbeatInterval)
	defer hb.Stop()
	reg := time.NewTimer(d.registerInterval())
	defer reg.Stop()
	for {
		select {
		case <-ctx.Done():
			if d.cfg.Evacuate {
				d.evacuate()
			}
			d.shutdown(subs)
			return nil
		case <-adv.C:
			d.advertise()
		case <-hb.C:
			d.heartbeat()
		case <-reg.C:
			d.registerAll()
			reg.Reset(d.registerInterval())
		case <-d.reconnected:
			d.log.Info("dea-reannouncing", "reason", "bus reconnected")
			d.advertise()
			d.heartbeat()
			d.registerAll()
		case <-d.regReset:
			if !reg.Stop() {
				select {
				case <-reg.C:
				default:
				}
			}
			reg.Reset(d.registerInterval())
		}
	}
}

func (d *DEA) subscribe() ([]bus.Subscription, error) {
	var subs []bus.Subscription
	for _, s := range []struct {
		subject string
		h       bus.Handler
	}{
		{bus.DEAStartSubject(d.id), d.handleStart},
		{bus.SubjectDEAStop, d.handleStop},
		{bus.SubjectDEAUpdate, d.handleUpdate},
		{bus.SubjectDEALocate, func(*bus.Msg) { d.advertise() }},
		{bus.SubjectHMStart, func(*bus.Msg) { d.heartbeat() }},
		{bus.SubjectRouterStart, d.handleRouterStart},
		{bus.StagingStartSubject(d.id), d.handleStaging},
	} {
		sub, err := d.deps.Bus.Subscribe(s.subject, "", s.h)
		if err != nil {
			return subs, fmt.Errorf("dea: %w", err)
		}
		subs = append(subs, sub)
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.deps.Bus.Flush(flushCtx); err != nil {
		d.log.Warn("bus-flush-failed", "error", err)
	}
	return subs, nil
}

// shutdown stops every instance and says goodbye.
func (d *DEA) shutdown(subs []bus.Subscription) {
	d.log.Info("dea-shutting-down")
	d.mu.Lock()
	d.shutting = true
	for _, inst := range d.instances {
		inst.requestStop(messages.ReasonDEAShutdown)
	}
	d.mu.Unlock()
	d.stopStaging()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d.cfg.StopTimeout + 10*time.Second):
		d.log.Error("dea-shutdown-timed-out")
	}
	d.publish(bus.SubjectDEAShutdown, &messages.DEAShutdown{ID: d.id})
	d.heartbeat()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.deps.Bus.Flush(ctx)
	d.log.Info("dea-stopped")
}

// handleStart answers dea.<id>.start.
func (d *DEA) handleStart(m *bus.Msg) {
	var msg messages.StartInstance
	reply := func(r messages.StartReply) {
		data, _ := json.Marshal(&r)
		if m.Reply != "" {
			if err := d.deps.Bus.Respond(m, data); err != nil {
				d.log.Warn("start-reply-failed", "error", err)
			}
		}
	}
	if err := messages.Decode(m.Data, &msg); err != nil {
		d.log.Warn("start-rejected", "error", err)
		reply(messages.StartReply{Error: err.Error()})
		return
	}
	inst, err := d.admit(&msg)
	if err != nil {
		d.log.Info("start-refused", "app_guid", msg.AppGUID, "instance_guid", msg.InstanceGUID, "error", err)
		reply(messages.StartReply{Error: err.Error()})
		return
	}
	reply(messages.StartReply{Accepted: true})
	if inst == nil {
		return // duplicate: already here
	}
	d.log.Info("instance-accepted", "app_guid", msg.AppGUID, "instance_guid", msg.InstanceGUID, "instance_index", msg.Index, "version", msg.Version)
	d.changed(inst)
	go d.runInstance(inst)
}

// admit checks and reserves resources for a start. It returns nil, nil
// for a duplicate.
func (d *DEA) admit(msg *messages.StartInstance) (*instance, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.shutting {
		return nil, ErrShuttingDown
	}
	if _, ok := d.instances[msg.InstanceGUID]; ok {
		return nil, nil
	}
	for _, in := range d.instances {
		if in.msg.AppGUID == msg.AppGUID && in.msg.Version == msg.Version && in.msg.Index == msg.Index &&
			procType(&in.msg) == procType(msg) && !in.stopping() &&
			(in.state == messages.StateStarting || in.state == messages.StateRunning) {
			return nil, nil
		}
	}
	if msg.Stack != "" && !slices.Contains(d.cfg.Stacks, msg.Stack) {
		return nil, fmt.Errorf("stack %q is not served by this dea (stacks %v)", msg.Stack, d.cfg.Stacks)
	}
	mem, disk := d.availableLocked()
	if msg.MemoryMB > mem || msg.DiskMB > disk {
		return nil, fmt.Errorf("insufficient resources: need %d MB memory and %d MB disk, have %d MB and %d MB", msg.MemoryMB, msg.DiskMB, mem, disk)
	}
	inst := newInstance(msg)
	d.instances[msg.InstanceGUID] = inst
	d.wg.Add(1)
	return inst, nil
}

// availableLocked is capacity minus what instances and stagings reserve.
func (d *DEA) availableLocked() (mem, disk int64) {
	mem, disk = d.cfg.MemoryMB-d.stagingMemMB, d.cfg.DiskMB-d.stagingDisk
	for _, in := range d.instances {
		if in.reserved {
			mem -= in.msg.MemoryMB
			disk -= in.msg.DiskMB
		}
	}
	return max(mem, 0), max(disk, 0)
}

// handleStop stops every instance matching the filter.
func (d *DEA) handleStop(m *bus.Msg) {
	var msg messages.StopInstances
	if err := messages.Decode(m.Data, &msg); err != nil {
		d.log.Warn("stop-rejected", "error", err)
		return
	}
	reason := msg.Reason
	switch reason {
	case messages.ReasonStopped, messages.ReasonCrashed, messages.ReasonDEAShutdown, messages.ReasonDEAEvacuation:
	default:
		reason = messages.ReasonStopped
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, in := range d.instances {
		if !in.matches(&msg) {
			continue
		}
		if in.requestStop(reason) {
			d.log.Info("instance-stop-requested", "app_guid", in.msg.AppGUID, "instance_guid", in.msg.InstanceGUID, "reason", reason)
		}
	}
}

// handleUpdate applies an app's new route set to its instances.
func (d *DEA) handleUpdate(m *bus.Msg) {
	var msg messages.UpdateRoutes
	if err := messages.Decode(m.Data, &msg); err != nil {
		d.log.Warn("update-rejected", "error", err)
		return
	}
	d.mu.Lock()
	var changed []*instance
	for _, in := range d.instances {
		if in.msg.AppGUID != msg.AppGUID || in.stopping() {
			continue
		}
		old := in.uris
		in.uris = append([]string(nil), msg.URIs...)
		if in.registered {
			var removed []string
			for _, u := range old {
				if !slices.Contains(msg.URIs, u) {
					removed = append(removed, u)
				}
			}
			if len(removed) > 0 {
				d.publish(bus.SubjectRouterUnregister, d.routeMsgLocked(in, removed))
			}
			if len(in.uris) > 0 {
				d.publish(bus.SubjectRouterRegister, d.routeMsgLocked(in, in.uris))
			}
			in.registered = len(in.uris) > 0
		}
		changed = append(changed, in)
	}
	d.mu.Unlock()
	if len(changed) > 0 {
		d.log.Info("routes-updated", "app_guid", msg.AppGUID, "uris", msg.URIs, "instances", len(changed))
		d.saveSnapshot()
	}
}

// handleRouterStart adopts a router's register interval and re-registers
// every route at once.
func (d *DEA) handleRouterStart(m *bus.Msg) {
	var msg messages.RouterStart
	if err := messages.Decode(m.Data, &msg); err == nil {
		d.adoptRouterInterval(msg.MinimumRegisterIntervalInSeconds)
	}
	d.registerAll()
}

// greetRouters asks the routers for their register interval once.
func (d *DEA) greetRouters(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	data, err := d.deps.Bus.Request(rctx, bus.SubjectRouterGreet, []byte("{}"))
	if err != nil {
		return
	}
	var msg messages.RouterStart
	if err := messages.Decode(data, &msg); err == nil {
		d.adoptRouterInterval(msg.MinimumRegisterIntervalInSeconds)
	}
}

func (d *DEA) adoptRouterInterval(secs int) {
	if secs <= 0 {
		return
	}
	iv := time.Duration(secs) * time.Second
	d.mu.Lock()
	changed := iv < d.regInterval
	if changed {
		d.regInterval = iv
	}
	d.mu.Unlock()
	if changed {
		select {
		case d.regReset <- struct{}{}:
		default:
		}
	}
}

func (d *DEA) registerInterval() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.regInterval
}

// publish sends v, logging the first failure of a run of them and the
// recovery (the next timer round or the reconnect re-sends state).
func (d *DEA) publish(subject string, v any) {
	if err := d.deps.Bus.PublishJSON(subject, v); err != nil {
		if !d.pubFailing.Swap(true) {
			d.log.Warn("publish-failed", "subject", subject, "error", err)
		}
		return
	}
	if d.pubFailing.Swap(false) {
		d.log.Info("publish-recovered", "subject", subject)
	}
}

// changed publishes everything that follows an instance's state change.
func (d *DEA) changed(inst *instance) {
	d.partialHeartbeat(inst)
	d.advertise()
	d.saveSnapshot()
}

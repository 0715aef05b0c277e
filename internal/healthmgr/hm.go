// Package healthmgr is ingot's health manager. It listens to DEA heartbeats
// and exits (actual state), asks the controller for desired state, and
// publishes start and stop requests where they differ: missing, crashed,
// extra, duplicate and old-version instances, and instances of stopped or
// unknown apps. Crash restarts are event-driven and backed off. The HM has
// no state of its own: everything is rebuilt from broadcasts, and it acts
// only when both views are fresh. The decision logic is the pure Analyze.
package healthmgr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// Deps are the HM's collaborators.
type Deps struct {
	Bus bus.Bus
	// Clock defaults to RealClock.
	Clock Clock
	// Leaser, when set, grants the lease this HM must hold to act (several
	// HMs may run; one acts). Nil: this HM always acts.
	Leaser Leaser
}

// maxCrashGUIDs bounds the instance guids remembered per crash record to
// tell a new crash from a repeated report of the same one.
const maxCrashGUIDs = 32

type crashRecord struct {
	Crash
	guids []string
}

type deaState struct {
	lastSeen  time.Time
	instances map[string]Instance // by instance guid
}

// HM is the health manager.
type HM struct {
	cfg    Config
	bus    bus.Bus
	clock  Clock
	leaser Leaser
	log    *slog.Logger
	full   chan struct{}
	// refresh asks for desired state now: an instance of an app the HM
	// does not know yet (pushed since the last fetch) crashed.
	refresh chan struct{}

	mu               sync.Mutex
	deas             map[string]*deaState
	crashes          map[CrashKey]*crashRecord
	desired          []messages.DesiredApp
	desiredFetchedAt time.Time
	listeningSince   time.Time
	startedAt        time.Time
	sent             map[string]time.Time // action key → when sent
	pending          map[string]struct{}  // apps to analyze at once
	kick             chan struct{}
	leaderUntil      time.Time // when the held lease runs out (zero: not held)
}

// New builds an HM; Run starts it.
func New(cfg Config, deps Deps, log *slog.Logger) (*HM, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil {
		return nil, errors.New("healthmgr: a bus is required")
	}
	if deps.Clock == nil {
		deps.Clock = RealClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HM{
		cfg: cfg, bus: deps.Bus, clock: deps.Clock, leaser: deps.Leaser, log: log.With("component", "healthmgr", "hm_id", cfg.ID),
		full:    make(chan struct{}, 1),
		refresh: make(chan struct{}, 1),
		deas:    map[string]*deaState{},
		crashes: map[CrashKey]*crashRecord{},
		sent:    map[string]time.Time{},
		pending: map[string]struct{}{},
		kick:    make(chan struct{}, 1),
	}, nil
}

// Run listens, fetches desired state and converges until ctx is done.
func (h *HM) Run(ctx context.Context) error {
	hbSub, err := h.bus.Subscribe(bus.SubjectDEAHeartbeat, "", h.onHeartbeat)
	if err != nil {
		return fmt.Errorf("healthmgr: %w", err)
	}
	defer func() { _ = hbSub.Unsubscribe() }()
	exSub, err := h.bus.Subscribe(bus.SubjectDropletExited, "", h.onExited)
	if err != nil {
		return fmt.Errorf("healthmgr: %w", err)
	}
	defer func() { _ = exSub.Unsubscribe() }()

	now := h.clock.Now()
	h.mu.Lock()
	h.startedAt, h.listeningSince = now, now
	h.mu.Unlock()
	h.bus.OnReconnect(func() {
		if ctx.Err() != nil {
			return
		}
		// Heartbeats may have been missed: trust the view again only
		// after a fresh listening period.
		h.mu.Lock()
		h.listeningSince = h.clock.Now()
		h.mu.Unlock()
		h.announce()
	})
	h.announce()
	h.log.Info("health-manager-started")

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		h.desiredLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		h.leaseLoop(ctx)
	}()
	defer wg.Wait()

	tick := h.clock.After(h.cfg.AnalyzeInterval)
	for {
		select {
		case <-ctx.Done():
			h.log.Info("health-manager-stopped")
			return nil
		case <-tick:
			h.pass(ctx, nil)
			tick = h.clock.After(h.cfg.AnalyzeInterval)
		case <-h.full:
			h.pass(ctx, nil)
		case <-h.kick:
			h.mu.Lock()
			apps := h.pending
			h.pending = map[string]struct{}{}
			h.mu.Unlock()
			h.pass(ctx, apps)
		}
	}
}

// announce asks every DEA to heartbeat at once.
func (h *HM) announce() {
	if err := h.bus.Publish(bus.SubjectHMStart, []byte("{}")); err != nil {
		h.log.Warn("hm-start-publish-failed", "error", err)
	}
}

func (h *HM) desiredLoop(ctx context.Context) {
	asked := false
	for {
		h.fetchDesired(ctx)
		if asked {
			// The crash that asked for this fetch can be answered now.
			h.kickAll()
		}
		asked = false
		select {
		case <-ctx.Done():
			return
		case <-h.clock.After(h.cfg.DesiredRefreshInterval):
		case <-h.refresh:
			asked = true
		}
	}
}

// knownLocked reports whether the desired state names the app.
func (h *HM) knownLocked(app string) bool {
	for _, d := range h.desired {
		if d.AppGUID == app {
			return true
		}
	}
	return false
}

func (h *HM) fetchDesired(ctx context.Context) {
	askedAt := h.clock.Now()
	rctx, cancel := context.WithTimeout(ctx, h.cfg.DesiredRequestTimeout)
	defer cancel()
	data, err := h.bus.Request(rctx, bus.SubjectDesiredState, []byte("{}"))
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("desired-state-unavailable", "error", err)
		}
		return
	}
	var reply messages.DesiredStateReply
	if err := messages.Decode(data, &reply); err != nil {
		h.log.Warn("desired-state-invalid", "error", err)
		return
	}
	h.mu.Lock()
	h.desired = reply.Apps
	h.desiredFetchedAt = askedAt
	h.mu.Unlock()
}

func unixSeconds(f float64) time.Time {
	if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e12 {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func (h *HM) onHeartbeat(m *bus.Msg) {
	var hb messages.Heartbeat
	if err := messages.Decode(m.Data, &hb); err != nil {
		h.log.Warn("heartbeat-invalid", "error", err)
		return
	}
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.deas[hb.DEA]
	if d == nil {
		d = &deaState{instances: map[string]Instance{}}
		h.deas[hb.DEA] = d
	}
	d.lastSeen = now
	old := d.instances
	if !hb.Partial {
		d.instances = make(map[string]Instance, len(hb.Instances))
	}
	for _, hi := range hb.Instances {
		in := Instance{
			DEA: hb.DEA, AppGUID: hi.AppGUID, Version: hi.Version, InstanceGUID: hi.InstanceGUID,
			Index: hi.Index, State: hi.State, StateTimestamp: unixSeconds(hi.StateTimestamp), FirstSeen: now,
		}
		if prev, ok := old[hi.InstanceGUID]; ok {
			in.FirstSeen = prev.FirstSeen
		}
		d.instances[hi.InstanceGUID] = in
		if hi.State == messages.StateCrashed && h.recordCrashLocked(in, now) {
			h.kickLocked(in.AppGUID)
		}
	}
}

func (h *HM) onExited(m *bus.Msg) {
	var ex messages.DropletExited
	if err := messages.Decode(m.Data, &ex); err != nil {
		h.log.Warn("droplet-exited-invalid", "error", err)
		return
	}
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.deas[ex.DEA]; d != nil {
		delete(d.instances, ex.InstanceGUID)
	} else {
		for _, d := range h.deas {
			delete(d.instances, ex.InstanceGUID)
		}
	}
	switch ex.Reason {
	case messages.ReasonCrashed:
		in := Instance{AppGUID: ex.AppGUID, Version: ex.Version, InstanceGUID: ex.InstanceGUID, Index: ex.Index}
		if !h.knownLocked(ex.AppGUID) {
			select {
			case h.refresh <- struct{}{}:
			default:
			}
		}
		if h.recordCrashLocked(in, now) {
			h.log.Info("instance-crashed", "app_guid", ex.AppGUID, "instance_index", ex.Index,
				"instance_guid", ex.InstanceGUID, "crash_count", h.crashes[CrashKey{ex.AppGUID, ex.Index}].Count)
			h.kickLocked(ex.AppGUID)
		}
	case messages.ReasonDEAShutdown, messages.ReasonDEAEvacuation:
		// The index needs a new instance now, even if a start for it went
		// out within the keep-alive (that one was carried out).
		delete(h.sent, StartKey(ex.AppGUID, ex.Version, ex.Index))
		h.kickLocked(ex.AppGUID)
	}
}

// recordCrashLocked counts a crash of in unless it was already counted; it
// reports whether it was new.
func (h *HM) recordCrashLocked(in Instance, now time.Time) bool {
	key := CrashKey{AppGUID: in.AppGUID, Index: in.Index}
	rec := h.crashes[key]
	if rec == nil {
		rec = &crashRecord{}
		h.crashes[key] = rec
	}
	for _, g := range rec.guids {
		if g == in.InstanceGUID {
			return false
		}
	}
	if rec.Count > 0 && (rec.Expired(now, h.cfg) || rec.Version != in.Version) {
		rec.Count = 0
	}
	rec.Count++
	rec.Last = now
	rec.Version = in.Version
	rec.guids = append(rec.guids, in.InstanceGUID)
	if len(rec.guids) > maxCrashGUIDs {
		rec.guids = rec.guids[len(rec.guids)-maxCrashGUIDs:]
	}
	// The start sent for this index was carried out (the instance ran and
	// crashed), so a restart must not wait for its keep-alive.
	delete(h.sent, StartKey(in.AppGUID, in.Version, in.Index))
	return true
}

func (h *HM) kickLocked(app string) {
	h.pending[app] = struct{}{}
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// pass analyzes all apps (only == nil) or the given ones and sends the due
// actions not sent within the keep-alive.
func (h *HM) pass(ctx context.Context, only map[string]struct{}) {
	if !h.IsLeader() {
		// A standby keeps its view fresh but leaves acting to the holder.
		return
	}
	now := h.clock.Now()
	h.mu.Lock()
	h.pruneLocked(now)
	actual := h.snapshotLocked(only)
	desired := h.desired
	if only != nil {
		desired = nil
		for _, d := range h.desired {
			if _, ok := only[d.AppGUID]; ok {
				desired = append(desired, d)
			}
		}
	}
	crashes := make(CrashState, len(h.crashes))
	for k, r := range h.crashes {
		if only == nil || hasKey(only, k.AppGUID) {
			crashes[k] = r.Crash
		}
	}
	actions := Analyze(desired, actual, crashes, now, h.cfg)
	var due []Action
	for _, a := range actions {
		if a.NotBefore.After(now) {
			continue
		}
		if at, ok := h.sent[a.Key]; ok && now.Sub(at) < h.cfg.ActionKeepAlive {
			continue
		}
		if len(due) >= h.cfg.MaxActionsPerPass {
			break
		}
		h.sent[a.Key] = now
		due = append(due, a)
	}
	h.mu.Unlock()
	for _, a := range due {
		if ctx.Err() != nil {
			return
		}
		if err := h.bus.PublishJSON(bus.SubjectHMRequests, a.Request()); err != nil {
			h.log.Warn("hm-request-publish-failed", "app_guid", a.AppGUID, "key", a.Key, "error", err)
			h.mu.Lock()
			delete(h.sent, a.Key)
			h.mu.Unlock()
			continue
		}
		h.log.Info("hm-request-sent", "op", a.Op, "app_guid", a.AppGUID, "version", a.Version,
			"reason", a.Reason, "key", a.Key)
	}
}

func hasKey(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}

func (h *HM) pruneLocked(now time.Time) {
	for k, r := range h.crashes {
		if r.Expired(now, h.cfg) {
			delete(h.crashes, k)
		}
	}
	for k, at := range h.sent {
		if now.Sub(at) >= h.cfg.ActionKeepAlive {
			delete(h.sent, k)
		}
	}
	// A DEA silent for long is forgotten; its instances count as gone
	// long before (InstanceTTL).
	for id, d := range h.deas {
		if now.Sub(d.lastSeen) > 10*h.cfg.InstanceTTL {
			delete(h.deas, id)
		}
	}
}

func (h *HM) snapshotLocked(only map[string]struct{}) ActualState {
	st := ActualState{
		DEAs:             make(map[string]time.Time, len(h.deas)),
		ListeningSince:   h.listeningSince,
		DesiredFetchedAt: h.desiredFetchedAt,
		StartedAt:        h.startedAt,
	}
	for id, d := range h.deas {
		st.DEAs[id] = d.lastSeen
		for _, in := range d.instances {
			if only == nil || hasKey(only, in.AppGUID) {
				st.Instances = append(st.Instances, in)
			}
		}
	}
	return st
}

// Actual returns a copy of the HM's current view of actual state.
func (h *HM) Actual() ActualState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshotLocked(nil)
}

// CrashCount is the current crash count of an app's index (0 once the
// record has expired).
func (h *HM) CrashCount(appGUID string, index int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.crashes[CrashKey{AppGUID: appGUID, Index: index}]
	if r == nil || r.Expired(h.clock.Now(), h.cfg) {
		return 0
	}
	return r.Count
}

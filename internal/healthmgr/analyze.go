package healthmgr

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// Reasons carried by actions (and HMRequest.Reason).
const (
	ReasonCrashed    = "CRASHED"
	ReasonMissing    = "MISSING"
	ReasonExtra      = "EXTRA"
	ReasonDuplicate  = "DUPLICATE"
	ReasonOldVersion = "OLD_VERSION"
	ReasonUnknownApp = "UNKNOWN_APP"
)

// Desired app states (as in store.AppStarted / store.AppStopped).
const (
	AppStarted = "STARTED"
	AppStopped = "STOPPED"
)

// Instance is one instance as the heartbeats report it.
type Instance struct {
	DEA          string
	AppGUID      string
	Version      string
	InstanceGUID string
	Index        int
	State        string // messages.StateStarting, StateRunning, ...
	// StateTimestamp is when the instance entered State.
	StateTimestamp time.Time
	// FirstSeen is when the HM first heard of the instance.
	FirstSeen time.Time
}

// ActualState is the HM's view of the world: the instances from heartbeats
// plus the times that decide whether the view can be trusted.
type ActualState struct {
	Instances []Instance
	// DEAs maps each DEA id to its last heartbeat.
	DEAs map[string]time.Time
	// ListeningSince is when the HM began hearing heartbeats without a gap
	// (zero: not listening).
	ListeningSince time.Time
	// DesiredFetchedAt is when the desired state in use was requested from
	// the controller (zero: never).
	DesiredFetchedAt time.Time
	// StartedAt is when the HM started.
	StartedAt time.Time
}

// CrashKey names one index of one app.
type CrashKey struct {
	AppGUID string
	Index   int
}

// Crash counts the recent crashes of one index.
type Crash struct {
	Count int
	// Last is the latest crash.
	Last time.Time
	// Version is the droplet that crashed; crashes of another version do
	// not delay starts of the current one.
	Version string
}

// CrashState holds the crash records the HM keeps.
type CrashState map[CrashKey]Crash

// Backoff is the restart delay after the count-th crash: none for the
// first cfg.CrashesBeforeBackoff, then BackoffInitial doubling per crash,
// capped at BackoffMax.
func Backoff(count int, cfg Config) time.Duration {
	cfg = cfg.WithDefaults()
	n := count - cfg.CrashesBeforeBackoff
	if n <= 0 {
		return 0
	}
	d := cfg.BackoffInitial
	for i := 1; i < n; i++ {
		d *= 2
		if d >= cfg.BackoffMax || d <= 0 {
			return cfg.BackoffMax
		}
	}
	return min(d, cfg.BackoffMax)
}

// RestartAt is when the index may be restarted after this crash.
func (c Crash) RestartAt(cfg Config) time.Time { return c.Last.Add(Backoff(c.Count, cfg)) }

// Expired reports whether the record no longer counts: the index has gone
// CrashResetAfter without crashing since its restart was allowed.
func (c Crash) Expired(now time.Time, cfg Config) bool {
	cfg = cfg.WithDefaults()
	return now.Sub(c.RestartAt(cfg)) > cfg.CrashResetAfter
}

// Action is one request the HM wants the controller to carry out.
type Action struct {
	Op      string // messages.OpStart or messages.OpStop
	AppGUID string
	Version string
	// Indices to start (one per action).
	Indices []int
	// InstanceGUIDs to stop (one per action).
	InstanceGUIDs []string
	Reason        string
	// Key de-duplicates: app-version-index for starts, the instance guid
	// for stops.
	Key string
	// NotBefore is when the action becomes due (crash backoff).
	NotBefore time.Time
	// LastUpdated is the desired state's UpdatedAt the action rests on.
	LastUpdated time.Time
}

// Request is the bus message for a.
func (a Action) Request() messages.HMRequest {
	return messages.HMRequest{
		Op: a.Op, AppGUID: a.AppGUID, Version: a.Version, Indices: a.Indices,
		InstanceGUIDs: a.InstanceGUIDs, Reason: a.Reason, LastUpdated: a.LastUpdated, Key: a.Key,
	}
}

// StartKey is the de-duplication key of a start.
func StartKey(appGUID, version string, index int) string {
	return appGUID + "-" + version + "-" + strconv.Itoa(index)
}

// ActualFresh reports whether the heartbeat view can be trusted at now.
func ActualFresh(actual ActualState, now time.Time, cfg Config) bool {
	cfg = cfg.WithDefaults()
	return !actual.ListeningSince.IsZero() && now.Sub(actual.ListeningSince) >= cfg.ActualFreshAfter
}

// DesiredFresh reports whether the desired state can be trusted at now.
func DesiredFresh(actual ActualState, now time.Time, cfg Config) bool {
	cfg = cfg.WithDefaults()
	return !actual.DesiredFetchedAt.IsZero() && now.Sub(actual.DesiredFetchedAt) <= cfg.DesiredStaleAfter
}

func firstIndex(a Action) int {
	if len(a.Indices) == 0 {
		return 0
	}
	return a.Indices[0]
}

func opRank(op string) int {
	if op == messages.OpStart {
		return 0
	}
	return 1
}

// stateRank orders RUNNING before STARTING.
func stateRank(state string) int {
	if state == messages.StateRunning {
		return 0
	}
	return 1
}

// active: the instance runs or is about to. An EVACUATING instance still
// serves, but its DEA is leaving: it counts neither as present (its index
// is started elsewhere at once) nor as a duplicate or extra of its
// replacement (its DEA stops it once the replacement runs).
func active(in Instance) bool {
	return in.State == messages.StateStarting || in.State == messages.StateRunning
}

// Analyze compares desired with actual state at now and returns what to
// start and stop, sorted by app, then starts before stops, then key. It
// returns nothing unless both states are fresh. Actions whose NotBefore is
// after now are returned too; the caller sends them when due.
//
// For a STARTED app with a version: every index below Instances without a
// STARTING or RUNNING instance of the current version is started (reason
// CRASHED after a recorded crash, with backoff; otherwise MISSING); every
// instance at an index >= Instances is stopped (EXTRA); an instance of an
// old version is stopped (OLD_VERSION) once the current version RUNS at its
// index; of two current instances on one index the newer is stopped
// (DUPLICATE). Every instance of a STOPPED app is stopped (EXTRA), and of an
// app not in desired state (UNKNOWN_APP) once the HM is up UnknownAppGrace.
// Instances of DEAs silent for InstanceTTL count as gone, and EVACUATING
// instances are neither counted nor stopped (see active). An instance is
// only stopped if desired state was requested after the HM first saw it,
// so a desired state older than the instance cannot condemn it.
func Analyze(desired []messages.DesiredApp, actual ActualState, crashes CrashState, now time.Time, cfg Config) []Action {
	cfg = cfg.WithDefaults()
	if !ActualFresh(actual, now, cfg) || !DesiredFresh(actual, now, cfg) {
		return nil
	}
	byApp := map[string][]Instance{}
	for _, in := range actual.Instances {
		seen, ok := actual.DEAs[in.DEA]
		if !ok || now.Sub(seen) > cfg.InstanceTTL {
			continue
		}
		byApp[in.AppGUID] = append(byApp[in.AppGUID], in)
	}
	a := analyzer{cfg: cfg, now: now, crashes: crashes, fetchedAt: actual.DesiredFetchedAt}
	known := make(map[string]bool, len(desired))
	for _, d := range desired {
		if known[d.AppGUID] {
			continue // a duplicate entry: the first one wins
		}
		known[d.AppGUID] = true
		if d.Deploying {
			continue // a rolling deployment replaces its instances meanwhile
		}
		a.app(d, byApp[d.AppGUID])
	}
	if now.Sub(actual.StartedAt) >= cfg.UnknownAppGrace {
		for app, ins := range byApp {
			if known[app] {
				continue
			}
			for _, in := range ins {
				a.stop(in, ReasonUnknownApp, time.Time{})
			}
		}
	}
	slices.SortFunc(a.out, func(x, y Action) int {
		return cmp.Or(cmp.Compare(x.AppGUID, y.AppGUID), cmp.Compare(opRank(x.Op), opRank(y.Op)),
			cmp.Compare(firstIndex(x), firstIndex(y)), cmp.Compare(x.Key, y.Key))
	})
	return a.out
}

type analyzer struct {
	cfg       Config
	now       time.Time
	crashes   CrashState
	fetchedAt time.Time
	out       []Action
}

// stop adds a stop of in, unless in is not active or is newer than the
// desired state.
func (a *analyzer) stop(in Instance, reason string, lastUpdated time.Time) {
	if !active(in) || !in.FirstSeen.Before(a.fetchedAt) {
		return
	}
	a.out = append(a.out, Action{
		Op: messages.OpStop, AppGUID: in.AppGUID, Version: in.Version, InstanceGUIDs: []string{in.InstanceGUID},
		Reason: reason, Key: in.InstanceGUID, NotBefore: a.now, LastUpdated: lastUpdated,
	})
}

func (a *analyzer) start(d messages.DesiredApp, index int) {
	act := Action{
		Op: messages.OpStart, AppGUID: d.AppGUID, Version: d.Version, Indices: []int{index},
		Key: StartKey(d.AppGUID, d.Version, index), LastUpdated: d.UpdatedAt,
	}
	c, ok := a.crashes[CrashKey{AppGUID: d.AppGUID, Index: index}]
	if ok && c.Version == d.Version && !c.Expired(a.now, a.cfg) {
		act.Reason = ReasonCrashed
		act.NotBefore = laterOf(a.now, c.RestartAt(a.cfg))
	} else {
		act.Reason = ReasonMissing
		act.NotBefore = laterOf(a.now, d.UpdatedAt.Add(a.cfg.MissingGrace))
	}
	a.out = append(a.out, act)
}

func laterOf(x, y time.Time) time.Time {
	if y.After(x) {
		return y
	}
	return x
}

func (a *analyzer) app(d messages.DesiredApp, ins []Instance) {
	if d.State == AppStopped {
		for _, in := range ins {
			a.stop(in, ReasonExtra, d.UpdatedAt)
		}
		return
	}
	if d.State != AppStarted || d.Version == "" {
		return // nothing can be started; leave the instances alone
	}
	current := map[int][]Instance{}
	var old []Instance
	for _, in := range ins {
		switch {
		case !active(in):
		case in.Index >= d.Instances:
			a.stop(in, ReasonExtra, d.UpdatedAt)
		case in.Version == d.Version:
			current[in.Index] = append(current[in.Index], in)
		default:
			old = append(old, in)
		}
	}
	for i := 0; i < d.Instances; i++ {
		cur := current[i]
		if len(cur) == 0 {
			a.start(d, i)
			continue
		}
		// Keep the RUNNING, oldest one; stop the rest.
		slices.SortFunc(cur, func(x, y Instance) int {
			return cmp.Or(
				cmp.Compare(stateRank(x.State), stateRank(y.State)),
				x.StateTimestamp.Compare(y.StateTimestamp),
				cmp.Compare(x.InstanceGUID, y.InstanceGUID))
		})
		for _, dup := range cur[1:] {
			a.stop(dup, ReasonDuplicate, d.UpdatedAt)
		}
	}
	for _, in := range old {
		if slices.ContainsFunc(current[in.Index], func(c Instance) bool { return c.State == messages.StateRunning }) {
			a.stop(in, ReasonOldVersion, d.UpdatedAt)
		}
	}
}

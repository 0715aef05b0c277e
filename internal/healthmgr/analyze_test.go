package healthmgr

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// fresh is an actual state that can be trusted at t0.
func fresh(ins ...Instance) ActualState {
	return ActualState{
		Instances:        ins,
		DEAs:             map[string]time.Time{"dea-1": t0.Add(-time.Second), "dea-2": t0.Add(-time.Second)},
		ListeningSince:   t0.Add(-time.Minute),
		DesiredFetchedAt: t0.Add(-time.Second),
		StartedAt:        t0.Add(-time.Hour),
	}
}

func inst(app, version string, index int, state, guid string) Instance {
	return Instance{DEA: "dea-1", AppGUID: app, Version: version, InstanceGUID: guid, Index: index, State: state,
		StateTimestamp: t0.Add(-time.Minute), FirstSeen: t0.Add(-30 * time.Second)}
}

func running(app, version string, index int, guid string) Instance {
	return inst(app, version, index, messages.StateRunning, guid)
}

func started(app, version string, n int) messages.DesiredApp {
	return messages.DesiredApp{AppGUID: app, State: AppStarted, Version: version, Instances: n, UpdatedAt: t0.Add(-time.Hour)}
}

func stopped(app, version string, n int) messages.DesiredApp {
	d := started(app, version, n)
	d.State = AppStopped
	return d
}

// summary renders an action compactly: "START app v1 #0 MISSING +0s" or
// "STOP app g1 EXTRA".
func summary(a Action) string {
	if a.Op == messages.OpStart {
		return fmt.Sprintf("START %s %s #%v %s +%s", a.AppGUID, a.Version, a.Indices, a.Reason, a.NotBefore.Sub(t0))
	}
	return fmt.Sprintf("STOP %s %v %s", a.AppGUID, a.InstanceGUIDs, a.Reason)
}

func summaries(as []Action) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, summary(a))
	}
	return out
}

func TestAnalyze(t *testing.T) {
	crash := func(app string, index, count int, ago time.Duration, version string) CrashState {
		return CrashState{{AppGUID: app, Index: index}: {Count: count, Last: t0.Add(-ago), Version: version}}
	}
	withState := func(in Instance, mod func(*Instance)) Instance { mod(&in); return in }
	tests := []struct {
		name    string
		desired []messages.DesiredApp
		actual  ActualState
		crashes CrashState
		cfg     Config
		want    []string
	}{
		{
			name:    "converged",
			desired: []messages.DesiredApp{started("a", "v1", 2)},
			actual:  fresh(running("a", "v1", 0, "g0"), running("a", "v1", 1, "g1")),
			want:    []string{},
		},
		{
			name:    "starting counts as present",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(inst("a", "v1", 0, messages.StateStarting, "g0")),
			want:    []string{},
		},
		{
			name: "an app being deployed is left to its deployment",
			desired: []messages.DesiredApp{func() messages.DesiredApp {
				d := started("a", "v2~r", 2)
				d.Deploying = true
				return d
			}()},
			actual: fresh(running("a", "v1", 0, "g0"), running("a", "v1", 1, "g1"), running("a", "v2~r", 0, "n0")),
			want:   []string{},
		},
		{
			name:    "missing index",
			desired: []messages.DesiredApp{started("a", "v1", 3)},
			actual:  fresh(running("a", "v1", 0, "g0"), running("a", "v1", 2, "g2")),
			want:    []string{"START a v1 #[1] MISSING +0s"},
		},
		{
			name:    "nothing running",
			desired: []messages.DesiredApp{started("a", "v1", 2)},
			actual:  fresh(),
			want:    []string{"START a v1 #[0] MISSING +0s", "START a v1 #[1] MISSING +0s"},
		},
		{
			name: "missing index of a just-changed app waits for the grace",
			desired: []messages.DesiredApp{func() messages.DesiredApp {
				d := started("a", "v1", 1)
				d.UpdatedAt = t0.Add(-time.Second)
				return d
			}()},
			actual: fresh(),
			want:   []string{"START a v1 #[0] MISSING +3s"},
		},
		{
			name:    "crashed, stopping and down instances do not count",
			desired: []messages.DesiredApp{started("a", "v1", 3)},
			actual: fresh(inst("a", "v1", 0, messages.StateCrashed, "g0"), inst("a", "v1", 1, messages.StateStopping, "g1"),
				inst("a", "v1", 2, messages.StateDown, "g2")),
			want: []string{"START a v1 #[0] MISSING +0s", "START a v1 #[1] MISSING +0s", "START a v1 #[2] MISSING +0s"},
		},
		{
			name:    "first crash restarts at once",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 1, time.Second, "v1"),
			want:    []string{"START a v1 #[0] CRASHED +0s"},
		},
		{
			name:    "third crash restarts at once",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 3, 0, "v1"),
			want:    []string{"START a v1 #[0] CRASHED +0s"},
		},
		{
			name:    "fourth crash waits 2s",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 4, 0, "v1"),
			want:    []string{"START a v1 #[0] CRASHED +2s"},
		},
		{
			name:    "fifth crash waits 4s from the crash",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 5, time.Second, "v1"),
			want:    []string{"START a v1 #[0] CRASHED +3s"},
		},
		{
			name:    "backoff already served",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 4, 10*time.Second, "v1"),
			want:    []string{"START a v1 #[0] CRASHED +0s"},
		},
		{
			name:    "backoff is capped at 5 minutes",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 40, 0, "v1"),
			want:    []string{"START a v1 #[0] CRASHED +5m0s"},
		},
		{
			name:    "crash count resets after 5 minutes without a crash",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 5, 6*time.Minute, "v1"), // restart allowed 5m56s ago
			want:    []string{"START a v1 #[0] MISSING +0s"},
		},
		{
			name:    "a crash loop at the cap does not reset the count",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 12, 6*time.Minute, "v1"), // restart allowed 1 minute ago
			want:    []string{"START a v1 #[0] CRASHED +0s"},
		},
		{
			name:    "crashes of an old version do not delay the new one",
			desired: []messages.DesiredApp{started("a", "v2", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 10, 0, "v1"),
			want:    []string{"START a v2 #[0] MISSING +0s"},
		},
		{
			name:    "custom backoff",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(),
			crashes: crash("a", 0, 3, 0, "v1"),
			cfg:     Config{CrashesBeforeBackoff: 1, BackoffInitial: 10 * time.Second, BackoffMax: 15 * time.Second},
			want:    []string{"START a v1 #[0] CRASHED +15s"},
		},
		{
			name:    "extra indices are stopped",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: fresh(running("a", "v1", 0, "g0"), running("a", "v1", 1, "g1"),
				inst("a", "v1", 2, messages.StateStarting, "g2"), running("a", "v0", 3, "g3")),
			want: []string{"STOP a [g1] EXTRA", "STOP a [g2] EXTRA", "STOP a [g3] EXTRA"},
		},
		{
			name:    "inactive extras are left alone",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: fresh(running("a", "v1", 0, "g0"), inst("a", "v1", 1, messages.StateCrashed, "g1"),
				inst("a", "v1", 2, messages.StateStopping, "g2")),
			want: []string{},
		},
		{
			name:    "scaled to zero",
			desired: []messages.DesiredApp{started("a", "v1", 0)},
			actual:  fresh(running("a", "v1", 0, "g0")),
			want:    []string{"STOP a [g0] EXTRA"},
		},
		{
			name:    "old version stopped once the new one runs",
			desired: []messages.DesiredApp{started("a", "v2", 2)},
			actual: fresh(running("a", "v1", 0, "old0"), running("a", "v1", 1, "old1"),
				running("a", "v2", 0, "new0"), inst("a", "v2", 1, messages.StateStarting, "new1")),
			want: []string{"STOP a [old0] OLD_VERSION"},
		},
		{
			name:    "old version kept while the new one is missing",
			desired: []messages.DesiredApp{started("a", "v2", 1)},
			actual:  fresh(running("a", "v1", 0, "old0")),
			want:    []string{"START a v2 #[0] MISSING +0s"},
		},
		{
			name:    "duplicate: the newer is stopped",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: fresh(
				withState(running("a", "v1", 0, "newer"), func(i *Instance) { i.StateTimestamp = t0.Add(-time.Second); i.DEA = "dea-2" }),
				withState(running("a", "v1", 0, "older"), func(i *Instance) { i.StateTimestamp = t0.Add(-time.Hour) })),
			want: []string{"STOP a [newer] DUPLICATE"},
		},
		{
			name:    "duplicate: a starting one goes before a running one",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: fresh(
				withState(inst("a", "v1", 0, messages.StateStarting, "starting"), func(i *Instance) { i.StateTimestamp = t0.Add(-time.Hour) }),
				running("a", "v1", 0, "running")),
			want: []string{"STOP a [starting] DUPLICATE"},
		},
		{
			name:    "three on one index",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(running("a", "v1", 0, "g-b"), running("a", "v1", 0, "g-a"), running("a", "v1", 0, "g-c")),
			want:    []string{"STOP a [g-b] DUPLICATE", "STOP a [g-c] DUPLICATE"},
		},
		{
			name:    "stopped app: everything active stops",
			desired: []messages.DesiredApp{stopped("a", "v1", 2)},
			actual:  fresh(running("a", "v1", 0, "g0"), inst("a", "v1", 1, messages.StateStarting, "g1"), inst("a", "v1", 2, messages.StateCrashed, "g2")),
			want:    []string{"STOP a [g0] EXTRA", "STOP a [g1] EXTRA"},
		},
		{
			name:    "started app without a droplet: no action",
			desired: []messages.DesiredApp{started("a", "", 2)},
			actual:  fresh(running("a", "v1", 0, "g0")),
			want:    []string{},
		},
		{
			name:    "unknown app stopped after the grace",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(running("a", "v1", 0, "g0"), running("ghost", "v9", 0, "x0"), inst("ghost", "v9", 1, messages.StateCrashed, "x1")),
			want:    []string{"STOP ghost [x0] UNKNOWN_APP"},
		},
		{
			name:    "unknown app left alone right after HM start",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: func() ActualState {
				a := fresh(running("a", "v1", 0, "g0"), running("ghost", "v9", 0, "x0"))
				a.StartedAt = t0.Add(-8 * time.Second) // fresh, but within the 20s grace
				a.ListeningSince = a.StartedAt
				return a
			}(),
			want: []string{},
		},
		{
			name:    "instance newer than the desired state is not stopped",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: fresh(running("a", "v1", 0, "g0"),
				withState(running("a", "v1", 1, "g1"), func(i *Instance) { i.FirstSeen = t0.Add(-500 * time.Millisecond) }),
				withState(running("ghost", "v1", 0, "x0"), func(i *Instance) { i.FirstSeen = t0 })),
			want: []string{},
		},
		{
			name:    "instances of a silent DEA count as gone",
			desired: []messages.DesiredApp{started("a", "v1", 2)},
			actual: func() ActualState {
				a := fresh(running("a", "v1", 0, "g0"), withState(running("a", "v1", 1, "g1"), func(i *Instance) { i.DEA = "dea-2" }))
				a.DEAs["dea-2"] = t0.Add(-7 * time.Second)
				return a
			}(),
			want: []string{"START a v1 #[1] MISSING +0s"},
		},
		{
			name:    "a DEA exactly at the ttl still counts",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: func() ActualState {
				a := fresh(running("a", "v1", 0, "g0"))
				a.DEAs["dea-1"] = t0.Add(-6 * time.Second)
				return a
			}(),
			want: []string{},
		},
		{
			name:    "instances of an unknown DEA count as gone",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual:  fresh(withState(running("a", "v1", 0, "g0"), func(i *Instance) { i.DEA = "dea-x" })),
			want:    []string{"START a v1 #[0] MISSING +0s"},
		},
		{
			name:    "several apps sort by app, starts first",
			desired: []messages.DesiredApp{started("b", "v1", 1), started("a", "v1", 2)},
			actual:  fresh(running("b", "v1", 3, "b3"), running("a", "v1", 5, "a5"), running("b", "v1", 1, "b1")),
			want: []string{"START a v1 #[0] MISSING +0s", "START a v1 #[1] MISSING +0s", "STOP a [a5] EXTRA",
				"START b v1 #[0] MISSING +0s", "STOP b [b1] EXTRA", "STOP b [b3] EXTRA"},
		},
		{
			name:    "an evacuating instance does not count: its index is started",
			desired: []messages.DesiredApp{started("a", "v1", 2)},
			actual:  fresh(inst("a", "v1", 0, messages.StateEvacuating, "g0"), running("a", "v1", 1, "g1")),
			want:    []string{"START a v1 #[0] MISSING +0s"},
		},
		{
			name:    "the replacement of an evacuating instance is no duplicate",
			desired: []messages.DesiredApp{started("a", "v1", 1)},
			actual: fresh(inst("a", "v1", 0, messages.StateEvacuating, "old"),
				withState(running("a", "v1", 0, "new"), func(i *Instance) {
					i.DEA, i.StateTimestamp, i.FirstSeen = "dea-2", t0.Add(-2*time.Second), t0.Add(-10*time.Second)
				})),
			want: []string{},
		},
		{
			name:    "an evacuating instance is left to its DEA, even when extra",
			desired: []messages.DesiredApp{started("a", "v1", 1), stopped("b", "v1", 1)},
			actual: fresh(running("a", "v1", 0, "g0"), inst("a", "v1", 3, messages.StateEvacuating, "g3"),
				inst("b", "v1", 0, messages.StateEvacuating, "b0")),
			want: []string{},
		},
		{
			name:    "a duplicate desired entry: the first wins",
			desired: []messages.DesiredApp{started("a", "v1", 1), stopped("a", "v1", 1)},
			actual:  fresh(running("a", "v1", 0, "g0")),
			want:    []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := summaries(Analyze(tc.desired, tc.actual, tc.crashes, t0, tc.cfg))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("actions:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestAnalyzeStaleness(t *testing.T) {
	desired := []messages.DesiredApp{started("a", "v1", 2), started("gone", "v1", 0)}
	base := func() ActualState {
		return fresh(running("a", "v1", 0, "g0"), running("a", "v1", 5, "extra"), running("ghost", "v1", 0, "x"))
	}
	tests := []struct {
		name   string
		mod    func(*ActualState)
		acting bool
	}{
		{"fresh", func(*ActualState) {}, true},
		{"never listened", func(a *ActualState) { a.ListeningSince = time.Time{} }, false},
		{"listened 5s of 6", func(a *ActualState) { a.ListeningSince = t0.Add(-5 * time.Second) }, false},
		{"listened exactly 6s", func(a *ActualState) { a.ListeningSince = t0.Add(-6 * time.Second) }, true},
		{"desired never fetched", func(a *ActualState) { a.DesiredFetchedAt = time.Time{} }, false},
		{"desired 11s old", func(a *ActualState) { a.DesiredFetchedAt = t0.Add(-11 * time.Second) }, false},
		{"desired exactly 10s old", func(a *ActualState) {
			a.DesiredFetchedAt = t0.Add(-10 * time.Second)
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.mod(&a)
			got := Analyze(desired, a, nil, t0, Config{})
			if tc.acting && len(got) == 0 {
				t.Fatal("no actions on fresh state")
			}
			if !tc.acting && len(got) != 0 {
				t.Fatalf("acted on stale state: %v", summaries(got))
			}
		})
	}
	// Staleness windows follow the config.
	a := base()
	a.ListeningSince = t0.Add(-2 * time.Second)
	if got := Analyze(desired, a, nil, t0, Config{HeartbeatInterval: 500 * time.Millisecond}); len(got) == 0 {
		t.Fatal("no actions with a 1.5s freshness window after 2s")
	}
	a = base()
	a.DesiredFetchedAt = t0.Add(-3 * time.Second)
	if got := Analyze(desired, a, nil, t0, Config{DesiredStaleAfter: 2 * time.Second}); len(got) != 0 {
		t.Fatalf("acted on desired state older than DesiredStaleAfter: %v", summaries(got))
	}
}

func TestAnalyzeActionFields(t *testing.T) {
	d := started("app-1", "drop-2", 2)
	acts := Analyze([]messages.DesiredApp{d}, fresh(running("app-1", "drop-2", 0, "i0"), running("app-1", "drop-2", 4, "i4")), nil, t0, Config{})
	if len(acts) != 2 {
		t.Fatalf("got %v", summaries(acts))
	}
	wantStart := Action{Op: messages.OpStart, AppGUID: "app-1", Version: "drop-2", Indices: []int{1}, Reason: ReasonMissing,
		Key: "app-1-drop-2-1", NotBefore: t0, LastUpdated: d.UpdatedAt}
	wantStop := Action{Op: messages.OpStop, AppGUID: "app-1", Version: "drop-2", InstanceGUIDs: []string{"i4"}, Reason: ReasonExtra,
		Key: "i4", NotBefore: t0, LastUpdated: d.UpdatedAt}
	if !reflect.DeepEqual(acts[0], wantStart) {
		t.Fatalf("start:\n got  %+v\n want %+v", acts[0], wantStart)
	}
	if !reflect.DeepEqual(acts[1], wantStop) {
		t.Fatalf("stop:\n got  %+v\n want %+v", acts[1], wantStop)
	}
	for _, a := range acts {
		req := a.Request()
		if err := req.Validate(); err != nil {
			t.Fatalf("request of %s is invalid: %v", summary(a), err)
		}
		if req.Key != a.Key || req.Reason != a.Reason || req.Op != a.Op || !req.LastUpdated.Equal(a.LastUpdated) {
			t.Fatalf("request %+v does not carry action %+v", req, a)
		}
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		count int
		cfg   Config
		want  time.Duration
	}{
		{0, Config{}, 0}, {1, Config{}, 0}, {3, Config{}, 0},
		{4, Config{}, 2 * time.Second}, {5, Config{}, 4 * time.Second}, {6, Config{}, 8 * time.Second},
		{11, Config{}, 256 * time.Second}, {12, Config{}, 5 * time.Minute}, {1000, Config{}, 5 * time.Minute},
		{2, Config{CrashesBeforeBackoff: 1, BackoffInitial: time.Second, BackoffMax: time.Hour}, time.Second},
		{70, Config{CrashesBeforeBackoff: 1, BackoffInitial: time.Second, BackoffMax: 1 << 62}, 1 << 62},
	}
	for _, tc := range tests {
		if got := Backoff(tc.count, tc.cfg); got != tc.want {
			t.Errorf("Backoff(%d, %+v) = %s, want %s", tc.count, tc.cfg, got, tc.want)
		}
	}
}

func TestCrashExpired(t *testing.T) {
	tests := []struct {
		c    Crash
		want bool
	}{
		{Crash{Count: 1, Last: t0.Add(-5 * time.Minute)}, false},
		{Crash{Count: 1, Last: t0.Add(-5*time.Minute - time.Millisecond)}, true},
		{Crash{Count: 5, Last: t0.Add(-5*time.Minute - time.Second)}, false}, // restart allowed 4s after the crash
		{Crash{Count: 5, Last: t0.Add(-5*time.Minute - 5*time.Second)}, true},
	}
	for _, tc := range tests {
		if got := tc.c.Expired(t0, Config{}); got != tc.want {
			t.Errorf("%+v.Expired = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, c := range []Config{
		{HeartbeatInterval: -1},
		{BackoffInitial: time.Minute, BackoffMax: time.Second},
		{CrashesBeforeBackoff: -1},
		{MaxActionsPerPass: -1},
	} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("config %+v validated", c)
		}
	}
}

package healthmgr

import (
	"fmt"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// benchState builds desired state for apps×perApp instances and an actual
// state of the same size spread over deas DEAs. With drift, about 1% of
// the indices are missing with an extra instance above the desired count
// in their place, 1% are just missing, 1% have a duplicate, 1% still run an old version next to the
// current one, and 1% have crashed (with a crash record), so Analyze has
// work of every kind; without drift the two states agree.
func benchState(apps, perApp, deas int, drift bool) ([]messages.DesiredApp, ActualState, CrashState, time.Time) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	desired := make([]messages.DesiredApp, 0, apps)
	actual := ActualState{
		DEAs:             make(map[string]time.Time, deas),
		ListeningSince:   now.Add(-time.Minute),
		DesiredFetchedAt: now.Add(-time.Second),
		StartedAt:        now.Add(-time.Hour),
	}
	for d := 0; d < deas; d++ {
		actual.DEAs[fmt.Sprintf("dea-%d", d)] = now.Add(-time.Second)
	}
	crashes := CrashState{}
	n := 0
	add := func(app, version string, index int, state string) {
		actual.Instances = append(actual.Instances, Instance{
			DEA: fmt.Sprintf("dea-%d", n%deas), AppGUID: app, Version: version,
			InstanceGUID: fmt.Sprintf("%s-i%d-%d", app, index, n), Index: index, State: state,
			StateTimestamp: now.Add(-time.Minute), FirstSeen: now.Add(-30 * time.Second),
		})
		n++
	}
	for a := 0; a < apps; a++ {
		app := fmt.Sprintf("app-%05d", a)
		version := "v2-" + app
		desired = append(desired, messages.DesiredApp{AppGUID: app, State: AppStarted, Version: version,
			Instances: perApp, UpdatedAt: now.Add(-time.Hour)})
		for i := 0; i < perApp; i++ {
			k := a*perApp + i
			switch {
			case drift && k%100 == 1: // missing, with an extra instance in its place
				add(app, version, perApp+i, messages.StateRunning)
			case drift && k%100 == 2: // a duplicate: two instances on one index
				add(app, version, i, messages.StateRunning)
				add(app, version, i, messages.StateStarting)
			case drift && k%100 == 5: // missing (keeps the total at apps×perApp)
			case drift && k%100 == 3: // an old version still running
				add(app, "v1-"+app, i, messages.StateRunning)
			case drift && k%100 == 4: // crashed
				add(app, version, i, messages.StateCrashed)
				crashes[CrashKey{AppGUID: app, Index: i}] = Crash{Count: 4, Last: now.Add(-time.Second), Version: version}
			default:
				add(app, version, i, messages.StateRunning)
			}
		}
	}
	return desired, actual, crashes, now
}

// BenchmarkAnalyze is one full convergence pass over 10,000 desired and
// 10,000 actual instances (2,500 apps × 4 on 100 DEAs):
//
//	go test ./internal/healthmgr -run '^$' -bench Analyze
func BenchmarkAnalyze(b *testing.B) {
	for _, tc := range []struct {
		name  string
		drift bool
	}{{"converged", false}, {"drift", true}} {
		b.Run(tc.name, func(b *testing.B) {
			desired, actual, crashes, now := benchState(2500, 4, 100, tc.drift)
			cfg := Config{}.WithDefaults()
			if got := len(actual.Instances); got != 10000 {
				b.Fatalf("actual has %d instances, want 10000", got)
			}
			var actions int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				actions = len(Analyze(desired, actual, crashes, now, cfg))
			}
			b.StopTimer()
			if tc.drift && actions == 0 {
				b.Fatal("drift produced no actions")
			}
			if !tc.drift && actions != 0 {
				b.Fatalf("a converged state produced %d actions", actions)
			}
			b.ReportMetric(float64(actions), "actions")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/analyze")
		})
	}
}

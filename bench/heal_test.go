package bench

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/e2e/cluster"
)

// The healing benchmarks run the platform as separate processes (a
// nats-server, controller, DEAs, router and health manager; see
// e2e/cluster) with default timers and measure how long apps stay broken:
//
//	go test ./bench -run '^$' -bench 'InstanceRecovery|DEALossHeal' -benchtime 1x

// recoveryKills is how many instances BenchmarkInstanceRecovery kills per
// iteration; recoveryInstances spreads them so no index crashes more than
// three times (the health manager restarts those at once, later ones
// back off).
const (
	recoveryKills     = 20
	recoveryInstances = 7
)

// BenchmarkInstanceRecovery is the time from SIGKILL of one app instance
// to that index answering again through the router (X-CF-APP-INSTANCE),
// over 20 kills: the DEA reports the crash, the health manager restarts
// it, the controller places it, the DEA starts it and registers the route.
func BenchmarkInstanceRecovery(b *testing.B) {
	c := cluster.Start(b, cluster.Options{DEAs: 1})
	var all []time.Duration
	for it := 0; it < b.N; it++ {
		name := fmt.Sprintf("recover-%d", it)
		guid := c.PushApp(name, recoveryInstances)
		// Let the health manager's desired state (refreshed every 2 s)
		// take in the new app, so the kills measure steady state.
		time.Sleep(5 * time.Second)
		for k := 0; k < recoveryKills; k++ {
			if err := c.WaitRunning(guid, recoveryInstances, 60*time.Second); err != nil {
				b.Fatal(err)
			}
			idx := k % recoveryInstances
			in := c.Running(guid)[idx]
			start := time.Now()
			if _, err := c.KillInstance(in); err != nil {
				b.Fatalf("kill %s/%d: %v", name, idx, err)
			}
			// Once the old process no longer listens, any answer of the
			// index comes from its replacement.
			waitFor(b, 10*time.Second, "the killed instance's port to close", func() bool {
				_, err := cluster.ListenerPID(in.Port)
				return err != nil
			})
			waitFor(b, 60*time.Second, fmt.Sprintf("index %d of %s to serve again", idx, name), func() bool {
				code, body, err := c.GetInstance(name, guid, idx, "/index")
				return err == nil && code == http.StatusOK && strings.TrimSpace(body) == fmt.Sprint(idx)
			})
			d := time.Since(start)
			if d > 2*time.Second {
				b.Logf("kill %d (%s index %d, %d. kill of it): serving again only after %s", k, name, idx, k/recoveryInstances+1, d.Round(time.Millisecond))
			}
			all = append(all, d)
		}
		c.MustCLI("delete", name, "-f", "-r")
	}
	report(b, all)
}

// BenchmarkDEALossHeal is the time from losing a DEA's host (the DEA and
// its instances SIGKILLed) to every index it ran serving from the other
// DEAs through the router. A fresh DEA replaces the lost one between
// iterations (not timed).
func BenchmarkDEALossHeal(b *testing.B) {
	const n = 6
	c := cluster.Start(b, cluster.Options{DEAs: 3})
	guid := c.PushApp("dealoss", n)
	var all []time.Duration
	for it := 0; it < b.N; it++ {
		if err := c.WaitRunning(guid, n, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		// Settle (not timed): the health manager takes a new app into its
		// desired state within 2 s, and does not send the same start again
		// within its 10 s keep-alive, so an index lost twice within 10 s
		// waits for it; measure a single loss.
		if it == 0 {
			time.Sleep(5 * time.Second)
		} else {
			time.Sleep(12 * time.Second)
		}
		byDEA := map[string][]int{}
		for idx, in := range c.Running(guid) {
			byDEA[in.DEA] = append(byDEA[in.DEA], idx)
		}
		var victim string
		for id, idx := range byDEA {
			if victim == "" || len(idx) > len(byDEA[victim]) {
				victim = id
			}
		}
		lost := byDEA[victim]
		dea := c.DEAByID(victim)
		start := time.Now()
		if _, err := dea.KillHost(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 90*time.Second, fmt.Sprintf("indices %v of the lost DEA to serve elsewhere", lost), func() bool {
			run := c.Running(guid)
			for _, idx := range lost {
				if in, ok := run[idx]; !ok || in.DEA == victim {
					return false
				}
			}
			seen := map[string]bool{}
			for i := 0; i < 4*n; i++ {
				code, body, err := c.Get("dealoss", "/index")
				if err == nil && code == http.StatusOK {
					seen[strings.TrimSpace(body)] = true
				}
			}
			for _, idx := range lost {
				if !seen[fmt.Sprint(idx)] {
					return false
				}
			}
			return true
		})
		d := time.Since(start)
		b.Logf("lost %s with indices %v: all serving elsewhere after %s", dea.Name, lost, d.Round(time.Millisecond))
		all = append(all, d)
		c.AddDEA()
	}
	report(b, all)
}

func waitFor(b *testing.B, timeout time.Duration, what string, f func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func report(b *testing.B, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	s := append([]time.Duration(nil), all...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	b.ReportMetric(ms(s[len(s)/2]), "ms-median")
	b.ReportMetric(ms(s[len(s)-1]), "ms-max")
	b.ReportMetric(ms(s[0]), "ms-min")
	b.ReportMetric(float64(len(s)), "samples")
}

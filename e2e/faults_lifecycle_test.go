package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/e2e/cluster"
)

// healCrash kills the app's instance of index and waits until a new
// instance of it serves; it returns how long that took.
func healCrash(t *testing.T, c *cluster.Cluster, host, guid string, index int) time.Duration {
	t.Helper()
	victim, ok := c.Running(guid)[index]
	if !ok {
		t.Fatalf("index %d not running: %+v", index, c.Instances(guid))
	}
	at := time.Now()
	if _, err := c.KillInstance(victim); err != nil {
		t.Fatalf("kill instance %d: %v", index, err)
	}
	deadline := at.Add(40 * time.Second)
	for {
		if in, ok := c.Running(guid)[index]; ok && in.GUID != victim.GUID {
			code, body, _ := c.GetInstance(host, guid, index, "/index")
			if code == http.StatusOK && strings.TrimSpace(body) == string(rune('0'+index)) {
				return time.Since(at)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %d not healed 40s after it was killed: %+v", index, c.Instances(guid))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultRollingDeploys: a rolling restart and a rolling push of a
// 3-instance app with requests flowing through the router: none fails.
func TestFaultRollingDeploys(t *testing.T) {
	c := cluster.Start(t, cluster.Options{DEAs: 2})
	guid := c.PushApp("rd", 3)
	load := c.Load("rd", cluster.LoadOptions{})
	waitLoad(t, load, 20)

	before := c.Running(guid)
	start := time.Now()
	out := c.MustCLI("restart", "rd", "--strategy", "rolling")
	if !strings.Contains(out, "to deploy (rolling") {
		t.Errorf("rolling restart output:\n%s", out)
	}
	t.Logf("rolling restart of 3 instances took %s", time.Since(start).Round(time.Millisecond))
	replaced := func() bool {
		after := c.Running(guid)
		if len(after) != 3 {
			return false
		}
		for i, in := range after {
			if in.GUID == before[i].GUID {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(15 * time.Second); !replaced(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the rolling restart did not replace every instance: before %+v, now %+v", before, c.Running(guid))
		}
	}

	start = time.Now()
	c.PushApp("rd", 3, "--strategy", "rolling")
	t.Logf("rolling push of 3 instances took %s", time.Since(start).Round(time.Millisecond))
	res := load.Stop()
	res.Log(t, "rolling restart and push")
	if res.Failed != 0 || res.OK == 0 {
		t.Errorf("rolling restart and push: %d requests failed (%d ok)", res.Failed, res.OK)
	}
	if n := len(c.Running(guid)); n != 3 {
		t.Errorf("%d instances running after the rolling push, want 3", n)
	}
}

// TestFaultNATSOutage: with the NATS server stopped for 10 s the apps keep
// serving (the router routes on its last table; DEAs keep their
// instances); once NATS is back a crash is healed again.
func TestFaultNATSOutage(t *testing.T) {
	c := cluster.Start(t, cluster.Options{DEAs: 2})
	guid := c.PushApp("nb", 2)
	load := c.Load("nb", cluster.LoadOptions{})
	waitLoad(t, load, 20)

	c.Kill(c.NATS)
	down := time.Now()
	time.Sleep(10 * time.Second)
	c.Restart(c.NATS)
	t.Logf("NATS was down %s", time.Since(down).Round(time.Millisecond))
	// A few seconds with NATS back, then check nothing failed at any time.
	time.Sleep(3 * time.Second)
	res := load.Snapshot()
	res.Log(t, "NATS outage")
	if res.Failed != 0 || res.OK == 0 {
		t.Errorf("NATS outage: %d requests failed (%d ok)", res.Failed, res.OK)
	}
	if err := c.WaitRunning(guid, 2, 30*time.Second); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	healed := healCrash(t, c, "nb", guid, 1)
	t.Logf("a crash after the outage was healed in %s", healed.Round(time.Millisecond))
	load.Stop()
}

// TestFaultDEAEvacuation: SIGTERM of a DEA evacuates it: its instances are
// replaced on the other DEA before they stop, and no request fails.
func TestFaultDEAEvacuation(t *testing.T) {
	c := cluster.Start(t, cluster.Options{DEAs: 2})
	guid := c.PushApp("ev", 2)
	load := c.Load("ev", cluster.LoadOptions{})
	waitLoad(t, load, 20)

	before := placement(c, guid)
	var victim *cluster.DEA
	for id, idx := range before {
		if victim == nil || len(idx) > len(before[victim.ID]) {
			victim = c.DEAByID(id)
		}
	}
	t.Logf("placement before: %v; stopping %s (%s)", before, victim.Name, victim.ID)
	start := time.Now()
	if err := victim.Term(60 * time.Second); err != nil {
		t.Fatalf("SIGTERM %s: %v", victim.Name, err)
	}
	t.Logf("%s evacuated and exited after %s", victim.Name, time.Since(start).Round(time.Millisecond))
	if err := c.WaitRunning(guid, 2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, in := range c.Running(guid) {
		if in.DEA == victim.ID {
			t.Errorf("instance %d still on the evacuated DEA", in.Index)
		}
	}
	if left := victim.InstancePIDs(); len(left) > 0 {
		t.Errorf("the evacuated DEA left %d processes running", len(left))
	}
	res := load.Stop()
	res.Log(t, "evacuation")
	if res.Failed != 0 || res.OK == 0 {
		t.Errorf("evacuation: %d requests failed (%d ok)", res.Failed, res.OK)
	}
}

// TestFaultHMTakeover: two health managers run; exactly one acts. When the
// acting one is SIGKILLed, the standby takes the lease over within a few
// seconds and heals a crash.
func TestFaultHMTakeover(t *testing.T) {
	c := cluster.Start(t, cluster.Options{DEAs: 1})
	standby := c.AddHM()
	guid := c.PushApp("hmt", 2)

	acting := func(p *cluster.Proc) bool {
		acq := p.Events("hm-lease-acquired", true)
		lost := p.Events("hm-lease-lost", true)
		return len(acq) > len(lost)
	}
	var leader, other *cluster.Proc
	for deadline := time.Now().Add(20 * time.Second); leader == nil; time.Sleep(50 * time.Millisecond) {
		a, b := acting(c.HM), acting(standby)
		switch {
		case a && b:
			t.Fatal("both health managers acquired the lease")
		case a:
			leader, other = c.HM, standby
		case b:
			leader, other = standby, c.HM
		}
		if time.Now().After(deadline) {
			t.Fatal("no health manager acquired the lease")
		}
	}
	t.Logf("%s holds the lease; killing it", leader.Name)
	c.Kill(leader)
	killed := time.Now()
	if _, err := other.WaitEvent("hm-lease-acquired", 20*time.Second); err != nil {
		t.Fatalf("the standby did not take over: %v", err)
	}
	t.Logf("%s took the lease over %s after the kill", other.Name, time.Since(killed).Round(time.Millisecond))
	healed := healCrash(t, c, "hmt", guid, 0)
	t.Logf("a crash was healed by the new holder in %s", healed.Round(time.Millisecond))
}

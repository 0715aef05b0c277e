package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

func deploymentMeta(o *store.Deployment) store.Meta { return o.Meta }

func testDeployment(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(newGUID(), "deployed")
	mustNil(t, s.Apps().Create(ctx, app), "create app")
	other := newApp(app.SpaceGUID, "other")
	mustNil(t, s.Apps().Create(ctx, other), "create other app")
	d1 := &store.Deployment{Meta: store.Meta{GUID: newGUID()}, AppGUID: app.GUID, StatusValue: store.DeploymentFinalized,
		StatusReason: store.DeploymentDeployed, Strategy: store.StrategyRolling, DropletGUID: "d1", Revision: "d1~a",
		PreviousDropletGUID: "d0", PreviousRevision: "d0", MaxInFlight: 1}
	d2 := &store.Deployment{Meta: store.Meta{GUID: newGUID()}, AppGUID: app.GUID, StatusValue: store.DeploymentActive,
		StatusReason: store.DeploymentDeploying, Strategy: store.StrategyRolling, DropletGUID: "d2", Revision: "d2~b",
		PreviousDropletGUID: "d1", PreviousRevision: "d1~a", MaxInFlight: 2}
	d3 := &store.Deployment{Meta: store.Meta{GUID: newGUID()}, AppGUID: other.GUID, StatusValue: store.DeploymentActive,
		StatusReason: store.DeploymentDeploying, Strategy: store.StrategyRolling, DropletGUID: "x", Revision: "x~c", MaxInFlight: 1}
	for _, d := range []*store.Deployment{d1, d2, d3} {
		mustNil(t, s.Deployments().Create(ctx, d), "create deployment")
		got, err := s.Deployments().Get(ctx, d.GUID)
		mustNil(t, err, "get deployment")
		mustEqual(t, got, d, "deployment")
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Deployments().List(ctx, opt)
		mustNil(t, err, "list deployments")
		return guids(t, rs, deploymentMeta)
	}
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app.GUID}}), []string{d1.GUID, d2.GUID}, "deployments by app")
	mustEqual(t, list(store.ListOptions{States: []string{store.DeploymentActive}}), []string{d2.GUID, d3.GUID}, "active deployments")

	before := d2.Meta
	d2.StatusValue, d2.StatusReason, d2.Error = store.DeploymentFinalized, store.DeploymentCanceled, "instance 0 failed its health check"
	mustNil(t, s.Deployments().Update(ctx, d2), "update deployment")
	checkUpdatedMeta(t, before, d2.Meta)
	got, err := s.Deployments().Get(ctx, d2.GUID)
	mustNil(t, err, "get updated deployment")
	mustEqual(t, got, d2, "updated deployment")

	// Deployments go with their app.
	mustNil(t, s.Apps().Delete(ctx, app.GUID), "delete app")
	mustEqual(t, len(list(store.ListOptions{AppGUIDs: []string{app.GUID}})), 0, "deployments of a deleted app")
}

func testAppRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	app := newApp(newGUID(), "rev")
	app.DropletGUID = "drop1"
	app.Revision = store.NewRevision("drop1", "r1")
	mustNil(t, s.Apps().Create(ctx, app), "create app")
	got, err := s.Apps().Get(ctx, app.GUID)
	mustNil(t, err, "get app")
	mustEqual(t, got.RunVersion(), "drop1~r1", "run version of the revision")
	got.DropletGUID = "drop2"
	mustEqual(t, got.RunVersion(), "drop2", "a revision of an older droplet is ignored")
	mustEqual(t, store.DropletOfVersion("drop1~r1"), "drop1", "droplet of a revision")
	mustEqual(t, store.DropletOfVersion("drop2"), "drop2", "droplet of a plain version")
}

func testLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0).UTC()
	ls := s.Leases()
	l, ok, err := ls.Acquire(ctx, "hm", "a", 5*time.Second, now)
	mustNil(t, err, "acquire free lease")
	mustEqual(t, ok, true, "free lease granted")
	mustEqual(t, l.Holder, "a", "holder")
	_, ok, err = ls.Acquire(ctx, "hm", "b", 5*time.Second, now.Add(time.Second))
	mustNil(t, err, "acquire held lease")
	mustEqual(t, ok, false, "held lease refused")
	l, ok, err = ls.Acquire(ctx, "hm", "a", 5*time.Second, now.Add(2*time.Second))
	mustNil(t, err, "renew")
	mustEqual(t, ok, true, "renewal granted")
	mustEqual(t, l.ExpiresAt, now.Add(7*time.Second), "renewed expiry")
	l, ok, err = ls.Acquire(ctx, "hm", "b", 5*time.Second, now.Add(7*time.Second))
	mustNil(t, err, "take over")
	mustEqual(t, ok, true, "expired lease taken over")
	mustEqual(t, l.Holder, "b", "new holder")
	mustNil(t, ls.Release(ctx, "hm", "a"), "release by a non-holder")
	_, ok, _ = ls.Acquire(ctx, "hm", "a", 5*time.Second, now.Add(8*time.Second))
	mustEqual(t, ok, false, "release by a non-holder changed nothing")
	mustNil(t, ls.Release(ctx, "hm", "b"), "release")
	_, ok, _ = ls.Acquire(ctx, "hm", "a", 5*time.Second, now.Add(8*time.Second))
	mustEqual(t, ok, true, "released lease granted")
	if _, _, err := ls.Acquire(ctx, "", "a", time.Second, now); err == nil {
		t.Fatal("a lease without a name was granted")
	}
}

// testLeaseRace: of many holders racing for a free lease, exactly one wins.
func testLeaseRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.Leases().Acquire(ctx, "race", string(rune('a'+i)), time.Minute, now)
			if err != nil {
				t.Errorf("acquire: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	mustEqual(t, winners, 1, "winners of a race for a free lease")
}

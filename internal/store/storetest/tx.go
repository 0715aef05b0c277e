package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
)

var errAbort = errors.New("storetest: abort")

func testTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "txorg"}
	space := &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: "txspace", OrgGUID: org.GUID}
	err := s.InTx(ctx, func(tx store.Store) error {
		if err := tx.Orgs().Create(ctx, org); err != nil {
			return err
		}
		return tx.Spaces().Create(ctx, space)
	})
	mustNil(t, err, "commit tx")
	gotOrg, err := s.Orgs().Get(ctx, org.GUID)
	mustNil(t, err, "get org written in tx")
	mustEqual(t, gotOrg, org, "org written in tx")
	gotSpace, err := s.Spaces().Get(ctx, space.GUID)
	mustNil(t, err, "get space written in tx")
	mustEqual(t, gotSpace, space, "space written in tx")
}

func testTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	kept := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "kept"}
	mustNil(t, s.Orgs().Create(ctx, kept), "create org")
	app := newApp(newGUID(), "app")
	mustNil(t, s.Apps().Create(ctx, app), "create app")

	created := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "rolled-back"}
	err := s.InTx(ctx, func(tx store.Store) error {
		if err := tx.Orgs().Create(ctx, created); err != nil {
			return err
		}
		a, err := tx.Apps().Get(ctx, app.GUID)
		if err != nil {
			return err
		}
		a.State = store.AppStarted
		if err := tx.Apps().Update(ctx, a); err != nil {
			return err
		}
		if err := tx.Orgs().Delete(ctx, kept.GUID); err != nil {
			return err
		}
		return fmt.Errorf("late failure: %w", errAbort)
	})
	mustIs(t, err, errAbort, "InTx returns f's error")

	_, err = s.Orgs().Get(ctx, created.GUID)
	mustIs(t, err, store.ErrNotFound, "org created in rolled-back tx")
	gotApp, err := s.Apps().Get(ctx, app.GUID)
	mustNil(t, err, "get app")
	mustEqual(t, gotApp, app, "app updated in rolled-back tx")
	gotOrg, err := s.Orgs().Get(ctx, kept.GUID)
	mustNil(t, err, "org deleted in rolled-back tx")
	mustEqual(t, gotOrg, kept, "org deleted in rolled-back tx")

	// The store is usable after a rollback.
	mustNil(t, s.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "after"}), "create after rollback")
}

func testTxNested(t *testing.T, s store.Store) {
	ctx := t.Context()
	outer := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "outer"}
	inner := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "inner"}
	err := s.InTx(ctx, func(tx store.Store) error {
		if err := tx.Orgs().Create(ctx, outer); err != nil {
			return err
		}
		if err := tx.InTx(ctx, func(tx2 store.Store) error {
			if _, err := tx2.Orgs().Get(ctx, outer.GUID); err != nil {
				return fmt.Errorf("nested tx does not see the outer write: %w", err)
			}
			return tx2.Orgs().Create(ctx, inner)
		}); err != nil {
			return err
		}
		return errAbort
	})
	mustIs(t, err, errAbort, "outer error")
	for _, g := range []string{outer.GUID, inner.GUID} {
		_, err := s.Orgs().Get(ctx, g)
		mustIs(t, err, store.ErrNotFound, "write of nested tx after outer rollback")
	}

	err = s.InTx(ctx, func(tx store.Store) error {
		return tx.InTx(ctx, func(tx2 store.Store) error { return tx2.Orgs().Create(ctx, inner) })
	})
	mustNil(t, err, "nested commit")
	_, err = s.Orgs().Get(ctx, inner.GUID)
	mustNil(t, err, "write of committed nested tx")
}

func testTxReadsOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	space := newGUID()
	err := s.InTx(ctx, func(tx store.Store) error {
		for _, n := range []string{"a", "b"} {
			if err := tx.Apps().Create(ctx, newApp(space, n)); err != nil {
				return err
			}
		}
		rs, err := tx.Apps().List(ctx, store.ListOptions{SpaceGUIDs: []string{space}})
		if err != nil {
			return err
		}
		if len(rs) != 2 {
			return fmt.Errorf("list inside tx saw %d apps, want 2", len(rs))
		}
		rs[0].State = store.AppStarted
		if err := tx.Apps().Update(ctx, rs[0]); err != nil {
			return err
		}
		got, err := tx.Apps().Get(ctx, rs[0].GUID)
		if err != nil {
			return err
		}
		if got.State != store.AppStarted || got.Version != 2 {
			return fmt.Errorf("get inside tx saw %s v%d, want STARTED v2", got.State, got.Version)
		}
		return nil
	})
	mustNil(t, err, "tx")
}

func testTxDuplicateRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustNil(t, s.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "taken"}), "create org")
	first := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "first"}
	err := s.InTx(ctx, func(tx store.Store) error {
		if err := tx.Orgs().Create(ctx, first); err != nil {
			return err
		}
		return tx.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "taken"})
	})
	mustIs(t, err, store.ErrDuplicate, "duplicate inside tx")
	_, err = s.Orgs().Get(ctx, first.GUID)
	mustIs(t, err, store.ErrNotFound, "write before the duplicate")
}

func testConcurrentUpdateOneWins(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: newGUID(), Type: "web", Instances: 1}
	mustNil(t, s.Processes().Create(ctx, p), "create process")
	for round := 0; round < 5; round++ {
		a, err := s.Processes().Get(ctx, p.GUID)
		mustNil(t, err, "get process")
		b := *a
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		start := make(chan struct{})
		for i, rec := range []*store.Process{a, &b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rec.Instances = 10 + i
				errs[i] = s.Processes().Update(ctx, rec)
			}()
		}
		close(start)
		wg.Wait()
		var wins, conflicts int
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Fatalf("concurrent update: unexpected error %v", err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d updates won and %d conflicted, want 1 and 1", round, wins, conflicts)
		}
		got, err := s.Processes().Get(ctx, p.GUID)
		mustNil(t, err, "get process")
		if got.Version != a.Version && got.Version != b.Version {
			t.Fatalf("version after race = %d", got.Version)
		}
	}
}

func testConcurrentReadModifyWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: newGUID(), Type: "web"}
	mustNil(t, s.Processes().Create(ctx, p), "create process")
	const workers, perWorker = 4, 10
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < perWorker; {
				cur, err := s.Processes().Get(ctx, p.GUID)
				if err != nil {
					errc <- err
					return
				}
				cur.Instances++
				switch err := s.Processes().Update(ctx, cur); {
				case err == nil:
					done++
				case errors.Is(err, store.ErrConflict):
					// lost the race: read again
				default:
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("read-modify-write: %v", err)
	}
	got, err := s.Processes().Get(ctx, p.GUID)
	mustNil(t, err, "get process")
	mustEqual(t, got.Instances, workers*perWorker, "increments survived")
	mustEqual(t, got.Version, int64(1+workers*perWorker), "version")
}

func testConcurrentCreateSameName(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InTx(ctx, func(tx store.Store) error {
				return tx.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "race"})
			})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrDuplicate):
		default:
			t.Fatalf("concurrent create: unexpected error %v", err)
		}
	}
	mustEqual(t, wins, 1, "creates that won")
	rs, err := s.Orgs().List(ctx, store.ListOptions{Names: []string{"race"}})
	mustNil(t, err, "list orgs")
	mustEqual(t, len(rs), 1, "orgs named race")
}

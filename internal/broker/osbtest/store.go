package osbtest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// RunStore is the conformance suite of osb.Store implementations. newStore
// returns a store for one subtest (it may share state with other subtests;
// the suite uses fresh random ids).
func RunStore(t *testing.T, newStore func(t *testing.T) osb.Store) {
	t.Run("instances", func(t *testing.T) { storeInstances(t, newStore(t)) })
	t.Run("bindings", func(t *testing.T) { storeBindings(t, newStore(t)) })
	t.Run("pending", func(t *testing.T) { storePending(t, newStore(t)) })
	t.Run("concurrent-create", func(t *testing.T) { storeConcurrentCreate(t, newStore(t)) })
}

func sampleInstance() *osb.Instance {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &osb.Instance{
		ID: "store-" + uuid.NewString(), ServiceID: "svc", PlanID: "plan",
		OrganizationGUID: "org", SpaceGUID: "space",
		Context:    json.RawMessage(`{"platform":"cloudfoundry"}`),
		Parameters: json.RawMessage(`{"a":1}`),
		LastOperation: &osb.Operation{
			ID: "provision-1", Kind: osb.OpProvision, State: osb.StateSucceeded,
			Description: "provisioned", StartedAt: now, FinishedAt: now,
		},
		Provisioned: true, CreatedAt: now, UpdatedAt: now,
	}
}

func sampleBinding(instanceID string) *osb.Binding {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &osb.Binding{
		ID: "store-" + uuid.NewString(), InstanceID: instanceID, ServiceID: "svc", PlanID: "plan",
		AppGUID: "app", BindResource: &osb.BindResource{AppGUID: "app"},
		Parameters:  json.RawMessage(`{}`),
		Credentials: map[string]any{"uri": "scheme://u:p@h:1/d", "port": float64(1)},
		Bound:       true,
		LastOperation: &osb.Operation{
			ID: "bind-1", Kind: osb.OpBind, State: osb.StateSucceeded, StartedAt: now, FinishedAt: now,
		},
		CreatedAt: now, UpdatedAt: now,
	}
}

// sameRecord compares two records through their JSON form (the form every
// store keeps).
func sameRecord(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if !reflect.DeepEqual(gv, wv) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func storeInstances(t *testing.T, st osb.Store) {
	ctx := context.Background()
	inst := sampleInstance()
	t.Cleanup(func() { _ = st.DeleteInstance(context.Background(), inst.ID) })
	if _, err := st.GetInstance(ctx, inst.ID); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
	if err := st.UpdateInstance(ctx, inst); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
	if err := st.CreateInstance(ctx, inst); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := st.CreateInstance(ctx, inst); !errors.Is(err, osb.ErrExists) {
		t.Fatalf("create twice: %v, want ErrExists", err)
	}
	got, err := st.GetInstance(ctx, inst.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sameRecord(t, "get after create", got, inst)
	inst.PlanID = "plan-2"
	inst.LastOperation = &osb.Operation{ID: "update-1", Kind: osb.OpUpdate, State: osb.StateInProgress,
		PlanID: "plan-2", Parameters: json.RawMessage(`{"b":"x"}`), StartedAt: inst.UpdatedAt}
	if err := st.UpdateInstance(ctx, inst); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err = st.GetInstance(ctx, inst.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sameRecord(t, "get after update", got, inst)
	if err := st.DeleteInstance(ctx, inst.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := st.GetInstance(ctx, inst.ID); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("get deleted: %v, want ErrNotFound", err)
	}
	if err := st.DeleteInstance(ctx, inst.ID); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
	if err := st.CreateInstance(ctx, inst); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}

func storeBindings(t *testing.T, st osb.Store) {
	ctx := context.Background()
	instA, instB := "store-"+uuid.NewString(), "store-"+uuid.NewString()
	b1, b2, b3 := sampleBinding(instA), sampleBinding(instA), sampleBinding(instB)
	t.Cleanup(func() {
		for _, b := range []*osb.Binding{b1, b2, b3} {
			_ = st.DeleteBinding(context.Background(), b.ID)
		}
	})
	if _, err := st.GetBinding(ctx, b1.ID); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
	if err := st.UpdateBinding(ctx, b1); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
	for _, b := range []*osb.Binding{b1, b2, b3} {
		if err := st.CreateBinding(ctx, b); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if err := st.CreateBinding(ctx, b1); !errors.Is(err, osb.ErrExists) {
		t.Fatalf("create twice: %v, want ErrExists", err)
	}
	got, err := st.GetBinding(ctx, b1.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sameRecord(t, "get after create", got, b1)
	b1.Bound = false
	b1.Credentials = nil
	b1.LastOperation = &osb.Operation{ID: "unbind-1", Kind: osb.OpUnbind, State: osb.StateFailed, Description: "boom"}
	if err := st.UpdateBinding(ctx, b1); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err = st.GetBinding(ctx, b1.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sameRecord(t, "get after update", got, b1)
	list, err := st.ListBindings(ctx, instA)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	want := []string{b1.ID, b2.ID}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if len(list) != 2 || list[0].ID != want[0] || list[1].ID != want[1] {
		t.Fatalf("list bindings of %s: %d records, want %v in order", instA, len(list), want)
	}
	if err := st.DeleteBinding(ctx, b1.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := st.DeleteBinding(ctx, b1.ID); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
	list, err = st.ListBindings(ctx, instA)
	if err != nil || len(list) != 1 || list[0].ID != b2.ID {
		t.Fatalf("list after delete: %d records, err %v", len(list), err)
	}
	if list, err := st.ListBindings(ctx, "store-none-"+uuid.NewString()); err != nil || len(list) != 0 {
		t.Fatalf("list of an instance without bindings: %d records, err %v", len(list), err)
	}
}

func storePending(t *testing.T, st osb.Store) {
	ctx := context.Background()
	done, pending := sampleInstance(), sampleInstance()
	pending.LastOperation = &osb.Operation{ID: "provision-2", Kind: osb.OpProvision, State: osb.StateInProgress, Async: true}
	bDone, bPending := sampleBinding(done.ID), sampleBinding(done.ID)
	bPending.LastOperation = &osb.Operation{ID: "bind-2", Kind: osb.OpBind, State: osb.StateInProgress}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = st.DeleteInstance(ctx, done.ID)
		_ = st.DeleteInstance(ctx, pending.ID)
		_ = st.DeleteBinding(ctx, bDone.ID)
		_ = st.DeleteBinding(ctx, bPending.ID)
	})
	for _, inst := range []*osb.Instance{done, pending} {
		if err := st.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []*osb.Binding{bDone, bPending} {
		if err := st.CreateBinding(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	insts, binds, err := st.ListPending(ctx)
	if err != nil {
		t.Fatalf("list pending: %v", err)
	}
	seen := map[string]bool{}
	for _, i := range insts {
		seen[i.ID] = true
	}
	for _, b := range binds {
		seen[b.ID] = true
	}
	if !seen[pending.ID] || !seen[bPending.ID] || seen[done.ID] || seen[bDone.ID] {
		t.Fatalf("list pending: got %v; want %s and %s only", seen, pending.ID, bPending.ID)
	}
	// Finishing the operation takes the record off the pending list.
	pending.LastOperation.State = osb.StateSucceeded
	if err := st.UpdateInstance(ctx, pending); err != nil {
		t.Fatal(err)
	}
	insts, _, err = st.ListPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range insts {
		if i.ID == pending.ID {
			t.Fatalf("list pending still returns %s after its operation finished", pending.ID)
		}
	}
}

func storeConcurrentCreate(t *testing.T, st osb.Store) {
	inst := sampleInstance()
	t.Cleanup(func() { _ = st.DeleteInstance(context.Background(), inst.ID) })
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- st.CreateInstance(context.Background(), inst) })
	}
	wg.Wait()
	close(errs)
	created := 0
	for err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, osb.ErrExists):
			t.Fatalf("concurrent create: %v", err)
		}
	}
	if created != 1 {
		t.Fatalf("concurrent create: %d succeeded, want 1", created)
	}
}

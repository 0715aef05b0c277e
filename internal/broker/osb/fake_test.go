package osb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/osbtest"
)

// fakeProvider keeps "resources" in memory and can be told to fail or to
// block, to drive the server through its error and concurrency paths.
type fakeProvider struct {
	mu        sync.Mutex
	instances map[string]string // id → plan
	creds     map[string]string // binding id → password
	calls     map[string]int
	fail      map[string]error // method → error to return
	panicOn   string
	gate      chan struct{} // when set, Provision/Update/Deprovision wait on it
	entered   chan string   // receives the method name when a gated call starts
	seq       int
}

func newFake() *fakeProvider {
	return &fakeProvider{
		instances: map[string]string{}, creds: map[string]string{},
		calls: map[string]int{}, fail: map[string]error{},
		entered: make(chan string, 64),
	}
}

func (f *fakeProvider) setFail(method string, err error) {
	f.mu.Lock()
	f.fail[method] = err
	f.mu.Unlock()
}

func (f *fakeProvider) block() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
	return f.gate
}

func (f *fakeProvider) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeProvider) enter(ctx context.Context, method string) error {
	f.mu.Lock()
	f.calls[method]++
	gate, err, p := f.gate, f.fail[method], f.panicOn == method
	f.mu.Unlock()
	if p {
		panic("fake provider panic in " + method)
	}
	if gate != nil && method != "Bind" && method != "Unbind" {
		f.entered <- method
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

type fakeParams struct {
	Size string `json:"size"`
}

func (f *fakeProvider) ValidateInstanceParameters(_ context.Context, _ string, params json.RawMessage) error {
	var p fakeParams
	if err := osb.DecodeParameters(params, &p); err != nil {
		return err
	}
	if p.Size != "" && p.Size != "s" && p.Size != "m" {
		return fmt.Errorf("%w: size must be s or m", osb.ErrBadRequest)
	}
	return nil
}

func (f *fakeProvider) ValidateBindingParameters(_ context.Context, _ *osb.Instance, params json.RawMessage) error {
	var p struct{}
	return osb.DecodeParameters(params, &p)
}

func (f *fakeProvider) Provision(ctx context.Context, inst *osb.Instance) error {
	if err := f.enter(ctx, "Provision"); err != nil {
		return err
	}
	f.mu.Lock()
	f.instances[inst.ID] = inst.PlanID
	f.mu.Unlock()
	return nil
}

func (f *fakeProvider) Update(ctx context.Context, inst *osb.Instance, planID string, _ json.RawMessage) error {
	if err := f.enter(ctx, "Update"); err != nil {
		return err
	}
	f.mu.Lock()
	f.instances[inst.ID] = planID
	f.mu.Unlock()
	return nil
}

func (f *fakeProvider) Deprovision(ctx context.Context, inst *osb.Instance, bindings []*osb.Binding) error {
	if err := f.enter(ctx, "Deprovision"); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.instances, inst.ID)
	for _, b := range bindings {
		delete(f.creds, b.ID)
	}
	f.mu.Unlock()
	return nil
}

func (f *fakeProvider) Bind(ctx context.Context, inst *osb.Instance, b *osb.Binding) (map[string]any, error) {
	if err := f.enter(ctx, "Bind"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.instances[inst.ID]; !ok {
		return nil, errors.New("fake: instance does not exist")
	}
	f.seq++
	pw := fmt.Sprintf("pw-%d", f.seq)
	f.creds[b.ID] = pw
	return map[string]any{"uri": "fake://" + b.ID + ":" + pw + "@fake/" + inst.ID, "username": b.ID, "password": pw}, nil
}

func (f *fakeProvider) Unbind(ctx context.Context, _ *osb.Instance, b *osb.Binding) error {
	if err := f.enter(ctx, "Unbind"); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.creds, b.ID)
	f.mu.Unlock()
	return nil
}

const (
	svcID     = "11111111-0000-4000-8000-000000000001"
	planSmall = "11111111-0000-4000-8000-000000000002"
	planLarge = "11111111-0000-4000-8000-000000000003"
)

func testCatalog() osb.Catalog {
	return osb.Catalog{Services: []osb.Service{{
		ID: svcID, Name: "fake", Description: "a fake service", Tags: []string{"fake"},
		Bindable: true, PlanUpdateable: true, InstancesRetrievable: true, BindingsRetrievable: true,
		Plans: []osb.Plan{
			{ID: planSmall, Name: "small", Description: "small plan", Free: osb.BoolPtr(true)},
			{ID: planLarge, Name: "large", Description: "large plan", Free: osb.BoolPtr(true)},
		},
	}}}
}

type harness struct {
	srv   *osb.Server
	fake  *fakeProvider
	store osb.Store
	c     *osbtest.Client
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHarness(t testing.TB, store osb.Store, mut func(*osb.Config)) *harness {
	t.Helper()
	if store == nil {
		store = osb.NewMemoryStore()
	}
	cfg := osb.Config{
		ListenAddr: "127.0.0.1:0", Username: "broker", Password: "secret",
		Catalog: testCatalog(), SyncTimeout: 10 * time.Second, OperationTimeout: 10 * time.Second,
	}
	if mut != nil {
		mut(&cfg)
	}
	fake := newFake()
	srv, err := osb.New(cfg, fake, store, quietLog())
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := osbtest.NewClient(t, osbtest.Target{Handler: srv.Handler(), Username: "broker", Password: "secret"})
	return &harness{srv: srv, fake: fake, store: store, c: c}
}

func expectStatus(t *testing.T, what string, resp osbtest.Response, want int) {
	t.Helper()
	if resp.Status != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, resp.Status, want, resp.Raw)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitEntered(t *testing.T, f *fakeProvider, method string) {
	t.Helper()
	select {
	case m := <-f.entered:
		if m != method {
			t.Fatalf("provider entered %s, want %s", m, method)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("provider never entered %s", method)
	}
}

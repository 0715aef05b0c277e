package osb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/osbtest"
)

func TestConformance(t *testing.T) {
	h := newHarness(t, nil, nil)
	osbtest.Run(t, osbtest.Target{Handler: h.srv.Handler(), Username: "broker", Password: "secret"}, osbtest.Options{
		Parameters:    map[string]any{"size": "s"},
		AltParameters: map[string]any{"size": "m"},
		BadParameters: map[string]any{"size": "xl"},
	})
}

func TestConformanceOverRun(t *testing.T) {
	cfg := osb.Config{ListenAddr: "127.0.0.1:0", Username: "u", Password: "p", Catalog: testCatalog()}
	srv, err := osb.New(cfg, newFake(), osb.NewMemoryStore(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("url %q", srv.URL())
	}
	osbtest.Run(t, osbtest.Target{URL: srv.URL(), Username: "u", Password: "p"}, osbtest.Options{})
}

func TestMemoryStore(t *testing.T) {
	osbtest.RunStore(t, func(*testing.T) osb.Store { return osb.NewMemoryStore() })
}

func TestConfigValidation(t *testing.T) {
	base := func() osb.Config {
		return osb.Config{ListenAddr: "127.0.0.1:0", Username: "u", Password: "p", Catalog: testCatalog()}
	}
	cases := []struct {
		name string
		mut  func(*osb.Config)
		want string
	}{
		{"no-password", func(c *osb.Config) { c.Password = "" }, "basic-auth"},
		{"no-services", func(c *osb.Config) { c.Catalog = osb.Catalog{} }, "no services"},
		{"duplicate-plan-id", func(c *osb.Config) {
			c.Catalog.Services[0].Plans[1].ID = c.Catalog.Services[0].Plans[0].ID
		}, "duplicate id"},
		{"bad-name", func(c *osb.Config) { c.Catalog.Services[0].Name = "Fake Service" }, "name must be"},
		{"no-plans", func(c *osb.Config) { c.Catalog.Services[0].Plans = nil }, "no plans"},
		{"negative-timeout", func(c *osb.Config) { c.SyncTimeout = -time.Second }, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mut(&cfg)
			_, err := osb.New(cfg, newFake(), osb.NewMemoryStore(), nil)
			if !errors.Is(err, osb.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestAsyncProvisionInProgress(t *testing.T) {
	h := newHarness(t, nil, nil)
	gate := h.fake.block()
	resp := h.c.ProvisionAsync(t, "i-1", svcID, planSmall, nil)
	expectStatus(t, "async provision", resp, http.StatusAccepted)
	op := resp.String("operation")
	waitEntered(t, h.fake, "Provision")

	lo := h.c.LastOperation(t, "i-1", op)
	expectStatus(t, "last_operation", lo, http.StatusOK)
	if lo.String("state") != osb.StateInProgress || lo.Header.Get("Retry-After") == "" {
		t.Fatalf("last_operation while running: %s (Retry-After %q)", lo.Raw, lo.Header.Get("Retry-After"))
	}
	again := h.c.ProvisionAsync(t, "i-1", svcID, planSmall, nil)
	if again.Status != http.StatusAccepted || again.String("operation") != op {
		t.Fatalf("repeated async provision: %d %s, want 202 with %s", again.Status, again.Raw, op)
	}
	for what, resp := range map[string]osbtest.Response{
		"sync provision": h.c.Provision(t, "i-1", svcID, planSmall, nil),
		"deprovision":    h.c.Deprovision(t, "i-1", svcID, planSmall),
		"bind":           h.c.Bind(t, "i-1", "b-1", svcID, planSmall, "app", nil),
		"update":         h.c.Update(t, "i-1", svcID, planLarge, nil),
	} {
		expectStatus(t, what+" during provision", resp, http.StatusUnprocessableEntity)
		if resp.String("error") != osb.CodeConcurrencyError {
			t.Fatalf("%s during provision: %s, want ConcurrencyError", what, resp.Raw)
		}
	}
	expectStatus(t, "get instance during provision", h.c.Do(t, http.MethodGet, osbtest.InstancePath("i-1"), nil), http.StatusNotFound)
	expectStatus(t, "wrong operation", h.c.LastOperation(t, "i-1", "provision-nope"), http.StatusBadRequest)

	close(gate)
	final := h.c.WaitLastOperation(t, "i-1", op, 10*time.Second)
	if final.String("state") != osb.StateSucceeded {
		t.Fatalf("final: %s", final.Raw)
	}
	if n := h.fake.count("Provision"); n != 1 {
		t.Fatalf("provision ran %d times, want 1", n)
	}
	expectStatus(t, "provision after success", h.c.ProvisionAsync(t, "i-1", svcID, planSmall, nil), http.StatusOK)
}

func TestAsyncProvisionFailureThenRepair(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.fake.setFail("Provision", errors.New("disk on fire"))
	resp := h.c.ProvisionAsync(t, "i-1", svcID, planSmall, map[string]any{"size": "m"})
	expectStatus(t, "async provision", resp, http.StatusAccepted)
	final := h.c.WaitLastOperation(t, "i-1", resp.String("operation"), 10*time.Second)
	if final.String("state") != osb.StateFailed || !strings.Contains(final.String("description"), "disk on fire") {
		t.Fatalf("final: %s", final.Raw)
	}
	expectStatus(t, "bind to a failed instance", h.c.Bind(t, "i-1", "b-1", svcID, planSmall, "app", nil), http.StatusBadRequest)

	// The same PUT again repairs the instance.
	h.fake.setFail("Provision", nil)
	expectStatus(t, "repair", h.c.Provision(t, "i-1", svcID, planSmall, map[string]any{"size": "m"}), http.StatusCreated)
	expectStatus(t, "repeat", h.c.Provision(t, "i-1", svcID, planSmall, map[string]any{"size": "m"}), http.StatusOK)
	if n := h.fake.count("Provision"); n != 2 {
		t.Fatalf("provision ran %d times, want 2", n)
	}
	expectStatus(t, "bind", h.c.Bind(t, "i-1", "b-1", svcID, planSmall, "app", nil), http.StatusCreated)
}

func TestSyncFailuresAndOrphanMitigation(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.fake.setFail("Provision", errors.New("server unreachable"))
	resp := h.c.Provision(t, "i-1", svcID, planSmall, nil)
	expectStatus(t, "failed provision", resp, http.StatusInternalServerError)
	if !strings.Contains(resp.String("description"), "server unreachable") {
		t.Fatalf("body %s", resp.Raw)
	}
	lo := h.c.LastOperation(t, "i-1", "")
	if lo.String("state") != osb.StateFailed {
		t.Fatalf("last_operation after failed sync provision: %s", lo.Raw)
	}
	// Orphan mitigation: the platform deletes; the broker cleans up.
	expectStatus(t, "orphan mitigation", h.c.Deprovision(t, "i-1", svcID, planSmall), http.StatusOK)
	if n := h.fake.count("Deprovision"); n != 1 {
		t.Fatalf("deprovision ran %d times", n)
	}

	h.fake.setFail("Provision", fmt.Errorf("%w: extension \"nope\" is not available", osb.ErrBadRequest))
	resp = h.c.Provision(t, "i-2", svcID, planSmall, nil)
	expectStatus(t, "provision refused by the provider", resp, http.StatusBadRequest)
	if resp.String("description") != `provision: extension "nope" is not available` {
		t.Fatalf("description %q", resp.String("description"))
	}
	h.fake.setFail("Provision", nil)

	expectStatus(t, "provision", h.c.Provision(t, "i-3", svcID, planSmall, nil), http.StatusCreated)
	h.fake.setFail("Bind", errors.New("role quota exceeded"))
	expectStatus(t, "failed bind", h.c.Bind(t, "i-3", "b-1", svcID, planSmall, "app", nil), http.StatusInternalServerError)
	h.fake.setFail("Bind", nil)
	// A retried bind repairs the binding.
	expectStatus(t, "retried bind", h.c.Bind(t, "i-3", "b-1", svcID, planSmall, "app", nil), http.StatusCreated)
	h.fake.setFail("Unbind", errors.New("role busy"))
	expectStatus(t, "failed unbind", h.c.Unbind(t, "i-3", "b-1", svcID, planSmall), http.StatusInternalServerError)
	expectStatus(t, "get binding after failed unbind", h.c.Do(t, http.MethodGet, osbtest.BindingPath("i-3", "b-1"), nil), http.StatusNotFound)
	h.fake.setFail("Unbind", nil)
	expectStatus(t, "retried unbind", h.c.Unbind(t, "i-3", "b-1", svcID, planSmall), http.StatusOK)

	h.fake.setFail("Deprovision", errors.New("database busy"))
	expectStatus(t, "failed deprovision", h.c.Deprovision(t, "i-3", svcID, planSmall), http.StatusInternalServerError)
	lo = h.c.LastOperation(t, "i-3", "")
	if lo.String("state") != osb.StateFailed || lo.Body["instance_usable"] != false {
		t.Fatalf("last_operation after failed deprovision: %s", lo.Raw)
	}
	h.fake.setFail("Deprovision", nil)
	expectStatus(t, "retried deprovision", h.c.Deprovision(t, "i-3", svcID, planSmall), http.StatusOK)
}

func TestAsyncUpdateFailureKeepsPlan(t *testing.T) {
	h := newHarness(t, nil, nil)
	expectStatus(t, "provision", h.c.Provision(t, "i-1", svcID, planSmall, nil), http.StatusCreated)
	h.fake.setFail("Update", errors.New("cannot resize"))
	resp := h.c.Do(t, http.MethodPatch, osbtest.InstancePath("i-1")+"?accepts_incomplete=true",
		map[string]any{"service_id": svcID, "plan_id": planLarge})
	expectStatus(t, "async update", resp, http.StatusAccepted)
	final := h.c.WaitLastOperation(t, "i-1", resp.String("operation"), 10*time.Second)
	if final.String("state") != osb.StateFailed || final.Body["instance_usable"] != true || final.Body["update_repeatable"] != true {
		t.Fatalf("final: %s", final.Raw)
	}
	got := h.c.Do(t, http.MethodGet, osbtest.InstancePath("i-1"), nil)
	if got.String("plan_id") != planSmall {
		t.Fatalf("plan after failed update: %s", got.Raw)
	}
	h.fake.setFail("Update", nil)
	expectStatus(t, "update", h.c.Update(t, "i-1", svcID, planLarge, map[string]any{"size": "m"}), http.StatusOK)
	got = h.c.Do(t, http.MethodGet, osbtest.InstancePath("i-1"), nil)
	if got.String("plan_id") != planLarge || string(mustJSON(t, got.Body["parameters"])) != `{"size":"m"}` {
		t.Fatalf("instance after update: %s", got.Raw)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestResumeAfterRestart(t *testing.T) {
	store := osb.NewMemoryStore()
	ctx := context.Background()
	now := time.Now().UTC()
	inflight := func(id, kind string, async bool) *osb.Instance {
		return &osb.Instance{ID: id, ServiceID: svcID, PlanID: planSmall, Parameters: json.RawMessage(`{}`),
			Provisioned: kind != osb.OpProvision, CreatedAt: now, UpdatedAt: now,
			LastOperation: &osb.Operation{ID: kind + "-old-" + id, Kind: kind, State: osb.StateInProgress, Async: async,
				PlanID: planLarge, Parameters: json.RawMessage(`{}`), StartedAt: now}}
	}
	for _, inst := range []*osb.Instance{
		inflight("async-provision", osb.OpProvision, true),
		inflight("async-update", osb.OpUpdate, true),
		inflight("async-deprovision", osb.OpDeprovision, true),
		inflight("sync-provision", osb.OpProvision, false),
	} {
		if err := store.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	b := &osb.Binding{ID: "sync-bind", InstanceID: "async-update", ServiceID: svcID, PlanID: planSmall,
		Parameters: json.RawMessage(`{}`), LastOperation: &osb.Operation{ID: "bind-old", Kind: osb.OpBind, State: osb.StateInProgress}}
	if err := store.CreateBinding(ctx, b); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, store, nil)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.srv.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	state := func(id string) (int, string) {
		resp := h.c.LastOperation(t, id, "")
		return resp.Status, resp.String("state")
	}
	eventually(t, "resumed provision", func() bool { _, s := state("async-provision"); return s == osb.StateSucceeded })
	eventually(t, "resumed update", func() bool { _, s := state("async-update"); return s == osb.StateSucceeded })
	eventually(t, "resumed deprovision", func() bool { st, _ := state("async-deprovision"); return st == http.StatusGone })
	if _, s := state("sync-provision"); s != osb.StateFailed {
		t.Fatalf("interrupted sync provision: %s, want failed", s)
	}
	resp := h.c.Do(t, http.MethodGet, osbtest.BindingPath("async-update", "sync-bind")+"/last_operation", nil)
	if resp.String("state") != osb.StateFailed || !strings.Contains(resp.String("description"), "interrupted") {
		t.Fatalf("interrupted bind: %s", resp.Raw)
	}
	got := h.c.Do(t, http.MethodGet, osbtest.InstancePath("async-update"), nil)
	if got.String("plan_id") != planLarge {
		t.Fatalf("resumed update did not apply: %s", got.Raw)
	}
	if h.fake.count("Provision") != 1 || h.fake.count("Update") != 1 || h.fake.count("Deprovision") != 1 {
		t.Fatalf("calls %v", h.fake.calls)
	}
}

func TestCloseLeavesOperationsResumable(t *testing.T) {
	store := osb.NewMemoryStore()
	h := newHarness(t, store, nil)
	h.fake.block()
	resp := h.c.ProvisionAsync(t, "i-1", svcID, planSmall, nil)
	expectStatus(t, "async provision", resp, http.StatusAccepted)
	waitEntered(t, h.fake, "Provision")
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	inst, err := store.GetInstance(context.Background(), "i-1")
	if err != nil {
		t.Fatal(err)
	}
	if !inst.Pending() {
		t.Fatalf("operation after close: %+v, want still in progress", inst.LastOperation)
	}
	// A new process resumes it.
	h2 := newHarness(t, store, nil)
	if err := h2.srv.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	final := h2.c.WaitLastOperation(t, "i-1", resp.String("operation"), 10*time.Second)
	if final.String("state") != osb.StateSucceeded {
		t.Fatalf("final: %s", final.Raw)
	}
}

func TestOperationSlots(t *testing.T) {
	h := newHarness(t, nil, func(c *osb.Config) { c.MaxConcurrentOperations = 1 })
	gate := h.fake.block()
	expectStatus(t, "first", h.c.ProvisionAsync(t, "i-1", svcID, planSmall, nil), http.StatusAccepted)
	resp := h.c.ProvisionAsync(t, "i-2", svcID, planSmall, nil)
	expectStatus(t, "second", resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on 503")
	}
	expectStatus(t, "nothing recorded", h.c.LastOperation(t, "i-2", ""), http.StatusGone)
	close(gate)
	eventually(t, "slot freed", func() bool {
		return h.c.ProvisionAsync(t, "i-2", svcID, planSmall, nil).Status == http.StatusAccepted
	})
}

func TestProviderPanic(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.fake.panicOn = "Provision"
	resp := h.c.Provision(t, "i-1", svcID, planSmall, nil)
	expectStatus(t, "provision with a panicking provider", resp, http.StatusInternalServerError)
	h.fake.panicOn = ""
	expectStatus(t, "retry", h.c.Provision(t, "i-1", svcID, planSmall, nil), http.StatusCreated)
}

// failingStore fails every call, to check that store errors become 500s.
type failingStore struct{ osb.Store }

var errStoreDown = errors.New("store is down")

func (failingStore) GetInstance(context.Context, string) (*osb.Instance, error) {
	return nil, errStoreDown
}
func (failingStore) GetBinding(context.Context, string) (*osb.Binding, error) {
	return nil, errStoreDown
}

func TestStoreErrors(t *testing.T) {
	h := newHarness(t, failingStore{osb.NewMemoryStore()}, nil)
	for what, resp := range map[string]osbtest.Response{
		"provision":      h.c.Provision(t, "i-1", svcID, planSmall, nil),
		"deprovision":    h.c.Deprovision(t, "i-1", svcID, planSmall),
		"last_operation": h.c.LastOperation(t, "i-1", ""),
		"bind":           h.c.Bind(t, "i-1", "b-1", svcID, planSmall, "app", nil),
	} {
		expectStatus(t, what, resp, http.StatusInternalServerError)
		if !strings.Contains(resp.String("description"), "store is down") {
			t.Fatalf("%s: %s", what, resp.Raw)
		}
	}
}

func TestRequestDetails(t *testing.T) {
	h := newHarness(t, nil, nil)
	// The request identity is echoed.
	resp := h.c.Do(t, http.MethodGet, "/v2/catalog", nil)
	if resp.Header.Get(osb.HeaderRequestIdentity) == "" {
		t.Fatal("request identity not echoed")
	}
	// Unsafe ids are refused.
	expectStatus(t, "bad instance id", h.c.Provision(t, "a*b", svcID, planSmall, nil), http.StatusBadRequest)
	expectStatus(t, "bad binding id", h.c.Bind(t, "i-1", "-x", svcID, planSmall, "app", nil), http.StatusBadRequest)
	// Bodies are bounded.
	big := map[string]any{"service_id": svcID, "plan_id": planSmall, "parameters": map[string]any{"size": strings.Repeat("x", 2<<20)}}
	expectStatus(t, "huge body", h.c.Do(t, http.MethodPut, osbtest.InstancePath("i-1"), big), http.StatusBadRequest)
	// Maintenance info the plan does not declare conflicts.
	body := osbtest.ProvisionBody(svcID, planSmall, nil)
	body["maintenance_info"] = map[string]any{"version": "2.0.0"}
	resp = h.c.Do(t, http.MethodPut, osbtest.InstancePath("i-1"), body)
	expectStatus(t, "maintenance info", resp, http.StatusUnprocessableEntity)
	if resp.String("error") != osb.CodeMaintenanceInfoConflict {
		t.Fatalf("body %s", resp.Raw)
	}
	// Parameters are compared canonically: key order does not matter.
	expectStatus(t, "provision", h.c.Do(t, http.MethodPut, osbtest.InstancePath("i-2"),
		[]byte(`{"service_id":"`+svcID+`","plan_id":"`+planSmall+`","parameters":{"size":"s"}}`)), http.StatusCreated)
	expectStatus(t, "same parameters, other spacing", h.c.Do(t, http.MethodPut, osbtest.InstancePath("i-2"),
		[]byte(`{"plan_id":"`+planSmall+`", "parameters": { "size" : "s" }, "service_id":"`+svcID+`"}`)), http.StatusOK)
	// A plan that is not updateable refuses plan changes.
	h2 := newHarness(t, nil, func(c *osb.Config) { c.Catalog.Services[0].PlanUpdateable = false })
	expectStatus(t, "provision", h2.c.Provision(t, "i-1", svcID, planSmall, nil), http.StatusCreated)
	expectStatus(t, "plan change", h2.c.Update(t, "i-1", svcID, planLarge, nil), http.StatusBadRequest)
}

package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/blobstore"
	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/store"
	"github.com/ingot-paas/ingot/internal/store/sqlstore"
)

// memProvider is an OSB provider whose "resources" are entries in a map:
// enough to drive the real controller through every service command.
type memProvider struct {
	mu       sync.Mutex
	bindings map[string]bool
}

func (p *memProvider) ValidateInstanceParameters(context.Context, string, json.RawMessage) error {
	return nil
}
func (p *memProvider) ValidateBindingParameters(context.Context, *osb.Instance, json.RawMessage) error {
	return nil
}
func (p *memProvider) Provision(context.Context, *osb.Instance) error { return nil }
func (p *memProvider) Update(context.Context, *osb.Instance, string, json.RawMessage) error {
	return nil
}
func (p *memProvider) Deprovision(context.Context, *osb.Instance, []*osb.Binding) error { return nil }
func (p *memProvider) Bind(_ context.Context, inst *osb.Instance, b *osb.Binding) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bindings[b.ID] = true
	return map[string]any{"uri": "postgres://u-" + b.ID[:8] + ":pw@db.example:5432/" + inst.ID[:8], "username": "u-" + b.ID[:8]}, nil
}
func (p *memProvider) Unbind(_ context.Context, _ *osb.Instance, b *osb.Binding) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.bindings, b.ID)
	return nil
}

func (p *memProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.bindings)
}

// startPlatform runs a real controller (SQLite, embedded NATS) and an
// in-memory OSB broker, and logs the CLI in as admin.
func startPlatform(t *testing.T) (brokerURL string, prov *memProvider, st store.Store) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	b, err := bus.Connect(bus.Options{URL: e.URL()}, log)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "cc.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(controller.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "cc"),
		AdminPassword: "secret", BrokerPollInterval: 10 * time.Millisecond},
		controller.Deps{Bus: b, Store: ss, Blobs: blobs, Logs: logs.NewStore(logs.Config{})}, log)
	if err != nil {
		t.Fatal(err)
	}
	prov = &memProvider{bindings: map[string]bool{}}
	srv, err := osb.New(osb.Config{ListenAddr: "127.0.0.1:0", Username: "bu", Password: "bp",
		Catalog: osb.Catalog{Services: []osb.Service{{ID: "svc-pg", Name: "postgres", Description: "PostgreSQL databases",
			Bindable: true, Tags: []string{"postgres"}, Plans: []osb.Plan{{ID: "plan-small", Name: "small", Description: "small"}}}}},
	}, prov, osb.NewMemoryStore(), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	go func() { defer wg.Done(); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); b.Close(); ss.Close() })

	orgs, _ := ss.Orgs().List(context.Background(), store.ListOptions{})
	spaces, _ := ss.Spaces().List(context.Background(), store.ListOptions{})
	t.Setenv("INGOT_HOME", t.TempDir())
	t.Setenv("INGOT_ROUTER_URL", "")
	if err := SaveConfig(&Config{API: c.URL(), Username: "admin", Password: "secret",
		OrgGUID: orgs[0].GUID, OrgName: orgs[0].Name, SpaceGUID: spaces[0].GUID, SpaceName: spaces[0].Name}); err != nil {
		t.Fatal(err)
	}
	return srv.URL(), prov, ss
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, "", args...)
	if r.code != 0 {
		t.Fatalf("ingot %s: exit %d\nout: %s\nerr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

func TestServiceCommands(t *testing.T) {
	brokerURL, prov, st := startPlatform(t)
	ctx := context.Background()

	mustContain(t, "create-service-broker", mustRun(t, "create-service-broker", "pg", "bu", "bp", brokerURL), "OK")
	mustContain(t, "service-brokers", mustRun(t, "service-brokers"), "pg", brokerURL)
	if r := runCLI(t, "", "create-service-broker", "bad", "bu", "wrong", brokerURL); r.code == 0 {
		t.Fatalf("a broker with wrong credentials registered: %s", r.out)
	}
	mustContain(t, "update-service-broker", mustRun(t, "update-service-broker", "pg", "bu", "bp", brokerURL), "OK")
	mustContain(t, "marketplace", mustRun(t, "marketplace"), "postgres", "small", "PostgreSQL databases", "pg")

	mustContain(t, "create-service", mustRun(t, "create-service", "postgres", "small", "db", "-c", `{"x":1}`), "Service instance db created.")
	if r := runCLI(t, "", "create-service", "postgres", "huge", "db2"); r.code == 0 {
		t.Fatalf("create-service with an unknown plan succeeded")
	}
	if r := runCLI(t, "", "create-service", "postgres", "small", "db3", "-c", "not json"); r.code == 0 || !strings.Contains(r.err, "JSON") {
		t.Fatalf("bad -c: %+v", r)
	}
	mustContain(t, "cups", mustRun(t, "create-user-provided-service", "ext", "-p", `{"uri":"redis://h:6379"}`, "-l", "syslog://logs:514"), "OK")

	// An app to bind to, created straight in the store (no staging needed).
	spaces, _ := st.Spaces().List(ctx, store.ListOptions{})
	app := &store.App{Meta: store.Meta{GUID: "11111111-2222-3333-4444-555555555555"}, Name: "web", SpaceGUID: spaces[0].GUID, State: store.AppStopped}
	if err := st.Apps().Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "bind-service", mustRun(t, "bind-service", "web", "db"), "OK", "ingot restart web")
	mustContain(t, "bind-service again", mustRun(t, "bind-service", "web", "db"), "already bound")
	mustRun(t, "bind-service", "web", "ext")
	if prov.count() != 1 {
		t.Fatalf("broker bindings = %d, want 1", prov.count())
	}
	out := mustRun(t, "services")
	mustContain(t, "services", out, "db", "postgres", "small", "web", "create succeeded", "ext", "user-provided")
	out = mustRun(t, "service", "db")
	mustContain(t, "service", out, "name:", "db", "offering:", "postgres", "plan:", "small", "create succeeded", "Bound apps: web")

	mustContain(t, "create-service-key", mustRun(t, "create-service-key", "db", "k1"), "OK")
	out = mustRun(t, "service-key", "db", "k1")
	mustContain(t, "service-key", out, `"uri": "postgres://`)
	if r := runCLI(t, "", "service-key", "db", "nope"); r.code == 0 {
		t.Fatalf("service-key of a missing key succeeded")
	}

	// A bound instance is not deleted without --force.
	if r := runCLI(t, "", "delete-service", "db"); r.code == 0 {
		t.Fatalf("delete-service without confirmation succeeded: %s", r.out)
	}
	mustContain(t, "unbind-service", mustRun(t, "unbind-service", "web", "db"), "OK")
	mustContain(t, "unbind-service again", mustRun(t, "unbind-service", "web", "db"), "did not exist")
	mustContain(t, "delete-service -f", mustRun(t, "delete-service", "db", "-f"), "Service instance db deleted.")
	if prov.count() != 0 {
		t.Fatalf("broker bindings after delete = %d", prov.count())
	}
	if r := runCLI(t, "", "delete-service-broker", "pg", "-f"); r.code != 0 {
		t.Fatalf("delete-service-broker: %+v", r)
	}
	mustContain(t, "service-brokers", mustRun(t, "service-brokers"), "No service brokers found.")
	mustRun(t, "delete-service", "ext", "-f")
	mustContain(t, "services", mustRun(t, "services"), "No service instances found.")
}

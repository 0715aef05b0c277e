package controller

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ingot-paas/ingot/internal/broker/postgres"
	"github.com/ingot-paas/ingot/internal/store"
)

func pgAdminURL() string {
	if u := os.Getenv("INGOT_TEST_POSTGRES_ADMIN_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// startPGBroker runs the built-in PostgreSQL broker in-process on the
// local server, or skips the test.
func startPGBroker(t *testing.T) (*postgres.Broker, string, *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, pgAdminURL())
	if err != nil {
		t.Skipf("PostgreSQL is not reachable at %s (set INGOT_TEST_POSTGRES_ADMIN_URL): %v", pgAdminURL(), err)
	}
	schema := "ingot_cc_test_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	pass := uuid.NewString()
	b, err := postgres.New(postgres.Config{ListenAddr: "127.0.0.1:0", AdminURL: pgAdminURL(),
		Username: "broker", Password: pass, StateSchema: schema, MaxAdminConns: 4},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		_ = admin.Close(ctx)
		t.Fatalf("start postgres broker: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		stop()
		<-done
		c := context.Background()
		if _, err := admin.Exec(c, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop broker state schema: %v", err)
		}
		_ = admin.Close(c)
	})
	return b, pass, admin
}

func fastBrokerPolls(c *Config) {
	c.BrokerPollInterval = 20 * time.Millisecond
	c.BrokerTimeout = 20 * time.Second
}

func pgConnect(uri string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		return nil, err
	}
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	return pgx.ConnectConfig(ctx, cfg)
}

type instanceJSON struct {
	GUID          string `json:"guid"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	LastOperation struct {
		Type        string `json:"type"`
		State       string `json:"state"`
		Description string `json:"description"`
	} `json:"last_operation"`
}

// registerBroker registers a broker and waits for its catalog.
func (h *harness) registerBroker(name, url, user, pass string) string {
	h.t.Helper()
	hdr := h.do("POST", "/v3/service_brokers", map[string]any{"name": name, "url": url,
		"authentication": map[string]any{"type": "basic", "credentials": map[string]string{"username": user, "password": pass}}}, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		h.t.Fatalf("register broker: %+v", j)
	}
	var l list[ref]
	h.do("GET", "/v3/service_brokers?names="+name, nil, 200, &l)
	if len(l.Resources) != 1 {
		h.t.Fatalf("broker %s not listed: %+v", name, l)
	}
	return l.Resources[0].GUID
}

// planGUID finds a plan through the marketplace query the cf CLI sends.
func (h *harness) planGUID(offering, plan string) string {
	h.t.Helper()
	var l struct {
		Resources []struct {
			GUID          string `json:"guid"`
			Name          string `json:"name"`
			Relationships struct {
				ServiceOffering struct {
					Data struct {
						GUID string `json:"guid"`
					} `json:"data"`
				} `json:"service_offering"`
			} `json:"relationships"`
		} `json:"resources"`
		Included struct {
			ServiceOfferings []ref `json:"service_offerings"`
			ServiceBrokers   []ref `json:"service_brokers"`
		} `json:"included"`
	}
	h.do("GET", "/v3/service_plans?available=true&fields[service_offering.service_broker]=name,guid&include=service_offering&per_page=5000&space_guids="+h.defaultSpace(), nil, 200, &l)
	offs := map[string]string{}
	for _, o := range l.Included.ServiceOfferings {
		offs[o.GUID] = o.Name
	}
	if len(l.Included.ServiceBrokers) == 0 || l.Included.ServiceBrokers[0].Name == "" {
		h.t.Errorf("marketplace query did not include brokers: %+v", l.Included)
	}
	for _, p := range l.Resources {
		if p.Name == plan && offs[p.Relationships.ServiceOffering.Data.GUID] == offering {
			return p.GUID
		}
	}
	h.t.Fatalf("plan %s of %s not in the marketplace: %+v", plan, offering, l)
	return ""
}

func (h *harness) instance(guid string) instanceJSON {
	h.t.Helper()
	var si instanceJSON
	h.do("GET", "/v3/service_instances/"+guid, nil, 200, &si)
	return si
}

type vcapEntry struct {
	Label        string         `json:"label"`
	Name         string         `json:"name"`
	Plan         string         `json:"plan"`
	Tags         []string       `json:"tags"`
	InstanceGUID string         `json:"instance_guid"`
	InstanceName string         `json:"instance_name"`
	BindingGUID  string         `json:"binding_guid"`
	BindingName  *string        `json:"binding_name"`
	Credentials  map[string]any `json:"credentials"`
	VolumeMounts []any          `json:"volume_mounts"`
}

func TestPostgresBrokerEndToEnd(t *testing.T) {
	broker, pass, admin := startPGBroker(t)
	h := newHarness(t, fastBrokerPolls)
	ctx := context.Background()

	brokerGUID := h.registerBroker("pg", broker.URL(), "broker", pass)
	// The password is sealed at rest.
	rec, err := h.store.ServiceBrokers().Get(ctx, brokerGUID)
	if err != nil || strings.Contains(rec.PasswordSealed, pass) || rec.PasswordSealed == "" {
		t.Fatalf("stored broker: %+v, %v", rec, err)
	}
	plan := h.planGUID("postgres", "small")

	var si instanceJSON
	hdr := h.do("POST", "/v3/service_instances", map[string]any{"type": "managed", "name": "db",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": h.defaultSpace()}},
			"service_plan": map[string]any{"data": map[string]string{"guid": plan}}}}, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("create service: %+v", j)
	}
	var l list[instanceJSON]
	h.do("GET", "/v3/service_instances?names=db&space_guids="+h.defaultSpace(), nil, 200, &l)
	if len(l.Resources) != 1 {
		t.Fatalf("instances: %+v", l)
	}
	si = l.Resources[0]
	if si.LastOperation.Type != "create" || si.LastOperation.State != "succeeded" {
		t.Fatalf("instance after create: %+v", si)
	}

	// Rename (no broker call) and change the plan (an async broker update).
	var renamed instanceJSON
	h.do("PATCH", "/v3/service_instances/"+si.GUID, map[string]any{"name": "db-renamed"}, 200, &renamed)
	if renamed.Name != "db-renamed" {
		t.Fatalf("rename: %+v", renamed)
	}
	h.do("PATCH", "/v3/service_instances/"+si.GUID, map[string]any{"name": "db"}, 200, nil)
	medium := h.planGUID("postgres", "medium")
	hdr = h.do("PATCH", "/v3/service_instances/"+si.GUID, map[string]any{
		"relationships": map[string]any{"service_plan": map[string]any{"data": map[string]string{"guid": medium}}}}, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("update plan: %+v", j)
	}
	var upd struct {
		instanceJSON
		Relationships struct {
			ServicePlan struct {
				Data struct {
					GUID string `json:"guid"`
				} `json:"data"`
			} `json:"service_plan"`
		} `json:"relationships"`
	}
	h.do("GET", "/v3/service_instances/"+si.GUID, nil, 200, &upd)
	if upd.Relationships.ServicePlan.Data.GUID != medium || upd.LastOperation.Type != "update" || upd.LastOperation.State != "succeeded" {
		t.Fatalf("after plan update: %+v", upd)
	}

	app := h.createApp("dbapp")
	hdr = h.do("POST", "/v3/service_credential_bindings", map[string]any{"type": "app",
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}},
			"service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}}, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("bind: %+v", j)
	}
	h.fail("POST", "/v3/service_credential_bindings", map[string]any{"type": "app",
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}},
			"service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}}, 422)

	var env struct {
		System struct {
			VCAPServices map[string][]vcapEntry `json:"VCAP_SERVICES"`
			DatabaseURL  string                 `json:"DATABASE_URL"`
		} `json:"system_env_json"`
	}
	h.do("GET", "/v3/apps/"+app+"/env", nil, 200, &env)
	entries := env.System.VCAPServices["postgres"]
	if len(entries) != 1 {
		t.Fatalf("VCAP_SERVICES = %+v", env.System.VCAPServices)
	}
	e := entries[0]
	if e.Label != "postgres" || e.Name != "db" || e.Plan != "medium" || e.InstanceGUID != si.GUID || e.InstanceName != "db" ||
		e.BindingGUID == "" || e.BindingName != nil || e.VolumeMounts == nil || !contains(e.Tags, "postgres") {
		t.Fatalf("VCAP_SERVICES entry = %+v", e)
	}
	uri, _ := e.Credentials["uri"].(string)
	for _, k := range []string{"uri", "hostname", "port", "name", "username", "password"} {
		if _, ok := e.Credentials[k]; !ok {
			t.Errorf("credentials lack %q: %v", k, e.Credentials)
		}
	}
	if env.System.DatabaseURL != uri {
		t.Errorf("DATABASE_URL = %q, want %q", env.System.DatabaseURL, uri)
	}

	// The start message carries the same VCAP_SERVICES and DATABASE_URL.
	h.stagedDroplet(app, nil)
	appRec, _ := h.store.Apps().Get(ctx, app)
	procs, _ := h.store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app}})
	drop, _ := h.store.Droplets().Get(ctx, appRec.DropletGUID)
	msg, err := h.c.startTemplate(ctx, appRec, procs[0], drop, appRec.RunVersion())
	if err != nil {
		t.Fatalf("start message: %v", err)
	}
	var vs map[string][]vcapEntry
	if err := json.Unmarshal(msg.VCAPServices, &vs); err != nil || len(vs["postgres"]) != 1 || vs["postgres"][0].Credentials["uri"] != uri {
		t.Fatalf("start message VCAP_SERVICES = %s (%v)", msg.VCAPServices, err)
	}
	if msg.Env["DATABASE_URL"] != uri {
		t.Errorf("start message DATABASE_URL = %q", msg.Env["DATABASE_URL"])
	}

	// The credentials work.
	conn, err := pgConnect(uri)
	if err != nil {
		t.Fatalf("connect with VCAP_SERVICES credentials: %v", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hi from ingot')`); err != nil {
		t.Fatalf("write: %v", err)
	}
	var body string
	if err := conn.QueryRow(ctx, `SELECT body FROM notes`).Scan(&body); err != nil || body != "hi from ingot" {
		t.Fatalf("read = %q, %v", body, err)
	}
	_ = conn.Close(ctx)
	dbName, _ := e.Credentials["name"].(string)

	// A bound instance cannot be deleted plainly.
	_, _, detail := h.fail("DELETE", "/v3/service_instances/"+si.GUID, nil, 422)
	if !strings.Contains(detail, "service bindings") {
		t.Errorf("delete of a bound instance: %q", detail)
	}

	// Unbind revokes the credentials.
	hdr = h.do("DELETE", "/v3/service_credential_bindings/"+e.BindingGUID, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("unbind: %+v", j)
	}
	if conn, err := pgConnect(uri); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("the unbound credentials still connect")
	}
	env.System.VCAPServices, env.System.DatabaseURL = nil, ""
	h.do("GET", "/v3/apps/"+app+"/env", nil, 200, &env)
	if len(env.System.VCAPServices) != 0 || env.System.DatabaseURL != "" {
		t.Fatalf("env after unbind: %+v", env.System)
	}

	// A service key, then delete recursively: the key is unbound and the
	// database dropped.
	hdr = h.do("POST", "/v3/service_credential_bindings", map[string]any{"type": "key", "name": "k1",
		"relationships": map[string]any{"service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}}, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("create key: %+v", j)
	}
	var keys list[ref]
	h.do("GET", "/v3/service_credential_bindings?type=key&service_instance_guids="+si.GUID+"&names=k1", nil, 200, &keys)
	if len(keys.Resources) != 1 {
		t.Fatalf("keys: %+v", keys)
	}
	var details struct {
		Credentials map[string]any `json:"credentials"`
	}
	h.do("GET", "/v3/service_credential_bindings/"+keys.Resources[0].GUID+"/details", nil, 200, &details)
	if details.Credentials["uri"] == nil {
		t.Fatalf("key details: %+v", details)
	}
	hdr = h.do("DELETE", "/v3/service_instances/"+si.GUID+"?recursive=true", nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete service: %+v", j)
	}
	h.fail("GET", "/v3/service_instances/"+si.GUID, nil, 404)
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, dbName).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %q still exists (%d, %v)", dbName, n, err)
	}
	if bs, _ := h.store.ServiceBindings().List(ctx, store.ListOptions{}); len(bs) != 0 {
		t.Fatalf("binding records left: %d", len(bs))
	}

	// With no instances left the broker can go, offerings and plans too.
	hdr = h.do("DELETE", "/v3/service_brokers/"+brokerGUID, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete broker: %+v", j)
	}
	if ps, _ := h.store.ServicePlans().List(ctx, store.ListOptions{}); len(ps) != 0 {
		t.Fatalf("plans left: %d", len(ps))
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

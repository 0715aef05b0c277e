package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/osbtest"
	"github.com/ingot-paas/ingot/internal/broker/postgres"
)

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func adminURL() string { return osbtest.EnvOr("INGOT_TEST_POSTGRES_ADMIN_URL", defaultAdminURL) }

// adminPool connects to the test server or skips the test.
func adminPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	var pool *pgxpool.Pool
	osbtest.RequireServer(t, "PostgreSQL", adminURL(), "INGOT_TEST_POSTGRES_ADMIN_URL", func(ctx context.Context) error {
		var err error
		if pool, err = pgxpool.New(ctx, adminURL()); err != nil {
			return err
		}
		return pool.Ping(ctx)
	}, func() {
		if pool != nil {
			pool.Close()
		}
	})
	return pool
}

type env struct {
	*osbtest.Env[*postgres.Broker]
	pool   *pgxpool.Pool
	schema string
}

// newEnv starts a broker with a state schema of its own; at the end it
// deprovisions whatever the test left and drops the schema.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{pool: adminPool(t), schema: osbtest.StateName()}
	table := pgx.Identifier{e.schema}.Sanitize()
	e.Env = osbtest.NewEnv(t, func(user, pass string, log *slog.Logger) (*postgres.Broker, error) {
		return postgres.New(postgres.Config{
			ListenAddr: "127.0.0.1:0", AdminURL: adminURL(), Username: user, Password: pass,
			StateSchema: e.schema, MaxAdminConns: 4,
		}, log)
	}, func() []string {
		var datas []string
		if rows, err := e.pool.Query(context.Background(), `SELECT data FROM `+table+`.instances`); err == nil {
			datas, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		return datas
	}, func(t *testing.T) {
		if _, err := e.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+table+` CASCADE`); err != nil {
			t.Errorf("drop state schema: %v", err)
		}
	})
	return e
}

func connect(t *testing.T, uri string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		return nil, err
	}
	// The test server has no TLS; credentials carry no sslmode.
	cfg.TLSConfig = nil
	cfg.Fallbacks = nil
	return pgx.ConnectConfig(ctx, cfg)
}

func mustConnect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := connect(t, uri)
	if err != nil {
		t.Fatalf("connect with binding credentials: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

var credentials = osbtest.Credentials

func (e *env) databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func (e *env) roleExists(t *testing.T, name string) bool {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_roles WHERE rolname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func (e *env) connLimit(t *testing.T, name string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT datconnlimit FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProvisionBindIsolateRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	instA, instB := "pg-a-"+uuid.NewString(), "pg-b-"+uuid.NewString()
	dbA := postgres.InstanceName(instA)

	resp := e.C.Provision(t, instA, postgres.ServiceID, postgres.PlanSmallID, map[string]any{"extensions": []string{"citext"}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("provision: %d %s", resp.Status, resp.Raw)
	}
	if !e.databaseExists(t, dbA) || e.connLimit(t, dbA) != 10 {
		t.Fatalf("database %s missing or with the wrong connection limit", dbA)
	}

	credsA1 := credentials(t, e.C.Bind(t, instA, "a1", postgres.ServiceID, postgres.PlanSmallID, "app-a", nil))
	for _, k := range []string{"uri", "jdbcUrl", "hostname", "port", "name", "username", "password"} {
		if _, ok := credsA1[k]; !ok {
			t.Fatalf("credentials lack %q", k)
		}
	}
	if credsA1["name"] != dbA || !strings.HasPrefix(credsA1["uri"].(string), "postgres://") {
		t.Fatalf("credentials %v", credsA1)
	}
	a1 := mustConnect(t, credsA1["uri"].(string))
	var who string
	if err := a1.QueryRow(ctx, `SELECT current_user`).Scan(&who); err != nil || who != dbA {
		t.Fatalf("binding session runs as %q (%v), want the instance role %s", who, err, dbA)
	}
	exec(t, a1, `CREATE TABLE notes (id int PRIMARY KEY, body citext)`)
	exec(t, a1, `INSERT INTO notes VALUES (1, 'Hello')`)
	var body string
	if err := a1.QueryRow(ctx, `SELECT body FROM notes WHERE body = 'hello'`).Scan(&body); err != nil || body != "Hello" {
		t.Fatalf("read back through citext: %q %v", body, err)
	}

	// A second binding of the same instance shares the data.
	credsA2 := credentials(t, e.C.Bind(t, instA, "a2", postgres.ServiceID, postgres.PlanSmallID, "app-a2", nil))
	a2 := mustConnect(t, credsA2["uri"].(string))
	exec(t, a2, `INSERT INTO notes VALUES (2, 'from a2')`)

	// A binding of another instance cannot reach this one.
	if resp := e.C.Provision(t, instB, postgres.ServiceID, postgres.PlanSmallID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision B: %d %s", resp.Status, resp.Raw)
	}
	credsB := credentials(t, e.C.Bind(t, instB, "b1", postgres.ServiceID, postgres.PlanSmallID, "app-b", nil))
	b1 := mustConnect(t, credsB["uri"].(string))
	if _, err := b1.Exec(ctx, `SELECT 1 FROM notes`); err == nil {
		t.Fatal("instance B sees instance A's table")
	}
	crossURI := strings.Replace(credsB["uri"].(string), "/"+credsB["name"].(string), "/"+dbA, 1)
	if conn, err := connect(t, crossURI); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("a binding of instance B connected to instance A's database")
	} else if !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("cross-instance connect failed for another reason: %v", err)
	}

	// Unbind revokes: the session is terminated and the password is dead.
	if resp := e.C.Unbind(t, instA, "a1", postgres.ServiceID, postgres.PlanSmallID); resp.Status != http.StatusOK {
		t.Fatalf("unbind: %d %s", resp.Status, resp.Raw)
	}
	if _, err := a1.Exec(ctx, `SELECT 1`); err == nil {
		t.Fatal("the unbound binding's session survived")
	}
	if conn, err := connect(t, credsA1["uri"].(string)); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connected with an unbound binding's password")
	}
	// The data the unbound binding made stays with the instance.
	var n int
	if err := a2.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows after unbind: %d %v", n, err)
	}

	// Plan change: the connection limit follows.
	if resp := e.C.Update(t, instA, postgres.ServiceID, postgres.PlanMediumID, nil); resp.Status != http.StatusOK {
		t.Fatalf("update: %d %s", resp.Status, resp.Raw)
	}
	if got := e.connLimit(t, dbA); got != 50 {
		t.Fatalf("connection limit after the plan change: %d", got)
	}

	// Deprovision drops the database and every role, even with a live
	// binding and an open session.
	if resp := e.C.Deprovision(t, instA, postgres.ServiceID, postgres.PlanMediumID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision: %d %s", resp.Status, resp.Raw)
	}
	if e.databaseExists(t, dbA) || e.roleExists(t, dbA) || e.roleExists(t, credsA2["username"].(string)) {
		t.Fatal("deprovision left the database or a role behind")
	}
	if conn, err := connect(t, credsA2["uri"].(string)); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connected to a deprovisioned instance")
	}
	if resp := e.C.Deprovision(t, instB, postgres.ServiceID, postgres.PlanSmallID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision B: %d %s", resp.Status, resp.Raw)
	}
}

func TestObjectsMadeAfterResetRoleSurviveUnbind(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := "pg-reset-" + uuid.NewString()
	if resp := e.C.Provision(t, id, postgres.ServiceID, postgres.PlanSmallID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision: %d %s", resp.Status, resp.Raw)
	}
	c1 := credentials(t, e.C.Bind(t, id, "b1", postgres.ServiceID, postgres.PlanSmallID, "app", nil))
	conn := mustConnect(t, c1["uri"].(string))
	exec(t, conn, `RESET ROLE`)
	exec(t, conn, `CREATE TABLE mine (v text)`)
	exec(t, conn, `INSERT INTO mine VALUES ('kept')`)
	if resp := e.C.Unbind(t, id, "b1", postgres.ServiceID, postgres.PlanSmallID); resp.Status != http.StatusOK {
		t.Fatalf("unbind: %d %s", resp.Status, resp.Raw)
	}
	c2 := credentials(t, e.C.Bind(t, id, "b2", postgres.ServiceID, postgres.PlanSmallID, "app", nil))
	var v string
	if err := mustConnect(t, c2["uri"].(string)).QueryRow(ctx, `SELECT v FROM mine`).Scan(&v); err != nil || v != "kept" {
		t.Fatalf("table of the unbound binding: %q %v", v, err)
	}
}

func TestRepairInterruptedProvision(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := "pg-crash-" + uuid.NewString()
	name := postgres.InstanceName(id)
	// A provision that died after CREATE DATABASE: the record says in
	// progress, the database exists without its owner and limits.
	store, err := postgres.NewStore(ctx, e.pool, e.schema)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = store.CreateInstance(ctx, &osb.Instance{
		ID: id, ServiceID: postgres.ServiceID, PlanID: postgres.PlanSmallID,
		OrganizationGUID: "org-osbtest", SpaceGUID: "space-osbtest", Parameters: json.RawMessage(`{}`),
		LastOperation: &osb.Operation{ID: "provision-crashed", Kind: osb.OpProvision, State: osb.StateInProgress, StartedAt: now},
		CreatedAt:     now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	resp := e.C.Provision(t, id, postgres.ServiceID, postgres.PlanSmallID, nil)
	if resp.Status != http.StatusCreated {
		t.Fatalf("re-sent provision: %d %s", resp.Status, resp.Raw)
	}
	if e.connLimit(t, name) != 10 {
		t.Fatal("repaired database lacks the plan's connection limit")
	}
	creds := credentials(t, e.C.Bind(t, id, "b1", postgres.ServiceID, postgres.PlanSmallID, "app", nil))
	conn := mustConnect(t, creds["uri"].(string))
	exec(t, conn, `CREATE TABLE t (v int)`)
	// Bind is repairable the same way: a re-sent bind after a lost answer
	// returns the recorded credentials.
	again := e.C.Bind(t, id, "b1", postgres.ServiceID, postgres.PlanSmallID, "app", nil)
	if again.Status != http.StatusOK || again.Object("credentials")["password"] != creds["password"] {
		t.Fatalf("re-sent bind: %d %s", again.Status, again.Raw)
	}
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	opts := osbtest.Options{
		Parameters:          map[string]any{"extensions": []string{"citext"}},
		AltParameters:       map[string]any{"extensions": []string{"hstore"}},
		BadParameters:       map[string]any{"extensions": []string{"plpython3u"}},
		RequiredCredentials: []string{"uri", "jdbcUrl", "hostname", "port", "name", "username", "password"},
		CheckCredentials: func(t *testing.T, creds map[string]any) {
			conn := mustConnect(t, creds["uri"].(string))
			var one int
			if err := conn.QueryRow(context.Background(), `SELECT 1`).Scan(&one); err != nil {
				t.Fatalf("query with binding credentials: %v", err)
			}
		},
	}
	osbtest.Run(t, e.Target, opts)
}

func TestConformanceOverRun(t *testing.T) {
	schema := stateSchema(t, adminPool(t))
	b, err := postgres.New(postgres.Config{ListenAddr: "127.0.0.1:0", AdminURL: adminURL(),
		Username: "u", Password: "p", StateSchema: schema}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := osbtest.RunBroker(t, b, "u", "p")
	id := "pg-run-" + uuid.NewString()
	c.ProvisionAsyncAndWait(t, id, postgres.ServiceID, postgres.PlanSmallID, nil)
	if resp := c.Deprovision(t, id, postgres.ServiceID, postgres.PlanSmallID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision: %d %s", resp.Status, resp.Raw)
	}
}

// stateSchema is a fresh state schema name, dropped when the test ends.
func stateSchema(t *testing.T, pool *pgxpool.Pool) string {
	schema := osbtest.StateName()
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return schema
}

func TestStore(t *testing.T) {
	pool := adminPool(t)
	schema := stateSchema(t, pool)
	osbtest.RunStore(t, func(t *testing.T) osb.Store {
		st, err := postgres.NewStore(context.Background(), pool, schema)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  postgres.Config
	}{
		{"no-admin-url", postgres.Config{Username: "u", Password: "p"}},
		{"no-credentials", postgres.Config{AdminURL: defaultAdminURL}},
		{"bad-schema", postgres.Config{AdminURL: defaultAdminURL, Username: "u", Password: "p", StateSchema: "Bad-Schema"}},
		{"bad-plan", postgres.Config{AdminURL: defaultAdminURL, Username: "u", Password: "p",
			Plans: []postgres.Plan{{ID: "x", Name: "x", Description: "x"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := postgres.New(tc.cfg, nil)
			if !errors.Is(err, postgres.ErrInvalidConfig) {
				t.Fatalf("err %v, want ErrInvalidConfig", err)
			}
		})
	}
}

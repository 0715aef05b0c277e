package mysql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/broker/mysql"
	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/osbtest"
)

const defaultAdminURL = "mysql://root@127.0.0.1:3306/"

func adminURL() string { return osbtest.EnvOr("INGOT_TEST_MYSQL_ADMIN_URL", defaultAdminURL) }

// adminDB connects to the test server or skips the test.
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseAdminURL(adminURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientFoundRows = true
	cfg.Timeout = 3 * time.Second
	connector, err := driver.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	osbtest.RequireServer(t, "MySQL/MariaDB", adminURL(), "INGOT_TEST_MYSQL_ADMIN_URL", db.PingContext, func() { _ = db.Close() })
	return db
}

type env struct {
	*osbtest.Env[*mysql.Broker]
	db      *sql.DB
	stateDB string
}

// newEnv starts a broker with a state database of its own; at the end it
// deprovisions whatever the test left and drops that database.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{db: adminDB(t), stateDB: osbtest.StateName()}
	e.Env = osbtest.NewEnv(t, func(user, pass string, log *slog.Logger) (*mysql.Broker, error) {
		return mysql.New(mysql.Config{
			ListenAddr: "127.0.0.1:0", AdminURL: adminURL(), Username: user, Password: pass,
			StateDatabase: e.stateDB, MaxAdminConns: 4,
		}, log)
	}, func() []string {
		var datas []string
		if rows, err := e.db.QueryContext(context.Background(), "SELECT data FROM `"+e.stateDB+"`.instances"); err == nil {
			for rows.Next() {
				var d string
				if rows.Scan(&d) == nil {
					datas = append(datas, d)
				}
			}
			rows.Close()
		}
		return datas
	}, func(t *testing.T) {
		if _, err := e.db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS `"+e.stateDB+"`"); err != nil {
			t.Errorf("drop state database: %v", err)
		}
	})
	return e
}

// open connects with a binding's uri credential.
func open(t *testing.T, uri string) (*sql.DB, error) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	cfg := driver.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.Timeout = 5 * time.Second
	connector, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func mustOpen(t *testing.T, uri string) *sql.DB {
	t.Helper()
	db, err := open(t, uri)
	if err != nil {
		t.Fatalf("connect with binding credentials: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var credentials = osbtest.Credentials

func (e *env) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) maxUserConnections(t *testing.T, user string) int {
	t.Helper()
	return e.count(t, `SELECT max_user_connections FROM mysql.user WHERE User = ? AND Host = '%'`, user)
}

func TestProvisionBindIsolateRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	instA, instB := "my-a-"+uuid.NewString(), "my-b-"+uuid.NewString()
	dbA := mysql.InstanceName(instA)

	resp := e.C.Provision(t, instA, mysql.ServiceID, mysql.PlanSmallID, map[string]any{"character_set": "utf8mb4", "collation": "utf8mb4_bin"})
	if resp.Status != http.StatusCreated {
		t.Fatalf("provision: %d %s", resp.Status, resp.Raw)
	}
	if e.count(t, `SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ? AND DEFAULT_COLLATION_NAME = 'utf8mb4_bin'`, dbA) != 1 {
		t.Fatalf("database %s missing or with the wrong collation", dbA)
	}

	credsA1 := credentials(t, e.C.Bind(t, instA, "a1", mysql.ServiceID, mysql.PlanSmallID, "app-a", nil))
	for _, k := range []string{"uri", "jdbcUrl", "hostname", "port", "name", "username", "password"} {
		if _, ok := credsA1[k]; !ok {
			t.Fatalf("credentials lack %q", k)
		}
	}
	if credsA1["name"] != dbA || !strings.HasPrefix(credsA1["uri"].(string), "mysql://") ||
		!strings.HasSuffix(credsA1["uri"].(string), "?reconnect=true") {
		t.Fatalf("credentials %v", credsA1)
	}
	if got := e.maxUserConnections(t, credsA1["username"].(string)); got != 10 {
		t.Fatalf("max_user_connections %d, want 10", got)
	}
	a1 := mustOpen(t, credsA1["uri"].(string))
	exec(t, a1, `CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100))`)
	exec(t, a1, `INSERT INTO notes VALUES (1, 'hello')`)
	var body string
	if err := a1.QueryRowContext(ctx, `SELECT body FROM notes WHERE id = 1`).Scan(&body); err != nil || body != "hello" {
		t.Fatalf("read back: %q %v", body, err)
	}

	credsA2 := credentials(t, e.C.Bind(t, instA, "a2", mysql.ServiceID, mysql.PlanSmallID, "app-a2", nil))
	a2 := mustOpen(t, credsA2["uri"].(string))
	exec(t, a2, `INSERT INTO notes VALUES (2, 'from a2')`)

	// A binding of another instance cannot reach this one.
	if resp := e.C.Provision(t, instB, mysql.ServiceID, mysql.PlanSmallID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision B: %d %s", resp.Status, resp.Raw)
	}
	credsB := credentials(t, e.C.Bind(t, instB, "b1", mysql.ServiceID, mysql.PlanSmallID, "app-b", nil))
	b1 := mustOpen(t, credsB["uri"].(string))
	if _, err := b1.ExecContext(ctx, "SELECT * FROM `"+dbA+"`.notes"); err == nil {
		t.Fatal("instance B reads instance A's table")
	}
	crossURI := strings.Replace(credsB["uri"].(string), "/"+credsB["name"].(string), "/"+dbA, 1)
	if db, err := open(t, crossURI); err == nil {
		_ = db.Close()
		t.Fatal("a binding of instance B connected to instance A's database")
	}
	var dbs []string
	rows, err := b1.QueryContext(ctx, `SHOW DATABASES`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		_ = rows.Scan(&d)
		dbs = append(dbs, d)
	}
	rows.Close()
	for _, d := range dbs {
		if d == dbA || strings.HasPrefix(d, "ingot_broker") {
			t.Fatalf("a binding of instance B sees database %s", d)
		}
	}

	// Unbind revokes: the session is killed and the password is dead.
	if resp := e.C.Unbind(t, instA, "a1", mysql.ServiceID, mysql.PlanSmallID); resp.Status != http.StatusOK {
		t.Fatalf("unbind: %d %s", resp.Status, resp.Raw)
	}
	if db, err := open(t, credsA1["uri"].(string)); err == nil {
		_ = db.Close()
		t.Fatal("connected with an unbound binding's password")
	}
	if _, err := a1.ExecContext(ctx, `SELECT 1 FROM notes`); err == nil {
		t.Fatal("the unbound binding's session still works")
	}
	var n int
	if err := a2.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows after unbind: %d %v", n, err)
	}

	// Plan change: every binding user's limit follows.
	if resp := e.C.Update(t, instA, mysql.ServiceID, mysql.PlanMediumID, map[string]any{"character_set": "utf8mb4", "collation": "utf8mb4_bin"}); resp.Status != http.StatusOK {
		t.Fatalf("update: %d %s", resp.Status, resp.Raw)
	}
	if got := e.maxUserConnections(t, credsA2["username"].(string)); got != 50 {
		t.Fatalf("max_user_connections after the plan change: %d", got)
	}

	// Deprovision drops the database and every user.
	if resp := e.C.Deprovision(t, instA, mysql.ServiceID, mysql.PlanMediumID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision: %d %s", resp.Status, resp.Raw)
	}
	if e.count(t, `SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, dbA) != 0 {
		t.Fatal("deprovision left the database")
	}
	if e.count(t, `SELECT count(*) FROM mysql.user WHERE User = ?`, credsA2["username"]) != 0 {
		t.Fatal("deprovision left a binding user")
	}
	if db, err := open(t, credsA2["uri"].(string)); err == nil {
		_ = db.Close()
		t.Fatal("connected to a deprovisioned instance")
	}
	if resp := e.C.Deprovision(t, instB, mysql.ServiceID, mysql.PlanSmallID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision B: %d %s", resp.Status, resp.Raw)
	}
}

func TestRepairInterruptedProvision(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := "my-crash-" + uuid.NewString()
	name := mysql.InstanceName(id)
	store, err := mysql.NewStore(ctx, e.db, e.stateDB)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = store.CreateInstance(ctx, &osb.Instance{
		ID: id, ServiceID: mysql.ServiceID, PlanID: mysql.PlanSmallID,
		OrganizationGUID: "org-osbtest", SpaceGUID: "space-osbtest", Parameters: json.RawMessage(`{"character_set":"latin1"}`),
		LastOperation: &osb.Operation{ID: "provision-crashed", Kind: osb.OpProvision, State: osb.StateInProgress, StartedAt: now},
		CreatedAt:     now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	exec(t, e.db, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4")
	resp := e.C.Provision(t, id, mysql.ServiceID, mysql.PlanSmallID, map[string]any{"character_set": "latin1"})
	if resp.Status != http.StatusCreated {
		t.Fatalf("re-sent provision: %d %s", resp.Status, resp.Raw)
	}
	if e.count(t, `SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ? AND DEFAULT_CHARACTER_SET_NAME = 'latin1'`, name) != 1 {
		t.Fatal("the repaired database lacks the requested character set")
	}
	creds := credentials(t, e.C.Bind(t, id, "b1", mysql.ServiceID, mysql.PlanSmallID, "app", nil))
	exec(t, mustOpen(t, creds["uri"].(string)), `CREATE TABLE t (v INT)`)
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	osbtest.Run(t, e.Target, osbtest.Options{
		Parameters:          map[string]any{"character_set": "utf8mb4"},
		AltParameters:       map[string]any{"character_set": "latin1"},
		BadParameters:       map[string]any{"character_set": "klingon"},
		RequiredCredentials: []string{"uri", "jdbcUrl", "hostname", "port", "name", "username", "password"},
		CheckCredentials: func(t *testing.T, creds map[string]any) {
			db := mustOpen(t, creds["uri"].(string))
			exec(t, db, `CREATE TABLE IF NOT EXISTS probe (v INT)`)
		},
	})
}

func TestStore(t *testing.T) {
	db := adminDB(t)
	name := osbtest.StateName()
	t.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS `"+name+"`") })
	osbtest.RunStore(t, func(t *testing.T) osb.Store {
		st, err := mysql.NewStore(context.Background(), db, name)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestParseAdminURL(t *testing.T) {
	cases := []struct {
		in, addr, user, pass, tls string
		bad                       bool
	}{
		{in: "mysql://root@127.0.0.1:3306/", addr: "127.0.0.1:3306", user: "root"},
		{in: "mysql://admin:s%40cret@db.example:3307/x?tls=skip-verify", addr: "db.example:3307", user: "admin", pass: "s@cret", tls: "skip-verify"},
		{in: "mysql://root@[::1]/", addr: "[::1]:3306", user: "root"},
		{in: "root:pw@tcp(10.0.0.1:3306)/", addr: "10.0.0.1:3306", user: "root", pass: "pw"},
		{in: "mysql:///nohost", bad: true},
		{in: "not a dsn", bad: true},
	}
	for _, tc := range cases {
		cfg, err := mysql.ParseAdminURL(tc.in)
		if tc.bad {
			if !errors.Is(err, mysql.ErrInvalidConfig) {
				t.Errorf("%q: err %v, want ErrInvalidConfig", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if cfg.Addr != tc.addr || cfg.User != tc.user || cfg.Passwd != tc.pass || cfg.TLSConfig != tc.tls {
			t.Errorf("%q: addr %q user %q pass %q tls %q", tc.in, cfg.Addr, cfg.User, cfg.Passwd, cfg.TLSConfig)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]mysql.Config{
		"no-admin-url":   {Username: "u", Password: "p"},
		"no-credentials": {AdminURL: defaultAdminURL},
		"bad-state-db":   {AdminURL: defaultAdminURL, Username: "u", Password: "p", StateDatabase: "x-y"},
		"bad-plan":       {AdminURL: defaultAdminURL, Username: "u", Password: "p", Plans: []mysql.Plan{{ID: "x", Name: "x", Description: "x"}}},
	} {
		if _, err := mysql.New(cfg, nil); !errors.Is(err, mysql.ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", name, err)
		}
	}
}

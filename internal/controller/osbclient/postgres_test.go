package osbclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/postgres"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
)

func pgAdminURL() string {
	if u := os.Getenv("INGOT_TEST_POSTGRES_ADMIN_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// startPostgresBroker runs the built-in PostgreSQL broker on the local
// server (skipping the test when it is unreachable) with a state schema of
// its own, dropped at the end.
func startPostgresBroker(t *testing.T) (*postgres.Broker, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, pgAdminURL())
	if err != nil {
		t.Skipf("PostgreSQL is not reachable at %s (set INGOT_TEST_POSTGRES_ADMIN_URL): %v", pgAdminURL(), err)
	}
	schema := "ingot_osbclient_test_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
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
	return b, pass
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

func TestRealPostgresBroker(t *testing.T) {
	b, pass := startPostgresBroker(t)
	c, err := osbclient.New(osbclient.Config{URL: b.URL(), Username: "broker", Password: pass, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := osbclient.WithOriginatingIdentity(t.Context(), "user-1")
	cat, err := c.Catalog(ctx)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	svc := cat.Services[0]
	if svc.ID != postgres.ServiceID || len(svc.Plans) == 0 {
		t.Fatalf("catalog = %+v", cat)
	}
	plan := svc.Plans[0].ID
	poll := osbclient.PollOptions{Interval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxDuration: 30 * time.Second}

	si := uuid.NewString()
	res, err := c.Provision(ctx, si, osb.ProvisionRequest{ServiceID: svc.ID, PlanID: plan,
		OrganizationGUID: uuid.NewString(), SpaceGUID: uuid.NewString()})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	deprovisioned := false
	t.Cleanup(func() {
		if !deprovisioned {
			_, _ = c.Deprovision(context.Background(), si, svc.ID, plan)
		}
	})
	if res.Async {
		lo, err := osbclient.Poll(ctx, poll, func(ctx context.Context) (osbclient.LastOperation, error) {
			return c.InstanceLastOperation(ctx, si, svc.ID, plan, res.Operation)
		})
		if err != nil || lo.State != osb.StateSucceeded {
			t.Fatalf("provision operation: %+v, %v", lo, err)
		}
	}

	bid := uuid.NewString()
	br, err := c.Bind(ctx, si, bid, osb.BindRequest{ServiceID: svc.ID, PlanID: plan, AppGUID: "app-1",
		BindResource: &osb.BindResource{AppGUID: "app-1"}})
	if err != nil || br.Async {
		t.Fatalf("bind: %+v, %v", br, err)
	}
	uri, _ := br.Binding.Credentials["uri"].(string)
	conn, err := pgConnect(uri)
	if err != nil {
		t.Fatalf("connect with the binding's credentials: %v", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')`); err != nil {
		t.Fatalf("write: %v", err)
	}
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("read = %q, %v", v, err)
	}
	_ = conn.Close(ctx)

	if _, err := c.Unbind(ctx, si, bid, svc.ID, plan); err != nil {
		t.Fatalf("unbind: %v", err)
	}
	if conn, err := pgConnect(uri); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("the unbound credentials still connect")
	}
	if _, err := c.Unbind(ctx, si, bid, svc.ID, plan); !errors.Is(err, osbclient.ErrGone) {
		t.Fatalf("second unbind = %v, want gone", err)
	}

	res, err = c.Deprovision(ctx, si, svc.ID, plan)
	if err != nil {
		t.Fatalf("deprovision: %v", err)
	}
	if res.Async {
		lo, err := osbclient.Poll(ctx, poll, func(ctx context.Context) (osbclient.LastOperation, error) {
			return c.InstanceLastOperation(ctx, si, svc.ID, plan, res.Operation)
		})
		if err != nil && !errors.Is(err, osbclient.ErrGone) || err == nil && lo.State != osb.StateSucceeded {
			t.Fatalf("deprovision operation: %+v, %v", lo, err)
		}
	}
	deprovisioned = true
	if _, err := c.Deprovision(ctx, si, svc.ID, plan); !errors.Is(err, osbclient.ErrGone) {
		t.Fatalf("second deprovision = %v, want gone", err)
	}
}

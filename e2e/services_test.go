package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ingot-paas/ingot/internal/broker/postgres"
)

func postgresAdminURL() string {
	if u := os.Getenv("INGOT_TEST_POSTGRES_ADMIN_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// TestPostgresServiceEndToEnd is the marketplace flow a user follows: a
// built-in PostgreSQL broker is registered, a database is created and bound
// to the postgres example, and after a restart the app writes and reads it.
func TestPostgresServiceEndToEnd(t *testing.T) {
	needTool(t, "go")
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err != nil {
		t.Skipf("PostgreSQL not reachable at 127.0.0.1:5432 (.ci/run starts it): %v", err)
	} else {
		c.Close()
	}
	e := startPlatform(t, startOpts{})
	broker, err := postgres.New(postgres.Config{
		ListenAddr: "127.0.0.1:0", AdminURL: postgresAdminURL(),
		Username: "broker", Password: "broker-secret",
		StateSchema: "ingot_broker_e2e",
	}, testLogger(t))
	if err != nil {
		t.Fatalf("postgres broker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- broker.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		// The broker keeps its records in a schema of the admin database.
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if conn, err := pgx.Connect(cctx, postgresAdminURL()); err == nil {
			_, _ = conn.Exec(cctx, "DROP SCHEMA IF EXISTS ingot_broker_e2e CASCADE")
			conn.Close(cctx)
		}
	})

	e.mustIngot("create-service-broker", "pg", "broker", "broker-secret", broker.URL())
	if out := e.mustIngot("marketplace"); !strings.Contains(out, "postgres") || !strings.Contains(out, "small") {
		t.Fatalf("marketplace does not list postgres/small:\n%s", out)
	}
	e.mustIngot("create-service", "postgres", "small", "db")
	t.Cleanup(func() { e.ingot("delete-service", "db", "-f") })

	dir := example(t, "postgres")
	e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"), "--no-start")
	out := e.mustIngot("bind-service", "postgres-hello", "db")
	if !strings.Contains(out, "restart") {
		t.Logf("bind-service output:\n%s", out)
	}
	e.mustIngot("restart", "postgres-hello")
	body := e.waitStatus("postgres-hello", "/", http.StatusOK, 60*time.Second)
	if !strings.Contains(body, "database ok: 1 visits") {
		t.Fatalf("GET / = %q, want the first visit recorded", body)
	}
	_, body, _ = e.get("postgres-hello", "/")
	if !strings.Contains(body, "database ok: 2 visits") {
		t.Fatalf("second GET / = %q, want 2 visits", body)
	}
	if env := e.mustIngot("env", "postgres-hello"); !strings.Contains(env, "DATABASE_URL") && !strings.Contains(env, `"postgres"`) {
		t.Errorf("ingot env does not show the binding:\n%s", env)
	}
}

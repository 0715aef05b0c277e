package e2e

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ingot-paas/ingot/internal/broker/mysql"
	"github.com/ingot-paas/ingot/internal/broker/postgres"
	"github.com/ingot-paas/ingot/internal/broker/redis"
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// serviceBroker is one built-in broker under test.
type serviceBroker struct {
	offering, plan, addr string
	// start runs the broker on its own state (schema, database or key
	// prefix) and returns its URL and a cleanup that drops that state.
	start func(t *testing.T) (url string, stop func())
}

func runBroker(t *testing.T, run func(ctx context.Context) error, url string, dropState func(ctx context.Context)) (string, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return url, func() {
		cancel()
		<-done
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		dropState(cctx)
	}
}

var serviceBrokers = []serviceBroker{
	{offering: "postgres", plan: "small", addr: "127.0.0.1:5432", start: func(t *testing.T) (string, func()) {
		admin := envOr("INGOT_TEST_POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		b, err := postgres.New(postgres.Config{ListenAddr: "127.0.0.1:0", AdminURL: admin,
			Username: "broker", Password: "broker-secret", StateSchema: "ingot_broker_e2e"}, testLogger(t))
		if err != nil {
			t.Fatalf("postgres broker: %v", err)
		}
		return runBroker(t, b.Run, b.URL(), func(ctx context.Context) {
			if conn, err := pgx.Connect(ctx, admin); err == nil {
				_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS ingot_broker_e2e CASCADE")
				conn.Close(ctx)
			}
		})
	}},
	{offering: "mysql", plan: "small", addr: "127.0.0.1:3306", start: func(t *testing.T) (string, func()) {
		b, err := mysql.New(mysql.Config{ListenAddr: "127.0.0.1:0", AdminURL: envOr("INGOT_TEST_MYSQL_ADMIN_URL", "mysql://root@127.0.0.1:3306/"),
			Username: "broker", Password: "broker-secret", StateDatabase: "ingot_broker_e2e"}, testLogger(t))
		if err != nil {
			t.Fatalf("mysql broker: %v", err)
		}
		return runBroker(t, b.Run, b.URL(), func(ctx context.Context) {
			if db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"); err == nil {
				_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS ingot_broker_e2e")
				db.Close()
			}
		})
	}},
	{offering: "redis", plan: "shared", addr: "127.0.0.1:6379", start: func(t *testing.T) (string, func()) {
		admin := envOr("INGOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
		b, err := redis.New(redis.Config{ListenAddr: "127.0.0.1:0", AdminURL: admin,
			Username: "broker", Password: "broker-secret", StatePrefix: "ingot_broker_e2e"}, testLogger(t))
		if err != nil {
			t.Fatalf("redis broker: %v", err)
		}
		return runBroker(t, b.Run, b.URL(), func(ctx context.Context) {
			if opt, err := goredis.ParseURL(admin); err == nil {
				c := goredis.NewClient(opt)
				if keys, err := c.Keys(ctx, "ingot_broker_e2e*").Result(); err == nil && len(keys) > 0 {
					c.Del(ctx, keys...)
				}
				c.Close()
			}
		})
	}},
}

// TestServicesEndToEnd is the marketplace flow a user follows, for each
// built-in broker: register it, create a service instance, push the visits
// example bound to it, and the app writes and reads the service with the
// credentials from VCAP_SERVICES. Deleting the instance deprovisions it.
func TestServicesEndToEnd(t *testing.T) {
	needTool(t, "go")
	e := startPlatform(t, startOpts{})
	for _, sb := range serviceBrokers {
		t.Run(sb.offering, func(t *testing.T) {
			e := e.with(t)
			if c, err := net.DialTimeout("tcp", sb.addr, time.Second); err != nil {
				t.Skipf("%s not reachable at %s (.ci/run starts it): %v", sb.offering, sb.addr, err)
			} else {
				c.Close()
			}
			url, stop := sb.start(t)
			t.Cleanup(stop)
			broker, instance, app := sb.offering+"-broker", sb.offering+"-db", sb.offering+"-visits"
			e.mustIngot("create-service-broker", broker, "broker", "broker-secret", url)
			t.Cleanup(func() { e.ingot("delete-service-broker", broker, "-f") })
			if out := e.mustIngot("marketplace"); !strings.Contains(out, sb.offering) || !strings.Contains(out, sb.plan) {
				t.Fatalf("marketplace does not list %s/%s:\n%s", sb.offering, sb.plan, out)
			}
			e.mustIngot("create-service", sb.offering, sb.plan, instance)
			dir := example(t, "visits")
			e.mustIngot("push", app, "-p", dir, "--no-manifest", "-m", "64M", "--no-start")
			e.mustIngot("bind-service", app, instance)
			e.mustIngot("restart", app)
			body := e.waitStatus(app, "/", http.StatusOK, 90*time.Second)
			if !strings.Contains(body, sb.offering+" ok: 1 visits") {
				t.Fatalf("GET / = %q, want the first visit recorded in %s", body, sb.offering)
			}
			if _, body, _ = e.get(app, "/"); !strings.Contains(body, "ok: 2 visits") {
				t.Fatalf("second GET / = %q, want 2 visits", body)
			}
			if env := e.mustIngot("env", app); !strings.Contains(env, instance) {
				t.Errorf("ingot env does not show the binding to %s:\n%s", instance, env)
			}
			// Deleting the app unbinds it; then the instance can go.
			e.mustIngot("delete", app, "-f")
			out := e.mustIngot("delete-service", instance, "-f")
			t.Logf("delete-service: %s", strings.TrimSpace(out))
			e.waitStatus(app, "/", http.StatusNotFound, 15*time.Second)
		})
	}
}

// TestVisitsWithoutAServiceSaysSo checks the example explains itself when
// nothing is bound.
func TestVisitsWithoutAServiceSaysSo(t *testing.T) {
	needTool(t, "go")
	e := startPlatform(t, startOpts{})
	dir := example(t, "visits")
	e.mustIngot("push", "lonely", "-p", dir, "--no-manifest", "-m", "64M")
	code, body, _ := e.get("lonely", "/")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no service bound") {
		t.Fatalf("GET / = %d %q, want 503 naming the missing service", code, body)
	}
}

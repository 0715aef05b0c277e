package osbtest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Helpers for the integration tests of ingot's built-in brokers, which
// run against real servers.

// EnvOr is the environment variable name, or def when it is unset.
func EnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// StateName is a fresh name for a test's broker state (schema, database,
// key prefix): "ingot_broker_test_" and 8 lowercase hex digits.
func StateName() string { return "ingot_broker_test_" + uuid.NewString()[:8] }

// DiscardLogger logs nowhere.
func DiscardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Broker is a built-in broker under test.
type Broker interface {
	Handler() http.Handler
	URL() string
	Run(ctx context.Context) error
	Close() error
}

// Serve is a client of b's handler with the broker's credentials, and the
// target it calls.
func Serve(t testing.TB, b Broker, username, password string) (*Client, Target) {
	t.Helper()
	target := Target{Handler: b.Handler(), Username: username, Password: password}
	return NewClient(t, target), target
}

// RunBroker runs b until the test ends (checking that Run returns no
// error) and returns a client of its URL.
func RunBroker(t testing.TB, b Broker, username, password string) *Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return NewClient(t, Target{URL: b.URL(), Username: username, Password: password})
}

// Sweep deprovisions the instances whose JSON records a test left
// behind, then closes the broker.
func Sweep(t testing.TB, c *Client, b Broker, records []string) {
	t.Helper()
	for _, d := range records {
		var inst osb.Instance
		if json.Unmarshal([]byte(d), &inst) == nil {
			resp := c.Deprovision(t, inst.ID, inst.ServiceID, inst.PlanID)
			if resp.Status != http.StatusOK && resp.Status != http.StatusGone {
				t.Errorf("sweep: deprovision %s: %d %s", inst.ID, resp.Status, resp.Raw)
			}
		}
	}
	_ = b.Close()
}

// ProvisionAsyncAndWait provisions id asynchronously and waits until the
// operation succeeded.
func (c *Client) ProvisionAsyncAndWait(t testing.TB, id, serviceID, planID string, params map[string]any) {
	t.Helper()
	resp := c.ProvisionAsync(t, id, serviceID, planID, params)
	if resp.Status != http.StatusAccepted {
		t.Fatalf("async provision: %d %s", resp.Status, resp.Raw)
	}
	if final := c.WaitLastOperation(t, id, resp.String("operation"), 30*time.Second); final.String("state") != osb.StateSucceeded {
		t.Fatalf("async provision: %s", final.Raw)
	}
}

// Credentials are the credentials of a bind that must have created the
// binding.
func Credentials(t testing.TB, resp Response) map[string]any {
	t.Helper()
	if resp.Status != http.StatusCreated {
		t.Fatalf("bind: %d %s", resp.Status, resp.Raw)
	}
	return resp.Object("credentials")
}

// RequireServer skips the test when connect fails within 5 seconds
// (server names the server, url and envVar where the tests look for it);
// otherwise closeConn runs when the test ends. closeConn must cope with
// a connection connect did not make.
func RequireServer(t testing.TB, server, url, envVar string, connect func(ctx context.Context) error, closeConn func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := connect(ctx); err != nil {
		closeConn()
		t.Skipf("%s is not reachable at %s (set %s): %v", server, url, envVar, err)
	}
	t.Cleanup(closeConn)
}

// Env is a built-in broker under test, served on a test server, and a
// client of it.
type Env[B Broker] struct {
	Broker B
	C      *Client
	Target Target
}

// NewEnv creates a broker with newBroker (API user "broker", a random
// password, a discarding logger) and serves it. When the test ends it
// deprovisions the instances whose JSON records records returns, closes
// the broker and calls drop to delete the broker's state.
func NewEnv[B Broker](t *testing.T, newBroker func(username, password string, log *slog.Logger) (B, error),
	records func() []string, drop func(t *testing.T)) *Env[B] {
	t.Helper()
	pass := uuid.NewString()
	b, err := newBroker("broker", pass, DiscardLogger())
	if err != nil {
		t.Fatalf("new broker: %v", err)
	}
	e := &Env[B]{Broker: b}
	e.C, e.Target = Serve(t, b, "broker", pass)
	t.Cleanup(func() {
		Sweep(t, e.C, b, records())
		drop(t)
	})
	return e
}

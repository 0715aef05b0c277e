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

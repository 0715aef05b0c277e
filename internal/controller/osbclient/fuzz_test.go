package osbclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
)

// FuzzBrokerAnswers feeds arbitrary answers to the catalog, provision,
// bind and last_operation parsers: each must return a value or an error,
// never panic.
func FuzzBrokerAnswers(f *testing.F) {
	f.Add(200, []byte(`{"services":[{"id":"s","name":"s","description":"d","plans":[{"id":"p","name":"p","description":"d"}]}]}`))
	f.Add(201, []byte(`{"credentials":{"uri":"x"}}`))
	f.Add(202, []byte(`{"operation":"op","state":"in progress"}`))
	f.Add(500, []byte(`{"error":"X","description":"y"}`))
	f.Add(200, []byte(`{"services":[{"plans":null}]}`))
	var (
		mu     sync.Mutex
		body   []byte
		status int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		st, b := status, body
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	c, err := osbclient.New(osbclient.Config{URL: srv.URL, Timeout: 2 * time.Second, Retries: 1, RetryBackoff: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, st int, b []byte) {
		if st < 200 || st > 599 {
			st = 200
		}
		mu.Lock()
		status, body = st, b
		mu.Unlock()
		ctx := context.Background()
		_, _ = c.Catalog(ctx)
		_, _ = c.Provision(ctx, "i", osb.ProvisionRequest{ServiceID: "s", PlanID: "p"})
		_, _ = c.Bind(ctx, "i", "b", osb.BindRequest{ServiceID: "s", PlanID: "p"})
		_, _ = c.InstanceLastOperation(ctx, "i", "s", "p", "op")
	})
}

package osbclient_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/controller/osbclient"
)

// fakeBroker is a programmable, misbehaving OSB broker: handle decides the
// answer to each request; it records every request and the instances and
// bindings that exist on it.
type fakeBroker struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	requests  []*http.Request
	instances map[string]bool
	bindings  map[string]bool
	handle    func(w http.ResponseWriter, r *http.Request, f *fakeBroker) bool
}

func newFakeBroker(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, f *fakeBroker) bool) *fakeBroker {
	t.Helper()
	f := &fakeBroker{t: t, instances: map[string]bool{}, bindings: map[string]bool{}, handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serve applies handle, then well-behaved defaults.
func (f *fakeBroker) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(context.Background()))
	f.mu.Unlock()
	if f.handle != nil && f.handle(w, r, f) {
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/v2/catalog":
		writeJSON(w, 200, testCatalog())
	case len(parts) == 3 && r.Method == http.MethodPut:
		f.instances[parts[2]] = true
		writeJSON(w, 201, map[string]any{})
	case len(parts) == 3 && r.Method == http.MethodDelete:
		if !f.instances[parts[2]] {
			writeJSON(w, 410, map[string]any{})
			return
		}
		delete(f.instances, parts[2])
		writeJSON(w, 200, map[string]any{})
	case len(parts) == 5 && r.Method == http.MethodPut:
		f.bindings[parts[4]] = true
		writeJSON(w, 201, map[string]any{"credentials": map[string]any{"uri": "x://y"}})
	case len(parts) == 5 && r.Method == http.MethodDelete:
		if !f.bindings[parts[4]] {
			writeJSON(w, 410, map[string]any{})
			return
		}
		delete(f.bindings, parts[4])
		writeJSON(w, 200, map[string]any{})
	default:
		writeJSON(w, 404, map[string]any{"description": "no route"})
	}
}

func (f *fakeBroker) has(instance string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.instances[instance]
}

func (f *fakeBroker) hasBinding(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bindings[id]
}

func (f *fakeBroker) count(method, pathPrefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method == method && strings.HasPrefix(r.URL.Path, pathPrefix) {
			n++
		}
	}
	return n
}

func testCatalog() osb.Catalog {
	return osb.Catalog{Services: []osb.Service{{ID: "svc-1", Name: "fake", Description: "a fake service",
		Bindable: true, Plans: []osb.Plan{{ID: "plan-1", Name: "small", Description: "small plan"}}}}}
}

func newClient(t *testing.T, f *fakeBroker, m *osbclient.Mitigator, timeout time.Duration) *osbclient.Client {
	t.Helper()
	c, err := osbclient.New(osbclient.Config{URL: f.srv.URL, Username: "user", Password: "pass",
		Timeout: timeout, RetryBackoff: 5 * time.Millisecond, Mitigator: m})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// startMitigator runs a fast Mitigator for the test's lifetime.
func startMitigator(t *testing.T, done chan<- osbclient.Task) *osbclient.Mitigator {
	t.Helper()
	m := osbclient.NewMitigator(osbclient.MitigatorConfig{InitialBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, Poll: osbclient.PollOptions{Interval: 5 * time.Millisecond},
		OnDone: func(task osbclient.Task, err error) {
			if err == nil && done != nil {
				done <- task
			}
		}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = m.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	return m
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitTask(t *testing.T, done <-chan osbclient.Task) osbclient.Task {
	t.Helper()
	select {
	case task := <-done:
		return task
	case <-time.After(10 * time.Second):
		t.Fatal("orphan mitigation did not finish")
		return osbclient.Task{}
	}
}

func TestHeaders(t *testing.T) {
	var got http.Header
	var user, pass string
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
		got = r.Header.Clone()
		user, pass, _ = r.BasicAuth()
		return false
	})
	c := newClient(t, f, nil, 5*time.Second)
	ctx := osbclient.WithOriginatingIdentity(t.Context(), "user-guid-1")
	if _, err := c.Catalog(ctx); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if v := got.Get("X-Broker-API-Version"); v != "2.17" {
		t.Errorf("X-Broker-API-Version = %q", v)
	}
	if user != "user" || pass != "pass" {
		t.Errorf("basic auth = %q/%q", user, pass)
	}
	if _, err := uuid.Parse(got.Get("X-Broker-API-Request-Identity")); err != nil {
		t.Errorf("request identity %q is not a uuid", got.Get("X-Broker-API-Request-Identity"))
	}
	platform, value, _ := strings.Cut(got.Get("X-Broker-API-Originating-Identity"), " ")
	raw, err := base64.StdEncoding.DecodeString(value)
	var id map[string]string
	if platform != "cloudfoundry" || err != nil || json.Unmarshal(raw, &id) != nil || id["user_id"] != "user-guid-1" {
		t.Errorf("originating identity = %q", got.Get("X-Broker-API-Originating-Identity"))
	}
}

func TestCatalogErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"not json", 200, "<html>", osbclient.ErrMalformed},
		{"no services", 200, `{"services":[]}`, osbclient.ErrMalformed},
		{"duplicate plan ids", 200, `{"services":[{"id":"s","name":"s","description":"d","plans":[{"id":"p","name":"a","description":"d"},{"id":"p","name":"b","description":"d"}]}]}`, osbclient.ErrMalformed},
		{"name with spaces", 200, `{"services":[{"id":"s","name":"my service","description":"d","plans":[{"id":"p","name":"a","description":"d"}]}]}`, osbclient.ErrMalformed},
		{"plan without id", 200, `{"services":[{"id":"s","name":"s","description":"d","plans":[{"name":"p","description":"d"}]}]}`, osbclient.ErrMalformed},
		{"unauthorized", 401, `{"description":"bad credentials"}`, osbclient.ErrBroker},
		{"server error", 500, `oops`, osbclient.ErrBroker},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
				return true
			})
			_, err := newClient(t, f, nil, 5*time.Second).Catalog(t.Context())
			if !errors.Is(err, tc.want) {
				t.Fatalf("catalog error = %v, want %v", err, tc.want)
			}
			wantCalls := 1
			if tc.status >= 500 {
				wantCalls = 3 // retried twice
			}
			if n := f.count(http.MethodGet, "/v2/catalog"); n != wantCalls {
				t.Errorf("catalog fetched %d times, want %d", n, wantCalls)
			}
		})
	}
}

func TestCatalogOfThirdPartyBroker(t *testing.T) {
	// Names with capitals and underscores, as third-party brokers
	// (MongoDB, Neo4j) use them, are accepted.
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
		_, _ = io.WriteString(w, `{"services":[{"id":"m","name":"MongoDB","description":"Mongo","bindable":true,
			"plans":[{"id":"m1","name":"Shared_Small","description":"shared"}]},
			{"id":"n","name":"neo4j-enterprise","description":"graphs","plans":[{"id":"n1","name":"default","description":"d"}]}]}`)
		return true
	})
	cat, err := newClient(t, f, nil, 5*time.Second).Catalog(t.Context())
	if err != nil || len(cat.Services) != 2 || cat.Services[0].Plans[0].Name != "Shared_Small" {
		t.Fatalf("catalog = %+v, %v", cat, err)
	}
}

func TestCatalogRetryRecovers(t *testing.T) {
	calls := 0
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
		calls++
		if calls == 1 {
			w.WriteHeader(503)
			return true
		}
		return false
	})
	cat, err := newClient(t, f, nil, 5*time.Second).Catalog(t.Context())
	if err != nil || len(cat.Services) != 1 || cat.Services[0].Plans[0].ID != "plan-1" {
		t.Fatalf("catalog = %+v, %v", cat, err)
	}
}

func TestSlowProvisionTimesOutAndIsMitigated(t *testing.T) {
	release := make(chan struct{})
	deletes := 0
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, f *fakeBroker) bool {
		switch r.Method {
		case http.MethodPut:
			// The broker creates the instance, but answers too late.
			f.mu.Lock()
			f.instances["si-1"] = true
			f.mu.Unlock()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		case http.MethodDelete:
			f.mu.Lock()
			deletes++
			first := deletes == 1
			f.mu.Unlock()
			if first { // the first mitigation attempt fails too
				w.WriteHeader(500)
				return true
			}
		}
		return false
	})
	defer close(release)
	done := make(chan osbclient.Task, 1)
	m := startMitigator(t, done)
	c := newClient(t, f, m, 100*time.Millisecond)
	_, err := c.Provision(t.Context(), "si-1", osb.ProvisionRequest{ServiceID: "svc-1", PlanID: "plan-1"})
	if !errors.Is(err, osbclient.ErrTimeout) {
		t.Fatalf("provision error = %v, want a timeout", err)
	}
	task := waitTask(t, done)
	if task.Kind != osbclient.TaskDeprovision || task.InstanceID != "si-1" || task.PlanID != "plan-1" {
		t.Fatalf("mitigation task = %+v", task)
	}
	if f.has("si-1") {
		t.Fatal("the orphaned instance is still on the broker")
	}
	if n := f.count(http.MethodDelete, "/v2/service_instances/si-1"); n != 2 {
		t.Errorf("deprovision sent %d times, want 2 (one failure, one success)", n)
	}
	eventually(t, "no pending mitigation", func() bool { return m.Pending() == 0 })
}

func TestProvisionAnswers(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantErr  error
		wantCode string
		mitigate bool
		async    bool
	}{
		{"created", 201, `{"dashboard_url":"http://d"}`, nil, "", false, false},
		{"existed", 200, `{}`, nil, "", false, false},
		{"async", 202, `{"operation":"op-1"}`, nil, "", false, true},
		{"server error", 500, `{"description":"boom"}`, osbclient.ErrBroker, "", true, false},
		{"malformed 201", 201, `not json`, osbclient.ErrMalformed, "", true, false},
		{"other 2xx", 204, ``, osbclient.ErrBroker, "", true, false},
		{"conflict", 409, `{"description":"exists with other attributes"}`, osbclient.ErrBroker, "", false, false},
		{"concurrency", 422, `{"error":"ConcurrencyError","description":"busy"}`, osbclient.ErrBroker, "ConcurrencyError", false, false},
		{"bad request", 400, `{"description":"size must be positive"}`, osbclient.ErrBroker, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
				if r.Method != http.MethodPut {
					return false
				}
				if r.URL.Query().Get("accepts_incomplete") != "true" {
					t.Errorf("provision without accepts_incomplete=true: %s", r.URL)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
				return true
			})
			done := make(chan osbclient.Task, 1)
			m := startMitigator(t, done)
			res, err := newClient(t, f, m, 5*time.Second).Provision(t.Context(), "si-x",
				osb.ProvisionRequest{ServiceID: "svc-1", PlanID: "plan-1"})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("provision error = %v, want %v", err, tc.wantErr)
			}
			var be *osbclient.Error
			if tc.wantCode != "" && (!errors.As(err, &be) || be.Code != tc.wantCode || be.Status != tc.status) {
				t.Fatalf("provision error = %#v, want code %s", err, tc.wantCode)
			}
			if res.Async != tc.async {
				t.Errorf("async = %v, want %v", res.Async, tc.async)
			}
			if tc.async && res.Operation != "op-1" {
				t.Errorf("operation = %q", res.Operation)
			}
			if tc.mitigate {
				waitTask(t, done)
				if n := f.count(http.MethodDelete, "/v2/service_instances/si-x"); n != 1 {
					t.Errorf("deprovisions = %d, want 1", n)
				}
			} else if m.Pending() != 0 || f.count(http.MethodDelete, "/") != 0 {
				t.Errorf("a mitigation ran for a %d answer", tc.status)
			}
		})
	}
}

func TestAsyncProvisionFails(t *testing.T) {
	polls := 0
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
		switch {
		case r.Method == http.MethodPut:
			writeJSON(w, 202, map[string]any{"operation": "op-7"})
		case strings.HasSuffix(r.URL.Path, "/last_operation"):
			if r.URL.Query().Get("operation") != "op-7" || r.URL.Query().Get("plan_id") != "plan-1" {
				t.Errorf("last_operation query = %s", r.URL.RawQuery)
			}
			polls++
			switch polls {
			case 1:
				writeJSON(w, 200, map[string]any{"state": "in progress", "description": "creating"})
			case 2:
				w.WriteHeader(503) // transient: polled through
			default:
				writeJSON(w, 200, map[string]any{"state": "failed", "description": "disk full"})
			}
		default:
			return false
		}
		return true
	})
	c := newClient(t, f, nil, 5*time.Second)
	res, err := c.Provision(t.Context(), "si-2", osb.ProvisionRequest{ServiceID: "svc-1", PlanID: "plan-1"})
	if err != nil || !res.Async {
		t.Fatalf("provision = %+v, %v", res, err)
	}
	var progress []string
	lo, err := osbclient.Poll(t.Context(), osbclient.PollOptions{Interval: time.Millisecond,
		OnProgress: func(lo osbclient.LastOperation) { progress = append(progress, lo.Description) }},
		func(ctx context.Context) (osbclient.LastOperation, error) {
			return c.InstanceLastOperation(ctx, "si-2", "svc-1", "plan-1", res.Operation)
		})
	if err != nil || lo.State != osb.StateFailed || lo.Description != "disk full" {
		t.Fatalf("poll = %+v, %v", lo, err)
	}
	if len(progress) != 1 || progress[0] != "creating" {
		t.Errorf("progress = %v", progress)
	}
}

func TestPollMalformedAndGone(t *testing.T) {
	answer := `{"state":"exploded"}`
	status := 200
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, _ *fakeBroker) bool {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
		return true
	})
	c := newClient(t, f, nil, 5*time.Second)
	fetch := func(ctx context.Context) (osbclient.LastOperation, error) {
		return c.InstanceLastOperation(ctx, "si", "", "", "")
	}
	if _, err := osbclient.Poll(t.Context(), osbclient.PollOptions{Interval: time.Millisecond}, fetch); !errors.Is(err, osbclient.ErrMalformed) {
		t.Fatalf("unknown state: %v", err)
	}
	status, answer = 410, `{}`
	if _, err := osbclient.Poll(t.Context(), osbclient.PollOptions{Interval: time.Millisecond}, fetch); !errors.Is(err, osbclient.ErrGone) {
		t.Fatalf("410: %v", err)
	}
	status, answer = 200, `{"state":"in progress"}`
	_, err := osbclient.Poll(t.Context(), osbclient.PollOptions{Interval: time.Millisecond, MaxDuration: 20 * time.Millisecond}, fetch)
	if !errors.Is(err, osbclient.ErrTimeout) {
		t.Fatalf("never-ending operation: %v", err)
	}
}

func TestDeleteGone(t *testing.T) {
	f := newFakeBroker(t, nil)
	c := newClient(t, f, nil, 5*time.Second)
	if _, err := c.Deprovision(t.Context(), "missing", "svc-1", "plan-1"); !errors.Is(err, osbclient.ErrGone) {
		t.Fatalf("deprovision of a missing instance: %v", err)
	}
	if _, err := c.Unbind(t.Context(), "missing", "b", "svc-1", "plan-1"); !errors.Is(err, osbclient.ErrGone) {
		t.Fatalf("unbind of a missing binding: %v", err)
	}
}

func TestBindMalformedIsUnbound(t *testing.T) {
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, f *fakeBroker) bool {
		if r.Method == http.MethodPut {
			f.mu.Lock()
			f.bindings["b-1"] = true
			f.mu.Unlock()
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"credentials": "not an object"`)
			return true
		}
		return false
	})
	done := make(chan osbclient.Task, 1)
	m := startMitigator(t, done)
	c := newClient(t, f, m, 5*time.Second)
	_, err := c.Bind(t.Context(), "si-1", "b-1", osb.BindRequest{ServiceID: "svc-1", PlanID: "plan-1", AppGUID: "app"})
	if !errors.Is(err, osbclient.ErrMalformed) {
		t.Fatalf("bind error = %v", err)
	}
	task := waitTask(t, done)
	if task.Kind != osbclient.TaskUnbind || task.BindingID != "b-1" {
		t.Fatalf("task = %+v", task)
	}
	if f.hasBinding("b-1") {
		t.Fatal("the orphaned binding is still on the broker")
	}
}

func TestAsyncMitigation(t *testing.T) {
	// The broker deprovisions asynchronously; the first operation fails,
	// the second is reported gone (410 on last_operation).
	deletes := 0
	f := newFakeBroker(t, func(w http.ResponseWriter, r *http.Request, f *fakeBroker) bool {
		switch {
		case r.Method == http.MethodPut:
			w.WriteHeader(502)
		case r.Method == http.MethodDelete:
			deletes++
			writeJSON(w, 202, map[string]any{"operation": "del"})
		case strings.HasSuffix(r.URL.Path, "/last_operation"):
			if deletes == 1 {
				writeJSON(w, 200, map[string]any{"state": "failed", "description": "locked"})
			} else {
				writeJSON(w, 410, map[string]any{})
			}
		default:
			return false
		}
		return true
	})
	done := make(chan osbclient.Task, 1)
	m := startMitigator(t, done)
	c := newClient(t, f, m, 5*time.Second)
	if _, err := c.Provision(t.Context(), "si-3", osb.ProvisionRequest{ServiceID: "svc-1", PlanID: "plan-1"}); err == nil {
		t.Fatal("provision answered 502 succeeded")
	}
	waitTask(t, done)
	if deletes != 2 {
		t.Errorf("deprovisions = %d, want 2", deletes)
	}
}

func TestEnqueueDeduplicatesAndBounds(t *testing.T) {
	f := newFakeBroker(t, nil)
	m := osbclient.NewMitigator(osbclient.MitigatorConfig{MaxPending: 2}, nil) // not running
	c := newClient(t, f, m, time.Second)
	task := osbclient.Task{Kind: osbclient.TaskDeprovision, Client: c, InstanceID: "si-4"}
	if !m.Enqueue(task) {
		t.Fatal("first enqueue refused")
	}
	if m.Enqueue(task) {
		t.Fatal("duplicate task accepted while pending")
	}
	if !m.Enqueue(osbclient.Task{Kind: osbclient.TaskUnbind, Client: c, InstanceID: "si-4", BindingID: "b"}) {
		t.Fatal("second task refused")
	}
	if m.Enqueue(osbclient.Task{Kind: osbclient.TaskDeprovision, Client: c, InstanceID: "si-5"}) {
		t.Fatal("task over MaxPending accepted")
	}
	if m.Pending() != 2 {
		t.Fatalf("pending = %d, want 2", m.Pending())
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "not a url", "http://"} {
		if _, err := osbclient.New(osbclient.Config{URL: u}); !errors.Is(err, osbclient.ErrConfig) {
			t.Errorf("New(%q) = %v, want ErrConfig", u, err)
		}
	}
}

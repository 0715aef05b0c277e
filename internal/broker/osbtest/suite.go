package osbtest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Options tune the conformance suite.
type Options struct {
	// ServiceName selects the service under test; default the first one.
	ServiceName string
	// Parameters are valid provision parameters (nil: none).
	Parameters map[string]any
	// AltParameters are other valid provision parameters; when set, a
	// re-provision with them must be answered 409 and an update to them
	// must succeed.
	AltParameters map[string]any
	// BadParameters must be refused with 400 at provision; default
	// {"osbtest_no_such_parameter": 1}.
	BadParameters map[string]any
	// BadBindParameters must be refused with 400 at bind; default as above.
	BadBindParameters map[string]any
	// RequiredCredentials are keys every binding's credentials must have;
	// default ["uri"].
	RequiredCredentials []string
	// CheckCredentials, when set, is called with each new binding's
	// credentials (e.g. to connect with them).
	CheckCredentials func(t *testing.T, creds map[string]any)
	// AsyncTimeout bounds the polling of one asynchronous operation;
	// default 30 s.
	AsyncTimeout time.Duration
}

type suite struct {
	c    *Client
	svc  osb.Service
	opts Options

	mu   sync.Mutex
	live map[string]string // instance id → plan id, for cleanup
}

// Run checks the broker at target against the OSB API: catalog shape,
// authentication (401), the version header (412), synchronous and
// asynchronous provision, update and deprovision with their idempotency
// (200 on repeat, 409 on conflict, 410 when gone), bad requests (400),
// unknown resources (404/410) and bindings. Every instance it creates is
// deprovisioned when the test ends.
func Run(t *testing.T, target Target, opts Options) {
	t.Helper()
	if opts.BadParameters == nil {
		opts.BadParameters = map[string]any{"osbtest_no_such_parameter": 1}
	}
	if opts.BadBindParameters == nil {
		opts.BadBindParameters = map[string]any{"osbtest_no_such_parameter": 1}
	}
	if opts.RequiredCredentials == nil {
		opts.RequiredCredentials = []string{"uri"}
	}
	if opts.AsyncTimeout == 0 {
		opts.AsyncTimeout = 30 * time.Second
	}
	c := NewClient(t, target)
	cat := c.Catalog(t)
	s := &suite{c: c, opts: opts, live: map[string]string{}}
	found := false
	for _, svc := range cat.Services {
		if opts.ServiceName == "" || svc.Name == opts.ServiceName {
			s.svc, found = svc, true
			break
		}
	}
	if !found || len(s.svc.Plans) == 0 {
		t.Fatalf("osbtest: service %q with plans not in the catalog", opts.ServiceName)
	}
	t.Cleanup(func() { s.cleanup(t) })

	t.Run("catalog", s.testCatalog)
	t.Run("auth", s.testAuth)
	t.Run("version", s.testVersion)
	t.Run("bad-requests", s.testBadRequests)
	t.Run("not-found", s.testNotFound)
	t.Run("provision", s.testProvision)
	t.Run("update", s.testUpdate)
	t.Run("bind", s.testBind)
	t.Run("async", s.testAsync)
}

func (s *suite) plan(i int) osb.Plan { return s.svc.Plans[i%len(s.svc.Plans)] }

func (s *suite) newInstanceID() string { return "osbtest-" + uuid.NewString() }

func (s *suite) track(id, planID string) {
	s.mu.Lock()
	s.live[id] = planID
	s.mu.Unlock()
}

func (s *suite) untrack(id string) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

func expect(t *testing.T, what string, resp Response, codes ...int) {
	t.Helper()
	for _, c := range codes {
		if resp.Status == c {
			return
		}
	}
	t.Fatalf("%s: status %d, want %v; body %s", what, resp.Status, codes, resp.Raw)
}

// expectJSONObject checks that a body is a JSON object, as the spec asks
// of every answer.
func expectJSONObject(t *testing.T, what string, resp Response) {
	t.Helper()
	if resp.Body == nil {
		t.Fatalf("%s: body is not a JSON object: %q", what, resp.Raw)
	}
}

func expectError(t *testing.T, what string, resp Response, status int) {
	t.Helper()
	expect(t, what, resp, status)
	expectJSONObject(t, what, resp)
	if resp.String("description") == "" && resp.String("error") == "" {
		t.Fatalf("%s: error body has neither error nor description: %s", what, resp.Raw)
	}
}

// provision provisions synchronously and tracks the instance.
func (s *suite) provision(t *testing.T, id string, plan osb.Plan, params map[string]any) {
	t.Helper()
	resp := s.c.Provision(t, id, s.svc.ID, plan.ID, params)
	s.track(id, plan.ID)
	expect(t, "provision", resp, http.StatusCreated)
	expectJSONObject(t, "provision", resp)
}

func (s *suite) deprovision(t *testing.T, id string, plan osb.Plan) {
	t.Helper()
	resp := s.c.Deprovision(t, id, s.svc.ID, plan.ID)
	expect(t, "deprovision", resp, http.StatusOK)
	expectJSONObject(t, "deprovision", resp)
	s.untrack(id)
}

var catalogNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func (s *suite) testCatalog(t *testing.T) {
	resp := s.c.Do(t, http.MethodGet, "/v2/catalog", nil)
	expect(t, "catalog", resp, http.StatusOK)
	var raw struct {
		Services []map[string]json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(resp.Raw, &raw); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if len(raw.Services) == 0 {
		t.Fatal("catalog: no services")
	}
	ids := map[string]bool{}
	names := map[string]bool{}
	for i, svc := range raw.Services {
		for _, f := range []string{"id", "name", "description", "bindable", "plans"} {
			if _, ok := svc[f]; !ok {
				t.Errorf("catalog: service %d lacks required field %q", i, f)
			}
		}
		var sv osb.Service
		b, _ := json.Marshal(svc)
		if err := json.Unmarshal(b, &sv); err != nil {
			t.Fatalf("catalog: service %d: %v", i, err)
		}
		if sv.ID == "" || sv.Name == "" || sv.Description == "" {
			t.Errorf("catalog: service %d has an empty id, name or description", i)
		}
		if !catalogNamePattern.MatchString(sv.Name) {
			t.Errorf("catalog: service name %q is not lowercase alphanumerics, '.', '-' or '_'", sv.Name)
		}
		if ids[sv.ID] {
			t.Errorf("catalog: duplicate id %q", sv.ID)
		}
		ids[sv.ID] = true
		if names[sv.Name] {
			t.Errorf("catalog: duplicate service name %q", sv.Name)
		}
		names[sv.Name] = true
		if len(sv.Plans) == 0 {
			t.Errorf("catalog: service %q has no plans", sv.Name)
		}
		var plansRaw []map[string]json.RawMessage
		_ = json.Unmarshal(svc["plans"], &plansRaw)
		planNames := map[string]bool{}
		for j, p := range plansRaw {
			for _, f := range []string{"id", "name", "description"} {
				if _, ok := p[f]; !ok {
					t.Errorf("catalog: service %q plan %d lacks required field %q", sv.Name, j, f)
				}
			}
		}
		for _, p := range sv.Plans {
			if p.ID == "" || p.Name == "" || p.Description == "" {
				t.Errorf("catalog: service %q has a plan with an empty id, name or description", sv.Name)
			}
			if !catalogNamePattern.MatchString(p.Name) {
				t.Errorf("catalog: plan name %q is not lowercase alphanumerics, '.', '-' or '_'", p.Name)
			}
			if ids[p.ID] {
				t.Errorf("catalog: duplicate id %q", p.ID)
			}
			ids[p.ID] = true
			if planNames[p.Name] {
				t.Errorf("catalog: service %q: duplicate plan name %q", sv.Name, p.Name)
			}
			planNames[p.Name] = true
		}
	}
}

func (s *suite) testAuth(t *testing.T) {
	cases := []struct{ name, user, pass string }{
		{"none", "", ""},
		{"wrong-password", s.c.Username, s.c.Password + "x"},
		{"wrong-user", s.c.Username + "x", s.c.Password},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Tracked, so that a broker that wrongly accepts leaves nothing.
			id := s.newInstanceID()
			s.track(id, s.plan(0).ID)
			for _, req := range []struct{ method, path string }{
				{http.MethodGet, "/v2/catalog"},
				{http.MethodPut, InstancePath(id)},
				{http.MethodDelete, InstancePath(s.newInstanceID()) + query("service_id", s.svc.ID, "plan_id", s.plan(0).ID)},
			} {
				var body any
				if req.method == http.MethodPut {
					body = ProvisionBody(s.svc.ID, s.plan(0).ID, s.opts.Parameters)
				}
				resp := s.c.do(t, req.method, req.path, body, tc.user, tc.pass, osb.APIVersion)
				expectError(t, req.method+" "+req.path, resp, http.StatusUnauthorized)
			}
		})
	}
}

func (s *suite) testVersion(t *testing.T) {
	for _, v := range []string{"", "1.13", "3.0", "two"} {
		t.Run("version="+v, func(t *testing.T) {
			resp := s.c.do(t, http.MethodGet, "/v2/catalog", nil, s.c.Username, s.c.Password, v)
			expectError(t, "catalog with version "+v, resp, http.StatusPreconditionFailed)
		})
	}
	for _, v := range []string{"2.12", "2.15", osb.APIVersion} {
		resp := s.c.do(t, http.MethodGet, "/v2/catalog", nil, s.c.Username, s.c.Password, v)
		expect(t, "catalog with version "+v, resp, http.StatusOK)
	}
}

func (s *suite) testBadRequests(t *testing.T) {
	plan := s.plan(0)
	body := func(mut func(map[string]any)) map[string]any {
		b := ProvisionBody(s.svc.ID, plan.ID, s.opts.Parameters)
		mut(b)
		return b
	}
	cases := []struct {
		name string
		body any
	}{
		{"malformed-json", []byte(`{"service_id":`)},
		{"no-body", nil},
		{"missing-service-id", body(func(b map[string]any) { delete(b, "service_id") })},
		{"missing-plan-id", body(func(b map[string]any) { delete(b, "plan_id") })},
		{"unknown-service", body(func(b map[string]any) { b["service_id"] = "osbtest-no-such-service" })},
		{"unknown-plan", body(func(b map[string]any) { b["plan_id"] = "osbtest-no-such-plan" })},
		{"bad-parameters", body(func(b map[string]any) { b["parameters"] = s.opts.BadParameters })},
		{"parameters-not-object", body(func(b map[string]any) { b["parameters"] = "x" })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := s.newInstanceID()
			s.track(id, plan.ID)
			resp := s.c.Do(t, http.MethodPut, InstancePath(id), tc.body)
			expectError(t, "provision", resp, http.StatusBadRequest)
			// Nothing was created.
			expect(t, "deprovision after a refused provision", s.c.Deprovision(t, id, s.svc.ID, plan.ID), http.StatusGone)
			s.untrack(id)
		})
	}
	t.Run("deprovision-without-ids", func(t *testing.T) {
		resp := s.c.Do(t, http.MethodDelete, InstancePath(s.newInstanceID()), nil)
		expectError(t, "deprovision without service_id and plan_id", resp, http.StatusBadRequest)
	})
}

func (s *suite) testNotFound(t *testing.T) {
	id, bid := s.newInstanceID(), "osbtest-"+uuid.NewString()
	plan := s.plan(0)
	expect(t, "deprovision unknown", s.c.Deprovision(t, id, s.svc.ID, plan.ID), http.StatusGone)
	expect(t, "last_operation unknown", s.c.LastOperation(t, id, ""), http.StatusGone)
	expect(t, "unbind unknown", s.c.Unbind(t, id, bid, s.svc.ID, plan.ID), http.StatusGone)
	// The spec lists no status for a bind to a missing instance; 404 (as
	// most brokers answer) or 400 are accepted.
	expect(t, "bind to unknown instance", s.c.Bind(t, id, bid, s.svc.ID, plan.ID, "app-1", nil), http.StatusNotFound, http.StatusBadRequest)
	expect(t, "update unknown", s.c.Update(t, id, s.svc.ID, plan.ID, nil), http.StatusNotFound, http.StatusBadRequest)
	if s.svc.InstancesRetrievable {
		expect(t, "get unknown instance", s.c.Do(t, http.MethodGet, InstancePath(id), nil), http.StatusNotFound)
	}
	if s.svc.BindingsRetrievable {
		expect(t, "get unknown binding", s.c.Do(t, http.MethodGet, BindingPath(id, bid), nil), http.StatusNotFound)
	}
	expect(t, "no such endpoint", s.c.Do(t, http.MethodGet, "/v2/osbtest-nothing", nil), http.StatusNotFound)
}

func (s *suite) testProvision(t *testing.T) {
	id := s.newInstanceID()
	plan := s.plan(0)
	s.provision(t, id, plan, s.opts.Parameters)
	expect(t, "repeated provision", s.c.Provision(t, id, s.svc.ID, plan.ID, s.opts.Parameters), http.StatusOK)
	if s.opts.AltParameters != nil {
		expect(t, "provision with other parameters", s.c.Provision(t, id, s.svc.ID, plan.ID, s.opts.AltParameters), http.StatusConflict)
	}
	if len(s.svc.Plans) > 1 {
		expect(t, "provision with another plan", s.c.Provision(t, id, s.svc.ID, s.plan(1).ID, s.opts.Parameters), http.StatusConflict)
	}
	other := ProvisionBody(s.svc.ID, plan.ID, s.opts.Parameters)
	other["space_guid"] = "space-osbtest-other"
	expect(t, "provision in another space", s.c.Do(t, http.MethodPut, InstancePath(id), other), http.StatusConflict)
	if s.svc.InstancesRetrievable {
		resp := s.c.Do(t, http.MethodGet, InstancePath(id), nil)
		expect(t, "get instance", resp, http.StatusOK)
		if resp.String("plan_id") != plan.ID || resp.String("service_id") != s.svc.ID {
			t.Fatalf("get instance: %s, want plan %s of service %s", resp.Raw, plan.ID, s.svc.ID)
		}
	}
	s.deprovision(t, id, plan)
	expect(t, "repeated deprovision", s.c.Deprovision(t, id, s.svc.ID, plan.ID), http.StatusGone)
	expect(t, "last_operation after deprovision", s.c.LastOperation(t, id, ""), http.StatusGone)
	if s.svc.InstancesRetrievable {
		expect(t, "get deprovisioned instance", s.c.Do(t, http.MethodGet, InstancePath(id), nil), http.StatusNotFound)
	}
	// The id is free again.
	s.provision(t, id, plan, s.opts.Parameters)
	s.deprovision(t, id, plan)
}

func (s *suite) testUpdate(t *testing.T) {
	id := s.newInstanceID()
	plan := s.plan(0)
	s.provision(t, id, plan, s.opts.Parameters)
	expect(t, "update to the same plan", s.c.Update(t, id, s.svc.ID, plan.ID, nil), http.StatusOK)
	expectError(t, "update to an unknown plan", s.c.Update(t, id, s.svc.ID, "osbtest-no-such-plan", nil), http.StatusBadRequest)
	expectError(t, "update with bad parameters", s.c.Update(t, id, s.svc.ID, plan.ID, s.opts.BadParameters), http.StatusBadRequest)
	current := plan
	if len(s.svc.Plans) > 1 && s.svc.PlanUpdateable {
		next := s.plan(1)
		expect(t, "plan change", s.c.Update(t, id, s.svc.ID, next.ID, nil), http.StatusOK)
		current = next
		s.track(id, next.ID)
		if s.svc.InstancesRetrievable {
			resp := s.c.Do(t, http.MethodGet, InstancePath(id), nil)
			if resp.String("plan_id") != next.ID {
				t.Fatalf("after a plan change: %s, want plan %s", resp.Raw, next.ID)
			}
		}
		// A repeat of a provision with the old plan now conflicts.
		expect(t, "provision with the old plan", s.c.Provision(t, id, s.svc.ID, plan.ID, s.opts.Parameters), http.StatusConflict)
	}
	if s.opts.AltParameters != nil {
		expect(t, "parameter change", s.c.Update(t, id, s.svc.ID, current.ID, s.opts.AltParameters), http.StatusOK)
		expect(t, "provision repeated after an update", s.c.Provision(t, id, s.svc.ID, current.ID, s.opts.AltParameters), http.StatusOK)
	}
	s.deprovision(t, id, current)
}

func (s *suite) testBind(t *testing.T) {
	id := s.newInstanceID()
	plan := s.plan(0)
	s.provision(t, id, plan, s.opts.Parameters)
	b1, b2 := "osbtest-"+uuid.NewString(), "osbtest-"+uuid.NewString()

	resp := s.c.Bind(t, id, b1, s.svc.ID, plan.ID, "app-1", nil)
	expect(t, "bind", resp, http.StatusCreated)
	creds1 := resp.Object("credentials")
	s.checkCredentials(t, creds1)

	resp = s.c.Bind(t, id, b1, s.svc.ID, plan.ID, "app-1", nil)
	expect(t, "repeated bind", resp, http.StatusOK)
	if !reflect.DeepEqual(resp.Object("credentials"), creds1) {
		t.Fatalf("repeated bind returned other credentials")
	}
	expect(t, "bind with another app", s.c.Bind(t, id, b1, s.svc.ID, plan.ID, "app-2", nil), http.StatusConflict)
	expectError(t, "bind with bad parameters", s.c.Bind(t, id, b2, s.svc.ID, plan.ID, "app-2", s.opts.BadBindParameters), http.StatusBadRequest)
	expectError(t, "bind with an unknown plan", s.c.Bind(t, id, b2, s.svc.ID, "osbtest-no-such-plan", "app-2", nil), http.StatusBadRequest)
	expectError(t, "bind without ids", s.c.Do(t, http.MethodPut, BindingPath(id, b2), map[string]any{}), http.StatusBadRequest)

	resp = s.c.Bind(t, id, b2, s.svc.ID, plan.ID, "app-2", nil)
	expect(t, "second bind", resp, http.StatusCreated)
	creds2 := resp.Object("credentials")
	s.checkCredentials(t, creds2)
	if reflect.DeepEqual(creds1, creds2) {
		t.Fatal("two bindings got the same credentials")
	}
	if s.svc.BindingsRetrievable {
		resp := s.c.Do(t, http.MethodGet, BindingPath(id, b1), nil)
		expect(t, "get binding", resp, http.StatusOK)
		if !reflect.DeepEqual(resp.Object("credentials"), creds1) {
			t.Fatalf("get binding returned other credentials")
		}
		resp = s.c.Do(t, http.MethodGet, BindingPath(id, b1)+"/last_operation", nil)
		expect(t, "binding last_operation", resp, http.StatusOK)
		if resp.String("state") != osb.StateSucceeded {
			t.Fatalf("binding last_operation: %s", resp.Raw)
		}
	}
	expectError(t, "unbind without ids", s.c.Do(t, http.MethodDelete, BindingPath(id, b1), nil), http.StatusBadRequest)
	resp = s.c.Unbind(t, id, b1, s.svc.ID, plan.ID)
	expect(t, "unbind", resp, http.StatusOK)
	expectJSONObject(t, "unbind", resp)
	expect(t, "repeated unbind", s.c.Unbind(t, id, b1, s.svc.ID, plan.ID), http.StatusGone)
	if s.svc.BindingsRetrievable {
		expect(t, "get deleted binding", s.c.Do(t, http.MethodGet, BindingPath(id, b1), nil), http.StatusNotFound)
		expect(t, "deleted binding last_operation", s.c.Do(t, http.MethodGet, BindingPath(id, b1)+"/last_operation", nil), http.StatusGone)
	}
	expect(t, "unbind under another instance", s.c.Unbind(t, s.newInstanceID(), b2, s.svc.ID, plan.ID), http.StatusGone)
	expect(t, "unbind the second binding", s.c.Unbind(t, id, b2, s.svc.ID, plan.ID), http.StatusOK)
	// A binding id is free again after unbind.
	expect(t, "bind again", s.c.Bind(t, id, b1, s.svc.ID, plan.ID, "app-3", nil), http.StatusCreated)
	// Deprovision removes the remaining binding with the instance.
	s.deprovision(t, id, plan)
	expect(t, "unbind after deprovision", s.c.Unbind(t, id, b1, s.svc.ID, plan.ID), http.StatusGone)
}

func (s *suite) checkCredentials(t *testing.T, creds map[string]any) {
	t.Helper()
	if len(creds) == 0 {
		t.Fatal("binding has no credentials")
	}
	for _, k := range s.opts.RequiredCredentials {
		if v, ok := creds[k]; !ok || v == "" {
			t.Fatalf("credentials lack %q: have %v", k, keys(creds))
		}
	}
	if s.opts.CheckCredentials != nil {
		s.opts.CheckCredentials(t, creds)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (s *suite) testAsync(t *testing.T) {
	id := s.newInstanceID()
	plan := s.plan(0)
	resp := s.c.ProvisionAsync(t, id, s.svc.ID, plan.ID, s.opts.Parameters)
	s.track(id, plan.ID)
	expect(t, "async provision", resp, http.StatusAccepted)
	op := resp.String("operation")

	// While it runs, a repeat is 202 (or 200 once done), another
	// operation is 422 ConcurrencyError (or allowed once done).
	resp = s.c.ProvisionAsync(t, id, s.svc.ID, plan.ID, s.opts.Parameters)
	expect(t, "repeated async provision", resp, http.StatusAccepted, http.StatusOK)
	if resp.Status == http.StatusAccepted && resp.String("operation") != op {
		t.Fatalf("repeated async provision: operation %q, want %q", resp.String("operation"), op)
	}
	resp = s.c.Bind(t, id, "osbtest-"+uuid.NewString(), s.svc.ID, plan.ID, "app-1", nil)
	if resp.Status == http.StatusUnprocessableEntity && resp.String("error") != osb.CodeConcurrencyError {
		t.Fatalf("bind during provision: 422 without ConcurrencyError: %s", resp.Raw)
	}

	resp = s.c.WaitLastOperation(t, id, op, s.opts.AsyncTimeout)
	expect(t, "last_operation", resp, http.StatusOK)
	if resp.String("state") != osb.StateSucceeded {
		t.Fatalf("async provision ended %s", resp.Raw)
	}
	expect(t, "async provision repeated after success", s.c.ProvisionAsync(t, id, s.svc.ID, plan.ID, s.opts.Parameters), http.StatusOK)
	expect(t, "sync provision repeated after success", s.c.Provision(t, id, s.svc.ID, plan.ID, s.opts.Parameters), http.StatusOK)

	current := plan
	if len(s.svc.Plans) > 1 && s.svc.PlanUpdateable {
		next := s.plan(1)
		body := map[string]any{"service_id": s.svc.ID, "plan_id": next.ID}
		resp = s.c.Do(t, http.MethodPatch, InstancePath(id)+"?accepts_incomplete=true", body)
		expect(t, "async update", resp, http.StatusAccepted, http.StatusOK)
		if resp.Status == http.StatusAccepted {
			done := s.c.WaitLastOperation(t, id, resp.String("operation"), s.opts.AsyncTimeout)
			if done.String("state") != osb.StateSucceeded {
				t.Fatalf("async update ended %s", done.Raw)
			}
		}
		current = next
		s.track(id, next.ID)
	}

	resp = s.c.Do(t, http.MethodDelete, InstancePath(id)+query("service_id", s.svc.ID, "plan_id", current.ID, "accepts_incomplete", "true"), nil)
	expect(t, "async deprovision", resp, http.StatusAccepted, http.StatusOK)
	if resp.Status == http.StatusAccepted {
		done := s.c.WaitLastOperation(t, id, resp.String("operation"), s.opts.AsyncTimeout)
		if done.Status != http.StatusGone && done.String("state") != osb.StateSucceeded {
			t.Fatalf("async deprovision ended %d %s", done.Status, done.Raw)
		}
	}
	expect(t, "deprovision after async deprovision", s.c.Deprovision(t, id, s.svc.ID, current.ID), http.StatusGone)
	s.untrack(id)
}

// cleanup deprovisions what a failed test left, retrying while an
// operation is still in progress.
func (s *suite) cleanup(t *testing.T) {
	s.mu.Lock()
	live := make(map[string]string, len(s.live))
	for k, v := range s.live {
		live[k] = v
	}
	s.mu.Unlock()
	for id, planID := range live {
		deadline := time.Now().Add(s.opts.AsyncTimeout)
		for {
			resp := s.c.Deprovision(t, id, s.svc.ID, planID)
			if resp.Status == http.StatusOK || resp.Status == http.StatusGone {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("osbtest cleanup: deprovision %s: %d %s", id, resp.Status, resp.Raw)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

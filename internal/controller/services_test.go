package controller

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/store"
)

// badBroker is a misbehaving OSB broker: each plan misbehaves its own way.
// It records the instances it holds and the deletes it receives.
type badBroker struct {
	srv       *httptest.Server
	release   chan struct{}
	mu        sync.Mutex
	instances map[string]bool
	deletes   map[string]int
	catalog   string
	asyncDone bool // the "asyncok" plan's operations have finished
}

func newBadBroker(t *testing.T) *badBroker {
	t.Helper()
	b := &badBroker{release: make(chan struct{}), instances: map[string]bool{}, deletes: map[string]int{}}
	cat, _ := json.Marshal(osb.Catalog{Services: []osb.Service{{ID: "svc", Name: "flaky", Description: "misbehaves",
		Bindable: true, Tags: []string{"flaky"}, Plans: []osb.Plan{
			{ID: "p-ok", Name: "ok", Description: "works"},
			{ID: "p-slow", Name: "slow", Description: "times out"},
			{ID: "p-500", Name: "boom", Description: "answers 500"},
			{ID: "p-async-fail", Name: "asyncfail", Description: "async operation fails"},
			{ID: "p-async-ok", Name: "asyncok", Description: "async operation succeeds once released"},
		}}}})
	b.catalog = string(cat)
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() { close(b.release); b.srv.Close() })
	return b
}

func (b *badBroker) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	reply := func(status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
	if r.URL.Path == "/v2/catalog" {
		b.mu.Lock()
		cat := b.catalog
		b.mu.Unlock()
		reply(200, cat)
		return
	}
	if len(parts) < 3 {
		reply(404, `{}`)
		return
	}
	id := parts[2]
	switch {
	case len(parts) == 3 && r.Method == http.MethodPut:
		var req osb.ProvisionRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		b.mu.Lock()
		b.instances[id] = true
		b.mu.Unlock()
		switch req.PlanID {
		case "p-slow":
			select {
			case <-b.release:
			case <-r.Context().Done():
			}
		case "p-500":
			reply(500, `{"description":"internal error"}`)
		case "p-async-fail":
			reply(202, `{"operation":"op-fail"}`)
		case "p-async-ok":
			reply(202, `{"operation":"op-ok"}`)
		default:
			reply(201, `{}`)
		}
	case len(parts) == 4 && parts[3] == "last_operation":
		if r.URL.Query().Get("operation") != "op-ok" {
			reply(200, `{"state":"failed","description":"quota exceeded"}`)
			return
		}
		b.mu.Lock()
		done := b.asyncDone
		b.mu.Unlock()
		if done {
			reply(200, `{"state":"succeeded","description":"ready"}`)
		} else {
			reply(200, `{"state":"in progress","description":"creating"}`)
		}
	case len(parts) == 3 && r.Method == http.MethodDelete:
		b.mu.Lock()
		defer b.mu.Unlock()
		b.deletes[id]++
		if !b.instances[id] {
			reply(410, `{}`)
			return
		}
		delete(b.instances, id)
		reply(200, `{}`)
	case len(parts) == 5 && r.Method == http.MethodPut:
		reply(201, `{"credentials":{"uri":"redis://u:p@h:6379/0"}}`)
	case len(parts) == 5 && r.Method == http.MethodDelete:
		reply(200, `{}`)
	default:
		reply(404, `{}`)
	}
}

func (b *badBroker) holds(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.instances[id]
}

func (h *harness) createManaged(name, plan string) (string, jobJSON) {
	h.t.Helper()
	hdr := h.do("POST", "/v3/service_instances", map[string]any{"type": "managed", "name": name,
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": h.defaultSpace()}},
			"service_plan": map[string]any{"data": map[string]string{"guid": plan}}}}, 202, nil)
	j := h.waitJob(hdr.Get("Location"))
	var l list[ref]
	h.do("GET", "/v3/service_instances?names="+name, nil, 200, &l)
	if len(l.Resources) != 1 {
		h.t.Fatalf("instance %s: %+v", name, l)
	}
	return l.Resources[0].GUID, j
}

func TestMisbehavingBroker(t *testing.T) {
	b := newBadBroker(t)
	h := newHarness(t, func(c *Config) {
		c.BrokerPollInterval = 10 * time.Millisecond
		c.BrokerTimeout = 300 * time.Millisecond
	})
	h.registerBroker("flaky", b.srv.URL, "u", "p")

	tests := []struct {
		plan, wantDesc string
		mitigated      bool
	}{
		{"slow", "did not respond within the timeout", true},
		{"boom", "internal error", true},
		{"asyncfail", "quota exceeded", false},
	}
	parent := h.t
	defer func() { h.t = parent }()
	for _, tc := range tests {
		t.Run(tc.plan, func(t *testing.T) {
			h.t = t
			guid, j := h.createManaged("si-"+tc.plan, h.planGUID("flaky", tc.plan))
			if j.State != "FAILED" || len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Detail, tc.wantDesc) {
				t.Fatalf("job = %+v", j)
			}
			si := h.instance(guid)
			if si.LastOperation.Type != "create" || si.LastOperation.State != "failed" || !strings.Contains(si.LastOperation.Description, tc.wantDesc) {
				t.Fatalf("instance = %+v", si)
			}
			if tc.mitigated {
				eventually(t, 10*time.Second, "orphan mitigation", func() bool { return !b.holds(guid) })
			}
			// A failed instance can be bound by nobody, and deleted.
			app := h.createApp("app-" + tc.plan)
			h.fail("POST", "/v3/service_credential_bindings", map[string]any{"type": "app",
				"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}},
					"service_instance": map[string]any{"data": map[string]string{"guid": guid}}}}, 422)
			hdr := h.do("DELETE", "/v3/service_instances/"+guid, nil, 202, nil)
			if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
				t.Fatalf("delete failed instance: %+v", j)
			}
			h.fail("GET", "/v3/service_instances/"+guid, nil, 404)
			if b.holds(guid) {
				t.Fatal("the broker still holds the instance")
			}
		})
	}
	eventually(t, 10*time.Second, "no pending mitigations", func() bool { return h.c.svc.mitigator.Pending() == 0 })
}

func TestMalformedCatalogIsNotRegistered(t *testing.T) {
	b := newBadBroker(t)
	b.catalog = `{"services":[{"id":"x","name":"Bad Name","plans":[]}]}`
	h := newHarness(t, fastBrokerPolls)
	hdr := h.do("POST", "/v3/service_brokers", map[string]any{"name": "bad", "url": b.srv.URL,
		"authentication": map[string]any{"type": "basic", "credentials": map[string]string{"username": "u", "password": "p"}}}, 202, nil)
	j := h.waitJob(hdr.Get("Location"))
	if j.State != "FAILED" || !strings.Contains(j.Errors[0].Detail, "malformed") {
		t.Fatalf("job = %+v", j)
	}
	var l list[ref]
	h.do("GET", "/v3/service_brokers", nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("a broker with a malformed catalog was kept: %+v", l)
	}
	h.fail("POST", "/v3/service_brokers", map[string]any{"name": "x", "url": "ftp://nope",
		"authentication": map[string]any{"type": "basic", "credentials": map[string]string{"username": "u", "password": "p"}}}, 422)
}

func TestUserProvidedService(t *testing.T) {
	h := newHarness(t)
	space := h.defaultSpace()
	var si instanceJSON
	h.do("POST", "/v3/service_instances", map[string]any{"type": "user-provided", "name": "ups",
		"credentials":      map[string]any{"uri": "mysql://u:p@db.example:3306/app", "n": 1},
		"syslog_drain_url": "syslog-tls://logs.example:6514", "route_service_url": "https://rs.example",
		"tags": []string{"mine"}, "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 201, &si)
	if si.Type != "user-provided" || si.LastOperation.State != "succeeded" {
		t.Fatalf("ups = %+v", si)
	}
	h.fail("POST", "/v3/service_instances", map[string]any{"type": "user-provided", "name": "ups",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 422)
	h.fail("POST", "/v3/service_instances", map[string]any{"type": "user-provided", "name": "bad-rs",
		"route_service_url": "http://insecure", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 422)
	var creds map[string]any
	h.do("GET", "/v3/service_instances/"+si.GUID+"/credentials", nil, 200, &creds)
	if creds["uri"] != "mysql://u:p@db.example:3306/app" {
		t.Fatalf("credentials = %v", creds)
	}
	app := h.createApp("upsapp")
	var binding ref
	h.do("POST", "/v3/service_credential_bindings", map[string]any{"type": "app",
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}},
			"service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}}, 201, &binding)
	// Credentials change: the binding follows the instance.
	h.do("PATCH", "/v3/service_instances/"+si.GUID, map[string]any{"name": "ups2",
		"credentials": map[string]any{"uri": "postgres://u:p@db2.example:5432/app"}}, 200, nil)
	var env struct {
		System struct {
			VCAPServices map[string][]struct {
				vcapEntry
				SyslogDrainURL *string `json:"syslog_drain_url"`
			} `json:"VCAP_SERVICES"`
			DatabaseURL string `json:"DATABASE_URL"`
		} `json:"system_env_json"`
	}
	h.do("GET", "/v3/apps/"+app+"/env", nil, 200, &env)
	ups := env.System.VCAPServices["user-provided"]
	if len(ups) != 1 || ups[0].Name != "ups2" || ups[0].Label != "user-provided" || ups[0].Plan != "" ||
		ups[0].Credentials["uri"] != "postgres://u:p@db2.example:5432/app" || ups[0].SyslogDrainURL == nil ||
		*ups[0].SyslogDrainURL != "syslog-tls://logs.example:6514" || !contains(ups[0].Tags, "mine") || ups[0].BindingGUID != binding.GUID {
		t.Fatalf("VCAP_SERVICES = %+v", env.System.VCAPServices)
	}
	if env.System.DatabaseURL != "postgres://u:p@db2.example:5432/app" {
		t.Errorf("DATABASE_URL = %q", env.System.DatabaseURL)
	}
	h.fail("DELETE", "/v3/service_instances/"+si.GUID, nil, 422)

	// The cf CLI's services list names bound apps from include=app.
	var bl struct {
		Resources []ref `json:"resources"`
		Included  struct {
			Apps []struct {
				GUID          string `json:"guid"`
				Name          string `json:"name"`
				Relationships struct {
					Space struct {
						Data ref `json:"data"`
					} `json:"space"`
				} `json:"relationships"`
			} `json:"apps"`
		} `json:"included"`
	}
	h.do("GET", "/v3/service_credential_bindings?service_instance_guids="+si.GUID+"&include=app", nil, 200, &bl)
	if len(bl.Resources) != 1 || len(bl.Included.Apps) != 1 || bl.Included.Apps[0].Name != "upsapp" || bl.Included.Apps[0].Relationships.Space.Data.GUID != space {
		t.Fatalf("bindings with include=app: %+v", bl)
	}

	// Deleting the app unbinds it.
	hdr := h.do("DELETE", "/v3/apps/"+app, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("delete app: %+v", j)
	}
	if bs, _ := h.store.ServiceBindings().List(context.Background(), store.ListOptions{}); len(bs) != 0 {
		t.Fatalf("bindings left after app delete: %d", len(bs))
	}
	h.do("DELETE", "/v3/service_instances/"+si.GUID, nil, 204, nil)
	h.fail("GET", "/v3/service_instances/"+si.GUID, nil, 404)
}

func TestBrokerPasswordSealing(t *testing.T) {
	s, err := newServices(Config{DataDir: t.TempDir()}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.seal("broker-1", "hunter2")
	if err != nil || strings.Contains(sealed, "hunter2") {
		t.Fatalf("seal = %q, %v", sealed, err)
	}
	if got, err := s.open("broker-1", sealed); err != nil || got != "hunter2" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open("broker-2", sealed); err == nil {
		t.Fatal("a sealed password opened for another broker")
	}
	if _, err := s.open("broker-1", "bm9wZQ=="); err == nil {
		t.Fatal("garbage opened")
	}
}

func TestManifestServices(t *testing.T) {
	b := newBadBroker(t)
	h := newHarness(t, fastBrokerPolls)
	h.registerBroker("flaky", b.srv.URL, "u", "p")
	space := h.defaultSpace()
	h.createManaged("db", h.planGUID("flaky", "ok"))
	h.do("POST", "/v3/service_instances", map[string]any{"type": "user-provided", "name": "ext",
		"credentials":   map[string]any{"uri": "redis://h:6379"},
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 201, nil)

	j := h.applyManifest("applications:\n- name: mapp\n  no-route: true\n  services:\n  - ext\n  - name: db\n    binding_name: main-db\n    parameters: {role: rw}\n")
	if j.State != "COMPLETE" {
		t.Fatalf("apply_manifest: %+v", j)
	}
	app := h.appByName("mapp")
	var env struct {
		System struct {
			VCAPServices map[string][]vcapEntry `json:"VCAP_SERVICES"`
			RedisURL     string                 `json:"REDIS_URL"`
		} `json:"system_env_json"`
	}
	h.do("GET", "/v3/apps/"+app.GUID+"/env", nil, 200, &env)
	flaky, ups := env.System.VCAPServices["flaky"], env.System.VCAPServices["user-provided"]
	if len(flaky) != 1 || flaky[0].Name != "main-db" || flaky[0].BindingName == nil || *flaky[0].BindingName != "main-db" ||
		flaky[0].InstanceName != "db" || len(ups) != 1 || ups[0].Name != "ext" {
		t.Fatalf("VCAP_SERVICES = %+v", env.System.VCAPServices)
	}
	if env.System.RedisURL != "redis://h:6379" {
		t.Errorf("REDIS_URL = %q, want the first bound redis uri (ext's)", env.System.RedisURL)
	}
	// Applying again binds nothing twice.
	if j := h.applyManifest("applications:\n- name: mapp\n  no-route: true\n  services: [ext, db]\n"); j.State != "COMPLETE" {
		t.Fatalf("second apply: %+v", j)
	}
	if bs, _ := h.store.ServiceBindings().List(context.Background(), store.ListOptions{AppGUIDs: []string{app.GUID}}); len(bs) != 2 {
		t.Fatalf("bindings = %d, want 2", len(bs))
	}
	// The cf CLI's services list: plan, offering and broker names.
	var il struct {
		Included struct {
			Plans   []struct{ Name string } `json:"service_plans"`
			Offers  []struct{ Name string } `json:"service_offerings"`
			Brokers []struct{ Name string } `json:"service_brokers"`
		} `json:"included"`
	}
	h.do("GET", "/v3/service_instances?space_guids="+space+"&fields[service_plan]=guid,name,relationships.service_offering"+
		"&fields[service_plan.service_offering]=guid,name,relationships.service_broker&fields[service_plan.service_offering.service_broker]=guid,name", nil, 200, &il)
	if len(il.Included.Plans) != 1 || len(il.Included.Offers) != 1 || len(il.Included.Brokers) != 1 || il.Included.Brokers[0].Name != "flaky" {
		t.Fatalf("service instance includes: %+v", il.Included)
	}
	j = h.applyManifest("applications:\n- name: mapp\n  services: [missing]\n")
	if j.State != "FAILED" || !strings.Contains(j.Errors[0].Detail, "Service instance 'missing' not found") {
		t.Fatalf("apply with a missing service: %+v", j)
	}
}

func TestRestartResumesServiceOperation(t *testing.T) {
	b := newBadBroker(t)
	h := newHarness(t, fastBrokerPolls)
	dataDir := t.TempDir()
	h.stopFn()
	h.start(dataDir, fastBrokerPolls)
	h.registerBroker("flaky", b.srv.URL, "u", "p")
	hdr := h.do("POST", "/v3/service_instances", map[string]any{"type": "managed", "name": "slowdb",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": h.defaultSpace()}},
			"service_plan": map[string]any{"data": map[string]string{"guid": h.planGUID("flaky", "asyncok")}}}}, 202, nil)
	_, jobGUID, _ := strings.Cut(hdr.Get("Location"), "/v3/jobs/")
	var l list[instanceJSON]
	eventually(t, 10*time.Second, "the broker operation to be polled", func() bool {
		var j jobJSON
		h.do("GET", "/v3/jobs/"+jobGUID, nil, 200, &j)
		h.do("GET", "/v3/service_instances?names=slowdb", nil, 200, &l)
		return j.State == "POLLING" && len(l.Resources) == 1 && l.Resources[0].LastOperation.Description == "creating"
	})
	// The controller goes away mid-operation; the broker finishes.
	h.stopFn()
	b.mu.Lock()
	b.asyncDone = true
	b.mu.Unlock()
	h.start(dataDir, fastBrokerPolls)
	if j := h.waitJob("/v3/jobs/" + jobGUID); j.State != "COMPLETE" || len(j.Errors) != 0 {
		t.Fatalf("resumed job: %+v", j)
	}
	si := h.instance(l.Resources[0].GUID)
	if si.LastOperation.State != "succeeded" || si.LastOperation.Description != "ready" {
		t.Fatalf("resumed instance: %+v", si)
	}
}

func TestPlanVisibility(t *testing.T) {
	b := newBadBroker(t)
	h := newHarness(t, fastBrokerPolls)
	h.registerBroker("flaky", b.srv.URL, "u", "p")
	plan := h.planGUID("flaky", "ok")
	var other ref
	h.do("POST", "/v3/organizations", map[string]any{"name": "other-org"}, 201, &other)

	var vis struct {
		Type          string `json:"type"`
		Organizations []ref  `json:"organizations"`
	}
	h.do("GET", "/v3/service_plans/"+plan+"/visibility", nil, 200, &vis)
	if vis.Type != "public" {
		t.Fatalf("new plans are public: %+v", vis)
	}
	h.do("PATCH", "/v3/service_plans/"+plan+"/visibility", map[string]any{"type": "organization",
		"organizations": []map[string]string{{"guid": other.GUID}}}, 200, &vis)
	if vis.Type != "organization" || len(vis.Organizations) != 1 || vis.Organizations[0].Name != "other-org" {
		t.Fatalf("visibility: %+v", vis)
	}
	var l list[ref]
	h.do("GET", "/v3/service_plans?names=ok&space_guids="+h.defaultSpace(), nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("a plan visible to another org is listed in the default space: %+v", l)
	}
	h.do("GET", "/v3/service_plans?names=ok&organization_guids="+other.GUID, nil, 200, &l)
	if len(l.Resources) != 1 {
		t.Fatalf("plan not listed for its org: %+v", l)
	}
	_, _, detail := h.fail("POST", "/v3/service_instances", map[string]any{"type": "managed", "name": "hidden",
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": h.defaultSpace()}},
			"service_plan": map[string]any{"data": map[string]string{"guid": plan}}}}, 422)
	if !strings.Contains(detail, "Invalid service plan") {
		t.Fatalf("create with an invisible plan: %q", detail)
	}
	h.fail("PATCH", "/v3/service_plans/"+plan+"/visibility", map[string]any{"type": "everyone"}, 422)
	h.do("PATCH", "/v3/service_plans/"+plan+"/visibility", map[string]any{"type": "public"}, 200, nil)
	h.planGUID("flaky", "ok")
}

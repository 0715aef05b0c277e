package brokerkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/osbtest"
)

type rec struct {
	instanceID string
	pending    bool
	data       []byte
}

// memBackend is a RecordBackend in maps; memStore adds the list methods.
type memBackend struct {
	mu   sync.Mutex
	recs map[brokerkit.Kind]map[string]rec
}

func (m *memBackend) Insert(_ context.Context, k brokerkit.Kind, id, instanceID string, pending bool, data []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[k][id]; ok {
		return false, nil
	}
	m.recs[k][id] = rec{instanceID, pending, data}
	return true, nil
}

func (m *memBackend) Update(_ context.Context, k brokerkit.Kind, id string, pending bool, data []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[k][id]
	if !ok {
		return false, nil
	}
	r.pending, r.data = pending, data
	m.recs[k][id] = r
	return true, nil
}

func (m *memBackend) Get(_ context.Context, k brokerkit.Kind, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[k][id]
	if !ok {
		return nil, brokerkit.ErrNoRecord
	}
	return r.data, nil
}

func (m *memBackend) Delete(_ context.Context, k brokerkit.Kind, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs[k], id)
	return nil
}

func (m *memBackend) list(k brokerkit.Kind, keep func(rec) bool) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.recs[k]))
	for id, r := range m.recs[k] {
		if keep(r) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(m.recs[k][id].data)
	}
	return out
}

type memStore struct {
	brokerkit.Records
	m *memBackend
}

func newMemStore() *memStore {
	m := &memBackend{recs: map[brokerkit.Kind]map[string]rec{brokerkit.Instances: {}, brokerkit.Bindings: {}}}
	return &memStore{Records: brokerkit.Records{Backend: m}, m: m}
}

func (s *memStore) ListBindings(_ context.Context, instanceID string) ([]*osb.Binding, error) {
	return brokerkit.Decode[osb.Binding](s.m.list(brokerkit.Bindings, func(r rec) bool { return r.instanceID == instanceID }))
}

func (s *memStore) ListPending(context.Context) ([]*osb.Instance, []*osb.Binding, error) {
	pending := func(r rec) bool { return r.pending }
	insts, err := brokerkit.Decode[osb.Instance](s.m.list(brokerkit.Instances, pending))
	if err != nil {
		return nil, nil, err
	}
	binds, err := brokerkit.Decode[osb.Binding](s.m.list(brokerkit.Bindings, pending))
	return insts, binds, err
}

func TestRecordsConformance(t *testing.T) {
	s := newMemStore()
	osbtest.RunStore(t, func(*testing.T) osb.Store { return s })
}

func TestRecordsErrors(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	if _, err := s.GetInstance(ctx, "missing"); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if err := s.UpdateBinding(ctx, &osb.Binding{ID: "missing"}); !errors.Is(err, osb.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := s.CreateInstance(ctx, &osb.Instance{ID: "i"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInstance(ctx, &osb.Instance{ID: "i"}); !errors.Is(err, osb.ErrExists) {
		t.Fatalf("create twice: %v", err)
	}
	s.m.recs[brokerkit.Instances]["bad"] = rec{data: []byte("{")}
	if _, err := s.GetInstance(ctx, "bad"); err == nil || !strings.Contains(err.Error(), "decode record bad") {
		t.Fatalf("get malformed: %v", err)
	}
	if _, err := brokerkit.Decode[osb.Instance]([]string{`[]`}); err == nil {
		t.Fatal("decode of a non-object succeeded")
	}
}

var errSentinel = errors.New("invalid test config")

func TestCommonCheck(t *testing.T) {
	ok := brokerkit.Common{AdminURL: "x://y", Username: "u", Password: "p", PublicPort: 0, MaxAdminConns: 1}
	if err := brokerkit.Invalid(errSentinel, ok.Check()); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, c := range map[string]brokerkit.Common{
		"no-admin-url":   {Username: "u", Password: "p", MaxAdminConns: 1},
		"no-password":    {AdminURL: "x://y", Username: "u", MaxAdminConns: 1},
		"port-too-large": {AdminURL: "x://y", Username: "u", Password: "p", PublicPort: 65536, MaxAdminConns: 1},
		"no-conns":       {AdminURL: "x://y", Username: "u", Password: "p"},
	} {
		if err := brokerkit.Invalid(errSentinel, c.Check()); !errors.Is(err, errSentinel) {
			t.Errorf("%s: err %v, want the sentinel", name, err)
		}
	}
}

func TestPublicEndpoint(t *testing.T) {
	cases := []struct {
		name     string
		host     string
		port     int
		addr     string
		tcp      bool
		wantHost string
		wantPort int
		bad      bool
	}{
		{name: "from-addr", addr: "10.0.0.1:5432", tcp: true, wantHost: "10.0.0.1", wantPort: 5432},
		{name: "ipv6", addr: "[::1]:6379", tcp: true, wantHost: "::1", wantPort: 6379},
		{name: "override", host: "db.example", port: 15432, addr: "10.0.0.1:5432", tcp: true, wantHost: "db.example", wantPort: 15432},
		{name: "host-only-override", host: "db.example", addr: "10.0.0.1:5432", tcp: true, wantHost: "db.example", wantPort: 5432},
		{name: "unix-socket", addr: "/run/mysqld.sock", bad: true},
		{name: "not-tcp", addr: "10.0.0.1:3306", tcp: false, bad: true},
		{name: "not-tcp-overridden", host: "h", port: 1, addr: "/sock", wantHost: "h", wantPort: 1},
	}
	for _, tc := range cases {
		h, p, err := brokerkit.PublicEndpoint(tc.host, tc.port, tc.addr, tc.tcp, errSentinel)
		if tc.bad {
			if !errors.Is(err, errSentinel) {
				t.Errorf("%s: err %v, want the sentinel", tc.name, err)
			}
			continue
		}
		if err != nil || h != tc.wantHost || p != tc.wantPort {
			t.Errorf("%s: %q %d %v, want %q %d", tc.name, h, p, err, tc.wantHost, tc.wantPort)
		}
	}
}

func TestPlans(t *testing.T) {
	type plan struct{ id, name string }
	ps := brokerkit.NewPlans([]plan{{"a", "small"}, {"b", "large"}}, func(p plan) string { return p.id })
	if p, err := ps.Get("b"); err != nil || p.name != "large" {
		t.Fatalf("get b: %v %v", p, err)
	}
	if _, err := ps.Get("c"); !errors.Is(err, osb.ErrBadRequest) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestNoParameters(t *testing.T) {
	for raw, ok := range map[string]bool{`{}`: true, ``: true, `{"x":1}`: false} {
		if err := brokerkit.NoParameters(json.RawMessage(raw)); (err == nil) != ok {
			t.Errorf("%q: err %v", raw, err)
		}
	}
}

func TestSQLCredentials(t *testing.T) {
	c := brokerkit.SQLCredentials("mysql", "reconnect=true", "mysql", "::1", 3306, "si_x", "b_y", "p&w")
	want := map[string]any{
		"uri":      "mysql://b_y:p&w@[::1]:3306/si_x?reconnect=true",
		"jdbcUrl":  "jdbc:mysql://[::1]:3306/si_x?password=p%26w&user=b_y",
		"hostname": "::1", "port": 3306, "name": "si_x", "database": "si_x", "username": "b_y", "password": "p&w",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	if len(c) != len(want) {
		t.Errorf("credentials %v", c)
	}
	if u := brokerkit.SQLCredentials("postgres", "", "postgresql", "h", 5432, "d", "u", "p")["uri"]; u != "postgres://u:p@h:5432/d" {
		t.Errorf("uri without query: %v", u)
	}
}

func TestCatalog(t *testing.T) {
	c := brokerkit.Catalog(brokerkit.Service{ID: "s", Name: "svc", Description: "d", Tags: []string{"t"},
		DisplayName: "Svc", LongDescription: "long", DocumentationURL: "https://docs"},
		[]osb.Plan{brokerkit.FreePlan("p", "small", "a plan", "Svc small", "one", "two")})
	if len(c.Services) != 1 {
		t.Fatalf("services %v", c.Services)
	}
	s := c.Services[0]
	if !s.Bindable || s.PlanUpdateable || !s.InstancesRetrievable || !s.BindingsRetrievable ||
		s.Metadata["providerDisplayName"] != "ingot" || s.Metadata["documentationUrl"] != "https://docs" {
		t.Fatalf("service %+v", s)
	}
	p := s.Plans[0]
	if p.Free == nil || !*p.Free || p.Metadata["displayName"] != "Svc small" || len(p.Metadata["bullets"].([]string)) != 2 {
		t.Fatalf("plan %+v", p)
	}
}

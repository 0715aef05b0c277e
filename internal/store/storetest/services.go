package storetest

import (
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

func brokerMeta(o *store.ServiceBroker) store.Meta     { return o.Meta }
func offeringMeta(o *store.ServiceOffering) store.Meta { return o.Meta }
func planMeta(o *store.ServicePlan) store.Meta         { return o.Meta }
func instanceMeta(o *store.ServiceInstance) store.Meta { return o.Meta }
func bindingMeta(o *store.ServiceBinding) store.Meta   { return o.Meta }

func testServiceBroker(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	b1 := &store.ServiceBroker{Meta: store.Meta{GUID: newGUID()}, Name: "pg", URL: "http://127.0.0.1:9000",
		Username: "admin", PasswordSealed: "c2VhbGVk"}
	b2 := &store.ServiceBroker{Meta: store.Meta{GUID: newGUID()}, Name: "space-broker", URL: "https://b.example",
		Username: "u", PasswordSealed: "eA==", SpaceGUID: newGUID()}
	for _, b := range []*store.ServiceBroker{b1, b2} {
		mustNil(t, s.ServiceBrokers().Create(ctx, b), "create broker")
		checkCreatedMeta(t, b.Meta, before)
		got, err := s.ServiceBrokers().Get(ctx, b.GUID)
		mustNil(t, err, "get broker")
		mustEqual(t, got, b, "broker")
	}
	dup := &store.ServiceBroker{Meta: store.Meta{GUID: newGUID()}, Name: "pg", URL: "http://x"}
	mustIs(t, s.ServiceBrokers().Create(ctx, dup), store.ErrDuplicate, "duplicate broker name")

	rs, err := s.ServiceBrokers().List(ctx, store.ListOptions{Names: []string{"space-broker"}})
	mustNil(t, err, "list brokers by name")
	mustEqual(t, guids(t, rs, brokerMeta), []string{b2.GUID}, "brokers by name")
	rs, err = s.ServiceBrokers().List(ctx, store.ListOptions{SpaceGUIDs: []string{""}})
	mustNil(t, err, "list global brokers")
	mustEqual(t, guids(t, rs, brokerMeta), []string{b1.GUID}, "global brokers")

	old := b1.Meta
	b1.URL, b1.PasswordSealed = "http://127.0.0.1:9001", "bmV3"
	mustNil(t, s.ServiceBrokers().Update(ctx, b1), "update broker")
	checkUpdatedMeta(t, old, b1.Meta)
	got, err := s.ServiceBrokers().Get(ctx, b1.GUID)
	mustNil(t, err, "get updated broker")
	mustEqual(t, got, b1, "updated broker")
	stale := *got
	stale.Version = old.Version
	mustIs(t, s.ServiceBrokers().Update(ctx, &stale), store.ErrConflict, "stale broker update")

	mustNil(t, s.ServiceBrokers().Delete(ctx, b2.GUID), "delete broker")
	_, err = s.ServiceBrokers().Get(ctx, b2.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted broker")
	mustIs(t, s.ServiceBrokers().Delete(ctx, b2.GUID), store.ErrNotFound, "delete deleted broker")
}

func testServiceOfferingAndPlan(t *testing.T, s store.Store) {
	ctx := t.Context()
	broker1, broker2 := newGUID(), newGUID()
	o1 := &store.ServiceOffering{Meta: store.Meta{GUID: newGUID()}, Name: "postgres", BrokerGUID: broker1,
		CatalogID: "svc-pg", Description: "PostgreSQL databases", Available: true, Bindable: true,
		PlanUpdateable: true, InstancesRetrievable: true, BindingsRetrievable: true, Tags: []string{"postgres", "sql"},
		Requires: []string{}, Shareable: false, DocumentationURL: "https://docs", Metadata: `{"displayName":"PG"}`}
	o2 := &store.ServiceOffering{Meta: store.Meta{GUID: newGUID()}, Name: "redis", BrokerGUID: broker2,
		CatalogID: "svc-redis", Available: true, Bindable: true}
	for _, o := range []*store.ServiceOffering{o1, o2} {
		mustNil(t, s.ServiceOfferings().Create(ctx, o), "create offering")
		got, err := s.ServiceOfferings().Get(ctx, o.GUID)
		mustNil(t, err, "get offering")
		mustEqual(t, got, o, "offering")
	}
	dup := &store.ServiceOffering{Meta: store.Meta{GUID: newGUID()}, Name: "other", BrokerGUID: broker1, CatalogID: "svc-pg"}
	mustIs(t, s.ServiceOfferings().Create(ctx, dup), store.ErrDuplicate, "duplicate catalog id in broker")
	other := &store.ServiceOffering{Meta: store.Meta{GUID: newGUID()}, Name: "postgres", BrokerGUID: broker2, CatalogID: "svc-pg"}
	mustNil(t, s.ServiceOfferings().Create(ctx, other), "same catalog id in another broker")
	rs, err := s.ServiceOfferings().List(ctx, store.ListOptions{ServiceBrokerGUIDs: []string{broker2}})
	mustNil(t, err, "list offerings by broker")
	mustEqual(t, guids(t, rs, offeringMeta), []string{o2.GUID, other.GUID}, "offerings by broker")
	rs, err = s.ServiceOfferings().List(ctx, store.ListOptions{Names: []string{"postgres"}})
	mustNil(t, err, "list offerings by name")
	mustEqual(t, guids(t, rs, offeringMeta), []string{o1.GUID, other.GUID}, "offerings by name")
	o1.Available = false
	mustNil(t, s.ServiceOfferings().Update(ctx, o1), "update offering")
	got, err := s.ServiceOfferings().Get(ctx, o1.GUID)
	mustNil(t, err, "get updated offering")
	mustEqual(t, got, o1, "updated offering")

	org := newGUID()
	p1 := &store.ServicePlan{Meta: store.Meta{GUID: newGUID()}, Name: "small", OfferingGUID: o1.GUID, CatalogID: "plan-small",
		Description: "10 connections", Free: true, Bindable: true, Available: true, VisibilityType: store.VisibilityPublic,
		MaintenanceVersion: "1.0.0", Schemas: `{"service_instance":{}}`, Metadata: `{"bullets":["x"]}`}
	p2 := &store.ServicePlan{Meta: store.Meta{GUID: newGUID()}, Name: "large", OfferingGUID: o1.GUID, CatalogID: "plan-large",
		Available: true, VisibilityType: store.VisibilityOrganization, VisibleOrgGUIDs: []string{org}}
	p3 := &store.ServicePlan{Meta: store.Meta{GUID: newGUID()}, Name: "small", OfferingGUID: o2.GUID, CatalogID: "plan-small",
		VisibilityType: store.VisibilityAdmin}
	for _, p := range []*store.ServicePlan{p1, p2, p3} {
		mustNil(t, s.ServicePlans().Create(ctx, p), "create plan")
		got, err := s.ServicePlans().Get(ctx, p.GUID)
		mustNil(t, err, "get plan")
		mustEqual(t, got, p, "plan")
	}
	dupPlan := &store.ServicePlan{Meta: store.Meta{GUID: newGUID()}, Name: "x", OfferingGUID: o1.GUID, CatalogID: "plan-small"}
	mustIs(t, s.ServicePlans().Create(ctx, dupPlan), store.ErrDuplicate, "duplicate plan catalog id")
	ps, err := s.ServicePlans().List(ctx, store.ListOptions{ServiceOfferingGUIDs: []string{o1.GUID}})
	mustNil(t, err, "list plans by offering")
	mustEqual(t, guids(t, ps, planMeta), []string{p1.GUID, p2.GUID}, "plans by offering")
	ps, err = s.ServicePlans().List(ctx, store.ListOptions{Names: []string{"small"}})
	mustNil(t, err, "list plans by name")
	mustEqual(t, guids(t, ps, planMeta), []string{p1.GUID, p3.GUID}, "plans by name")
	p2.VisibleOrgGUIDs = append(p2.VisibleOrgGUIDs, newGUID())
	mustNil(t, s.ServicePlans().Update(ctx, p2), "update plan visibility")
	gotPlan, err := s.ServicePlans().Get(ctx, p2.GUID)
	mustNil(t, err, "get updated plan")
	mustEqual(t, gotPlan, p2, "updated plan")
	mustNil(t, s.ServicePlans().Delete(ctx, p3.GUID), "delete plan")
	_, err = s.ServicePlans().Get(ctx, p3.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted plan")
}

func testServiceInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	space1, space2, plan := newGUID(), newGUID(), newGUID()
	opAt := time.Date(2026, 11, 24, 20, 0, 0, 123456789, time.UTC)
	si1 := &store.ServiceInstance{Meta: store.Meta{GUID: newGUID()}, Name: "db", SpaceGUID: space1,
		Type: store.InstanceManaged, PlanGUID: plan, Tags: []string{"primary"}, DashboardURL: "http://dash",
		Parameters: `{"size":1}`, LastOperation: store.LastOperation{Type: store.OpCreate, State: store.OpInProgress,
			Description: "creating database", BrokerOperation: "op-123", JobGUID: newGUID(), UpdatedAt: opAt}}
	si2 := &store.ServiceInstance{Meta: store.Meta{GUID: newGUID()}, Name: "ups", SpaceGUID: space1,
		Type: store.InstanceUserProvided, Credentials: map[string]any{"uri": "postgres://u:p@h/db", "port": float64(5432),
			"nested": map[string]any{"a": "b"}}, SyslogDrainURL: "syslog://logs:514", RouteServiceURL: "https://rs",
		LastOperation: store.LastOperation{Type: store.OpCreate, State: store.OpSucceeded}}
	si3 := &store.ServiceInstance{Meta: store.Meta{GUID: newGUID()}, Name: "db", SpaceGUID: space2,
		Type: store.InstanceManaged, PlanGUID: plan}
	for _, si := range []*store.ServiceInstance{si1, si2, si3} {
		mustNil(t, s.ServiceInstances().Create(ctx, si), "create service instance")
		got, err := s.ServiceInstances().Get(ctx, si.GUID)
		mustNil(t, err, "get service instance")
		mustEqual(t, got, si, "service instance")
	}
	dup := &store.ServiceInstance{Meta: store.Meta{GUID: newGUID()}, Name: "db", SpaceGUID: space1, Type: store.InstanceUserProvided}
	mustIs(t, s.ServiceInstances().Create(ctx, dup), store.ErrDuplicate, "duplicate instance name in space")
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.ServiceInstances().List(ctx, opt)
		mustNil(t, err, "list service instances")
		return guids(t, rs, instanceMeta)
	}
	mustEqual(t, list(store.ListOptions{SpaceGUIDs: []string{space1}}), []string{si1.GUID, si2.GUID}, "instances by space")
	mustEqual(t, list(store.ListOptions{Names: []string{"db"}}), []string{si1.GUID, si3.GUID}, "instances by name")
	mustEqual(t, list(store.ListOptions{Types: []string{store.InstanceUserProvided}}), []string{si2.GUID}, "instances by type")
	mustEqual(t, list(store.ListOptions{ServicePlanGUIDs: []string{plan}, SpaceGUIDs: []string{space2}}), []string{si3.GUID}, "by plan and space")

	old := si1.Meta
	si1.Name = "db2"
	si1.LastOperation = store.LastOperation{Type: store.OpCreate, State: store.OpSucceeded, Description: "done"}
	mustNil(t, s.ServiceInstances().Update(ctx, si1), "update service instance")
	checkUpdatedMeta(t, old, si1.Meta)
	got, err := s.ServiceInstances().Get(ctx, si1.GUID)
	mustNil(t, err, "get updated instance")
	mustEqual(t, got, si1, "updated instance")
	si2.Name = "db2"
	mustIs(t, s.ServiceInstances().Update(ctx, si2), store.ErrDuplicate, "rename onto a taken name")
	mustNil(t, s.ServiceInstances().Delete(ctx, si3.GUID), "delete instance")
	_, err = s.ServiceInstances().Get(ctx, si3.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted instance")
}

func testServiceBinding(t *testing.T, s store.Store) {
	ctx := t.Context()
	si1, si2, app1, app2 := newGUID(), newGUID(), newGUID(), newGUID()
	b1 := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingApp, ServiceInstanceGUID: si1,
		AppGUID: app1, Credentials: map[string]any{"uri": "postgres://x", "password": "secret"},
		SyslogDrainURL: "syslog://d", VolumeMounts: `[]`, Parameters: `{"role":"ro"}`,
		LastOperation: store.LastOperation{Type: store.OpCreate, State: store.OpSucceeded}}
	b2 := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingApp, Name: "named",
		ServiceInstanceGUID: si2, AppGUID: app1,
		LastOperation: store.LastOperation{Type: store.OpCreate, State: store.OpInProgress, BrokerOperation: "bind-1"}}
	k1 := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingKey, Name: "key1",
		ServiceInstanceGUID: si1, Credentials: map[string]any{"uri": "postgres://k"}}
	k2 := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingKey, Name: "key2",
		ServiceInstanceGUID: si1}
	for _, b := range []*store.ServiceBinding{b1, b2, k1, k2} {
		mustNil(t, s.ServiceBindings().Create(ctx, b), "create binding")
		got, err := s.ServiceBindings().Get(ctx, b.GUID)
		mustNil(t, err, "get binding")
		mustEqual(t, got, b, "binding")
	}
	again := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingApp, ServiceInstanceGUID: si1, AppGUID: app1}
	mustIs(t, s.ServiceBindings().Create(ctx, again), store.ErrDuplicate, "app bound twice to one instance")
	keyAgain := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingKey, Name: "key1", ServiceInstanceGUID: si1}
	mustIs(t, s.ServiceBindings().Create(ctx, keyAgain), store.ErrDuplicate, "key name taken in instance")
	other := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingApp, ServiceInstanceGUID: si1, AppGUID: app2}
	mustNil(t, s.ServiceBindings().Create(ctx, other), "second app binds the instance")
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.ServiceBindings().List(ctx, opt)
		mustNil(t, err, "list bindings")
		return guids(t, rs, bindingMeta)
	}
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app1}}), []string{b1.GUID, b2.GUID}, "bindings by app")
	mustEqual(t, list(store.ListOptions{ServiceInstanceGUIDs: []string{si1}, Types: []string{store.BindingKey}}),
		[]string{k1.GUID, k2.GUID}, "keys of instance")
	mustEqual(t, list(store.ListOptions{ServiceInstanceGUIDs: []string{si1}, Names: []string{"key2"}}), []string{k2.GUID}, "key by name")

	old := b2.Meta
	b2.Credentials = map[string]any{"uri": "redis://y"}
	b2.LastOperation = store.LastOperation{Type: store.OpCreate, State: store.OpSucceeded}
	mustNil(t, s.ServiceBindings().Update(ctx, b2), "update binding")
	checkUpdatedMeta(t, old, b2.Meta)
	got, err := s.ServiceBindings().Get(ctx, b2.GUID)
	mustNil(t, err, "get updated binding")
	mustEqual(t, got, b2, "updated binding")
	mustNil(t, s.ServiceBindings().Delete(ctx, b1.GUID), "delete binding")
	_, err = s.ServiceBindings().Get(ctx, b1.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted binding")
	rebind := &store.ServiceBinding{Meta: store.Meta{GUID: newGUID()}, Type: store.BindingApp, ServiceInstanceGUID: si1, AppGUID: app1}
	mustNil(t, s.ServiceBindings().Create(ctx, rebind), "rebind after unbind")
}

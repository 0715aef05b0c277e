package storetest

import (
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

func orgMeta(o *store.Org) store.Meta         { return o.Meta }
func spaceMeta(o *store.Space) store.Meta     { return o.Meta }
func domainMeta(o *store.Domain) store.Meta   { return o.Meta }
func appMeta(o *store.App) store.Meta         { return o.Meta }
func processMeta(o *store.Process) store.Meta { return o.Meta }
func packageMeta(o *store.Package) store.Meta { return o.Meta }

func testOrgCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	start := time.Now()
	o := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "acme"}
	mustNil(t, s.Orgs().Create(ctx, o), "create org")
	checkCreatedMeta(t, o.Meta, start)

	got, err := s.Orgs().Get(ctx, o.GUID)
	mustNil(t, err, "get org")
	mustEqual(t, got, o, "org after create")

	before := got.Meta
	got.Name = "acme-renamed"
	got.Suspended = true
	mustNil(t, s.Orgs().Update(ctx, got), "update org")
	checkUpdatedMeta(t, before, got.Meta)
	again, err := s.Orgs().Get(ctx, o.GUID)
	mustNil(t, err, "get org after update")
	mustEqual(t, again, got, "org after update")

	// o still holds version 1: a stale write.
	o.Name = "stale"
	mustIs(t, s.Orgs().Update(ctx, o), store.ErrConflict, "stale update")
	again, err = s.Orgs().Get(ctx, o.GUID)
	mustNil(t, err, "get org after stale update")
	mustEqual(t, again.Name, "acme-renamed", "name after stale update")
	mustEqual(t, again.Version, int64(2), "version after stale update")

	missing := &store.Org{Meta: store.Meta{GUID: newGUID(), Version: 1}, Name: "ghost"}
	mustIs(t, s.Orgs().Update(ctx, missing), store.ErrNotFound, "update missing org")
	_, err = s.Orgs().Get(ctx, newGUID())
	mustIs(t, err, store.ErrNotFound, "get missing org")

	mustNil(t, s.Orgs().Delete(ctx, o.GUID), "delete org")
	_, err = s.Orgs().Get(ctx, o.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted org")
	mustIs(t, s.Orgs().Delete(ctx, o.GUID), store.ErrNotFound, "delete deleted org")
	mustIs(t, s.Orgs().Update(ctx, again), store.ErrNotFound, "update deleted org")
}

func testOrgUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "one"}
	mustNil(t, s.Orgs().Create(ctx, a), "create org")
	mustIs(t, s.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "one"}),
		store.ErrDuplicate, "create org with taken name")
	mustIs(t, s.Orgs().Create(ctx, &store.Org{Meta: store.Meta{GUID: a.GUID}, Name: "other"}),
		store.ErrDuplicate, "create org with taken guid")

	b := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: "two"}
	mustNil(t, s.Orgs().Create(ctx, b), "create second org")
	b.Name = "one"
	mustIs(t, s.Orgs().Update(ctx, b), store.ErrDuplicate, "rename org onto a taken name")
	got, err := s.Orgs().Get(ctx, b.GUID)
	mustNil(t, err, "get second org")
	mustEqual(t, got.Name, "two", "name after failed rename")
	mustEqual(t, got.Version, int64(1), "version after failed rename")
}

func testOrgList(t *testing.T, s store.Store) {
	ctx := t.Context()
	var all []string
	for _, n := range []string{"a", "b", "c"} {
		o := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: n}
		mustNil(t, s.Orgs().Create(ctx, o), "create org")
		all = append(all, o.GUID)
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Orgs().List(ctx, opt)
		mustNil(t, err, "list orgs")
		return guids(t, rs, orgMeta)
	}
	mustEqual(t, list(store.ListOptions{}), all, "all orgs")
	mustEqual(t, list(store.ListOptions{GUIDs: []string{}}), all, "empty guid filter")
	mustEqual(t, list(store.ListOptions{GUIDs: []string{all[2], all[0]}}), []string{all[0], all[2]}, "orgs by guid")
	mustEqual(t, list(store.ListOptions{Names: []string{"b"}}), []string{all[1]}, "orgs by name")
	mustEqual(t, list(store.ListOptions{Names: []string{"b"}, GUIDs: []string{all[0]}}), []string{}, "filters combine with AND")
	mustEqual(t, list(store.ListOptions{Names: []string{"nope"}}), []string{}, "no match")
}

func testCreateKeepsTimestamps(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := time.Date(2024, 3, 1, 12, 30, 15, 123456789, time.FixedZone("X", 3600))
	o := &store.Org{Meta: store.Meta{GUID: newGUID(), CreatedAt: at}, Name: "timed"}
	mustNil(t, s.Orgs().Create(ctx, o), "create org")
	if !o.CreatedAt.Equal(at) && !o.CreatedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("created_at = %v, want %v", o.CreatedAt, at)
	}
	if o.CreatedAt.Location() != time.UTC {
		t.Fatalf("created_at location = %v, want UTC", o.CreatedAt.Location())
	}
	mustEqual(t, o.UpdatedAt, o.CreatedAt, "updated_at defaults to created_at")
	got, err := s.Orgs().Get(ctx, o.GUID)
	mustNil(t, err, "get org")
	mustEqual(t, got.CreatedAt, o.CreatedAt, "created_at round trip")
	mustEqual(t, got.UpdatedAt, o.UpdatedAt, "updated_at round trip")
	// A second read is stable too.
	again, err := s.Orgs().Get(ctx, o.GUID)
	mustNil(t, err, "get org again")
	mustEqual(t, again, got, "second read")
}

func testCreateRequiresGUID(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Orgs().Create(ctx, &store.Org{Name: "noguid"}); err == nil {
		t.Fatal("create org without guid succeeded")
	}
	rs, err := s.Orgs().List(ctx, store.ListOptions{})
	mustNil(t, err, "list orgs")
	mustEqual(t, len(rs), 0, "orgs after failed create")
}

func testListOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Created out of order; two share a timestamp and sort by guid.
	specs := []struct {
		guid string
		at   time.Time
	}{
		{"c0000000-0000-0000-0000-000000000003", base.Add(2 * time.Second)},
		{"b0000000-0000-0000-0000-000000000002", base},
		{"a0000000-0000-0000-0000-000000000001", base},
		{"d0000000-0000-0000-0000-000000000004", base.Add(time.Second)},
	}
	for i, sp := range specs {
		o := &store.Org{Meta: store.Meta{GUID: sp.guid, CreatedAt: sp.at}, Name: string(rune('a' + i))}
		mustNil(t, s.Orgs().Create(ctx, o), "create org")
	}
	rs, err := s.Orgs().List(ctx, store.ListOptions{})
	mustNil(t, err, "list orgs")
	mustEqual(t, guids(t, rs, orgMeta), []string{specs[2].guid, specs[1].guid, specs[3].guid, specs[0].guid}, "order")
}

func testSpace(t *testing.T, s store.Store) {
	ctx := t.Context()
	org1, org2 := newGUID(), newGUID()
	a := &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: "dev", OrgGUID: org1}
	b := &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: "dev", OrgGUID: org2}
	c := &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: "prod", OrgGUID: org1}
	for _, sp := range []*store.Space{a, b, c} {
		mustNil(t, s.Spaces().Create(ctx, sp), "create space")
	}
	mustIs(t, s.Spaces().Create(ctx, &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: "dev", OrgGUID: org1}),
		store.ErrDuplicate, "space name taken in org")

	got, err := s.Spaces().Get(ctx, a.GUID)
	mustNil(t, err, "get space")
	mustEqual(t, got, a, "space")

	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Spaces().List(ctx, opt)
		mustNil(t, err, "list spaces")
		return guids(t, rs, spaceMeta)
	}
	mustEqual(t, list(store.ListOptions{OrgGUIDs: []string{org1}}), []string{a.GUID, c.GUID}, "spaces by org")
	mustEqual(t, list(store.ListOptions{Names: []string{"dev"}}), []string{a.GUID, b.GUID}, "spaces by name")
	mustEqual(t, list(store.ListOptions{Names: []string{"dev"}, OrgGUIDs: []string{org2}}), []string{b.GUID}, "by name and org")

	before := c.Meta
	c.Name = "dev"
	mustIs(t, s.Spaces().Update(ctx, c), store.ErrDuplicate, "rename space onto taken name")
	c.Name = "staging"
	mustNil(t, s.Spaces().Update(ctx, c), "rename space")
	checkUpdatedMeta(t, before, c.Meta)
	got, err = s.Spaces().Get(ctx, c.GUID)
	mustNil(t, err, "get renamed space")
	mustEqual(t, got, c, "renamed space")

	mustNil(t, s.Spaces().Delete(ctx, a.GUID), "delete space")
	_, err = s.Spaces().Get(ctx, a.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted space")
	mustIs(t, s.Spaces().Delete(ctx, a.GUID), store.ErrNotFound, "delete deleted space")
	stale := *b
	stale.Version = 7
	mustIs(t, s.Spaces().Update(ctx, &stale), store.ErrConflict, "update space at wrong version")
}

func testDomain(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := newGUID()
	shared := &store.Domain{Meta: store.Meta{GUID: newGUID()}, Name: "apps.example.com"}
	internal := &store.Domain{Meta: store.Meta{GUID: newGUID()}, Name: "apps.internal", Internal: true}
	private := &store.Domain{Meta: store.Meta{GUID: newGUID()}, Name: "acme.example.com", OrgGUID: org}
	for _, d := range []*store.Domain{shared, internal, private} {
		mustNil(t, s.Domains().Create(ctx, d), "create domain")
	}
	mustIs(t, s.Domains().Create(ctx, &store.Domain{Meta: store.Meta{GUID: newGUID()}, Name: "apps.example.com", OrgGUID: org}),
		store.ErrDuplicate, "domain names are global")
	for _, d := range []*store.Domain{shared, internal, private} {
		got, err := s.Domains().Get(ctx, d.GUID)
		mustNil(t, err, "get domain")
		mustEqual(t, got, d, "domain")
	}
	rs, err := s.Domains().List(ctx, store.ListOptions{OrgGUIDs: []string{org}})
	mustNil(t, err, "list domains by org")
	mustEqual(t, guids(t, rs, domainMeta), []string{private.GUID}, "domains by org")
	rs, err = s.Domains().List(ctx, store.ListOptions{Names: []string{"apps.internal", "apps.example.com"}})
	mustNil(t, err, "list domains by name")
	mustEqual(t, guids(t, rs, domainMeta), []string{shared.GUID, internal.GUID}, "domains by name")
	mustNil(t, s.Domains().Delete(ctx, internal.GUID), "delete domain")
	_, err = s.Domains().Get(ctx, internal.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted domain")
	mustIs(t, s.Domains().Delete(ctx, internal.GUID), store.ErrNotFound, "delete deleted domain")
}

func newApp(space, name string) *store.App {
	return &store.App{
		Meta: store.Meta{GUID: newGUID()}, Name: name, SpaceGUID: space, State: store.AppStopped,
		Buildpacks: []string{"go_buildpack", "binary"}, Stack: "host",
		Env: map[string]string{"A": "1", "QUOTE": `he said "hi"`, "UNICODE": "héllo ✓"},
	}
}

func testApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	sp1, sp2 := newGUID(), newGUID()
	a := newApp(sp1, "web")
	b := newApp(sp1, "worker")
	c := newApp(sp2, "web")
	c.State = store.AppStarted
	c.DropletGUID = newGUID()
	for _, x := range []*store.App{a, b, c} {
		mustNil(t, s.Apps().Create(ctx, x), "create app")
	}
	mustIs(t, s.Apps().Create(ctx, newApp(sp1, "web")), store.ErrDuplicate, "app name taken in space")
	for _, x := range []*store.App{a, b, c} {
		got, err := s.Apps().Get(ctx, x.GUID)
		mustNil(t, err, "get app")
		mustEqual(t, got, x, "app")
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Apps().List(ctx, opt)
		mustNil(t, err, "list apps")
		return guids(t, rs, appMeta)
	}
	mustEqual(t, list(store.ListOptions{SpaceGUIDs: []string{sp1}}), []string{a.GUID, b.GUID}, "apps by space")
	mustEqual(t, list(store.ListOptions{Names: []string{"web"}}), []string{a.GUID, c.GUID}, "apps by name")
	mustEqual(t, list(store.ListOptions{States: []string{store.AppStarted}}), []string{c.GUID}, "apps by state")
	mustEqual(t, list(store.ListOptions{States: []string{store.AppStopped}, SpaceGUIDs: []string{sp1, sp2}, Names: []string{"worker"}}),
		[]string{b.GUID}, "apps by state, space and name")

	before := a.Meta
	a.State = store.AppStarted
	a.DropletGUID = newGUID()
	a.Env = map[string]string{"B": "2"}
	a.Buildpacks = nil
	mustNil(t, s.Apps().Update(ctx, a), "update app")
	checkUpdatedMeta(t, before, a.Meta)
	got, err := s.Apps().Get(ctx, a.GUID)
	mustNil(t, err, "get updated app")
	mustEqual(t, got, a, "updated app")
	mustEqual(t, list(store.ListOptions{States: []string{store.AppStarted}}), []string{a.GUID, c.GUID}, "started apps after update")

	mustNil(t, s.Apps().Delete(ctx, b.GUID), "delete app")
	_, err = s.Apps().Get(ctx, b.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted app")
	mustIs(t, s.Apps().Update(ctx, b), store.ErrNotFound, "update deleted app")
}

func testAppEmptyCollections(t *testing.T, s store.Store) {
	ctx := t.Context()
	space := newGUID()
	empty := &store.App{Meta: store.Meta{GUID: newGUID()}, Name: "empty", SpaceGUID: space, State: store.AppStopped,
		Buildpacks: []string{}, Env: map[string]string{}}
	nilApp := &store.App{Meta: store.Meta{GUID: newGUID()}, Name: "nil", SpaceGUID: space, State: store.AppStopped}
	for _, x := range []*store.App{empty, nilApp} {
		mustNil(t, s.Apps().Create(ctx, x), "create app")
		got, err := s.Apps().Get(ctx, x.GUID)
		mustNil(t, err, "get app")
		mustEqual(t, got, x, "app with empty or nil collections")
	}
}

func testProcess(t *testing.T, s store.Store) {
	ctx := t.Context()
	app1, app2 := newGUID(), newGUID()
	web := &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, Type: "web", Command: "./server --port $PORT",
		Instances: 2, MemoryMB: 256, DiskMB: 1024, HealthCheckType: "http", HealthCheckEndpoint: "/healthz",
		HealthCheckTimeout: 60, HealthCheckInvocationTimeout: 2}
	worker := &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, Type: "worker", Instances: 1,
		MemoryMB: 128, DiskMB: 512, HealthCheckType: "process"}
	web2 := &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: app2, Type: "web", Instances: 1,
		MemoryMB: 64, DiskMB: 64, HealthCheckType: "port"}
	for _, p := range []*store.Process{web, worker, web2} {
		mustNil(t, s.Processes().Create(ctx, p), "create process")
	}
	mustIs(t, s.Processes().Create(ctx, &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, Type: "web"}),
		store.ErrDuplicate, "process type taken in app")
	got, err := s.Processes().Get(ctx, web.GUID)
	mustNil(t, err, "get process")
	mustEqual(t, got, web, "process")

	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Processes().List(ctx, opt)
		mustNil(t, err, "list processes")
		return guids(t, rs, processMeta)
	}
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app1}}), []string{web.GUID, worker.GUID}, "processes by app")
	mustEqual(t, list(store.ListOptions{Types: []string{"web"}}), []string{web.GUID, web2.GUID}, "processes by type")
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app2}, Types: []string{"web"}}), []string{web2.GUID}, "by app and type")

	before := web.Meta
	web.Instances = 5
	web.Command = ""
	mustNil(t, s.Processes().Update(ctx, web), "scale process")
	checkUpdatedMeta(t, before, web.Meta)
	got, err = s.Processes().Get(ctx, web.GUID)
	mustNil(t, err, "get scaled process")
	mustEqual(t, got, web, "scaled process")

	mustNil(t, s.Processes().Delete(ctx, worker.GUID), "delete process")
	_, err = s.Processes().Get(ctx, worker.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted process")
	// The type is free again.
	mustNil(t, s.Processes().Create(ctx, &store.Process{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, Type: "worker"}),
		"re-create deleted process type")
}

func testPackage(t *testing.T, s store.Store) {
	ctx := t.Context()
	app1, app2 := newGUID(), newGUID()
	p1 := &store.Package{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, Type: "bits", State: store.PackageAwaitingUpload}
	p2 := &store.Package{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, Type: "bits", State: store.PackageReady,
		Digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Size: 1 << 40}
	p3 := &store.Package{Meta: store.Meta{GUID: newGUID()}, AppGUID: app2, Type: "docker", State: store.PackageFailed,
		Error: "upload: zip is corrupt"}
	for _, p := range []*store.Package{p1, p2, p3} {
		mustNil(t, s.Packages().Create(ctx, p), "create package")
		got, err := s.Packages().Get(ctx, p.GUID)
		mustNil(t, err, "get package")
		mustEqual(t, got, p, "package")
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Packages().List(ctx, opt)
		mustNil(t, err, "list packages")
		return guids(t, rs, packageMeta)
	}
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app1}}), []string{p1.GUID, p2.GUID}, "packages by app")
	mustEqual(t, list(store.ListOptions{States: []string{store.PackageReady, store.PackageFailed}}), []string{p2.GUID, p3.GUID}, "packages by state")
	mustEqual(t, list(store.ListOptions{Types: []string{"docker"}}), []string{p3.GUID}, "packages by type")

	before := p1.Meta
	p1.State = store.PackageReady
	p1.Digest = "abc"
	p1.Size = 42
	mustNil(t, s.Packages().Update(ctx, p1), "update package")
	checkUpdatedMeta(t, before, p1.Meta)
	got, err := s.Packages().Get(ctx, p1.GUID)
	mustNil(t, err, "get updated package")
	mustEqual(t, got, p1, "updated package")
	stale := *got
	stale.Version = 1
	mustIs(t, s.Packages().Update(ctx, &stale), store.ErrConflict, "stale package update")
	mustNil(t, s.Packages().Delete(ctx, p1.GUID), "delete package")
	mustIs(t, s.Packages().Delete(ctx, p1.GUID), store.ErrNotFound, "delete deleted package")
}

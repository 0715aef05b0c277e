package storetest

import (
	"testing"

	"github.com/ingot-paas/ingot/internal/store"
)

func buildMeta(o *store.Build) store.Meta             { return o.Meta }
func dropletMeta(o *store.Droplet) store.Meta         { return o.Meta }
func routeMeta(o *store.Route) store.Meta             { return o.Meta }
func destinationMeta(o *store.Destination) store.Meta { return o.Meta }
func userMeta(o *store.User) store.Meta               { return o.Meta }

func testBuild(t *testing.T, s store.Store) {
	ctx := t.Context()
	app1, app2, pkg1, pkg2 := newGUID(), newGUID(), newGUID(), newGUID()
	b1 := &store.Build{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, PackageGUID: pkg1, State: store.BuildStaging,
		DropletGUID: newGUID(), StagingMemoryMB: 1024, StagingDiskMB: 4096, Buildpacks: []string{"nodejs"},
		Stack: "host", CreatedBy: newGUID()}
	b2 := &store.Build{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, PackageGUID: pkg2, State: store.BuildFailed,
		Error: "NoAppDetectedError: no buildpack detected", DropletGUID: newGUID()}
	b3 := &store.Build{Meta: store.Meta{GUID: newGUID()}, AppGUID: app2, PackageGUID: pkg2, State: store.BuildStaged}
	for _, b := range []*store.Build{b1, b2, b3} {
		mustNil(t, s.Builds().Create(ctx, b), "create build")
		got, err := s.Builds().Get(ctx, b.GUID)
		mustNil(t, err, "get build")
		mustEqual(t, got, b, "build")
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Builds().List(ctx, opt)
		mustNil(t, err, "list builds")
		return guids(t, rs, buildMeta)
	}
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app1}}), []string{b1.GUID, b2.GUID}, "builds by app")
	mustEqual(t, list(store.ListOptions{PackageGUIDs: []string{pkg2}}), []string{b2.GUID, b3.GUID}, "builds by package")
	mustEqual(t, list(store.ListOptions{States: []string{store.BuildStaging}}), []string{b1.GUID}, "builds by state")

	before := b1.Meta
	b1.State = store.BuildStaged
	mustNil(t, s.Builds().Update(ctx, b1), "update build")
	checkUpdatedMeta(t, before, b1.Meta)
	got, err := s.Builds().Get(ctx, b1.GUID)
	mustNil(t, err, "get updated build")
	mustEqual(t, got, b1, "updated build")
	mustNil(t, s.Builds().Delete(ctx, b3.GUID), "delete build")
	_, err = s.Builds().Get(ctx, b3.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted build")
}

func testDroplet(t *testing.T, s store.Store) {
	ctx := t.Context()
	app1, app2, pkg := newGUID(), newGUID(), newGUID()
	d1 := &store.Droplet{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, PackageGUID: pkg, BuildGUID: newGUID(),
		State: store.DropletStaged, Digest: "deadbeef", Size: 12345, DetectedBuildpack: "go",
		BuildpackName: "go_buildpack", StartCommand: "./bin/app",
		ProcessTypes: map[string]string{"web": "./bin/app", "worker": "./bin/worker"}, Stack: "host"}
	d2 := &store.Droplet{Meta: store.Meta{GUID: newGUID()}, AppGUID: app1, State: store.DropletAwaitingUpload}
	d3 := &store.Droplet{Meta: store.Meta{GUID: newGUID()}, AppGUID: app2, PackageGUID: pkg, State: store.DropletFailed,
		Error: "staging failed"}
	for _, d := range []*store.Droplet{d1, d2, d3} {
		mustNil(t, s.Droplets().Create(ctx, d), "create droplet")
		got, err := s.Droplets().Get(ctx, d.GUID)
		mustNil(t, err, "get droplet")
		mustEqual(t, got, d, "droplet")
	}
	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Droplets().List(ctx, opt)
		mustNil(t, err, "list droplets")
		return guids(t, rs, dropletMeta)
	}
	mustEqual(t, list(store.ListOptions{AppGUIDs: []string{app1}}), []string{d1.GUID, d2.GUID}, "droplets by app")
	mustEqual(t, list(store.ListOptions{PackageGUIDs: []string{pkg}}), []string{d1.GUID, d3.GUID}, "droplets by package")
	mustEqual(t, list(store.ListOptions{States: []string{store.DropletStaged}, AppGUIDs: []string{app1}}), []string{d1.GUID}, "by state and app")

	before := d2.Meta
	d2.State = store.DropletStaged
	d2.ProcessTypes = map[string]string{"web": "python app.py"}
	mustNil(t, s.Droplets().Update(ctx, d2), "update droplet")
	checkUpdatedMeta(t, before, d2.Meta)
	got, err := s.Droplets().Get(ctx, d2.GUID)
	mustNil(t, err, "get updated droplet")
	mustEqual(t, got, d2, "updated droplet")
	mustNil(t, s.Droplets().Delete(ctx, d2.GUID), "delete droplet")
	mustIs(t, s.Droplets().Delete(ctx, d2.GUID), store.ErrNotFound, "delete deleted droplet")
}

func testRoute(t *testing.T, s store.Store) {
	ctx := t.Context()
	dom1, dom2, sp1, sp2 := newGUID(), newGUID(), newGUID(), newGUID()
	root := &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "app", DomainGUID: dom1, SpaceGUID: sp1}
	withPath := &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "app", Path: "/api", DomainGUID: dom1, SpaceGUID: sp1}
	otherDom := &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "app", DomainGUID: dom2, SpaceGUID: sp2}
	bare := &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "", DomainGUID: dom2, SpaceGUID: sp2}
	for _, r := range []*store.Route{root, withPath, otherDom, bare} {
		mustNil(t, s.Routes().Create(ctx, r), "create route")
		got, err := s.Routes().Get(ctx, r.GUID)
		mustNil(t, err, "get route")
		mustEqual(t, got, r, "route")
	}
	mustIs(t, s.Routes().Create(ctx, &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "app", DomainGUID: dom1, SpaceGUID: sp2}),
		store.ErrDuplicate, "route host taken in domain")
	mustIs(t, s.Routes().Create(ctx, &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "app", Path: "/api", DomainGUID: dom1, SpaceGUID: sp1}),
		store.ErrDuplicate, "route host+path taken in domain")

	list := func(opt store.ListOptions) []string {
		t.Helper()
		rs, err := s.Routes().List(ctx, opt)
		mustNil(t, err, "list routes")
		return guids(t, rs, routeMeta)
	}
	mustEqual(t, list(store.ListOptions{SpaceGUIDs: []string{sp1}}), []string{root.GUID, withPath.GUID}, "routes by space")
	mustEqual(t, list(store.ListOptions{DomainGUIDs: []string{dom2}}), []string{otherDom.GUID, bare.GUID}, "routes by domain")
	mustEqual(t, list(store.ListOptions{Hosts: []string{"app"}}), []string{root.GUID, withPath.GUID, otherDom.GUID}, "routes by host")
	mustEqual(t, list(store.ListOptions{Hosts: []string{""}}), []string{bare.GUID}, "routes with empty host")
	mustEqual(t, list(store.ListOptions{Hosts: []string{"app"}, DomainGUIDs: []string{dom1}}), []string{root.GUID, withPath.GUID}, "nil paths = any")
	mustEqual(t, list(store.ListOptions{Hosts: []string{"app"}, DomainGUIDs: []string{dom1}, Paths: []string{""}}), []string{root.GUID}, "root path only")
	mustEqual(t, list(store.ListOptions{Paths: []string{"/api"}}), []string{withPath.GUID}, "routes by path")

	mustNil(t, s.Routes().Delete(ctx, root.GUID), "delete route")
	_, err := s.Routes().Get(ctx, root.GUID)
	mustIs(t, err, store.ErrNotFound, "get deleted route")
	mustIs(t, s.Routes().Delete(ctx, root.GUID), store.ErrNotFound, "delete deleted route")
	mustNil(t, s.Routes().Create(ctx, &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: "app", DomainGUID: dom1, SpaceGUID: sp2}),
		"re-create deleted route")
}

// destFixture makes two routes and two apps for destination tests.
func destFixture(t *testing.T, s store.Store) (routes [2]*store.Route, apps [2]*store.App) {
	t.Helper()
	ctx := t.Context()
	dom, space := newGUID(), newGUID()
	for i := range routes {
		routes[i] = &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: []string{"r0", "r1"}[i], DomainGUID: dom, SpaceGUID: space}
		mustNil(t, s.Routes().Create(ctx, routes[i]), "create route")
		apps[i] = newApp(space, []string{"a0", "a1"}[i])
		mustNil(t, s.Apps().Create(ctx, apps[i]), "create app")
	}
	return routes, apps
}

func testDestination(t *testing.T, s store.Store) {
	ctx := t.Context()
	routes, apps := destFixture(t, s)
	d1 := &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: routes[0].GUID, AppGUID: apps[0].GUID, ProcessType: "web"}
	d2 := &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: routes[0].GUID, AppGUID: apps[1].GUID, ProcessType: "web", Port: 9090}
	d3 := &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: routes[1].GUID, AppGUID: apps[0].GUID, ProcessType: "admin"}
	for _, d := range []*store.Destination{d1, d2, d3} {
		mustNil(t, s.Destinations().Create(ctx, d), "create destination")
		if d.Version != 1 || d.CreatedAt.IsZero() {
			t.Fatalf("create destination did not set meta: %+v", d.Meta)
		}
	}
	mustIs(t, s.Destinations().Create(ctx, &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: routes[0].GUID,
		AppGUID: apps[0].GUID, ProcessType: "web", Port: 1}), store.ErrDuplicate, "destination taken")
	mustNil(t, s.Destinations().Create(ctx, &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: routes[0].GUID,
		AppGUID: apps[0].GUID, ProcessType: "worker"}), "same route and app, other process type")

	all, err := s.Destinations().List(ctx, store.ListOptions{GUIDs: []string{d1.GUID, d2.GUID, d3.GUID}})
	mustNil(t, err, "list destinations")
	mustEqual(t, all, []*store.Destination{d1, d2, d3}, "destinations")
	rs, err := s.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{routes[1].GUID}})
	mustNil(t, err, "list by route")
	mustEqual(t, guids(t, rs, destinationMeta), []string{d3.GUID}, "destinations by route")
	rs, err = s.Destinations().List(ctx, store.ListOptions{AppGUIDs: []string{apps[1].GUID}})
	mustNil(t, err, "list by app")
	mustEqual(t, guids(t, rs, destinationMeta), []string{d2.GUID}, "destinations by app")

	mustNil(t, s.Destinations().Delete(ctx, d2.GUID), "delete destination")
	mustIs(t, s.Destinations().Delete(ctx, d2.GUID), store.ErrNotFound, "delete deleted destination")
	rs, err = s.Destinations().List(ctx, store.ListOptions{AppGUIDs: []string{apps[1].GUID}})
	mustNil(t, err, "list by app after delete")
	mustEqual(t, len(rs), 0, "destinations of app after delete")
}

func testDestinationCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	routes, apps := destFixture(t, s)
	// A destination needs its route and its app.
	mustIs(t, s.Destinations().Create(ctx, &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: newGUID(),
		AppGUID: apps[0].GUID, ProcessType: "web"}), store.ErrNotFound, "destination to a missing route")
	mustIs(t, s.Destinations().Create(ctx, &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: routes[0].GUID,
		AppGUID: newGUID(), ProcessType: "web"}), store.ErrNotFound, "destination to a missing app")

	var made []*store.Destination
	for _, r := range routes {
		for _, a := range apps {
			d := &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: r.GUID, AppGUID: a.GUID, ProcessType: "web"}
			mustNil(t, s.Destinations().Create(ctx, d), "create destination")
			made = append(made, d)
		}
	}
	// made: r0a0, r0a1, r1a0, r1a1
	mustNil(t, s.Routes().Delete(ctx, routes[0].GUID), "delete route")
	rs, err := s.Destinations().List(ctx, store.ListOptions{})
	mustNil(t, err, "list destinations")
	mustEqual(t, guids(t, rs, destinationMeta), []string{made[2].GUID, made[3].GUID}, "destinations after route delete")
	mustNil(t, s.Apps().Delete(ctx, apps[1].GUID), "delete app")
	rs, err = s.Destinations().List(ctx, store.ListOptions{})
	mustNil(t, err, "list destinations")
	mustEqual(t, guids(t, rs, destinationMeta), []string{made[2].GUID}, "destinations after app delete")
}

func testJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := &store.Job{Meta: store.Meta{GUID: newGUID()}, Operation: "app.delete", State: store.JobProcessing,
		ResourceGUID: newGUID(), ResourceType: "app"}
	mustNil(t, s.Jobs().Create(ctx, j), "create job")
	got, err := s.Jobs().Get(ctx, j.GUID)
	mustNil(t, err, "get job")
	mustEqual(t, got, j, "job")

	before := got.Meta
	got.State = store.JobFailed
	got.Errors = []store.JobError{{Code: 10008, Title: "CF-UnprocessableEntity", Detail: "route is taken"}}
	got.Warnings = []string{"careful"}
	mustNil(t, s.Jobs().Update(ctx, got), "update job")
	checkUpdatedMeta(t, before, got.Meta)
	again, err := s.Jobs().Get(ctx, j.GUID)
	mustNil(t, err, "get updated job")
	mustEqual(t, again, got, "updated job")
	mustIs(t, s.Jobs().Update(ctx, j), store.ErrConflict, "stale job update")
	_, err = s.Jobs().Get(ctx, newGUID())
	mustIs(t, err, store.ErrNotFound, "get missing job")
}

func testUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	admin := &store.User{Meta: store.Meta{GUID: newGUID()}, Username: "admin", Origin: "uaa",
		PasswordHash: "$2a$10$abcdefghijklmnopqrstuv", Admin: true}
	dev := &store.User{Meta: store.Meta{GUID: newGUID()}, Username: "dev", Origin: "uaa", PasswordHash: "$2a$10$x"}
	ldapAdmin := &store.User{Meta: store.Meta{GUID: newGUID()}, Username: "admin", Origin: "ldap"}
	for _, u := range []*store.User{admin, dev, ldapAdmin} {
		mustNil(t, s.Users().Create(ctx, u), "create user")
	}
	mustIs(t, s.Users().Create(ctx, &store.User{Meta: store.Meta{GUID: newGUID()}, Username: "admin", Origin: "uaa"}),
		store.ErrDuplicate, "username taken in origin")

	got, err := s.Users().Get(ctx, admin.GUID)
	mustNil(t, err, "get user")
	mustEqual(t, got, admin, "user")
	got, err = s.Users().GetByName(ctx, "ldap", "admin")
	mustNil(t, err, "get user by name")
	mustEqual(t, got, ldapAdmin, "user by name")
	_, err = s.Users().GetByName(ctx, "uaa", "nobody")
	mustIs(t, err, store.ErrNotFound, "get missing user by name")
	_, err = s.Users().GetByName(ctx, "ldap", "dev")
	mustIs(t, err, store.ErrNotFound, "get user by name in other origin")

	rs, err := s.Users().List(ctx, store.ListOptions{Names: []string{"admin"}})
	mustNil(t, err, "list users by name")
	mustEqual(t, guids(t, rs, userMeta), []string{admin.GUID, ldapAdmin.GUID}, "users by name")

	before := dev.Meta
	dev.PasswordHash = "$2a$10$new"
	dev.Admin = true
	dev.RevocationEpoch = 2
	mustNil(t, s.Users().Update(ctx, dev), "update user")
	checkUpdatedMeta(t, before, dev.Meta)
	got, err = s.Users().GetByName(ctx, "uaa", "dev")
	mustNil(t, err, "get updated user")
	mustEqual(t, got, dev, "updated user")

	mustNil(t, s.Users().Delete(ctx, dev.GUID), "delete user")
	_, err = s.Users().GetByName(ctx, "uaa", "dev")
	mustIs(t, err, store.ErrNotFound, "get deleted user")
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/manifest"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

// routeSpec is a manifest route resolved against the known domains.
type routeSpec struct {
	host, path string
	domain     *store.Domain
}

// resolveRoute splits "host.domain/path" using the longest matching domain.
func resolveRoute(route string, domains []*store.Domain) (routeSpec, error) {
	hostPart, rest, hasPath := strings.Cut(route, "/")
	path := ""
	if hasPath && rest != "" {
		path = "/" + rest
	}
	var best *store.Domain
	for _, d := range domains {
		if hostPart == d.Name || strings.HasSuffix(hostPart, "."+d.Name) {
			if best == nil || len(d.Name) > len(best.Name) {
				best = d
			}
		}
	}
	if best == nil {
		return routeSpec{}, fmt.Errorf("%q does not match a known domain", route)
	}
	host := strings.TrimSuffix(strings.TrimSuffix(hostPart, best.Name), ".")
	if err := validateHost(host); err != nil {
		return routeSpec{}, fmt.Errorf("%q: %s", route, apierr.As(err).Detail)
	}
	if err := validatePath(path); err != nil {
		return routeSpec{}, fmt.Errorf("%q: %s", route, apierr.As(err).Detail)
	}
	return routeSpec{host: host, path: path, domain: best}, nil
}

// manifestPlan is a validated manifest with resolved routes.
type manifestPlan struct {
	space   *store.Space
	apps    []*manifest.Application
	routes  [][]routeSpec
	defDom  *store.Domain
	domains []*store.Domain
}

// planManifest parses and validates a manifest for a space; every error
// is a 422 naming the field, raised before any change.
func (c *Controller) planManifest(w http.ResponseWriter, r *http.Request) (*manifestPlan, error) {
	space, err := c.spaceRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return nil, err
	}
	data, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, apierr.Unprocessable("%s", err.Error())
	}
	domains, err := c.orgDomains(r.Context(), space.OrgGUID)
	if err != nil {
		return nil, err
	}
	plan := &manifestPlan{space: space, apps: m.Applications, domains: domains}
	if d, err := c.defaultDomain(r.Context(), space.OrgGUID); err == nil {
		plan.defDom = d
	}
	var problems []string
	for i, a := range m.Applications {
		var specs []routeSpec
		for j, rt := range a.Routes {
			spec, err := resolveRoute(rt, domains)
			if err != nil {
				problems = append(problems, fmt.Sprintf("applications[%d].routes[%d].route: %v", i, j, err))
				continue
			}
			specs = append(specs, spec)
		}
		plan.routes = append(plan.routes, specs)
		if !a.NoRoute && !a.RoutesSet && plan.defDom == nil {
			problems = append(problems, fmt.Sprintf("applications[%d]: no default domain for a default route; add routes or no-route", i))
		}
		if a.Buildpacks != nil && len(a.Buildpacks) > 32 {
			problems = append(problems, fmt.Sprintf("applications[%d].buildpacks: at most 32 buildpacks", i))
		}
	}
	if len(problems) > 0 {
		return nil, apierr.Unprocessable("%s", strings.Join(problems, "; "))
	}
	return plan, nil
}

func (c *Controller) applyManifest(w http.ResponseWriter, r *http.Request) error {
	plan, err := c.planManifest(w, r)
	if err != nil {
		return err
	}
	var warnings []string
	for _, a := range plan.apps {
		for _, k := range a.Unsupported {
			warnings = append(warnings, k+" is not supported yet and was ignored")
		}
	}
	return c.runJob(w, r, "space.apply_manifest", "space", plan.space.GUID, func(ctx context.Context) ([]string, error) {
		for i, a := range plan.apps {
			err := c.applyApp(ctx, plan, a, plan.routes[i])
			if err == nil {
				err = c.applyServices(ctx, plan.space.GUID, a)
			}
			if err != nil {
				if e := apierr.As(err); e != nil {
					e.Detail = fmt.Sprintf("For application '%s': %s", a.Name, e.Detail)
					return warnings, e
				}
				return warnings, fmt.Errorf("for application '%s': %w", a.Name, err)
			}
		}
		return warnings, nil
	})
}

// applyProcess copies manifest settings onto a process.
func applyProcess(p *store.Process, m *manifest.Process) {
	if m.Instances != nil {
		p.Instances = *m.Instances
	}
	if m.MemoryMB != nil {
		p.MemoryMB = *m.MemoryMB
	}
	if m.DiskMB != nil {
		p.DiskMB = *m.DiskMB
	}
	if m.Command != nil {
		p.Command = *m.Command
	}
	if m.HealthCheckType != nil {
		p.HealthCheckType = *m.HealthCheckType
		if p.HealthCheckType != messages.HealthCheckHTTP {
			p.HealthCheckEndpoint = ""
		}
	}
	if m.HealthCheckEndpoint != nil {
		p.HealthCheckEndpoint = *m.HealthCheckEndpoint
	}
	if m.HealthCheckTimeout != nil {
		p.HealthCheckTimeout = *m.HealthCheckTimeout
	}
	if m.HealthCheckInvocationTimeout != nil {
		p.HealthCheckInvocationTimeout = *m.HealthCheckInvocationTimeout
	}
}

// applyApp creates or updates one app from the manifest in a transaction,
// then adjusts running instances and route registrations.
func (c *Controller) applyApp(ctx context.Context, plan *manifestPlan, ma *manifest.Application, routes []routeSpec) error {
	st := c.deps.Store
	var (
		app       *store.App
		oldCounts = map[string]int{}
		procs     []*store.Process
		created   bool
	)
	err := st.InTx(ctx, func(tx store.Store) error {
		created = false
		oldCounts = map[string]int{}
		existing, err := tx.Apps().List(ctx, store.ListOptions{Names: []string{ma.Name}, SpaceGUIDs: []string{plan.space.GUID}})
		if err != nil {
			return err
		}
		if len(existing) == 0 {
			app = &store.App{Meta: store.Meta{GUID: newGUID()}, Name: ma.Name, SpaceGUID: plan.space.GUID, State: store.AppStopped, Env: map[string]string{}}
			created = true
		} else {
			app = existing[0]
			if app.Env == nil {
				app.Env = map[string]string{}
			}
		}
		for k, v := range ma.Env {
			app.Env[k] = v
		}
		if ma.BuildpacksSet {
			app.Buildpacks = append([]string{}, ma.Buildpacks...)
		}
		if ma.Stack != nil {
			app.Stack = *ma.Stack
		}
		if created {
			if err := c.createAppRecords(ctx, tx, app); err != nil {
				return err
			}
		} else if err := tx.Apps().Update(ctx, app); err != nil {
			return err
		}
		if procs, err = tx.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}}); err != nil {
			return err
		}
		byType := map[string]*store.Process{}
		for _, p := range procs {
			byType[p.Type] = p
			oldCounts[p.Type] = p.Instances
		}
		type change struct {
			typ string
			m   *manifest.Process
		}
		changes := []change{{"web", &ma.Process}}
		for _, p := range ma.Processes {
			changes = append(changes, change{p.Type, p})
		}
		for _, ch := range changes {
			p := byType[ch.typ]
			isNew := p == nil
			if isNew {
				p = c.newProcess(app.GUID, ch.typ)
				byType[ch.typ] = p
				procs = append(procs, p)
			}
			applyProcess(p, ch.m)
			if isNew {
				err = tx.Processes().Create(ctx, p)
			} else {
				err = tx.Processes().Update(ctx, p)
			}
			if err != nil {
				return err
			}
		}
		if err := c.checkAppQuota(ctx, tx, app, procs); err != nil {
			return err
		}
		if err := c.applyRoutes(ctx, tx, plan, app, ma, routes); err != nil {
			return err
		}
		return c.recordEvent(ctx, tx, "audit.app.apply_manifest", c.appTarget(ctx, tx, app), map[string]any{"manifest_triggered": true})
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return apierr.Unprocessable("the app changed while the manifest was applied; push again")
		}
		return err
	}
	if created {
		c.apiLog(app.GUID, "Created app with guid %s", app.GUID)
	} else {
		c.apiLog(app.GUID, "Applied manifest to app with guid %s", app.GUID)
	}
	if app.State == store.AppStarted {
		for _, p := range procs {
			if old, ok := oldCounts[p.Type]; ok && old != p.Instances {
				c.adjustInstances(ctx, p, old)
			}
		}
		c.publishRoutes(ctx, app.GUID)
	}
	return nil
}

// applyRoutes maps the manifest's routes (creating them as needed),
// unmaps everything for no-route, or gives an unrouted app its default
// (or random) route.
func (c *Controller) applyRoutes(ctx context.Context, tx store.Store, plan *manifestPlan, app *store.App, ma *manifest.Application, routes []routeSpec) error {
	dests, err := tx.Destinations().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}})
	if err != nil {
		return err
	}
	if ma.NoRoute {
		for _, d := range dests {
			if err := ignoreNotFound(tx.Destinations().Delete(ctx, d.GUID)); err != nil {
				return err
			}
		}
		return nil
	}
	if !ma.RoutesSet || len(routes) == 0 {
		if len(dests) > 0 || plan.defDom == nil {
			return nil
		}
		host := hostFromName(app.Name)
		if ma.RandomRoute || host == "" {
			host = randomHost(host, c.randIntN)
		}
		routes = []routeSpec{{host: host, domain: plan.defDom}}
	}
	for _, rs := range routes {
		existing, err := tx.Routes().List(ctx, store.ListOptions{
			DomainGUIDs: []string{rs.domain.GUID}, Hosts: []string{rs.host}, Paths: []string{rs.path},
		})
		if err != nil {
			return err
		}
		var rt *store.Route
		if len(existing) > 0 {
			rt = existing[0]
			if rt.SpaceGUID != app.SpaceGUID {
				return apierr.Unprocessable("The app cannot be mapped to route %s because the route exists in a different space.", rs.url())
			}
		} else if rt, _, err = c.createRouteRecord(ctx, tx, rs.host, rs.path, rs.domain.GUID, app.SpaceGUID); err != nil {
			return err
		}
		d := &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: rt.GUID, AppGUID: app.GUID, ProcessType: "web"}
		if err := c.mapRoute(ctx, tx, rt.GUID, []*store.Destination{d}); err != nil {
			return err
		}
	}
	return nil
}

func (rs routeSpec) url() string {
	u := rs.domain.Name
	if rs.host != "" {
		u = rs.host + "." + u
	}
	return u + rs.path
}

// hostFromName makes a route host from an app name: lower case, other
// characters turned into '-', at most 63 characters.
func hostFromName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 40 {
		h = strings.Trim(h[:40], "-")
	}
	return h
}

var (
	adjectives = []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "merry", "nimble", "proud", "quick", "silly", "tidy", "witty"}
	nouns      = []string{"otter", "badger", "falcon", "lynx", "panda", "heron", "koala", "walrus", "bison", "gecko", "hare", "ibis", "lemur", "marten", "newt", "quail"}
)

// randomHost is "<name>-<adjective>-<noun>-<nn>".
func randomHost(base string, intn func(int) int) string {
	h := fmt.Sprintf("%s-%s-%02d", adjectives[intn(len(adjectives))], nouns[intn(len(nouns))], intn(100))
	if base != "" {
		h = base + "-" + h
	}
	return h
}

func (c *Controller) manifestDiff(w http.ResponseWriter, r *http.Request) error {
	plan, err := c.planManifest(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	current := map[string]*manifest.CurrentApp{}
	var lookupErr error
	for _, a := range plan.apps {
		apps, err := c.deps.Store.Apps().List(ctx, store.ListOptions{Names: []string{a.Name}, SpaceGUIDs: []string{plan.space.GUID}})
		if err != nil {
			lookupErr = err
			break
		}
		if len(apps) == 0 {
			continue
		}
		cur, err := c.currentApp(ctx, apps[0])
		if err != nil {
			lookupErr = err
			break
		}
		current[a.Name] = cur
	}
	if lookupErr != nil {
		return lookupErr
	}
	ops := manifest.Diff(&manifest.Manifest{Applications: plan.apps}, func(name string) *manifest.CurrentApp { return current[name] })
	return writeJSON(w, http.StatusCreated, map[string]any{"diff": ops})
}

// currentApp describes an app's current settings for a manifest diff.
func (c *Controller) currentApp(ctx context.Context, a *store.App) (*manifest.CurrentApp, error) {
	procs, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{a.GUID}})
	if err != nil {
		return nil, err
	}
	uris, err := c.appURIs(ctx, a.GUID)
	if err != nil {
		return nil, err
	}
	cur := &manifest.CurrentApp{
		Buildpacks: a.Buildpacks, Stack: a.Stack, Env: a.Env, Routes: uris,
		Processes: map[string]manifest.CurrentProcess{},
	}
	for _, p := range procs {
		cp := manifest.CurrentProcess{
			Instances: p.Instances, MemoryMB: p.MemoryMB, DiskMB: p.DiskMB, Command: p.Command,
			HealthCheckType: p.HealthCheckType, HealthCheckEndpoint: p.HealthCheckEndpoint,
			HealthCheckTimeout: p.HealthCheckTimeout, InvocationTimeout: p.HealthCheckInvocationTimeout,
		}
		cur.Processes[p.Type] = cp
		if p.Type == "web" {
			cur.Web = cp
		}
	}
	return cur, nil
}

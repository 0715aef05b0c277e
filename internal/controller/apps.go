package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/manifest"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

func (c *Controller) appRec(ctx context.Context, guid string) (*store.App, error) {
	a, err := c.deps.Store.Apps().Get(ctx, guid)
	return a, notFound(err, "App")
}

// mutateApp reads, changes and writes an app, retrying on version
// conflicts.
func (c *Controller) mutateApp(ctx context.Context, guid string, f func(a *store.App) error) (*store.App, error) {
	return c.mutateAppTx(ctx, guid, func(_ store.Store, a *store.App) error { return f(a) }, "", nil)
}

// mutateAppTx is mutateApp in one transaction that also records the audit
// event typ ("" = none) with data; f gets the transaction's store.
func (c *Controller) mutateAppTx(ctx context.Context, guid string, f func(tx store.Store, a *store.App) error, typ string, data map[string]any) (*store.App, error) {
	for attempt := 0; ; attempt++ {
		var a *store.App
		err := c.deps.Store.InTx(ctx, func(tx store.Store) error {
			var err error
			if a, err = tx.Apps().Get(ctx, guid); err != nil {
				return notFound(err, "App")
			}
			if err := f(tx, a); err != nil {
				return err
			}
			if err := tx.Apps().Update(ctx, a); err != nil {
				return err
			}
			if typ == "" {
				return nil
			}
			return c.recordEvent(ctx, tx, typ, c.appTarget(ctx, tx, a), data)
		})
		if e := apierr.As(err); e != nil {
			return nil, e
		}
		switch {
		case err == nil:
			return a, nil
		case errors.Is(err, store.ErrDuplicate):
			return nil, apierr.Unprocessable("App with the name '%s' already exists.", a.Name)
		case errors.Is(err, store.ErrConflict) && attempt < 5:
			continue
		default:
			return nil, notFound(err, "App")
		}
	}
}

// apiLog writes a line to the app's log as the API.
func (c *Controller) apiLog(appGUID, format string, args ...any) {
	c.deps.Emitter.Emit(appGUID, messages.SourceAPI, "0", "OUT", fmt.Sprintf(format, args...))
}

func (c *Controller) listApps(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	spaceGUIDs := filterValues(q, "space_guids")
	if orgs := filterValues(q, "organization_guids"); orgs != nil {
		spaces, err := c.deps.Store.Spaces().List(r.Context(), store.ListOptions{OrgGUIDs: orgs})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, s := range spaces {
			ids = append(ids, s.GUID)
		}
		spaceGUIDs = intersect(spaceGUIDs, ids)
	}
	if spaceGUIDs, err = c.restrictSpaces(r.Context(), spaceGUIDs); err != nil {
		return err
	}
	opt := store.ListOptions{Names: filterValues(q, "names"), GUIDs: filterValues(q, "guids"), SpaceGUIDs: spaceGUIDs, States: filterValues(q, "states")}
	var apps []*store.App
	if spaceGUIDs == nil || len(spaceGUIDs) > 0 {
		if apps, err = c.deps.Store.Apps().List(r.Context(), opt); err != nil {
			return err
		}
	}
	page, total := sortAndPage(apps, lp, appMeta, appName)
	out := make([]*presenters.App, 0, len(page))
	for _, a := range page {
		out = append(out, c.pres.App(a))
	}
	included, err := c.appIncludes(r, page)
	if err != nil {
		return err
	}
	return c.writeList(w, r, lp, total, out, included)
}

// appIncludes serves include=space and include=space.organization.
func (c *Controller) appIncludes(r *http.Request, apps []*store.App) (map[string]any, error) {
	inc := includes(r)
	if !inc["space"] && !inc["space.organization"] {
		return nil, nil
	}
	seenSpace, seenOrg := map[string]bool{}, map[string]bool{}
	spaces, orgs := []*presenters.Space{}, []*presenters.Org{}
	for _, a := range apps {
		if seenSpace[a.SpaceGUID] {
			continue
		}
		seenSpace[a.SpaceGUID] = true
		s, err := c.deps.Store.Spaces().Get(r.Context(), a.SpaceGUID)
		if err != nil {
			continue
		}
		spaces = append(spaces, c.pres.Space(s))
		if inc["space.organization"] && !seenOrg[s.OrgGUID] {
			seenOrg[s.OrgGUID] = true
			if o, err := c.deps.Store.Orgs().Get(r.Context(), s.OrgGUID); err == nil {
				orgs = append(orgs, c.pres.Org(o))
			}
		}
	}
	out := map[string]any{"spaces": spaces}
	if inc["space.organization"] {
		out["organizations"] = orgs
	}
	return out, nil
}

func (c *Controller) getApp(w http.ResponseWriter, r *http.Request) error {
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	included, err := c.appIncludes(r, []*store.App{a})
	if err != nil {
		return err
	}
	if included == nil {
		return writeJSON(w, http.StatusOK, c.pres.App(a))
	}
	return writeJSON(w, http.StatusOK, struct {
		*presenters.App
		Included map[string]any `json:"included"`
	}{c.pres.App(a), included})
}

type lifecycleBody struct {
	Type string `json:"type"`
	Data struct {
		Buildpacks *[]string `json:"buildpacks"`
		Stack      *string   `json:"stack"`
	} `json:"data"`
}

func (l *lifecycleBody) validate() error {
	if l.Type != "" && l.Type != "buildpack" {
		return apierr.Unprocessable("Lifecycle type '%s' is not supported; only 'buildpack' is", l.Type)
	}
	if l.Data.Buildpacks != nil {
		if len(*l.Data.Buildpacks) > 32 {
			return apierr.Unprocessable("Lifecycle Buildpacks can name at most 32 buildpacks")
		}
		for _, b := range *l.Data.Buildpacks {
			if b == "" || len(b) > 4096 {
				return apierr.Unprocessable("Lifecycle Buildpacks must be non-empty names")
			}
		}
	}
	if l.Data.Stack != nil && len(*l.Data.Stack) > 255 {
		return apierr.Unprocessable("Lifecycle Stack is too long")
	}
	return nil
}

type appBody struct {
	Name          *string `json:"name"`
	Relationships struct {
		Space relBody `json:"space"`
	} `json:"relationships"`
	EnvironmentVariables map[string]any `json:"environment_variables"`
	Lifecycle            *lifecycleBody `json:"lifecycle"`
}

// envValues validates user env vars; a null value means "delete" when
// allowNull is set.
func envValues(in map[string]any, allowNull bool) (map[string]*string, error) {
	out := make(map[string]*string, len(in))
	if len(in) > 1000 {
		return nil, apierr.Unprocessable("Environment variables can have at most 1000 entries")
	}
	for k, v := range in {
		if err := manifest.ValidateEnvName(k); err != nil {
			return nil, apierr.Unprocessable("Environment variables %s: %v", k, err)
		}
		switch val := v.(type) {
		case nil:
			if !allowNull {
				return nil, apierr.Unprocessable("Environment variable %s must be a string", k)
			}
			out[k] = nil
		case string:
			out[k] = &val
		case bool:
			s := strconv.FormatBool(val)
			out[k] = &s
		case float64:
			s := strconv.FormatFloat(val, 'f', -1, 64)
			out[k] = &s
		default:
			return nil, apierr.Unprocessable("Environment variable %s must be a string, number or boolean", k)
		}
	}
	return out, nil
}

func (c *Controller) createApp(w http.ResponseWriter, r *http.Request) error {
	var b appBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name can't be blank")
	}
	if err := validateName("Name", *b.Name); err != nil {
		return err
	}
	spaceGUID := b.Relationships.Space.guid()
	if spaceGUID == "" {
		return apierr.Unprocessable("Relationships Space must be a relationship to a space")
	}
	if _, err := c.deps.Store.Spaces().Get(r.Context(), spaceGUID); err != nil {
		return orUnprocessable(err, "Invalid space. Ensure that the space exists and you have access to it.")
	}
	if err := c.checkSpace(r, spaceGUID, apierr.Unprocessable("%s", msgInvalidSpace)); err != nil {
		return err
	}
	env, err := envValues(b.EnvironmentVariables, false)
	if err != nil {
		return err
	}
	a := &store.App{Meta: store.Meta{GUID: newGUID()}, Name: *b.Name, SpaceGUID: spaceGUID, State: store.AppStopped, Env: map[string]string{}}
	for k, v := range env {
		a.Env[k] = *v
	}
	if b.Lifecycle != nil {
		if err := b.Lifecycle.validate(); err != nil {
			return err
		}
		if b.Lifecycle.Data.Buildpacks != nil {
			a.Buildpacks = *b.Lifecycle.Data.Buildpacks
		}
		if b.Lifecycle.Data.Stack != nil {
			a.Stack = *b.Lifecycle.Data.Stack
		}
	}
	if err := c.createAppRecords(r.Context(), c.deps.Store, a); err != nil {
		return err
	}
	c.apiLog(a.GUID, "Created app with guid %s", a.GUID)
	return writeJSON(w, http.StatusCreated, c.pres.App(a))
}

// createAppRecords creates an app and its web process in one transaction.
func (c *Controller) createAppRecords(ctx context.Context, st store.Store, a *store.App) error {
	err := st.InTx(ctx, func(tx store.Store) error {
		if err := tx.Apps().Create(ctx, a); err != nil {
			return err
		}
		if err := tx.Processes().Create(ctx, c.newProcess(a.GUID, "web")); err != nil {
			return err
		}
		return c.recordEvent(ctx, tx, eventAppCreate, c.appTarget(ctx, tx, a),
			map[string]any{"request": map[string]any{"name": a.Name, "state": a.State, "environment_variables": privateData}})
	})
	if errors.Is(err, store.ErrDuplicate) {
		return apierr.Unprocessable("App with the name '%s' already exists.", a.Name)
	}
	return err
}

func (c *Controller) newProcess(appGUID, typ string) *store.Process {
	p := &store.Process{
		Meta: store.Meta{GUID: newGUID()}, AppGUID: appGUID, Type: typ,
		MemoryMB: c.cfg.DefaultMemoryMB, DiskMB: c.cfg.DefaultDiskMB,
		HealthCheckType: messages.HealthCheckPort,
	}
	if typ == "web" {
		p.Instances = 1
	} else {
		p.HealthCheckType = messages.HealthCheckProcess
	}
	return p
}

func (c *Controller) updateApp(w http.ResponseWriter, r *http.Request) error {
	var b appBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name != nil {
		if err := validateName("Name", *b.Name); err != nil {
			return err
		}
	}
	if b.Lifecycle != nil {
		if err := b.Lifecycle.validate(); err != nil {
			return err
		}
	}
	req := map[string]any{}
	if b.Name != nil {
		req["name"] = *b.Name
	}
	a, err := c.mutateAppTx(r.Context(), r.PathValue("guid"), func(_ store.Store, a *store.App) error {
		if b.Name != nil {
			a.Name = *b.Name
		}
		if b.Lifecycle != nil {
			if b.Lifecycle.Data.Buildpacks != nil {
				a.Buildpacks = *b.Lifecycle.Data.Buildpacks
			}
			if b.Lifecycle.Data.Stack != nil {
				a.Stack = *b.Lifecycle.Data.Stack
			}
		}
		return nil
	}, eventAppUpdate, map[string]any{"request": req})
	if err != nil {
		return err
	}
	c.apiLog(a.GUID, "Updated app with guid %s", a.GUID)
	return writeJSON(w, http.StatusOK, c.pres.App(a))
}

func (c *Controller) deleteApp(w http.ResponseWriter, r *http.Request) error {
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	guid := a.GUID
	c.noteEvent(r.Context(), eventAppDeleteRequest, c.appTarget(r.Context(), c.deps.Store, a), map[string]any{"request": map[string]any{"recursive": true}})
	return c.runJob(w, r, "app.delete", "app", guid, func(ctx context.Context) ([]string, error) {
		return nil, c.deleteAppNow(ctx, guid)
	})
}

// deleteAppNow stops the app's instances and deletes it with its
// processes, route mappings, packages, builds, droplets and their blobs.
func (c *Controller) deleteAppNow(ctx context.Context, guid string) error {
	st := c.deps.Store
	if _, err := st.Apps().Get(ctx, guid); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	c.deploys.stop(guid, errSuperseded)
	c.stopAllInstances(guid)
	if err := c.unbindApp(ctx, guid); err != nil {
		return err
	}
	one := store.ListOptions{AppGUIDs: []string{guid}}
	var pkgs []*store.Package
	var drops []*store.Droplet
	err := st.InTx(ctx, func(tx store.Store) error {
		var err error
		dests, err := tx.Destinations().List(ctx, one)
		if err != nil {
			return err
		}
		for _, d := range dests {
			if err := ignoreNotFound(tx.Destinations().Delete(ctx, d.GUID)); err != nil {
				return err
			}
		}
		procs, err := tx.Processes().List(ctx, one)
		if err != nil {
			return err
		}
		for _, p := range procs {
			if err := ignoreNotFound(tx.Processes().Delete(ctx, p.GUID)); err != nil {
				return err
			}
		}
		builds, err := tx.Builds().List(ctx, one)
		if err != nil {
			return err
		}
		for _, b := range builds {
			if err := ignoreNotFound(tx.Builds().Delete(ctx, b.GUID)); err != nil {
				return err
			}
		}
		if drops, err = tx.Droplets().List(ctx, one); err != nil {
			return err
		}
		for _, d := range drops {
			if err := ignoreNotFound(tx.Droplets().Delete(ctx, d.GUID)); err != nil {
				return err
			}
		}
		if pkgs, err = tx.Packages().List(ctx, one); err != nil {
			return err
		}
		for _, p := range pkgs {
			if err := ignoreNotFound(tx.Packages().Delete(ctx, p.GUID)); err != nil {
				return err
			}
		}
		return ignoreNotFound(tx.Apps().Delete(ctx, guid))
	})
	if err != nil {
		return fmt.Errorf("delete app %s: %w", guid, err)
	}
	// Blobs go after the records: a crash in between leaves garbage
	// blobs, never records pointing at missing blobs.
	for _, p := range pkgs {
		c.deleteBlob(ctx, "packages/"+p.GUID)
	}
	for _, d := range drops {
		c.deleteBlob(ctx, "droplets/"+d.GUID)
	}
	c.deleteBlob(ctx, "caches/"+guid)
	c.rt.forgetApp(guid)
	c.deps.Logs.Forget(guid)
	c.log.Info("app-deleted", "app_guid", guid)
	return nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (c *Controller) deleteBlob(ctx context.Context, key string) {
	if err := c.deps.Blobs.Delete(ctx, key); err != nil {
		c.log.Warn("blob-delete-failed", "key", key, "error", err)
	}
}

func (c *Controller) getAppEnv(w http.ResponseWriter, r *http.Request) error {
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	space, err := c.spaceRec(r.Context(), a.SpaceGUID)
	if err != nil {
		return err
	}
	org, err := c.orgRec(r.Context(), space.OrgGUID)
	if err != nil {
		return err
	}
	var web *store.Process
	if ps, err := c.deps.Store.Processes().List(r.Context(), store.ListOptions{AppGUIDs: []string{a.GUID}, Types: []string{"web"}}); err == nil && len(ps) > 0 {
		web = ps[0]
	}
	uris, err := c.appURIs(r.Context(), a.GUID)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for k, v := range a.Env {
		env[k] = v
	}
	svcEnv, err := c.appServiceEnv(r.Context(), a.GUID)
	if err != nil {
		return err
	}
	system := map[string]any{"VCAP_SERVICES": svcEnv.VCAPServices}
	for k, v := range svcEnv.Env {
		system[k] = v
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"staging_env_json":      map[string]any{},
		"running_env_json":      map[string]any{},
		"environment_variables": env,
		"system_env_json":       system,
		"application_env_json":  map[string]any{"VCAP_APPLICATION": c.vcapApplication(a, web, space, org, uris, a.DropletGUID)},
	})
}

func (c *Controller) envVarsJSON(a *store.App) map[string]any {
	env := map[string]string{}
	for k, v := range a.Env {
		env[k] = v
	}
	return map[string]any{
		"var": env,
		"links": presenters.Links{
			"self": {Href: c.url + "/v3/apps/" + a.GUID + "/environment_variables"},
			"app":  {Href: c.url + "/v3/apps/" + a.GUID},
		},
	}
}

func (c *Controller) getAppEnvVars(w http.ResponseWriter, r *http.Request) error {
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.envVarsJSON(a))
}

func (c *Controller) patchAppEnvVars(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Var map[string]any `json:"var"`
	}
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	vals, err := envValues(b.Var, true)
	if err != nil {
		return err
	}
	a, err := c.mutateAppTx(r.Context(), r.PathValue("guid"), func(_ store.Store, a *store.App) error {
		if a.Env == nil {
			a.Env = map[string]string{}
		}
		for k, v := range vals {
			if v == nil {
				delete(a.Env, k)
			} else {
				a.Env[k] = *v
			}
		}
		return nil
	}, eventAppUpdate, map[string]any{"request": map[string]any{"environment_variables": privateData}})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	c.apiLog(a.GUID, "Updated app with guid %s ({\"environment_variables\"=>\"[PRIVATE DATA HIDDEN: %s]\"})", a.GUID, strings.Join(names, ", "))
	return writeJSON(w, http.StatusOK, c.envVarsJSON(a))
}

func (c *Controller) startApp(w http.ResponseWriter, r *http.Request) error {
	a, err := c.mutateAppTx(r.Context(), r.PathValue("guid"), func(tx store.Store, a *store.App) error {
		if a.DropletGUID == "" {
			return apierr.Unprocessable("Assign a droplet before starting this app.")
		}
		a.State = store.AppStarted
		return c.checkStartQuota(r.Context(), tx, a)
	}, eventAppStart, nil)
	if err != nil {
		return err
	}
	c.apiLog(a.GUID, "Updated app with guid %s ({\"state\"=>\"STARTED\"})", a.GUID)
	c.placeAllAfterStops(a.GUID, a.RunVersion(), "start")
	return writeJSON(w, http.StatusOK, c.pres.App(a))
}

func (c *Controller) stopApp(w http.ResponseWriter, r *http.Request) error {
	// A stop ends a running deployment (it is superseded).
	c.deploys.stop(r.PathValue("guid"), errSuperseded)
	a, err := c.mutateAppTx(r.Context(), r.PathValue("guid"), func(_ store.Store, a *store.App) error {
		a.State = store.AppStopped
		return nil
	}, eventAppStop, nil)
	if err != nil {
		return err
	}
	c.stopAllInstances(a.GUID)
	c.apiLog(a.GUID, "Updated app with guid %s ({\"state\"=>\"STOPPED\"})", a.GUID)
	return writeJSON(w, http.StatusOK, c.pres.App(a))
}

func (c *Controller) restartApp(w http.ResponseWriter, r *http.Request) error {
	c.deploys.stop(r.PathValue("guid"), errSuperseded)
	wasStarted := false
	a, err := c.mutateAppTx(r.Context(), r.PathValue("guid"), func(tx store.Store, a *store.App) error {
		if a.DropletGUID == "" {
			return apierr.Unprocessable("Assign a droplet before starting this app.")
		}
		wasStarted = a.State == store.AppStarted
		a.State = store.AppStarted
		return c.checkStartQuota(r.Context(), tx, a)
	}, eventAppRestart, nil)
	if err != nil {
		return err
	}
	if wasStarted {
		// Stop exactly the instances known now: an app-wide stop could
		// overtake the new starts on a DEA and kill them too.
		c.stopKnownInstances(a.GUID)
	}
	c.apiLog(a.GUID, "Restarted app with guid %s", a.GUID)
	c.placeAllAfterStops(a.GUID, a.RunVersion(), "restart")
	return writeJSON(w, http.StatusOK, c.pres.App(a))
}

func (c *Controller) getCurrentDroplet(w http.ResponseWriter, r *http.Request) error {
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if a.DropletGUID == "" {
		return apierr.NotFound("Droplet")
	}
	d, err := c.deps.Store.Droplets().Get(r.Context(), a.DropletGUID)
	if err != nil {
		return notFound(err, "Droplet")
	}
	return writeJSON(w, http.StatusOK, c.pres.Droplet(d))
}

func (c *Controller) currentDropletRel(a *store.App) map[string]any {
	var data any
	if a.DropletGUID != "" {
		data = presenters.GUIDRef{GUID: a.DropletGUID}
	}
	return map[string]any{
		"data": data,
		"links": presenters.Links{
			"self":    {Href: c.url + "/v3/apps/" + a.GUID + "/relationships/current_droplet"},
			"related": {Href: c.url + "/v3/apps/" + a.GUID + "/droplets/current"},
		},
	}
}

func (c *Controller) getCurrentDropletRel(w http.ResponseWriter, r *http.Request) error {
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if a.DropletGUID == "" {
		return apierr.NotFound("Droplet")
	}
	return writeJSON(w, http.StatusOK, c.currentDropletRel(a))
}

func (c *Controller) setCurrentDroplet(w http.ResponseWriter, r *http.Request) error {
	var b relBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	appGUID := r.PathValue("guid")
	if _, err := c.appRec(r.Context(), appGUID); err != nil {
		return err
	}
	bad := apierr.Unprocessable("Unable to assign current droplet. Ensure the droplet exists and belongs to this app.")
	if b.guid() == "" {
		return bad
	}
	d, err := c.deps.Store.Droplets().Get(r.Context(), b.guid())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return bad
		}
		return err
	}
	if d.AppGUID != appGUID || d.State != store.DropletStaged {
		return bad
	}
	a, err := c.mutateApp(r.Context(), appGUID, func(a *store.App) error {
		a.DropletGUID = d.GUID
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.ensureDropletProcesses(r.Context(), a.GUID, d); err != nil {
		return err
	}
	c.apiLog(a.GUID, "Set current droplet of app %s to %s", a.GUID, d.GUID)
	return writeJSON(w, http.StatusOK, c.currentDropletRel(a))
}

// ensureDropletProcesses creates a process (with no instances) for every
// process type the droplet declares that the app lacks.
func (c *Controller) ensureDropletProcesses(ctx context.Context, appGUID string, d *store.Droplet) error {
	procs, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, p := range procs {
		have[p.Type] = true
	}
	for typ := range d.ProcessTypes {
		if have[typ] || !validProcessType(typ) {
			continue
		}
		if err := c.deps.Store.Processes().Create(ctx, c.newProcess(appGUID, typ)); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	return nil
}

func validProcessType(t string) bool {
	if t == "" || len(t) > 255 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

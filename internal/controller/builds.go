package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/placement"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

// Staging sizes, lowered to the app's own sizes when no stager has that
// much room. Memory is twice Cloud Foundry's 1 GiB: compiling a Go app
// with a few database drivers (two compilers at once) needs more than
// 1 GiB, and a staging over its limit is killed.
const (
	minStagingMemoryMB = 2048
	minStagingDiskMB   = 4096
	// advertWait is how long after start a build waits for the first DEA
	// advertisements before giving up on finding a stager.
	advertWait = 3 * time.Second
)

func buildMeta(b *store.Build) *store.Meta     { return &b.Meta }
func dropletMeta(d *store.Droplet) *store.Meta { return &d.Meta }

type buildBody struct {
	Package *struct {
		GUID string `json:"guid"`
	} `json:"package"`
	StagingMemoryInMB *int64         `json:"staging_memory_in_mb"`
	StagingDiskInMB   *int64         `json:"staging_disk_in_mb"`
	Lifecycle         *lifecycleBody `json:"lifecycle"`
}

func (c *Controller) createBuild(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b buildBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Package == nil || b.Package.GUID == "" {
		return apierr.Unprocessable("Package guid is required")
	}
	if b.Lifecycle != nil {
		if err := b.Lifecycle.validate(); err != nil {
			return err
		}
	}
	if v := b.StagingMemoryInMB; v != nil && (*v <= 0 || *v > maxMemoryMB) {
		return apierr.Unprocessable("Staging memory in mb must be greater than 0")
	}
	if v := b.StagingDiskInMB; v != nil && (*v <= 0 || *v > maxDiskMB) {
		return apierr.Unprocessable("Staging disk in mb must be greater than 0")
	}
	pkg, err := c.deps.Store.Packages().Get(ctx, b.Package.GUID)
	if err != nil {
		return orUnprocessable(err, "Unable to use package. Ensure that the package exists and you have access to it.")
	}
	if pa, err := c.deps.Store.Apps().Get(ctx, pkg.AppGUID); err == nil {
		if err := c.checkSpace(r, pa.SpaceGUID, apierr.Unprocessable("Unable to use package. Ensure that the package exists and you have access to it.")); err != nil {
			return err
		}
	}
	if pkg.State != store.PackageReady {
		return apierr.Unprocessable("Unable to stage: the package is %s, not READY", pkg.State)
	}
	app, err := c.deps.Store.Apps().Get(ctx, pkg.AppGUID)
	if err != nil {
		return orUnprocessable(err, "Unable to use package. Its app no longer exists.")
	}
	webMem, webDisk := c.cfg.DefaultMemoryMB, c.cfg.DefaultDiskMB
	if ps, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}, Types: []string{"web"}}); err == nil && len(ps) > 0 {
		webMem, webDisk = ps[0].MemoryMB, ps[0].DiskMB
	}
	build := &store.Build{
		Meta: store.Meta{GUID: newGUID()}, AppGUID: app.GUID, PackageGUID: pkg.GUID, State: store.BuildStaging,
		DropletGUID: newGUID(), Buildpacks: app.Buildpacks, Stack: app.Stack, CreatedBy: userFrom(ctx).GUID,
		StagingMemoryMB: max(webMem, minStagingMemoryMB), StagingDiskMB: max(webDisk, minStagingDiskMB),
	}
	if b.Lifecycle != nil {
		if b.Lifecycle.Data.Buildpacks != nil {
			build.Buildpacks = *b.Lifecycle.Data.Buildpacks
		}
		if b.Lifecycle.Data.Stack != nil {
			build.Stack = *b.Lifecycle.Data.Stack
		}
	}
	explicit := b.StagingMemoryInMB != nil || b.StagingDiskInMB != nil
	if b.StagingMemoryInMB != nil {
		build.StagingMemoryMB = *b.StagingMemoryInMB
	}
	if b.StagingDiskInMB != nil {
		build.StagingDiskMB = *b.StagingDiskInMB
	}
	select {
	case c.stagingSem <- struct{}{}:
	default:
		return apierr.ServiceUnavailable("Too many builds are staging; try again shortly")
	}
	droplet := &store.Droplet{
		Meta: store.Meta{GUID: build.DropletGUID}, AppGUID: app.GUID, PackageGUID: pkg.GUID, BuildGUID: build.GUID,
		State: store.BuildStaging, Stack: build.Stack, ProcessTypes: map[string]string{},
	}
	err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
		if err := tx.Droplets().Create(ctx, droplet); err != nil {
			return err
		}
		return tx.Builds().Create(ctx, build)
	})
	if err != nil {
		<-c.stagingSem
		return err
	}
	c.apiLog(app.GUID, "Creating build for app with guid %s", app.GUID)
	fallback := placement.Request{MemoryMB: webMem, DiskMB: webDisk}
	if explicit {
		fallback = placement.Request{}
	}
	c.bgMu.Lock()
	closed := c.bgClosed
	if !closed {
		c.wg.Add(1)
	}
	c.bgMu.Unlock()
	if closed {
		<-c.stagingSem
		c.failBuild(ctx, build.GUID, "StagingError - the controller is shutting down")
		return apierr.ServiceUnavailable("The controller is shutting down")
	}
	go func() {
		defer c.wg.Done()
		defer func() { <-c.stagingSem }()
		c.stage(app, pkg, build, fallback)
	}()
	return writeJSON(w, http.StatusCreated, c.pres.Build(build, c.userRef(ctx, build.CreatedBy)))
}

func (c *Controller) userRef(ctx context.Context, guid string) presenters.UserRef {
	ref := presenters.UserRef{GUID: guid}
	if guid == "" {
		return ref
	}
	if u, err := c.deps.Store.Users().Get(ctx, guid); err == nil {
		ref.Name, ref.Email = u.Username, u.Username
	}
	return ref
}

// stage runs one build on a stager chosen from the advertisement pool and
// records the outcome on the build and its droplet.
func (c *Controller) stage(app *store.App, pkg *store.Package, build *store.Build, fallback placement.Request) {
	ctx, cancel := context.WithTimeout(c.baseCtx, c.cfg.StagingTimeout)
	defer cancel()
	for !c.rt.hasDEAs() && time.Since(c.started) < advertWait {
		select {
		case <-ctx.Done():
			c.failBuild(ctx, build.GUID, "StagingError - the controller stopped before staging began")
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	req := placement.Request{Stack: build.Stack, MemoryMB: build.StagingMemoryMB, DiskMB: build.StagingDiskMB}
	rnd := c.newRand()
	cand, ok := placement.ChooseStager(c.rt.candidates(""), req, rnd)
	if !ok && fallback.MemoryMB > 0 {
		// No stager has CF's staging minimums free: stage within the
		// app's own limits instead.
		req.MemoryMB, req.DiskMB = fallback.MemoryMB, fallback.DiskMB
		cand, ok = placement.ChooseStager(c.rt.candidates(""), req, rnd)
	}
	if !ok {
		detail := fmt.Sprintf("no compatible cell available (memory %d MB, disk %d MB", req.MemoryMB, req.DiskMB)
		if req.Stack != "" {
			detail += ", stack " + req.Stack
		}
		c.failBuild(ctx, build.GUID, "StagingError - "+detail+")")
		return
	}
	c.rt.reserve(cand.ID, "", req.MemoryMB, req.DiskMB)
	stack := req.Stack
	if stack == "" && len(cand.Stacks) > 0 {
		stack = cand.Stacks[0]
	}
	startCmd := ""
	if ps, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}, Types: []string{"web"}}); err == nil && len(ps) > 0 {
		startCmd = ps[0].Command
	}
	env := map[string]string{}
	for k, v := range app.Env {
		env[k] = v
	}
	msg := messages.StagingRequest{
		AppGUID: app.GUID, AppName: app.Name, BuildGUID: build.GUID, Stack: stack,
		PackageURI:        c.signURL("GET", "/internal/v1/packages/"+pkg.GUID),
		DropletUploadURI:  c.signURL("PUT", "/internal/v1/droplets/"+build.DropletGUID),
		BuildpackCacheURI: c.signURL(anyMethod, "/internal/v1/buildpack_cache/"+app.GUID),
		Buildpacks:        build.Buildpacks, StartCommand: startCmd, Env: env,
		MemoryMB: req.MemoryMB, DiskMB: req.DiskMB, TimeoutSeconds: int(c.cfg.StagingTimeout / time.Second),
	}
	data, err := json.Marshal(&msg)
	if err != nil {
		c.failBuild(ctx, build.GUID, "StagingError - could not encode the staging request")
		return
	}
	c.log.Info("staging-started", "app_guid", app.GUID, "build_guid", build.GUID, "dea_id", cand.ID, "stack", stack)
	raw, err := c.deps.Bus.Request(ctx, bus.StagingStartSubject(cand.ID), data)
	switch {
	case errors.Is(err, bus.ErrTimeout):
		c.failBuild(ctx, build.GUID, fmt.Sprintf("StagingError - staging timed out after %s", c.cfg.StagingTimeout))
		return
	case errors.Is(err, bus.ErrNoResponders):
		c.failBuild(ctx, build.GUID, "StagingError - the stager on cell "+cand.ID+" is not reachable")
		return
	case err != nil:
		c.failBuild(ctx, build.GUID, "StagingError - "+err.Error())
		return
	}
	var res messages.StagingResult
	if err := messages.Decode(raw, &res); err != nil {
		c.failBuild(ctx, build.GUID, "StagingError - the stager sent an invalid result: "+err.Error())
		return
	}
	if res.BuildGUID != build.GUID {
		c.failBuild(ctx, build.GUID, "StagingError - the stager answered for another build")
		return
	}
	if res.Error != "" {
		c.failBuild(ctx, build.GUID, stagingError(res.Error))
		return
	}
	if err := c.completeBuild(ctx, build.GUID, stack, &res); err != nil {
		c.failBuild(ctx, build.GUID, stagingError(err.Error()))
		return
	}
	c.log.Info("staging-finished", "app_guid", app.GUID, "build_guid", build.GUID, "buildpack", res.DetectedBuildpack)
}

var typedErrorRE = regexp.MustCompile(`^[A-Za-z]+Error - `)

// stagingError gives a stager's message CF's "<Type>Error - " form.
func stagingError(msg string) string {
	if typedErrorRE.MatchString(msg) {
		return msg
	}
	return "StagingError - " + msg
}

// completeBuild records a successful staging: the droplet (whose blob
// the stager uploaded) becomes STAGED, then the build.
func (c *Controller) completeBuild(ctx context.Context, buildGUID, stack string, res *messages.StagingResult) error {
	b, err := c.deps.Store.Builds().Get(ctx, buildGUID)
	if err != nil {
		return fmt.Errorf("the build is gone: %w", err)
	}
	for attempt := 0; ; attempt++ {
		d, err := c.deps.Store.Droplets().Get(ctx, b.DropletGUID)
		if err != nil {
			return fmt.Errorf("the droplet is gone: %w", err)
		}
		if d.Digest == "" {
			return errors.New("the stager did not upload a droplet")
		}
		if res.DropletDigest != d.Digest {
			return fmt.Errorf("the uploaded droplet's sha256 %s does not match the stager's %s", d.Digest, res.DropletDigest)
		}
		d.State = store.DropletStaged
		d.DetectedBuildpack, d.BuildpackName = res.DetectedBuildpack, res.BuildpackName
		d.StartCommand, d.Stack = res.StartCommand, stack
		d.ProcessTypes = map[string]string{}
		for k, v := range res.ProcessTypes {
			if validProcessType(k) {
				d.ProcessTypes[k] = v
			}
		}
		if _, ok := d.ProcessTypes["web"]; !ok && res.StartCommand != "" {
			d.ProcessTypes["web"] = res.StartCommand
		}
		err = c.deps.Store.Droplets().Update(ctx, d)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("record droplet: %w", err)
		}
		break
	}
	if err := c.updateBuild(ctx, buildGUID, func(b *store.Build) { b.State, b.Error = store.BuildStaged, "" }); err != nil {
		return err
	}
	c.pruneDroplets(ctx, b.AppGUID)
	return nil
}

// pruneDroplets deletes the app's staged droplets beyond the newest
// DropletsKept, sparing the current droplet and those an active
// deployment may go back to.
func (c *Controller) pruneDroplets(ctx context.Context, appGUID string) {
	st := c.deps.Store
	app, err := st.Apps().Get(ctx, appGUID)
	if err != nil {
		return
	}
	drops, err := st.Droplets().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}, States: []string{store.DropletStaged}})
	if err != nil || len(drops) <= c.cfg.DropletsKept {
		return
	}
	keep := map[string]bool{app.DropletGUID: true}
	if deps, err := st.Deployments().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}, States: []string{store.DeploymentActive}}); err == nil {
		for _, d := range deps {
			keep[d.DropletGUID], keep[d.PreviousDropletGUID] = true, true
		}
	} else {
		return
	}
	sort.Slice(drops, func(i, j int) bool { return drops[i].CreatedAt.After(drops[j].CreatedAt) })
	for i, d := range drops {
		if i < c.cfg.DropletsKept || keep[d.GUID] {
			continue
		}
		if err := st.Droplets().Delete(ctx, d.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			c.log.Warn("droplet-prune-failed", "droplet_guid", d.GUID, "error", err)
			continue
		}
		c.deleteBlob(ctx, "droplets/"+d.GUID)
		c.log.Info("droplet-pruned", "app_guid", appGUID, "droplet_guid", d.GUID)
	}
}

func (c *Controller) updateBuild(ctx context.Context, guid string, f func(*store.Build)) error {
	for attempt := 0; ; attempt++ {
		b, err := c.deps.Store.Builds().Get(ctx, guid)
		if err != nil {
			return err
		}
		f(b)
		err = c.deps.Store.Builds().Update(ctx, b)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

// failBuild marks a build and its droplet FAILED with msg.
func (c *Controller) failBuild(ctx context.Context, guid, msg string) {
	ctx = context.WithoutCancel(ctx)
	var dropletGUID, appGUID string
	err := c.updateBuild(ctx, guid, func(b *store.Build) {
		b.State, b.Error = store.BuildFailed, msg
		dropletGUID, appGUID = b.DropletGUID, b.AppGUID
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Error("build-fail-record-failed", "build_guid", guid, "error", err)
		}
		return
	}
	c.log.Info("staging-failed", "app_guid", appGUID, "build_guid", guid, "error", msg)
	c.deps.Emitter.Emit(appGUID, messages.SourceStaging, "0", "ERR", "Staging failed: "+msg)
	for attempt := 0; attempt < 5 && dropletGUID != ""; attempt++ {
		d, err := c.deps.Store.Droplets().Get(ctx, dropletGUID)
		if err != nil {
			return
		}
		d.State, d.Error = store.DropletFailed, msg
		if err := c.deps.Store.Droplets().Update(ctx, d); !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if dropletGUID != "" {
		c.deleteBlob(ctx, "droplets/"+dropletGUID)
	}
}

func (c *Controller) writeBuilds(w http.ResponseWriter, r *http.Request, lp listParams, builds []*store.Build) error {
	page, total := sortAndPage(builds, lp, buildMeta, nil)
	out := make([]*presenters.Build, 0, len(page))
	users := map[string]presenters.UserRef{}
	for _, b := range page {
		ref, ok := users[b.CreatedBy]
		if !ok {
			ref = c.userRef(r.Context(), b.CreatedBy)
			users[b.CreatedBy] = ref
		}
		out = append(out, c.pres.Build(b, ref))
	}
	return c.writeList(w, r, lp, total, out, nil)
}

func (c *Controller) listBuilds(w http.ResponseWriter, r *http.Request) error {
	lp, q, readableApps, err := c.appScopedList(r)
	if err != nil {
		return err
	}
	builds, err := c.deps.Store.Builds().List(r.Context(), store.ListOptions{
		AppGUIDs: readableApps, GUIDs: filterValues(q, "guids"),
		States: filterValues(q, "states"), PackageGUIDs: filterValues(q, "package_guids"),
	})
	if err != nil {
		return err
	}
	return c.writeBuilds(w, r, lp, builds)
}

func (c *Controller) listAppBuilds(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	builds, err := c.deps.Store.Builds().List(r.Context(), store.ListOptions{AppGUIDs: []string{a.GUID}, States: filterValues(r.URL.Query(), "states")})
	if err != nil {
		return err
	}
	return c.writeBuilds(w, r, lp, builds)
}

func (c *Controller) getBuild(w http.ResponseWriter, r *http.Request) error {
	b, err := c.deps.Store.Builds().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Build")
	}
	return writeJSON(w, http.StatusOK, c.pres.Build(b, c.userRef(r.Context(), b.CreatedBy)))
}

func (c *Controller) writeDroplets(w http.ResponseWriter, r *http.Request, lp listParams, ds []*store.Droplet) error {
	return writePage(c, w, r, lp, ds, dropletMeta, nil, c.pres.Droplet)
}

func (c *Controller) listDroplets(w http.ResponseWriter, r *http.Request) error {
	lp, q, readableApps, err := c.appScopedList(r)
	if err != nil {
		return err
	}
	ds, err := c.deps.Store.Droplets().List(r.Context(), store.ListOptions{
		AppGUIDs: readableApps, GUIDs: filterValues(q, "guids"),
		States: filterValues(q, "states"), PackageGUIDs: filterValues(q, "package_guids"),
	})
	if err != nil {
		return err
	}
	return c.writeDroplets(w, r, lp, ds)
}

func (c *Controller) listAppDroplets(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opt := store.ListOptions{AppGUIDs: []string{a.GUID}, States: filterValues(q, "states")}
	if q.Get("current") == "true" {
		if a.DropletGUID == "" {
			return c.writeDroplets(w, r, lp, nil)
		}
		opt.GUIDs = []string{a.DropletGUID}
	}
	ds, err := c.deps.Store.Droplets().List(r.Context(), opt)
	if err != nil {
		return err
	}
	return c.writeDroplets(w, r, lp, ds)
}

func (c *Controller) getDroplet(w http.ResponseWriter, r *http.Request) error {
	d, err := c.deps.Store.Droplets().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Droplet")
	}
	return writeJSON(w, http.StatusOK, c.pres.Droplet(d))
}

func (c *Controller) downloadDroplet(w http.ResponseWriter, r *http.Request) error {
	d, err := c.deps.Store.Droplets().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Droplet")
	}
	if d.State != store.DropletStaged {
		return apierr.Unprocessable("Only staged droplets can be downloaded (this one is %s)", d.State)
	}
	return c.serveBlob(w, r, "droplets/"+d.GUID, "application/gzip")
}

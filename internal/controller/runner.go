package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller/placement"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

// subscribe wires the bus subjects the controller listens to.
func (c *Controller) subscribe() ([]bus.Subscription, error) {
	type sub struct {
		subject, queue string
		h              bus.Handler
	}
	desiredSem := make(chan struct{}, 2)
	hmSem := make(chan struct{}, 16)
	subs := []sub{
		{bus.SubjectDEAAdvertise, "", func(m *bus.Msg) {
			var ad messages.DEAAdvertise
			if err := messages.Decode(m.Data, &ad); err != nil {
				c.log.Debug("advertise-rejected", "error", err)
				return
			}
			c.rt.advertise(ad)
		}},
		{bus.SubjectDEAShutdown, "", func(m *bus.Msg) {
			var sd messages.DEAShutdown
			if err := messages.Decode(m.Data, &sd); err != nil {
				c.log.Debug("dea-shutdown-rejected", "error", err)
				return
			}
			if sd.Evacuating {
				// Out of the pool at once; its instances stay in view
				// (as EVACUATING, not live) until they are replaced.
				c.log.Info("dea-evacuating", "dea_id", sd.ID)
				c.rt.evacuating(sd.ID)
				return
			}
			c.log.Info("dea-left", "dea_id", sd.ID)
			c.rt.removeDEA(sd.ID)
		}},
		{bus.SubjectDEAHeartbeat, "", func(m *bus.Msg) {
			var hb messages.Heartbeat
			if err := messages.Decode(m.Data, &hb); err != nil {
				c.log.Debug("heartbeat-rejected", "error", err)
				return
			}
			c.rt.heartbeat(hb)
		}},
		{bus.SubjectDropletExited, "", func(m *bus.Msg) {
			var ex messages.DropletExited
			if err := messages.Decode(m.Data, &ex); err != nil {
				c.log.Debug("droplet-exited-rejected", "error", err)
				return
			}
			c.rt.exited(ex)
			if ex.Reason == messages.ReasonCrashed {
				c.log.Info("instance-crashed", "app_guid", ex.AppGUID, "instance_index", ex.Index, "exit_status", ex.ExitStatus, "reason", ex.ExitDescription)
			}
		}},
		{bus.SubjectHMRequests, bus.QueueController, func(m *bus.Msg) {
			var req messages.HMRequest
			if err := messages.Decode(m.Data, &req); err != nil {
				c.log.Debug("hm-request-rejected", "error", err)
				return
			}
			// Hand off: the handler runs on the subscription goroutine. When
			// too many are in flight the request is dropped; the health
			// manager asks again on its next pass.
			select {
			case hmSem <- struct{}{}:
			default:
				c.log.Warn("hm-request-dropped", "app_guid", req.AppGUID, "reason", "busy")
				return
			}
			c.goBackground(func(ctx context.Context) {
				defer func() { <-hmSem }()
				c.handleHMRequest(ctx, req)
			})
		}},
		{bus.SubjectLease, bus.QueueController, func(m *bus.Msg) {
			select {
			case desiredSem <- struct{}{}:
			default:
				c.log.Warn("lease-request-busy")
				return
			}
			c.goBackground(func(ctx context.Context) {
				defer func() { <-desiredSem }()
				c.answerLease(ctx, m)
			})
		}},
		{bus.SubjectDesiredState, bus.QueueController, func(m *bus.Msg) {
			select {
			case desiredSem <- struct{}{}:
			default:
				c.log.Warn("desired-state-busy")
				return
			}
			c.goBackground(func(ctx context.Context) {
				defer func() { <-desiredSem }()
				c.answerDesiredState(ctx, m)
			})
		}},
	}
	var out []bus.Subscription
	for _, s := range subs {
		sb, err := c.deps.Bus.Subscribe(s.subject, s.queue, s.h)
		if err != nil {
			for _, o := range out {
				_ = o.Unsubscribe()
			}
			return nil, fmt.Errorf("controller: %w", err)
		}
		out = append(out, sb)
	}
	return out, nil
}

// janitor expires in-memory bookkeeping.
func (c *Controller) janitor(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.rt.sweep()
		}
	}
}

// placeTask asks to start indices of one process of an app at a version.
type placeTask struct {
	appGUID  string
	procType string
	version  string // "" = the current droplet
	indices  []int
	reason   string
	// recheck counts the re-checks of indices found occupied: a health
	// manager's restart of a crash can overtake the exit it answers (the
	// two arrive on different subjects), so the crashed instance may still
	// look live.
	recheck int
}

// Re-checks of a health manager's start whose index looked occupied.
const (
	maxRechecks  = 4
	recheckPause = 250 * time.Millisecond
)

func (c *Controller) enqueuePlacement(t placeTask) {
	if len(t.indices) == 0 {
		return
	}
	select {
	case c.placeQ <- t:
	default:
		c.log.Warn("placement-queue-full", "app_guid", t.appGUID)
	}
}

func (c *Controller) placeWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-c.placeQ:
			c.place(ctx, t)
		}
	}
}

// place re-validates a placement task against desired and actual state
// and starts each index that is still wanted and missing.
func (c *Controller) place(ctx context.Context, t placeTask) {
	unlock := c.appLocks.Lock(t.appGUID)
	defer unlock()
	st := c.deps.Store
	app, err := st.Apps().Get(ctx, t.appGUID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.Error("place-app-lookup-failed", "app_guid", t.appGUID, "error", err)
		}
		return
	}
	if app.State != store.AppStarted || app.DropletGUID == "" || (t.version != "" && t.version != app.RunVersion()) {
		c.log.Debug("placement-skipped", "app_guid", app.GUID, "reason", "app stopped or version changed")
		return
	}
	procs, err := st.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}, Types: []string{t.procType}})
	if err != nil || len(procs) == 0 {
		c.log.Debug("placement-skipped", "app_guid", app.GUID, "process_type", t.procType, "reason", "no such process")
		return
	}
	proc := procs[0]
	droplet, err := st.Droplets().Get(ctx, app.DropletGUID)
	if err != nil || droplet.State != store.DropletStaged {
		c.log.Warn("placement-skipped", "app_guid", app.GUID, "reason", "current droplet missing or not staged")
		return
	}
	tmpl, err := c.startTemplate(ctx, app, proc, droplet, app.RunVersion())
	if err != nil {
		c.log.Error("start-message-failed", "app_guid", app.GUID, "error", err)
		return
	}
	rnd := c.newRand()
	gen := c.rt.generation(app.GUID)
	var busy []int
	defer func() {
		if len(busy) > 0 && t.reason == "hm:"+messages.ReasonCrashed && t.recheck < maxRechecks {
			again := t
			again.indices, again.recheck = busy, t.recheck+1
			c.goBackground(func(ctx context.Context) {
				select {
				case <-ctx.Done():
				case <-time.After(recheckPause):
					c.enqueuePlacement(again)
				}
			})
		}
	}()
	for _, idx := range t.indices {
		if c.rt.generation(app.GUID) != gen {
			c.log.Debug("placement-aborted", "app_guid", app.GUID, "reason", "app stopped meanwhile")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if idx < 0 || idx >= proc.Instances {
			continue
		}
		if c.rt.occupied(app.GUID, proc.Type, tmpl.Version, idx) {
			c.log.Debug("placement-skipped", "app_guid", app.GUID, "instance_index", idx, "reason", "index occupied")
			busy = append(busy, idx)
			continue
		}
		if g := c.startIndex(ctx, tmpl, idx, rnd, t.reason); g != "" && c.rt.generation(app.GUID) != gen {
			// The app was stopped while this start was in flight.
			_ = c.deps.Bus.PublishJSON(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: app.GUID, InstanceGUIDs: []string{g}, Reason: messages.ReasonStopped})
			c.rt.dropInstance(g)
			return
		}
	}
}

// startTemplate builds the start message shared by every index.
func (c *Controller) startTemplate(ctx context.Context, app *store.App, proc *store.Process, droplet *store.Droplet, version string) (*messages.StartInstance, error) {
	space, err := c.deps.Store.Spaces().Get(ctx, app.SpaceGUID)
	if err != nil {
		return nil, fmt.Errorf("look up space: %w", err)
	}
	org, err := c.deps.Store.Orgs().Get(ctx, space.OrgGUID)
	if err != nil {
		return nil, fmt.Errorf("look up org: %w", err)
	}
	var uris []string
	if proc.Type == "web" {
		if uris, err = c.appURIs(ctx, app.GUID); err != nil {
			return nil, err
		}
	}
	cmd := proc.Command
	if cmd == "" && proc.Type != "web" {
		cmd = droplet.ProcessTypes[proc.Type]
		if cmd == "" {
			return nil, fmt.Errorf("process type %s has no command", proc.Type)
		}
	}
	hc := messages.HealthCheck{
		Type: proc.HealthCheckType, Endpoint: proc.HealthCheckEndpoint,
		TimeoutSeconds: proc.HealthCheckTimeout, InvocationTimeoutSeconds: proc.HealthCheckInvocationTimeout,
	}
	if hc.Type == "" {
		hc.Type = messages.HealthCheckPort
	}
	if hc.Type == messages.HealthCheckHTTP && hc.Endpoint == "" {
		hc.Endpoint = "/"
	}
	svcEnv, err := c.appServiceEnv(ctx, app.GUID)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for k, v := range svcEnv.Env {
		env[k] = v
	}
	for k, v := range app.Env {
		env[k] = v // the user's variables win
	}
	return &messages.StartInstance{
		AppGUID: app.GUID, AppName: app.Name, ProcessGUID: proc.GUID, ProcessType: proc.Type,
		SpaceGUID: space.GUID, SpaceName: space.Name, OrgGUID: org.GUID, OrgName: org.Name,
		Version: version, DropletDigest: droplet.Digest,
		MemoryMB: proc.MemoryMB, DiskMB: proc.DiskMB, FileDescriptors: defaultFDs,
		StartCommand: cmd, Env: env,
		VCAPApplication: c.vcapApplication(app, proc, space, org, uris, version),
		VCAPServices:    svcEnv.JSON(),
		URIs:            uris, HealthCheck: hc, Stack: droplet.Stack, CFAPI: c.url,
	}, nil
}

// defaultFDs is every instance's file descriptor limit.
const defaultFDs = 16384

// vcapApplication is the controller's part of VCAP_APPLICATION.
func (c *Controller) vcapApplication(app *store.App, proc *store.Process, space *store.Space, org *store.Org, uris []string, version string) map[string]any {
	if uris == nil {
		uris = []string{}
	}
	mem, disk := c.cfg.DefaultMemoryMB, c.cfg.DefaultDiskMB
	if proc != nil {
		mem, disk = proc.MemoryMB, proc.DiskMB
	}
	return map[string]any{
		"application_id":      app.GUID,
		"application_name":    app.Name,
		"application_uris":    uris,
		"application_version": version,
		"version":             version,
		"name":                app.Name,
		"uris":                uris,
		"space_id":            space.GUID,
		"space_name":          space.Name,
		"organization_id":     org.GUID,
		"organization_name":   org.Name,
		"limits":              map[string]int64{"mem": mem, "disk": disk, "fds": defaultFDs},
		"cf_api":              c.url,
		"users":               nil,
	}
}

// startIndex places one index: it tries DEAs in placement order until one
// accepts, and records why ("insufficient resources: ...") when none does.
func (c *Controller) startIndex(ctx context.Context, tmpl *messages.StartInstance, idx int, rnd *rand.Rand, reason string) string {
	req := placement.Request{Stack: tmpl.Stack, MemoryMB: tmpl.MemoryMB, DiskMB: tmpl.DiskMB}
	tried := map[string]bool{}
	refusal := ""
	for attempt := 0; attempt < 5; attempt++ {
		var cands []placement.Candidate
		all := c.rt.candidates(tmpl.AppGUID)
		if attempt == 0 {
			refusal = placement.Explain(all, req)
		}
		for _, cd := range all {
			if !tried[cd.ID] {
				cands = append(cands, cd)
			}
		}
		cand, ok := placement.Choose(cands, req, rnd)
		if !ok {
			break
		}
		tried[cand.ID] = true
		c.rt.reserve(cand.ID, tmpl.AppGUID, tmpl.MemoryMB, tmpl.DiskMB)
		msg := *tmpl
		msg.Index = idx
		msg.InstanceGUID = newGUID()
		msg.DropletURI = c.signURL("GET", "/internal/v1/droplets/"+store.DropletOfVersion(tmpl.Version))
		data, err := json.Marshal(&msg)
		if err != nil {
			c.log.Error("start-encode-failed", "error", err)
			return ""
		}
		rctx, cancel := context.WithTimeout(ctx, startTimeout)
		raw, err := c.deps.Bus.Request(rctx, bus.DEAStartSubject(cand.ID), data)
		cancel()
		if err != nil {
			c.log.Warn("instance-start-unanswered", "app_guid", tmpl.AppGUID, "instance_index", idx, "dea_id", cand.ID, "error", err)
			refusal = "insufficient resources: DEA " + cand.ID + " did not answer"
			continue
		}
		var rep messages.StartReply
		if err := messages.Decode(raw, &rep); err != nil || !rep.Accepted {
			c.log.Info("instance-start-refused", "app_guid", tmpl.AppGUID, "instance_index", idx, "dea_id", cand.ID, "error", rep.Error)
			refusal = "insufficient resources: DEA " + cand.ID + " refused: " + rep.Error
			continue
		}
		c.rt.addPending(msg.InstanceGUID, pendingStart{appGUID: tmpl.AppGUID, procType: tmpl.ProcessType, version: tmpl.Version, index: idx, dea: cand.ID})
		c.log.Info("instance-placed", "app_guid", tmpl.AppGUID, "process_type", tmpl.ProcessType, "instance_index", idx, "instance_guid", msg.InstanceGUID, "dea_id", cand.ID, "reason", reason)
		return msg.InstanceGUID
	}
	c.rt.recordFailure(tmpl.AppGUID, tmpl.ProcessType, idx, refusal)
	c.log.Warn("instance-not-placed", "app_guid", tmpl.AppGUID, "process_type", tmpl.ProcessType, "instance_index", idx, "reason", refusal)
	c.deps.Emitter.Emit(tmpl.AppGUID, messages.SourceAPI, "0", "ERR",
		fmt.Sprintf("Failed to place instance %d of process %s: %s", idx, tmpl.ProcessType, refusal))
	return ""
}

// appURIs lists the route URLs mapped to the app's web process.
func (c *Controller) appURIs(ctx context.Context, appGUID string) ([]string, error) {
	dests, err := c.deps.Store.Destinations().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}})
	if err != nil {
		return nil, fmt.Errorf("list destinations: %w", err)
	}
	seen := map[string]bool{}
	uris := []string{}
	domains := map[string]string{}
	for _, d := range dests {
		if d.ProcessType != "web" || seen[d.RouteGUID] {
			continue
		}
		seen[d.RouteGUID] = true
		r, err := c.deps.Store.Routes().Get(ctx, d.RouteGUID)
		if err != nil {
			continue
		}
		dn, ok := domains[r.DomainGUID]
		if !ok {
			dom, err := c.deps.Store.Domains().Get(ctx, r.DomainGUID)
			if err != nil {
				continue
			}
			dn = dom.Name
			domains[r.DomainGUID] = dn
		}
		uris = append(uris, presenters.RouteURL(r.Host, dn, r.Path))
	}
	sort.Strings(uris)
	return uris, nil
}

// placeAll asks to start every index of every process of a started app.
func (c *Controller) placeAll(ctx context.Context, appGUID, version, reason string) error {
	procs, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{appGUID}})
	if err != nil {
		return err
	}
	for _, p := range procs {
		idx := make([]int, p.Instances)
		for i := range idx {
			idx[i] = i
		}
		c.enqueuePlacement(placeTask{appGUID: appGUID, procType: p.Type, version: version, indices: idx, reason: reason})
	}
	return nil
}

// stopAllInstances tells every DEA to stop all the app's instances and
// hides them from actual state meanwhile.
func (c *Controller) stopAllInstances(appGUID string) {
	c.rt.bumpGeneration(appGUID)
	c.rt.markStopping(appGUID, nil)
	if err := c.deps.Bus.PublishJSON(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: appGUID, Reason: messages.ReasonStopped}); err != nil {
		c.log.Warn("stop-publish-failed", "app_guid", appGUID, "error", err)
	}
}

// stopWait bounds how long a start waits for the app's stopping
// instances to go: a DEA treats a start of the same app, version and
// index as a duplicate while the old instance still runs.
const stopWait = 15 * time.Second

// placeAllAfterStops places every index of the app once the instances
// being stopped are gone (or stopWait passed).
func (c *Controller) placeAllAfterStops(appGUID, version, reason string) {
	if c.rt.stopping(appGUID) == 0 {
		if err := c.placeAll(c.baseCtx, appGUID, version, reason); err != nil {
			c.log.Error("placement-failed", "app_guid", appGUID, "error", err)
		}
		return
	}
	c.goBackground(func(ctx context.Context) {
		deadline := time.Now().Add(stopWait)
		for c.rt.stopping(appGUID) > 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err := c.placeAll(ctx, appGUID, version, reason); err != nil {
			c.log.Error("placement-failed", "app_guid", appGUID, "error", err)
		}
	})
}

// stopKnownInstances stops the app's instances known now, by guid.
func (c *Controller) stopKnownInstances(appGUID string) {
	c.rt.bumpGeneration(appGUID)
	guids := c.rt.markStopping(appGUID, nil)
	if len(guids) == 0 {
		return
	}
	if err := c.deps.Bus.PublishJSON(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: appGUID, InstanceGUIDs: guids, Reason: messages.ReasonStopped}); err != nil {
		c.log.Warn("stop-publish-failed", "app_guid", appGUID, "error", err)
	}
}

// stopIndicesFrom stops the process's instances with index >= from.
func (c *Controller) stopIndicesFrom(appGUID, pt string, from int) {
	guids := c.rt.markStopping(appGUID, func(p string, index int, _ string) bool { return p == pt && index >= from })
	if len(guids) == 0 {
		return
	}
	if err := c.deps.Bus.PublishJSON(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: appGUID, InstanceGUIDs: guids, Reason: messages.ReasonStopped}); err != nil {
		c.log.Warn("stop-publish-failed", "app_guid", appGUID, "error", err)
	}
}

// publishRoutes tells DEAs the app's current URIs (when it runs).
func (c *Controller) publishRoutes(ctx context.Context, appGUID string) {
	app, err := c.deps.Store.Apps().Get(ctx, appGUID)
	if err != nil || app.State != store.AppStarted {
		return
	}
	uris, err := c.appURIs(ctx, appGUID)
	if err != nil {
		c.log.Warn("routes-lookup-failed", "app_guid", appGUID, "error", err)
		return
	}
	if err := c.deps.Bus.PublishJSON(bus.SubjectDEAUpdate, &messages.UpdateRoutes{AppGUID: appGUID, URIs: uris}); err != nil {
		c.log.Warn("route-update-publish-failed", "app_guid", appGUID, "error", err)
	}
}

// handleHMRequest re-validates a health manager request against current
// desired and actual state, and acts only if it still makes sense.
func (c *Controller) handleHMRequest(ctx context.Context, req messages.HMRequest) {
	app, err := c.deps.Store.Apps().Get(ctx, req.AppGUID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.Error("hm-app-lookup-failed", "app_guid", req.AppGUID, "error", err)
		return
	}
	switch req.Op {
	case messages.OpStart:
		if app == nil || app.State != store.AppStarted || app.DropletGUID == "" || app.RunVersion() != req.Version || c.deploys.active(app.GUID) {
			c.log.Debug("hm-start-ignored", "app_guid", req.AppGUID, "version", req.Version, "reason", "app not started or stale version")
			return
		}
		// place() re-checks the index against instances and actual state.
		c.enqueuePlacement(placeTask{appGUID: app.GUID, procType: "web", version: req.Version, indices: req.Indices, reason: "hm:" + req.Reason})
	case messages.OpStop:
		var stop []string
		for _, g := range req.InstanceGUIDs {
			if ok, why := c.shouldStop(ctx, app, g); ok {
				c.log.Info("hm-stop-accepted", "app_guid", req.AppGUID, "instance_guid", g, "reason", why)
				stop = append(stop, g)
			} else {
				c.log.Debug("hm-stop-ignored", "app_guid", req.AppGUID, "instance_guid", g, "reason", why)
			}
		}
		if len(stop) == 0 {
			return
		}
		if err := c.deps.Bus.PublishJSON(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: req.AppGUID, InstanceGUIDs: stop, Reason: messages.ReasonStopped}); err != nil {
			c.log.Warn("stop-publish-failed", "app_guid", req.AppGUID, "error", err)
		}
	}
}

// shouldStop decides whether an instance is unwanted: the app is gone or
// stopped, or the instance is of an old version, beyond the instance
// count, or a duplicate of a better instance of the same index.
func (c *Controller) shouldStop(ctx context.Context, app *store.App, instanceGUID string) (bool, string) {
	if app == nil {
		return true, "app deleted"
	}
	if app.State != store.AppStarted {
		return true, "app stopped"
	}
	in, ok := c.rt.findInstance(instanceGUID)
	if !ok {
		return false, "instance unknown to the controller"
	}
	if c.deploys.active(app.GUID) {
		return false, "a deployment replaces the app's instances"
	}
	if in.Version != app.RunVersion() {
		return true, "old version"
	}
	procs, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}, Types: []string{procType(in.ProcessType)}})
	if err != nil || len(procs) == 0 {
		return err == nil, "no such process type"
	}
	if in.Index >= procs[0].Instances {
		return true, "extra index"
	}
	// Duplicate: keep the best live instance of the index.
	best := in
	for _, o := range c.rt.instances(app.GUID) {
		if o.ProcessType != in.ProcessType || o.Index != in.Index || o.Version != in.Version || !isLive(o.State) {
			continue
		}
		if better(o, best) {
			best = o
		}
	}
	if best.InstanceGUID != in.InstanceGUID {
		return true, "duplicate"
	}
	return false, "instance is wanted"
}

// better orders duplicates: RUNNING beats STARTING, then the older one,
// then the smaller guid.
func better(a, b messages.InstanceHeartbeat) bool {
	ar, br := a.State == messages.StateRunning, b.State == messages.StateRunning
	if ar != br {
		return ar
	}
	if !a.StartedAt.Equal(b.StartedAt) {
		return a.StartedAt.Before(b.StartedAt)
	}
	return a.InstanceGUID < b.InstanceGUID
}

// answerLease grants, renews or releases a lease in the store.
func (c *Controller) answerLease(ctx context.Context, m *bus.Msg) {
	if m.Reply == "" {
		return
	}
	var rep messages.LeaseReply
	var req messages.LeaseRequest
	if err := messages.Decode(m.Data, &req); err != nil {
		rep.Error = err.Error()
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		switch req.Op {
		case messages.LeaseAcquire:
			l, ok, err := c.deps.Store.Leases().Acquire(ctx, req.Name, req.Holder, time.Duration(req.TTLMillis)*time.Millisecond, time.Now().UTC())
			if err != nil {
				c.log.Error("lease-failed", "lease", req.Name, "error", err)
				rep.Error = "lease unavailable"
			} else {
				rep = messages.LeaseReply{Granted: ok, Holder: l.Holder, ExpiresAt: l.ExpiresAt}
			}
		case messages.LeaseRelease:
			if err := c.deps.Store.Leases().Release(ctx, req.Name, req.Holder); err != nil {
				c.log.Error("lease-release-failed", "lease", req.Name, "error", err)
				rep.Error = "lease unavailable"
			}
		}
	}
	data, err := json.Marshal(&rep)
	if err == nil {
		err = c.deps.Bus.Respond(m, data)
	}
	if err != nil {
		c.log.Warn("lease-reply-failed", "error", err)
	}
}

// answerDesiredState replies with every app that has a droplet.
func (c *Controller) answerDesiredState(ctx context.Context, m *bus.Msg) {
	if m.Reply == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	reply, err := c.desiredState(ctx)
	if err != nil {
		c.log.Error("desired-state-failed", "error", err)
		return
	}
	data, err := json.Marshal(reply)
	if err != nil {
		c.log.Error("desired-state-encode-failed", "error", err)
		return
	}
	if err := c.deps.Bus.Respond(m, data); err != nil {
		c.log.Warn("desired-state-reply-failed", "error", err)
	}
}

func (c *Controller) desiredState(ctx context.Context) (*messages.DesiredStateReply, error) {
	now := time.Now().UTC()
	apps, err := c.deps.Store.Apps().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	procs, err := c.deps.Store.Processes().List(ctx, store.ListOptions{Types: []string{"web"}})
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	web := make(map[string]*store.Process, len(procs))
	for _, p := range procs {
		web[p.AppGUID] = p
	}
	out := &messages.DesiredStateReply{Apps: []messages.DesiredApp{}, GeneratedAt: now}
	for _, a := range apps {
		if a.DropletGUID == "" {
			continue
		}
		d := messages.DesiredApp{AppGUID: a.GUID, State: a.State, Version: a.RunVersion(), UpdatedAt: a.UpdatedAt, Deploying: c.deploys.active(a.GUID)}
		if p := web[a.GUID]; p != nil {
			d.Instances = p.Instances
			if p.UpdatedAt.After(d.UpdatedAt) {
				d.UpdatedAt = p.UpdatedAt
			}
		}
		out.Apps = append(out.Apps, d)
	}
	return out, nil
}

// restartStartedApps runs once at start: after the first advertisements
// and one heartbeat interval (so instances still running from before are
// known), it places the missing indices of every STARTED app.
func (c *Controller) restartStartedApps(ctx context.Context) {
	if !c.waitForActualState(ctx) {
		return
	}
	apps, err := c.deps.Store.Apps().List(ctx, store.ListOptions{States: []string{store.AppStarted}})
	if err != nil {
		c.log.Error("restart-list-failed", "error", err)
		return
	}
	n := 0
	for _, a := range apps {
		if a.DropletGUID == "" {
			continue
		}
		if err := c.placeAll(ctx, a.GUID, a.RunVersion(), "controller-start"); err != nil {
			c.log.Error("restart-app-failed", "app_guid", a.GUID, "error", err)
			continue
		}
		n++
	}
	if n > 0 {
		c.log.Info("started-apps-resumed", "apps", n)
	}
}

// waitForActualState waits, after a start, for the first advertisements
// and one heartbeat interval, so instances still running from before are
// known; false when ctx ends first.
func (c *Controller) waitForActualState(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.rt.firstAd:
	case <-time.After(3 * time.Second):
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(c.cfg.HeartbeatTTL/3 + time.Second):
	}
	return true
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

// A rolling deployment replaces an app's instances a batch at a time: for
// each batch of indices it starts instances of the new version, waits until
// they run (healthy), and only then stops the old instances of those
// indices. A batch that does not come up (crash, health-check timeout, no
// room) fails the deployment: its new instances stop, the app goes back to
// the version it ran, and indices already switched get old instances again.
// While a deployment runs, the health manager leaves the app alone
// (DesiredApp.Deploying) and the controller refuses its stop requests.

// errDeploymentCanceled is the cause of a run's context when a user
// cancels it.
var errDeploymentCanceled = errors.New("deployment canceled")

// errSuperseded is the cause when a newer deployment of the app replaces it.
var errSuperseded = errors.New("deployment superseded")

// deployRun is one running deployment.
type deployRun struct {
	guid   string
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// deployments tracks the deployments running in this controller, by app.
type deployments struct {
	mu   sync.Mutex
	runs map[string]*deployRun
}

func newDeployments() *deployments { return &deployments{runs: map[string]*deployRun{}} }

// active reports whether a deployment is replacing the app's instances.
func (d *deployments) active(appGUID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runs[appGUID] != nil
}

// shownVersions are the versions whose instances count in the app's stats:
// the current one, and while a deployment runs, every version (an index is
// served by its old instance until the new one runs).
func (d *deployments) shownVersions(a *store.App) func(string) bool {
	if d.active(a.GUID) {
		return func(string) bool { return true }
	}
	v := a.RunVersion()
	return func(s string) bool { return s == v }
}

// running reports whether this controller runs the deployment.
func (d *deployments) running(guid string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.runs {
		if r.guid == guid {
			return true
		}
	}
	return false
}

// stop cancels the app's running deployment with cause and waits (bounded)
// for its run to return.
func (d *deployments) stop(appGUID string, cause error) {
	d.mu.Lock()
	r := d.runs[appGUID]
	d.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel(cause)
	select {
	case <-r.done:
	case <-time.After(startTimeout + 5*time.Second):
	}
}

// launch starts running dep in the background.
func (c *Controller) launchDeployment(dep *store.Deployment) {
	ctx, cancel := context.WithCancelCause(c.baseCtx)
	r := &deployRun{guid: dep.GUID, cancel: cancel, done: make(chan struct{})}
	c.deploys.mu.Lock()
	if old := c.deploys.runs[dep.AppGUID]; old != nil {
		old.cancel(errSuperseded)
	}
	c.deploys.runs[dep.AppGUID] = r
	c.deploys.mu.Unlock()
	c.goBackground(func(base context.Context) {
		defer func() {
			c.deploys.mu.Lock()
			if c.deploys.runs[dep.AppGUID] == r {
				delete(c.deploys.runs, dep.AppGUID)
			}
			c.deploys.mu.Unlock()
			cancel(nil)
			close(r.done)
		}()
		c.runDeployment(ctx, dep)
	})
}

// runDeployment rolls dep out and records how it ended.
func (c *Controller) runDeployment(ctx context.Context, dep *store.Deployment) {
	c.log.Info("deployment-started", "app_guid", dep.AppGUID, "deployment_guid", dep.GUID, "version", dep.Revision)
	err := c.rollOut(ctx, dep)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errSuperseded):
		c.log.Info("deployment-superseded", "app_guid", dep.AppGUID, "deployment_guid", dep.GUID)
		c.finishDeployment(dep, store.DeploymentSuperseded, "")
	case errors.Is(cause, errDeploymentCanceled):
		c.revertDeployment(dep, store.DeploymentCanceled, "canceled by a user")
	case ctx.Err() != nil:
		// The controller is stopping: the deployment stays ACTIVE and
		// resumes when a controller starts again.
	case err != nil:
		c.log.Warn("deployment-failed", "app_guid", dep.AppGUID, "deployment_guid", dep.GUID, "error", err)
		c.deps.Emitter.Emit(dep.AppGUID, messages.SourceAPI, "0", "ERR", "Deployment failed, keeping the previous version: "+err.Error())
		c.revertDeployment(dep, store.DeploymentCanceled, err.Error())
	default:
		c.log.Info("deployment-finished", "app_guid", dep.AppGUID, "deployment_guid", dep.GUID)
		c.apiLog(dep.AppGUID, "Deployment %s finished: every instance runs version %s", dep.GUID, dep.Revision)
		c.finishDeployment(dep, store.DeploymentDeployed, "")
	}
}

// rollOut replaces every process's instances, web first.
func (c *Controller) rollOut(ctx context.Context, dep *store.Deployment) error {
	st := c.deps.Store
	app, err := st.Apps().Get(ctx, dep.AppGUID)
	if err != nil {
		return fmt.Errorf("look up app: %w", err)
	}
	if app.RunVersion() != dep.Revision {
		return fmt.Errorf("the app's version changed meanwhile")
	}
	droplet, err := st.Droplets().Get(ctx, dep.DropletGUID)
	if err != nil {
		return fmt.Errorf("look up droplet: %w", err)
	}
	procs, err := st.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{app.GUID}})
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	sort.SliceStable(procs, func(i, j int) bool { return procs[i].Type == "web" && procs[j].Type != "web" })
	for _, p := range procs {
		if err := c.rollProcess(ctx, dep, app, p, droplet); err != nil {
			return err
		}
	}
	return nil
}

// rollProcess replaces one process's instances batch by batch.
func (c *Controller) rollProcess(ctx context.Context, dep *store.Deployment, app *store.App, p *store.Process, droplet *store.Droplet) error {
	tmpl, err := c.startTemplate(ctx, app, p, droplet, dep.Revision)
	if err != nil {
		return err
	}
	rnd := c.newRand()
	batch := max(dep.MaxInFlight, 1)
	for from := 0; from < p.Instances; from += batch {
		var idx []int
		for i := from; i < min(from+batch, p.Instances); i++ {
			idx = append(idx, i)
		}
		since := time.Now()
		for _, i := range idx {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if c.rt.occupied(app.GUID, p.Type, dep.Revision, i) {
				continue
			}
			if c.startIndex(ctx, tmpl, i, rnd, "deployment") == "" {
				return fmt.Errorf("instance %d of process %s could not be placed: insufficient resources", i, p.Type)
			}
		}
		if err := c.waitRunning(ctx, app.GUID, p, dep.Revision, idx, since); err != nil {
			return err
		}
		in := map[int]bool{}
		for _, i := range idx {
			in[i] = true
		}
		c.stopWhere(app.GUID, func(pt string, index int, version string) bool {
			return pt == p.Type && in[index] && version != dep.Revision
		})
	}
	// Whatever else of another version is left (indices beyond the count).
	c.stopWhere(app.GUID, func(pt string, _ int, version string) bool { return pt == p.Type && version != dep.Revision })
	return nil
}

// stopWhere stops the app's known instances that match.
func (c *Controller) stopWhere(appGUID string, match func(pt string, index int, version string) bool) {
	guids := c.rt.markStopping(appGUID, match)
	if len(guids) == 0 {
		return
	}
	if err := c.deps.Bus.PublishJSON(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: appGUID, InstanceGUIDs: guids, Reason: messages.ReasonStopped}); err != nil {
		c.log.Warn("stop-publish-failed", "app_guid", appGUID, "error", err)
	}
}

// deploymentPoll is how often a deployment checks its batch.
const deploymentPoll = 100 * time.Millisecond

// waitRunning waits until every index has a RUNNING instance of version;
// a crash of one since the batch began, or the health-check timeout, fails.
func (c *Controller) waitRunning(ctx context.Context, appGUID string, p *store.Process, version string, idx []int, since time.Time) error {
	timeout := time.Duration(p.HealthCheckTimeout) * time.Second
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout + 30*time.Second)
	for {
		running := map[int]bool{}
		for _, in := range c.rt.instances(appGUID) {
			if in.ProcessType == p.Type && in.Version == version && in.State == messages.StateRunning {
				running[in.Index] = true
			}
		}
		waiting := 0
		for _, i := range idx {
			if running[i] {
				continue
			}
			waiting++
			if reason, ok := c.rt.crashedSince(appGUID, p.Type, version, i, since); ok {
				return fmt.Errorf("instance %d of process %s crashed: %s", i, p.Type, reason)
			}
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instances of process %s did not become healthy within %s", p.Type, timeout+30*time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(deploymentPoll):
		}
	}
}

// revertDeployment puts the previous version back: the app's droplet and
// version return to what ran before, the new instances stop, and indices
// already switched get instances of the old version again.
func (c *Controller) revertDeployment(dep *store.Deployment, reason, why string) {
	ctx, cancel := context.WithTimeout(c.baseCtx, 30*time.Second)
	defer cancel()
	reverted := false
	_, err := c.mutateApp(ctx, dep.AppGUID, func(a *store.App) error {
		reverted = false
		if a.RunVersion() != dep.Revision {
			return nil // a newer change owns the app now
		}
		a.DropletGUID, a.Revision = dep.PreviousDropletGUID, dep.PreviousRevision
		reverted = true
		return nil
	})
	if err != nil {
		c.log.Error("deployment-revert-failed", "app_guid", dep.AppGUID, "deployment_guid", dep.GUID, "error", err)
	}
	if reverted {
		c.stopWhere(dep.AppGUID, func(_ string, _ int, version string) bool { return version == dep.Revision })
		prev := dep.PreviousRevision
		if !hasPrefixVersion(prev, dep.PreviousDropletGUID) {
			prev = dep.PreviousDropletGUID
		}
		if prev != "" {
			if err := c.placeAll(ctx, dep.AppGUID, prev, "deployment-reverted"); err != nil {
				c.log.Error("deployment-revert-placement-failed", "app_guid", dep.AppGUID, "error", err)
			}
		}
	}
	c.finishDeployment(dep, reason, why)
}

func hasPrefixVersion(v, droplet string) bool {
	return droplet != "" && store.DropletOfVersion(v) == droplet
}

// finishDeployment records dep as FINALIZED with reason.
func (c *Controller) finishDeployment(dep *store.Deployment, reason, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := c.deps.Store.Deployments().Get(ctx, dep.GUID)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				c.log.Error("deployment-record-failed", "deployment_guid", dep.GUID, "error", err)
			}
			return
		}
		if cur.StatusValue == store.DeploymentFinalized {
			return
		}
		cur.StatusValue, cur.StatusReason, cur.Error = store.DeploymentFinalized, reason, why
		err = c.deps.Store.Deployments().Update(ctx, cur)
		if err == nil || !errors.Is(err, store.ErrConflict) {
			if err != nil {
				c.log.Error("deployment-record-failed", "deployment_guid", dep.GUID, "error", err)
			}
			return
		}
	}
}

// resumeDeployments runs once at start: deployments left ACTIVE by a
// controller that stopped carry on (a run is idempotent: indices already
// on the new version are skipped).
func (c *Controller) resumeDeployments(ctx context.Context) {
	if !c.waitForActualState(ctx) {
		return
	}
	deps, err := c.deps.Store.Deployments().List(ctx, store.ListOptions{States: []string{store.DeploymentActive}})
	if err != nil {
		c.log.Error("deployments-resume-failed", "error", err)
		return
	}
	for _, d := range deps {
		// Only what a previous controller left: a deployment made since
		// this one started runs already.
		if !d.CreatedAt.Before(c.started) || c.deploys.running(d.GUID) {
			continue
		}
		c.log.Info("deployment-resumed", "app_guid", d.AppGUID, "deployment_guid", d.GUID)
		c.launchDeployment(d)
	}
}

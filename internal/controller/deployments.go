package controller

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

func deploymentMeta(d *store.Deployment) *store.Meta { return &d.Meta }

// maxInFlightLimit bounds a deployment's batch size.
const maxInFlightLimit = 100

type deploymentBody struct {
	Droplet *struct {
		GUID string `json:"guid"`
	} `json:"droplet"`
	Revision *struct {
		GUID string `json:"guid"`
	} `json:"revision"`
	Strategy string `json:"strategy"`
	Options  *struct {
		MaxInFlight *int `json:"max_in_flight"`
	} `json:"options"`
	Relationships struct {
		App relBody `json:"app"`
	} `json:"relationships"`
}

// createDeployment starts a rolling deployment of the app to a droplet
// (the current one when none is given: a rolling restart).
func (c *Controller) createDeployment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var b deploymentBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	switch b.Strategy {
	case "", store.StrategyRolling:
	default:
		return apierr.Unprocessable("Strategy '%s' is not supported; use 'rolling'.", b.Strategy)
	}
	if b.Revision != nil {
		return apierr.Unprocessable("Deploying a revision is not supported; deploy a droplet instead.")
	}
	maxInFlight := 1
	if b.Options != nil && b.Options.MaxInFlight != nil {
		maxInFlight = *b.Options.MaxInFlight
		if maxInFlight < 1 || maxInFlight > maxInFlightLimit {
			return apierr.Unprocessable("Max in flight must be an integer between 1 and %d.", maxInFlightLimit)
		}
	}
	appGUID := b.Relationships.App.guid()
	if appGUID == "" {
		return apierr.Unprocessable("Relationships app is required.")
	}
	noApp := apierr.Unprocessable("Unable to use app. Ensure that the app exists and you have access to it.")
	app, err := c.deps.Store.Apps().Get(ctx, appGUID)
	if errors.Is(err, store.ErrNotFound) {
		return noApp
	}
	if err != nil {
		return err
	}
	if err := c.checkSpace(r, app.SpaceGUID, noApp); err != nil {
		return err
	}
	dropletGUID := app.DropletGUID
	if b.Droplet != nil {
		dropletGUID = b.Droplet.GUID
	}
	if dropletGUID == "" {
		return apierr.Unprocessable("Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.")
	}
	droplet, err := c.deps.Store.Droplets().Get(ctx, dropletGUID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if droplet == nil || droplet.AppGUID != app.GUID || droplet.State != store.DropletStaged {
		return apierr.Unprocessable("Unable to assign current droplet. Ensure the droplet exists and belongs to this app.")
	}

	// A newer deployment supersedes the running one; it carries on from
	// whatever runs now.
	c.deploys.stop(app.GUID, errSuperseded)
	dep := &store.Deployment{
		Meta: store.Meta{GUID: newGUID()}, AppGUID: app.GUID,
		StatusValue: store.DeploymentActive, StatusReason: store.DeploymentDeploying, Strategy: store.StrategyRolling,
		DropletGUID: droplet.GUID, Revision: store.NewRevision(droplet.GUID, strings.ReplaceAll(uuid.NewString(), "-", "")[:12]),
		MaxInFlight: maxInFlight,
	}
	wasStarted := false
	err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
		a, err := tx.Apps().Get(ctx, app.GUID)
		if err != nil {
			return err
		}
		wasStarted = a.State == store.AppStarted
		dep.PreviousDropletGUID, dep.PreviousRevision = a.DropletGUID, a.RunVersion()
		if !wasStarted {
			dep.PreviousDropletGUID, dep.PreviousRevision = "", ""
		}
		old, err := tx.Deployments().List(ctx, store.ListOptions{AppGUIDs: []string{a.GUID}, States: []string{store.DeploymentActive}})
		if err != nil {
			return err
		}
		for _, o := range old {
			o.StatusValue, o.StatusReason = store.DeploymentFinalized, store.DeploymentSuperseded
			if err := tx.Deployments().Update(ctx, o); err != nil {
				return err
			}
		}
		a.DropletGUID, a.Revision, a.State = droplet.GUID, dep.Revision, store.AppStarted
		if err := tx.Apps().Update(ctx, a); err != nil {
			return err
		}
		return tx.Deployments().Create(ctx, dep)
	})
	if err != nil {
		return notFound(err, "App")
	}
	if err := c.ensureDropletProcesses(ctx, app.GUID, droplet); err != nil {
		return err
	}
	c.apiLog(app.GUID, "Created deployment %s of droplet %s (strategy rolling, max in flight %d)", dep.GUID, droplet.GUID, maxInFlight)
	if !wasStarted {
		// Nothing runs that must keep serving: every index starts at once.
		dep.MaxInFlight = maxInFlightLimit
	}
	c.launchDeployment(dep)
	return writeJSON(w, http.StatusCreated, c.presentDeployment(r, dep))
}

func (c *Controller) presentDeployment(r *http.Request, d *store.Deployment) any {
	web := ""
	if ps, err := c.deps.Store.Processes().List(r.Context(), store.ListOptions{AppGUIDs: []string{d.AppGUID}, Types: []string{"web"}}); err == nil && len(ps) > 0 {
		web = ps[0].GUID
	}
	return c.pres.Deployment(d, web)
}

func (c *Controller) getDeployment(w http.ResponseWriter, r *http.Request) error {
	d, err := c.deps.Store.Deployments().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Deployment")
	}
	return writeJSON(w, http.StatusOK, c.presentDeployment(r, d))
}

func (c *Controller) listDeployments(w http.ResponseWriter, r *http.Request) error {
	lp, q, apps, err := c.appScopedList(r)
	if err != nil {
		return err
	}
	ds, err := c.deps.Store.Deployments().List(r.Context(), store.ListOptions{
		GUIDs: filterValues(q, "guids"), AppGUIDs: apps, States: filterValues(q, "status_values"),
	})
	if err != nil {
		return err
	}
	if reasons := filterValues(q, "status_reasons"); reasons != nil {
		keep := ds[:0]
		for _, d := range ds {
			for _, s := range reasons {
				if d.StatusReason == s {
					keep = append(keep, d)
					break
				}
			}
		}
		ds = keep
	}
	return writePage(c, w, r, lp, ds, deploymentMeta, nil, func(d *store.Deployment) any { return c.presentDeployment(r, d) })
}

// cancelDeployment stops a running deployment and puts the previous
// version back.
func (c *Controller) cancelDeployment(w http.ResponseWriter, r *http.Request) error {
	d, err := c.deps.Store.Deployments().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Deployment")
	}
	if d.StatusValue != store.DeploymentActive {
		return apierr.Unprocessable("Cannot cancel a %s deployment", d.StatusReason)
	}
	c.deploys.mu.Lock()
	run := c.deploys.runs[d.AppGUID]
	c.deploys.mu.Unlock()
	if run != nil && run.guid == d.GUID {
		c.deploys.stop(d.AppGUID, errDeploymentCanceled)
	} else {
		c.revertDeployment(d, store.DeploymentCanceled, "canceled by a user")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

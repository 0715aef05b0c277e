package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/messages"
	"github.com/ingot-paas/ingot/internal/store"
)

// Upper bounds for scaling.
const (
	maxInstancesPerProcess = 10000
	maxMemoryMB            = 1 << 20 // 1 TiB
	maxDiskMB              = 1 << 24 // 16 TiB
)

func (c *Controller) processRec(ctx context.Context, guid string) (*store.Process, error) {
	p, err := c.deps.Store.Processes().Get(ctx, guid)
	return p, notFound(err, "Process")
}

func (c *Controller) appProcessRec(ctx context.Context, appGUID, typ string) (*store.App, *store.Process, error) {
	a, err := c.appRec(ctx, appGUID)
	if err != nil {
		return nil, nil, err
	}
	ps, err := c.deps.Store.Processes().List(ctx, store.ListOptions{AppGUIDs: []string{a.GUID}, Types: []string{typ}})
	if err != nil {
		return nil, nil, err
	}
	if len(ps) == 0 {
		return nil, nil, apierr.NotFound("Process")
	}
	return a, ps[0], nil
}

// presentProcesses renders processes; with embed, each carries its
// process_instances.
func (c *Controller) presentProcesses(ctx context.Context, procs []*store.Process, embed bool) []*presenters.Process {
	apps := map[string]*store.App{}
	out := make([]*presenters.Process, 0, len(procs))
	for _, p := range procs {
		a, ok := apps[p.AppGUID]
		if !ok {
			a, _ = c.deps.Store.Apps().Get(ctx, p.AppGUID)
			apps[p.AppGUID] = a
		}
		space := ""
		if a != nil {
			space = a.SpaceGUID
		}
		pp := c.pres.Process(p, space)
		if embed && a != nil {
			pp.ProcessInstances = []presenters.EmbeddedInstance{}
			for _, st := range c.processStats(a, p) {
				pp.ProcessInstances = append(pp.ProcessInstances, presenters.EmbeddedInstance{Index: st.Index, State: st.State, Since: st.Uptime})
			}
		}
		out = append(out, pp)
	}
	return out
}

func embedsInstances(r *http.Request) bool {
	for _, v := range filterValues(r.URL.Query(), "embed") {
		if v == "process_instances" {
			return true
		}
	}
	return false
}

func (c *Controller) listProcesses(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	appGUIDs := filterValues(q, "app_guids")
	if spaces := filterValues(q, "space_guids"); spaces != nil {
		apps, err := c.deps.Store.Apps().List(r.Context(), store.ListOptions{SpaceGUIDs: spaces})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, a := range apps {
			ids = append(ids, a.GUID)
		}
		appGUIDs = intersect(appGUIDs, ids)
	}
	if appGUIDs, err = c.restrictApps(r.Context(), appGUIDs); err != nil {
		return err
	}
	var procs []*store.Process
	if appGUIDs == nil || len(appGUIDs) > 0 {
		procs, err = c.deps.Store.Processes().List(r.Context(), store.ListOptions{
			AppGUIDs: appGUIDs, GUIDs: filterValues(q, "guids"), Types: filterValues(q, "types"),
		})
		if err != nil {
			return err
		}
	}
	page, total := sortAndPage(procs, lp, processMeta, nil)
	return c.writeList(w, r, lp, total, c.presentProcesses(r.Context(), page, embedsInstances(r)), nil)
}

func (c *Controller) listAppProcesses(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	procs, err := c.deps.Store.Processes().List(r.Context(), store.ListOptions{AppGUIDs: []string{a.GUID}, Types: filterValues(r.URL.Query(), "types")})
	if err != nil {
		return err
	}
	page, total := sortAndPage(procs, lp, processMeta, nil)
	return c.writeList(w, r, lp, total, c.presentProcesses(r.Context(), page, embedsInstances(r)), nil)
}

func (c *Controller) getProcess(w http.ResponseWriter, r *http.Request) error {
	p, err := c.processRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.presentProcesses(r.Context(), []*store.Process{p}, embedsInstances(r))[0])
}

func (c *Controller) getAppProcess(w http.ResponseWriter, r *http.Request) error {
	_, p, err := c.appProcessRec(r.Context(), r.PathValue("guid"), r.PathValue("type"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.presentProcesses(r.Context(), []*store.Process{p}, embedsInstances(r))[0])
}

// optString is a JSON field that distinguishes absent, null and a value.
type optString struct {
	set bool
	val *string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.val = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.val = &s
	return nil
}

type processPatch struct {
	Command     optString `json:"command"`
	HealthCheck *struct {
		Type *string `json:"type"`
		Data *struct {
			Timeout           *int      `json:"timeout"`
			InvocationTimeout *int      `json:"invocation_timeout"`
			Endpoint          optString `json:"endpoint"`
		} `json:"data"`
	} `json:"health_check"`
}

func (c *Controller) updateProcess(w http.ResponseWriter, r *http.Request) error {
	var b processPatch
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Command.val != nil && len(*b.Command.val) > 4096 {
		return apierr.Unprocessable("Command must be between 1 and 4096 characters")
	}
	hc := b.HealthCheck
	if hc != nil {
		if hc.Type != nil {
			switch *hc.Type {
			case messages.HealthCheckPort, messages.HealthCheckHTTP, messages.HealthCheckProcess:
			default:
				return apierr.Unprocessable("Health check type must be \"port\", \"process\", or \"http\"")
			}
		}
		if hc.Data != nil {
			if t := hc.Data.Timeout; t != nil && (*t < 1 || *t > 86400) {
				return apierr.Unprocessable("Health check timeout must be between 1 and 86400")
			}
			if t := hc.Data.InvocationTimeout; t != nil && (*t < 1 || *t > 86400) {
				return apierr.Unprocessable("Health check invocation timeout must be between 1 and 86400")
			}
			if e := hc.Data.Endpoint.val; e != nil && !strings.HasPrefix(*e, "/") {
				return apierr.Unprocessable("Health check endpoint must be a valid URI path")
			}
		}
	}
	var p *store.Process
	for attempt := 0; ; attempt++ {
		var err error
		p, err = c.processRec(r.Context(), r.PathValue("guid"))
		if err != nil {
			return err
		}
		if b.Command.set {
			p.Command = ""
			if b.Command.val != nil {
				p.Command = *b.Command.val
			}
		}
		if hc != nil {
			if hc.Type != nil {
				p.HealthCheckType = *hc.Type
			}
			if hc.Data != nil {
				if hc.Data.Timeout != nil {
					p.HealthCheckTimeout = *hc.Data.Timeout
				}
				if hc.Data.InvocationTimeout != nil {
					p.HealthCheckInvocationTimeout = *hc.Data.InvocationTimeout
				}
				if hc.Data.Endpoint.set {
					p.HealthCheckEndpoint = ""
					if hc.Data.Endpoint.val != nil {
						p.HealthCheckEndpoint = *hc.Data.Endpoint.val
					}
				}
			}
			if p.HealthCheckType != messages.HealthCheckHTTP && hc.Data != nil && hc.Data.Endpoint.val != nil {
				return apierr.Unprocessable("Health check type must be \"http\" to set a health check HTTP endpoint")
			}
			if p.HealthCheckType != messages.HealthCheckHTTP {
				p.HealthCheckEndpoint = ""
			}
		}
		err = c.deps.Store.Processes().Update(r.Context(), p)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return notFound(err, "Process")
		}
		break
	}
	c.apiLog(p.AppGUID, "Updated process %q of app %s", p.Type, p.AppGUID)
	return writeJSON(w, http.StatusOK, c.presentProcesses(r.Context(), []*store.Process{p}, false)[0])
}

type scaleBody struct {
	Instances  *int   `json:"instances"`
	MemoryInMB *int64 `json:"memory_in_mb"`
	DiskInMB   *int64 `json:"disk_in_mb"`
}

func (b *scaleBody) validate() error {
	if b.Instances != nil && (*b.Instances < 0 || *b.Instances > maxInstancesPerProcess) {
		if *b.Instances < 0 {
			return apierr.Unprocessable("Instances must be greater than or equal to 0")
		}
		return apierr.Unprocessable("Instances must be less than or equal to %d", maxInstancesPerProcess)
	}
	if b.MemoryInMB != nil && (*b.MemoryInMB <= 0 || *b.MemoryInMB > maxMemoryMB) {
		if *b.MemoryInMB <= 0 {
			return apierr.Unprocessable("Memory in mb must be greater than 0")
		}
		return apierr.Unprocessable("Memory in mb must be less than or equal to %d", maxMemoryMB)
	}
	if b.DiskInMB != nil && (*b.DiskInMB <= 0 || *b.DiskInMB > maxDiskMB) {
		if *b.DiskInMB <= 0 {
			return apierr.Unprocessable("Disk in mb must be greater than 0")
		}
		return apierr.Unprocessable("Disk in mb must be less than or equal to %d", maxDiskMB)
	}
	return nil
}

func (c *Controller) scaleProcess(w http.ResponseWriter, r *http.Request) error {
	var b scaleBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	p, err := c.scale(r.Context(), r.PathValue("guid"), b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, c.presentProcesses(r.Context(), []*store.Process{p}, false)[0])
}

func (c *Controller) scaleAppProcess(w http.ResponseWriter, r *http.Request) error {
	var b scaleBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	_, p, err := c.appProcessRec(r.Context(), r.PathValue("guid"), r.PathValue("type"))
	if err != nil {
		return err
	}
	if p, err = c.scale(r.Context(), p.GUID, b); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, c.presentProcesses(r.Context(), []*store.Process{p}, false)[0])
}

// scale updates a process's instances, memory and disk, and adjusts the
// running instances when the app is started.
func (c *Controller) scale(ctx context.Context, guid string, b scaleBody) (*store.Process, error) {
	var (
		p        *store.Process
		oldCount int
	)
	for attempt := 0; ; attempt++ {
		var err error
		if p, err = c.processRec(ctx, guid); err != nil {
			return nil, err
		}
		oldCount = p.Instances
		if b.Instances != nil {
			p.Instances = *b.Instances
		}
		if b.MemoryInMB != nil {
			p.MemoryMB = *b.MemoryInMB
		}
		if b.DiskInMB != nil {
			p.DiskMB = *b.DiskInMB
		}
		// The quota check and the write share a transaction.
		err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
			if err := c.checkScaleQuota(ctx, tx, p); err != nil {
				return err
			}
			if err := tx.Processes().Update(ctx, p); err != nil {
				return err
			}
			a, err := tx.Apps().Get(ctx, p.AppGUID)
			if err != nil {
				return err
			}
			return c.recordEvent(ctx, tx, eventAppScale, c.appTarget(ctx, tx, a), scaleEventData(p, b))
		})
		if apierr.As(err) != nil {
			return nil, err
		}
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, notFound(err, "Process")
		}
		break
	}
	var parts []string
	if b.Instances != nil {
		parts = append(parts, fmt.Sprintf("\"instances\"=>%d", *b.Instances))
	}
	if b.MemoryInMB != nil {
		parts = append(parts, fmt.Sprintf("\"memory_in_mb\"=>%d", *b.MemoryInMB))
	}
	if b.DiskInMB != nil {
		parts = append(parts, fmt.Sprintf("\"disk_in_mb\"=>%d", *b.DiskInMB))
	}
	c.apiLog(p.AppGUID, "Scaling process %q of app %s ({%s})", p.Type, p.AppGUID, strings.Join(parts, ", "))
	c.adjustInstances(ctx, p, oldCount)
	return p, nil
}

// adjustInstances starts new indices or stops surplus ones of a running
// app after its instance count changed from old.
func (c *Controller) adjustInstances(ctx context.Context, p *store.Process, old int) {
	a, err := c.deps.Store.Apps().Get(ctx, p.AppGUID)
	if err != nil || a.State != store.AppStarted || a.DropletGUID == "" {
		return
	}
	switch {
	case p.Instances > old:
		idx := make([]int, 0, p.Instances-old)
		for i := old; i < p.Instances; i++ {
			idx = append(idx, i)
		}
		c.enqueuePlacement(placeTask{appGUID: a.GUID, procType: p.Type, version: a.RunVersion(), indices: idx, reason: "scale"})
	case p.Instances < old:
		c.stopIndicesFrom(a.GUID, p.Type, p.Instances)
	}
}

func (c *Controller) getProcessStats(w http.ResponseWriter, r *http.Request) error {
	p, err := c.processRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	a, err := c.appRec(r.Context(), p.AppGUID)
	if err != nil {
		return notFound(err, "Process")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"resources": c.processStats(a, p)})
}

func (c *Controller) getAppProcessStats(w http.ResponseWriter, r *http.Request) error {
	a, p, err := c.appProcessRec(r.Context(), r.PathValue("guid"), r.PathValue("type"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"resources": c.processStats(a, p)})
}

func (c *Controller) listProcessSidecars(w http.ResponseWriter, r *http.Request) error {
	if _, err := c.processRec(r.Context(), r.PathValue("guid")); err != nil {
		return err
	}
	return c.emptyList(w, r)
}

// listRouteBindings answers `cf routes`' lookup of route services: ingot
// does not bind route services (yet), so there are never any.
func (c *Controller) listRouteBindings(w http.ResponseWriter, r *http.Request) error {
	return c.emptyList(w, r)
}

// stateRank orders instances of one index for display.
func stateRank(s string) int {
	switch s {
	case messages.StateRunning:
		return 3
	case messages.StateStarting:
		return 2
	case messages.StateCrashed:
		return 1
	}
	return 0
}

// processStats is one entry per index 0..instances-1 from the in-memory
// actual state: a reported instance, an accepted start (STARTING), a
// recent crash (CRASHED) or placement failure (DOWN with details), or DOWN.
func (c *Controller) processStats(a *store.App, p *store.Process) []presenters.InstanceStats {
	now := time.Now()
	out := make([]presenters.InstanceStats, 0, p.Instances)
	memQuota := uint64(max(p.MemoryMB, 0)) << 20
	diskQuota := uint64(max(p.DiskMB, 0)) << 20
	down := func(i int) presenters.InstanceStats {
		return presenters.InstanceStats{
			Type: p.Type, Index: i, State: messages.StateDown, InstancePorts: []presenters.InstancePort{},
			MemQuota: memQuota, DiskQuota: diskQuota, FDSQuota: defaultFDs, LogRateLimit: -1,
			Usage: presenters.Usage{Time: presenters.Time(now)},
		}
	}
	if a.State != store.AppStarted {
		for i := 0; i < p.Instances; i++ {
			out = append(out, down(i))
		}
		return out
	}
	// During a rolling deployment an index is served by the old version
	// until its new instance runs: show whichever is better.
	shown := c.deploys.shownVersions(a)
	best := map[int]messages.InstanceHeartbeat{}
	for _, in := range c.rt.instances(a.GUID) {
		if in.ProcessType != p.Type || !shown(in.Version) || in.Index >= p.Instances {
			continue
		}
		if cur, ok := best[in.Index]; !ok || stateRank(in.State) > stateRank(cur.State) {
			best[in.Index] = in
		}
	}
	pending := map[int]pendingStart{}
	for _, ps := range c.rt.pendingOf(a.GUID) {
		if ps.procType == p.Type && shown(ps.version) {
			pending[ps.index] = ps
		}
	}
	for i := 0; i < p.Instances; i++ {
		e := down(i)
		if in, ok := best[i]; ok && (isLive(in.State) || in.State == messages.StateCrashed) {
			e.State = in.State
			e.Host = in.Host
			e.InstanceGUID = in.InstanceGUID
			if in.Port > 0 {
				e.InstancePorts = []presenters.InstancePort{{External: in.Port, Internal: in.Port}}
			}
			if in.MemQuota > 0 {
				e.MemQuota = in.MemQuota
			}
			if in.DiskQuota > 0 {
				e.DiskQuota = in.DiskQuota
			}
			if in.FDSQuota > 0 {
				e.FDSQuota = in.FDSQuota
			}
			if in.State == messages.StateRunning {
				e.Routable = true
				if !in.StartedAt.IsZero() && now.After(in.StartedAt) {
					e.Uptime = int64(now.Sub(in.StartedAt) / time.Second)
				}
			}
			e.Usage.CPU = max(in.Usage.CPU, 0)
			e.Usage.Mem = in.Usage.MemoryBytes
			e.Usage.Disk = in.Usage.DiskBytes
			if !in.Usage.Time.IsZero() {
				e.Usage.Time = presenters.Time(in.Usage.Time)
			}
			if in.Details != "" {
				d := in.Details
				e.Details = &d
			}
		} else if _, ok := pending[i]; ok {
			e.State = messages.StateStarting
		} else if n, ok := c.rt.note(a.GUID, p.Type, i); ok {
			if n.crashed {
				e.State = messages.StateCrashed
			}
			if n.details != "" {
				d := n.details
				e.Details = &d
			}
			e.Uptime = int64(now.Sub(n.since) / time.Second)
		}
		out = append(out, e)
	}
	return out
}

// scaleEventData is an audit.app.process.scale event's data.
func scaleEventData(p *store.Process, b scaleBody) map[string]any {
	req := map[string]any{"type": p.Type}
	if b.Instances != nil {
		req["instances"] = *b.Instances
	}
	if b.MemoryInMB != nil {
		req["memory_in_mb"] = *b.MemoryInMB
	}
	if b.DiskInMB != nil {
		req["disk_in_mb"] = *b.DiskInMB
	}
	return map[string]any{"process_guid": p.GUID, "process_type": p.Type, "request": req}
}

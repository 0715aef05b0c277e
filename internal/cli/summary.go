package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/pkg/client"
)

// procView is a process with its instances.
type procView struct {
	proc     client.Process
	stats    []client.InstanceStats
	statsErr error
}

// appView is everything the app summary shows.
type appView struct {
	app     client.App
	procs   []procView
	routes  []client.Route
	droplet *client.Droplet
	// deployment is the app's running rolling deployment, if any.
	deployment *client.Deployment
}

// loadAppView gathers an app's processes, instance stats, routes and
// current droplet. Missing stats or droplet are tolerated.
func (s *session) loadAppView(ctx context.Context, app *client.App) (*appView, error) {
	v := &appView{app: *app}
	procs, err := s.c.ListProcesses(ctx, app.GUID)
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", app.Name, err)
	}
	for _, p := range procs {
		pv := procView{proc: p}
		if st, err := s.c.ProcessStats(ctx, p.GUID); err != nil {
			pv.statsErr = err
		} else {
			pv.stats = st.Resources
		}
		v.procs = append(v.procs, pv)
	}
	if v.routes, err = s.c.ListRoutes(ctx, app.GUID); err != nil {
		return nil, fmt.Errorf("list routes of %s: %w", app.Name, err)
	}
	d, err := s.c.GetCurrentDroplet(ctx, app.GUID)
	switch {
	case err == nil:
		v.droplet = d
	case !client.IsNotFound(err):
		return nil, fmt.Errorf("get current droplet of %s: %w", app.Name, err)
	}
	// A server without deployments is fine: there is just none to show.
	if dep, err := s.c.ActiveDeployment(ctx, app.GUID); err == nil {
		v.deployment = dep
	}
	return v, nil
}

// web returns the web process (or the first one).
func (v *appView) web() *procView {
	for i := range v.procs {
		if v.procs[i].proc.Type == client.ProcessTypeWeb {
			return &v.procs[i]
		}
	}
	if len(v.procs) > 0 {
		return &v.procs[0]
	}
	return nil
}

// routeDisplay is a route as host.domain[/path].
func routeDisplay(r client.Route) string {
	if r.URL != "" {
		return r.URL
	}
	return r.Host + r.Path
}

// routeURL makes a full URL of a route with the router's scheme and port;
// without a router URL it is http://host.domain[/path].
func routeURL(route, routerURL string) string {
	scheme, port := "http", ""
	if routerURL != "" {
		raw := routerURL
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		if u, err := url.Parse(raw); err == nil {
			if u.Scheme != "" {
				scheme = u.Scheme
			}
			port = u.Port()
		}
	}
	host, path := route, ""
	if i := strings.IndexByte(route, '/'); i >= 0 {
		host, path = route[:i], route[i:]
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host + path
}

// routeStrings renders routes for humans: full URLs when the router URL
// is known, else host.domain[/path].
func routeStrings(routes []client.Route, routerURL string) []string {
	out := make([]string, 0, len(routes))
	for _, r := range routes {
		if routerURL != "" {
			out = append(out, routeURL(routeDisplay(r), routerURL))
		} else {
			out = append(out, routeDisplay(r))
		}
	}
	return out
}

// humanBytes renders bytes as 512B, 12.1K, 256M, 1G.
func humanBytes(b uint64) string {
	const k = 1024
	units := []string{"K", "M", "G", "T"}
	if b < k {
		return fmt.Sprintf("%dB", b)
	}
	v := float64(b)
	unit := ""
	for _, u := range units {
		if v < k {
			break
		}
		v /= k
		unit = u
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + unit
}

// mbString renders megabytes as 256M or 1G.
func mbString(mb int64) string {
	if mb <= 0 {
		return "0"
	}
	return humanBytes(uint64(mb) << 20)
}

// lowerState renders an API state for humans.
func lowerState(s string) string { return strings.ToLower(s) }

// instanceSince is when an instance started, from its uptime.
func instanceSince(now time.Time, st client.InstanceStats) string {
	switch {
	case st.State == client.InstanceDown || st.State == client.InstanceCrashed:
		return "-"
	case st.Uptime <= 0 && st.State != client.InstanceRunning:
		return "-"
	}
	return now.Add(-time.Duration(st.Uptime) * time.Second).UTC().Format(time.RFC3339)
}

func running(stats []client.InstanceStats) int {
	n := 0
	for _, st := range stats {
		if st.State == client.InstanceRunning {
			n++
		}
	}
	return n
}

// printAppView prints the app summary.
func (s *session) printAppView(w io.Writer, v *appView) {
	tw := newTable(w, 3)
	fmt.Fprintf(tw, "name:\t%s\n", v.app.Name)
	fmt.Fprintf(tw, "requested state:\t%s\n", lowerState(v.app.State))
	fmt.Fprintf(tw, "routes:\t%s\n", strings.Join(routeStrings(v.routes, s.routerURL()), ", "))
	lastUploaded, stack := "", v.app.Lifecycle.Data.Stack
	buildpacks := strings.Join(v.app.Lifecycle.Data.Buildpacks, ", ")
	if d := v.droplet; d != nil {
		if !d.CreatedAt.IsZero() {
			lastUploaded = d.CreatedAt.UTC().Format(time.RFC3339)
		}
		if d.Stack != "" {
			stack = d.Stack
		}
		var bps []string
		for _, bp := range d.Buildpacks {
			name := bp.Name
			if bp.BuildpackName != "" && bp.BuildpackName != bp.Name {
				name += " (" + bp.BuildpackName + ")"
			}
			if bp.Version != "" {
				name += " " + bp.Version
			}
			bps = append(bps, name)
		}
		if len(bps) > 0 {
			buildpacks = strings.Join(bps, ", ")
		}
	}
	fmt.Fprintf(tw, "last uploaded:\t%s\n", lastUploaded)
	fmt.Fprintf(tw, "stack:\t%s\n", stack)
	fmt.Fprintf(tw, "buildpacks:\t%s\n", buildpacks)
	if dep := v.deployment; dep != nil {
		fmt.Fprintf(tw, "deployment:\t%s, %s since %s (droplet %s)\n", dep.Strategy, strings.ToLower(dep.Status.Reason),
			dep.CreatedAt.UTC().Format(time.RFC3339), dep.Droplet.GUID)
	}
	tw.Flush()

	now := s.opts.now()
	for _, pv := range v.procs {
		p := pv.proc
		fmt.Fprintln(w)
		tw = newTable(w, 2)
		fmt.Fprintf(tw, "type:\t%s\n", p.Type)
		fmt.Fprintf(tw, "instances:\t%d/%d\n", running(pv.stats), p.Instances)
		fmt.Fprintf(tw, "memory usage:\t%s\n", mbString(p.MemoryInMB))
		cmd := ""
		if p.Command != nil {
			cmd = *p.Command
		} else if v.droplet != nil {
			cmd = v.droplet.ProcessTypes[p.Type]
		}
		fmt.Fprintf(tw, "start command:\t%s\n", cmd)
		tw.Flush()
		if pv.statsErr != nil {
			fmt.Fprintf(w, "could not get instance stats: %v\n", pv.statsErr)
			continue
		}
		if len(pv.stats) == 0 {
			fmt.Fprintln(w, "There are no running instances of this process.")
			continue
		}
		tw = newTable(w, 3)
		fmt.Fprintln(tw, "\tstate\tsince\tcpu\tmemory\tdisk\tdetails")
		for _, st := range pv.stats {
			memQuota := uint64(p.MemoryInMB) << 20
			if st.MemQuota != nil {
				memQuota = *st.MemQuota
			}
			diskQuota := uint64(p.DiskInMB) << 20
			if st.DiskQuota != nil {
				diskQuota = *st.DiskQuota
			}
			fmt.Fprintf(tw, "#%d\t%s\t%s\t%.1f%%\t%s of %s\t%s of %s\t%s\n", st.Index, lowerState(st.State),
				instanceSince(now, st), st.Usage.CPU*100, humanBytes(st.Usage.Mem), humanBytes(memQuota),
				humanBytes(st.Usage.Disk), humanBytes(diskQuota), st.Details)
		}
		tw.Flush()
	}
}

// appJSON is the stable JSON form of an app in `apps --json` and
// `app --json`.
type appJSON struct {
	Name             string         `json:"name"`
	GUID             string         `json:"guid"`
	State            string         `json:"state"`
	Instances        int            `json:"instances"`
	RunningInstances int            `json:"running_instances"`
	MemoryInMB       int64          `json:"memory_in_mb"`
	DiskInMB         int64          `json:"disk_in_mb"`
	Routes           []string       `json:"routes"`
	URLs             []string       `json:"urls"`
	Stack            string         `json:"stack,omitempty"`
	Buildpacks       []string       `json:"buildpacks,omitempty"`
	InstanceDetails  []instanceJSON `json:"instance_details,omitempty"`
}

// instanceJSON is one instance in `app --json`.
type instanceJSON struct {
	Index            int     `json:"index"`
	State            string  `json:"state"`
	Since            string  `json:"since,omitempty"`
	UptimeSeconds    int64   `json:"uptime_seconds"`
	CPU              float64 `json:"cpu"`
	MemoryBytes      uint64  `json:"memory_bytes"`
	MemoryQuotaBytes uint64  `json:"memory_quota_bytes"`
	DiskBytes        uint64  `json:"disk_bytes"`
	DiskQuotaBytes   uint64  `json:"disk_quota_bytes"`
	Details          string  `json:"details,omitempty"`
}

// makeAppJSON builds the JSON form from an app, its web process (may be
// nil), its stats and routes.
func makeAppJSON(app client.App, web *client.Process, stats []client.InstanceStats, routes []client.Route, routerURL string) appJSON {
	j := appJSON{Name: app.Name, GUID: app.GUID, State: app.State, Routes: []string{}, URLs: []string{}}
	if web != nil {
		j.Instances, j.MemoryInMB, j.DiskInMB = web.Instances, web.MemoryInMB, web.DiskInMB
		j.RunningInstances = running(stats)
	}
	for _, r := range routes {
		d := routeDisplay(r)
		j.Routes = append(j.Routes, d)
		j.URLs = append(j.URLs, routeURL(d, routerURL))
	}
	return j
}

// viewJSON is the detailed JSON form of `app --json`.
func (s *session) viewJSON(v *appView) appJSON {
	var web *client.Process
	var stats []client.InstanceStats
	if pv := v.web(); pv != nil {
		web, stats = &pv.proc, pv.stats
	}
	j := makeAppJSON(v.app, web, stats, v.routes, s.routerURL())
	j.Stack = v.app.Lifecycle.Data.Stack
	j.Buildpacks = v.app.Lifecycle.Data.Buildpacks
	if v.droplet != nil {
		if v.droplet.Stack != "" {
			j.Stack = v.droplet.Stack
		}
		if len(v.droplet.Buildpacks) > 0 {
			j.Buildpacks = nil
			for _, bp := range v.droplet.Buildpacks {
				j.Buildpacks = append(j.Buildpacks, bp.Name)
			}
		}
	}
	now := s.opts.now()
	for _, st := range stats {
		ij := instanceJSON{Index: st.Index, State: st.State, UptimeSeconds: st.Uptime, CPU: st.Usage.CPU,
			MemoryBytes: st.Usage.Mem, DiskBytes: st.Usage.Disk, Details: st.Details}
		if since := instanceSince(now, st); since != "-" {
			ij.Since = since
		}
		if st.MemQuota != nil {
			ij.MemoryQuotaBytes = *st.MemQuota
		}
		if st.DiskQuota != nil {
			ij.DiskQuotaBytes = *st.DiskQuota
		}
		j.InstanceDetails = append(j.InstanceDetails, ij)
	}
	return j
}

// showApp loads and prints an app's summary.
func (s *session) showApp(ctx context.Context, app *client.App) error {
	fresh, err := s.c.GetApp(ctx, app.GUID)
	if err != nil {
		return fmt.Errorf("get app %s: %w", app.Name, err)
	}
	v, err := s.loadAppView(ctx, fresh)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out)
	s.printAppView(s.out, v)
	return nil
}

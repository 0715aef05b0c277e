package cli

import (
	"archive/zip"
	"bytes"
	"crypto/sha1" //nolint:gosec // API contract
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ingot-paas/ingot/pkg/client"
)

// fakeCC imitates the v3 endpoints, UAA and log-cache the CLI uses, with
// the response shapes of the reference. Knobs inject failures.
type fakeCC struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	seq      int
	logTS    int64
	calls    []string
	apps     map[string]*fakeApp
	packages map[string]*fakePackage
	builds   map[string]*fakeBuild
	droplets map[string]*client.Droplet
	routes   map[string]*client.Route
	jobs     map[string]*client.Job
	logs     map[string][]client.LogEnvelope
	blobs    map[string]bool // sha1s the blobstore has
	// received
	manifests [][]byte
	uploads   []fakeUpload
	grants    []string

	// knobs
	stagingError  string // a build fails with this error
	crash         bool   // instances crash instead of running
	stuck         bool   // instances stay STARTING
	manifestError string // apply_manifest jobs fail with this detail
	expiresIn     time.Duration
	// deployments are ACTIVE deployments by app guid.
	deployments map[string]map[string]any
}

type fakeApp struct {
	app        client.App
	proc       client.Process
	env        map[string]string
	droplet    string
	startPolls int
	startedAt  time.Time
}

type fakePackage struct {
	pkg   client.Package
	app   string
	polls int
}

type fakeBuild struct {
	build client.Build
	app   string
	polls int
}

type fakeUpload struct {
	resources string
	files     map[string]string // name → content; dirs end in "/"
	modes     map[string]uint32
}

const (
	fakeOrg    = "org-guid"
	fakeSpace  = "space-guid"
	fakeDomain = "domain-guid"
)

func newFakeCC(t *testing.T) *fakeCC {
	t.Helper()
	f := &fakeCC{
		t: t, apps: map[string]*fakeApp{}, packages: map[string]*fakePackage{}, builds: map[string]*fakeBuild{},
		droplets: map[string]*client.Droplet{}, routes: map[string]*client.Route{}, jobs: map[string]*client.Job{},
		logs: map[string][]client.LogEnvelope{}, blobs: map[string]bool{}, logTS: time.Now().UnixNano(),
		expiresIn: time.Hour,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCC) guid(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s-%d", prefix, f.seq)
}

// guids returns the guids of an app, its newest package and build.
func (f *fakeCC) guids(name string) (app, pkg, build string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.apps {
		if a.app.Name == name {
			app = a.app.GUID
		}
	}
	for _, p := range f.packages {
		if p.app == app && p.pkg.GUID > pkg {
			pkg = p.pkg.GUID
		}
	}
	for _, b := range f.builds {
		if b.app == app && b.build.GUID > build {
			build = b.build.GUID
		}
	}
	return app, pkg, build
}

func (f *fakeCC) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// addLog appends a log line to an app (lock held).
func (f *fakeCC) addLog(app, source, instance, msg string) {
	f.logTS += 1000
	f.logs[app] = append(f.logs[app], client.LogEnvelope{Timestamp: f.logTS, SourceID: app, InstanceID: instance,
		SourceType: source, Type: "OUT", Message: msg})
}

func fakeJWT(user string, exp time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256"}) + "." +
		enc(map[string]any{"exp": exp.Unix(), "user_name": user, "user_id": "u-" + user, "origin": "uaa"}) + ".c2ln"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFoundErr(w http.ResponseWriter, what string) {
	writeJSON(w, 404, map[string]any{"errors": []map[string]any{{"code": 10010, "title": "CF-ResourceNotFound", "detail": what + " not found"}}})
}

func list[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"pagination": map[string]any{"total_results": len(items), "next": nil}, "resources": items}
}

func (f *fakeCC) job(state, detail string) string {
	j := &client.Job{GUID: f.guid("job"), State: state}
	if detail != "" {
		j.Errors = []client.ErrorItem{{Code: 10008, Title: "CF-UnprocessableEntity", Detail: detail}}
	}
	f.jobs[j.GUID] = j
	return "/v3/jobs/" + j.GUID
}

func (f *fakeCC) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	if r.URL.Path != "/" && r.URL.Path != "/oauth/token" {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "bearer ")
		if exp, ok := client.TokenExpiry(tok); !ok || time.Until(exp) < 0 {
			writeJSON(w, 401, map[string]any{"errors": []map[string]any{{"code": 1000, "title": "CF-InvalidAuthToken", "detail": "Invalid Auth Token"}}})
			return
		}
	}
	switch {
	case r.URL.Path == "/":
		writeJSON(w, 200, map[string]any{"links": map[string]any{
			"self":                map[string]string{"href": f.srv.URL},
			"cloud_controller_v3": map[string]any{"href": f.srv.URL + "/v3", "meta": map[string]string{"version": "3.195.0"}},
			"login":               map[string]string{"href": f.srv.URL},
			"log_cache":           map[string]string{"href": f.srv.URL},
		}})
	case r.URL.Path == "/oauth/token":
		f.token(w, r)
	case r.URL.Path == "/v3/organizations":
		orgs := []client.Org{}
		if n := q.Get("names"); n == "" || n == "main" {
			orgs = append(orgs, client.Org{GUID: fakeOrg, Name: "main"})
		}
		writeJSON(w, 200, list(orgs))
	case r.URL.Path == "/v3/spaces":
		spaces := []client.Space{}
		if n := q.Get("names"); (n == "" || n == "dev") && q.Get("organization_guids") == fakeOrg {
			spaces = append(spaces, client.Space{GUID: fakeSpace, Name: "dev"})
		}
		writeJSON(w, 200, list(spaces))
	case r.URL.Path == "/v3/organizations/"+fakeOrg+"/domains/default":
		writeJSON(w, 200, client.Domain{GUID: fakeDomain, Name: "apps.test"})
	case r.URL.Path == "/v3/domains":
		writeJSON(w, 200, list([]client.Domain{{GUID: fakeDomain, Name: "apps.test"}}))
	case len(p) == 4 && p[1] == "spaces" && p[3] == "manifest_diff":
		writeJSON(w, 201, map[string]any{"diff": []any{}})
	case len(p) == 5 && p[1] == "spaces" && p[4] == "apply_manifest":
		f.applyManifest(w, r)
	case len(p) == 3 && p[1] == "jobs":
		j := f.jobs[p[2]]
		if j == nil {
			notFoundErr(w, "Job")
			return
		}
		writeJSON(w, 200, j)
		if j.State == client.JobProcessing {
			j.State = client.JobComplete
			if len(j.Errors) > 0 {
				j.State = client.JobFailed
			}
		}
	case r.URL.Path == "/v3/apps" && r.Method == http.MethodGet:
		var out []client.App
		for _, a := range f.sortedApps() {
			if n := q.Get("names"); n != "" && n != a.app.Name {
				continue
			}
			out = append(out, a.app)
		}
		writeJSON(w, 200, list(out))
	case len(p) >= 3 && p[1] == "apps":
		f.appRoutes(w, r, p)
	case r.URL.Path == "/v3/processes":
		var out []client.Process
		for _, a := range f.sortedApps() {
			if strings.Contains(q.Get("app_guids"), a.app.GUID) {
				out = append(out, a.proc)
			}
		}
		writeJSON(w, 200, list(out))
	case len(p) >= 3 && p[1] == "processes":
		f.processRoutes(w, r, p)
	case r.URL.Path == "/v3/resource_matches":
		var in struct {
			Resources []client.Resource `json:"resources"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, 400, map[string]any{"errors": []map[string]any{{"code": 1, "title": "CF-MessageParseError", "detail": err.Error()}}})
			return
		}
		var out []client.Resource
		for _, res := range in.Resources {
			if _, err := strconv.ParseUint(res.Mode, 8, 32); err != nil {
				f.t.Errorf("resource %s mode %q is not octal", res.Path, res.Mode)
			}
			if f.blobs[res.Checksum.Value] {
				out = append(out, res)
			}
		}
		writeJSON(w, 201, list(out))
	case r.URL.Path == "/v3/packages" && r.Method == http.MethodPost:
		var in struct {
			Type          string                      `json:"type"`
			Relationships client.ProcessRelationships `json:"relationships"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Type != "bits" {
			f.t.Errorf("package type %q", in.Type)
		}
		pk := &fakePackage{pkg: client.Package{GUID: f.guid("pkg"), Type: "bits", State: "AWAITING_UPLOAD", CreatedAt: time.Now()}, app: in.Relationships.App.GUID()}
		f.packages[pk.pkg.GUID] = pk
		writeJSON(w, 201, pk.pkg)
	case r.URL.Path == "/v3/packages" && r.Method == http.MethodGet:
		var out []client.Package
		for _, pk := range f.packages {
			if pk.app == q.Get("app_guids") {
				out = append(out, pk.pkg)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GUID > out[j].GUID })
		if len(out) > 1 {
			out = out[:1]
		}
		writeJSON(w, 200, list(out))
	case len(p) == 4 && p[1] == "packages" && p[3] == "upload":
		f.upload(w, r, p[2])
	case len(p) == 3 && p[1] == "packages":
		pk := f.packages[p[2]]
		if pk == nil {
			notFoundErr(w, "Package")
			return
		}
		if pk.pkg.State == "PROCESSING_UPLOAD" {
			if pk.polls++; pk.polls > 1 {
				pk.pkg.State = client.PackageReady
			}
		}
		writeJSON(w, 200, pk.pkg)
	case r.URL.Path == "/v3/builds":
		f.createBuild(w, r)
	case len(p) == 3 && p[1] == "builds":
		f.getBuild(w, p[2])
	case len(p) == 3 && p[1] == "droplets":
		d := f.droplets[p[2]]
		if d == nil {
			notFoundErr(w, "Droplet")
			return
		}
		writeJSON(w, 200, d)
	case r.URL.Path == "/v3/routes" && r.Method == http.MethodGet:
		var out []client.Route
		for _, rt := range f.sortedRoutes() {
			if ag := q.Get("app_guids"); ag != "" {
				hit := false
				for _, d := range rt.Destinations {
					hit = hit || strings.Contains(ag, d.App.GUID)
				}
				if !hit {
					continue
				}
			}
			out = append(out, *rt)
		}
		writeJSON(w, 200, list(out))
	case len(p) == 3 && p[1] == "routes" && r.Method == http.MethodDelete:
		delete(f.routes, p[2])
		w.Header().Set("Location", f.job(client.JobProcessing, ""))
		w.WriteHeader(202)
	case len(p) == 4 && p[0] == "api" && p[2] == "read":
		f.readLogs(w, r, p[3])
	case r.URL.Path == "/v3/deployments" && r.Method == http.MethodGet:
		var res []any
		if d, ok := f.deployments[q.Get("app_guids")]; ok && q.Get("status_values") == "ACTIVE" {
			res = append(res, d)
		}
		writeJSON(w, 200, map[string]any{"pagination": map[string]any{"total_results": len(res), "total_pages": 1}, "resources": append([]any{}, res...)})
	default:
		writeJSON(w, 404, map[string]any{"errors": []map[string]any{{"code": 10000, "title": "CF-NotFound", "detail": "Unknown request"}}})
	}
}

func (f *fakeCC) token(w http.ResponseWriter, r *http.Request) {
	if u, pw, ok := r.BasicAuth(); !ok || u != "cf" || pw != "" {
		f.t.Errorf("token basic auth %q %q", u, pw)
	}
	_ = r.ParseForm()
	g := r.PostForm.Get("grant_type")
	f.grants = append(f.grants, g)
	ok := (g == "password" && r.PostForm.Get("username") == "admin" && r.PostForm.Get("password") == "secret") ||
		(g == "refresh_token" && r.PostForm.Get("refresh_token") == "good-refresh")
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "unauthorized", "error_description": "Bad credentials"})
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": fakeJWT("admin", time.Now().Add(f.expiresIn)),
		"refresh_token": "good-refresh", "token_type": "bearer"})
}

func (f *fakeCC) sortedApps() []*fakeApp {
	out := make([]*fakeApp, 0, len(f.apps))
	for _, a := range f.apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].app.Name < out[j].app.Name })
	return out
}

func (f *fakeCC) sortedRoutes() []*client.Route {
	out := make([]*client.Route, 0, len(f.routes))
	for _, r := range f.routes {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

func fakeMB(v any) int64 {
	s := strings.ToUpper(fmt.Sprint(v))
	n, _ := strconv.ParseInt(strings.TrimRight(s, "MGB"), 10, 64)
	if strings.Contains(s, "G") {
		n *= 1024
	}
	return n
}

func (f *fakeCC) applyManifest(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-yaml" {
		f.t.Errorf("apply_manifest content type %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	f.manifests = append(f.manifests, body)
	var m struct {
		Applications []map[string]any `yaml:"applications"`
	}
	if err := yaml.Unmarshal(body, &m); err != nil {
		f.t.Errorf("manifest does not parse: %v", err)
	}
	if f.manifestError != "" {
		w.Header().Set("Location", f.job(client.JobProcessing, f.manifestError))
		w.WriteHeader(202)
		return
	}
	for _, spec := range m.Applications {
		name := fmt.Sprint(spec["name"])
		var a *fakeApp
		for _, x := range f.apps {
			if x.app.Name == name {
				a = x
			}
		}
		if a == nil {
			g := f.guid("app")
			a = &fakeApp{env: map[string]string{},
				app:  client.App{GUID: g, Name: name, State: client.AppStopped, Lifecycle: client.Lifecycle{Type: "buildpack"}},
				proc: client.Process{GUID: g + "-web", Type: "web", Instances: 1, MemoryInMB: 256, DiskInMB: 1024, Relationships: client.ProcessRelationships{App: client.To(g)}}}
			f.apps[g] = a
		}
		if v, ok := spec["instances"]; ok {
			a.proc.Instances, _ = strconv.Atoi(fmt.Sprint(v))
		}
		if v, ok := spec["memory"]; ok {
			a.proc.MemoryInMB = fakeMB(v)
		}
		if v, ok := spec["disk-quota"]; ok {
			a.proc.DiskInMB = fakeMB(v)
		}
		if v, ok := spec["command"]; ok {
			s := fmt.Sprint(v)
			a.proc.Command = &s
		}
		if bps, ok := spec["buildpacks"].([]any); ok {
			a.app.Lifecycle.Data.Buildpacks = nil
			for _, b := range bps {
				a.app.Lifecycle.Data.Buildpacks = append(a.app.Lifecycle.Data.Buildpacks, fmt.Sprint(b))
			}
		}
		if env, ok := spec["env"].(map[string]any); ok {
			for k, v := range env {
				a.env[k] = fmt.Sprint(v)
			}
		}
		hosts := []string{}
		switch {
		case spec["no-route"] == true:
		case spec["routes"] != nil:
			for _, rt := range spec["routes"].([]any) {
				hosts = append(hosts, fmt.Sprint(rt.(map[string]any)["route"]))
			}
		case spec["random-route"] == true:
			hosts = append(hosts, name+"-random-word.apps.test")
		case spec["default-route"] == true:
			hosts = append(hosts, name+".apps.test")
		}
		for _, h := range hosts {
			f.mapRoute(a.app.GUID, h)
		}
	}
	w.Header().Set("Location", f.job(client.JobProcessing, ""))
	w.WriteHeader(202)
}

// mapRoute maps url (host.domain[/path]) to app (lock held).
func (f *fakeCC) mapRoute(app, url string) {
	for _, rt := range f.routes {
		if rt.URL == url {
			for _, d := range rt.Destinations {
				if d.App.GUID == app {
					return
				}
			}
			rt.Destinations = append(rt.Destinations, client.Destination{GUID: f.guid("dest"), App: client.DestinationApp{GUID: app}})
			return
		}
	}
	host, path := url, ""
	if i := strings.IndexByte(url, '/'); i >= 0 {
		host, path = url[:i], url[i:]
	}
	host = strings.TrimSuffix(host, ".apps.test")
	g := f.guid("route")
	f.routes[g] = &client.Route{GUID: g, Host: host, Path: path, URL: url, Protocol: "http",
		Relationships: client.RouteRelationships{Space: client.To(fakeSpace), Domain: client.To(fakeDomain)},
		Destinations:  []client.Destination{{GUID: f.guid("dest"), App: client.DestinationApp{GUID: app}}}}
}

func (f *fakeCC) appRoutes(w http.ResponseWriter, r *http.Request, p []string) {
	a := f.apps[p[2]]
	if a == nil {
		notFoundErr(w, "App")
		return
	}
	switch {
	case len(p) == 3 && r.Method == http.MethodGet:
		writeJSON(w, 200, a.app)
	case len(p) == 3 && r.Method == http.MethodDelete:
		delete(f.apps, p[2])
		for _, rt := range f.routes {
			var keep []client.Destination
			for _, d := range rt.Destinations {
				if d.App.GUID != p[2] {
					keep = append(keep, d)
				}
			}
			rt.Destinations = keep
		}
		w.Header().Set("Location", f.job(client.JobProcessing, ""))
		w.WriteHeader(202)
	case len(p) == 5 && p[3] == "actions":
		switch p[4] {
		case "start", "restart":
			if a.droplet == "" {
				writeJSON(w, 422, map[string]any{"errors": []map[string]any{{"code": 10008, "title": "CF-UnprocessableEntity", "detail": "Assign a droplet before starting this app."}}})
				return
			}
			a.app.State = client.AppStarted
			a.startPolls = 0
			a.startedAt = time.Now()
			f.addLog(a.app.GUID, "APP/PROC/WEB", "0", "listening on 8080")
		case "stop":
			a.app.State = client.AppStopped
		}
		writeJSON(w, 200, a.app)
	case len(p) == 4 && p[3] == "processes":
		writeJSON(w, 200, list([]client.Process{a.proc}))
	case len(p) == 7 && p[3] == "processes" && p[6] == "scale":
		var in struct {
			Instances  *int   `json:"instances"`
			MemoryInMB *int64 `json:"memory_in_mb"`
			DiskInMB   *int64 `json:"disk_in_mb"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.Instances != nil {
			a.proc.Instances = *in.Instances
		}
		if in.MemoryInMB != nil {
			a.proc.MemoryInMB = *in.MemoryInMB
		}
		if in.DiskInMB != nil {
			a.proc.DiskInMB = *in.DiskInMB
		}
		writeJSON(w, 202, a.proc)
	case len(p) == 4 && p[3] == "routes":
		var out []client.Route
		for _, rt := range f.sortedRoutes() {
			for _, d := range rt.Destinations {
				if d.App.GUID == a.app.GUID {
					out = append(out, *rt)
					break
				}
			}
		}
		writeJSON(w, 200, list(out))
	case len(p) == 5 && p[3] == "droplets" && p[4] == "current":
		if a.droplet == "" {
			notFoundErr(w, "Droplet")
			return
		}
		writeJSON(w, 200, f.droplets[a.droplet])
	case len(p) == 5 && p[3] == "relationships" && p[4] == "current_droplet":
		var in client.Relationship
		_ = json.NewDecoder(r.Body).Decode(&in)
		if f.droplets[in.GUID()] == nil {
			notFoundErr(w, "Droplet")
			return
		}
		a.droplet = in.GUID()
		writeJSON(w, 200, in)
	case len(p) == 4 && p[3] == "env":
		vars := map[string]any{}
		for k, v := range a.env {
			vars[k] = v
		}
		writeJSON(w, 200, map[string]any{"environment_variables": vars,
			"system_env_json":      map[string]any{"VCAP_SERVICES": map[string]any{}},
			"application_env_json": map[string]any{"VCAP_APPLICATION": map[string]any{"application_name": a.app.Name}},
			"running_env_json":     map[string]any{}, "staging_env_json": map[string]any{}})
	case len(p) == 4 && p[3] == "environment_variables":
		var in struct {
			Var map[string]*string `json:"var"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		for k, v := range in.Var {
			if v == nil {
				delete(a.env, k)
			} else {
				a.env[k] = *v
			}
		}
		writeJSON(w, 200, map[string]any{"var": a.env})
	default:
		notFoundErr(w, "Route")
	}
}

func (f *fakeCC) processRoutes(w http.ResponseWriter, r *http.Request, p []string) {
	var a *fakeApp
	for _, x := range f.apps {
		if x.proc.GUID == p[2] {
			a = x
		}
	}
	if a == nil {
		notFoundErr(w, "Process")
		return
	}
	if len(p) == 3 {
		writeJSON(w, 200, a.proc)
		return
	}
	// stats: STARTING on the first poll after a start, then RUNNING (or
	// CRASHED).
	var stats []map[string]any
	state, uptime := "DOWN", 0
	if a.app.State == client.AppStarted {
		uptime = int(time.Since(a.startedAt).Seconds())
	}
	if a.app.State == client.AppStarted {
		a.startPolls++
		switch {
		case a.startPolls == 1 || f.stuck:
			state = "STARTING"
		case f.crash:
			state = "CRASHED"
		default:
			state = "RUNNING"
		}
	}
	for i := 0; i < a.proc.Instances; i++ {
		st := map[string]any{"type": "web", "index": i, "state": state, "host": "10.0.0.1", "uptime": uptime,
			"mem_quota": a.proc.MemoryInMB << 20, "disk_quota": a.proc.DiskInMB << 20, "fds_quota": 16384,
			"usage": map[string]any{"time": time.Now().UTC().Format(time.RFC3339), "cpu": 0.003, "mem": 12700000, "disk": 8 << 20}}
		if state == "CRASHED" {
			st["details"] = "exited with status 1"
		}
		stats = append(stats, st)
	}
	if stats == nil {
		stats = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"resources": stats})
}

func (f *fakeCC) upload(w http.ResponseWriter, r *http.Request, guid string) {
	pk := f.packages[guid]
	if pk == nil {
		notFoundErr(w, "Package")
		return
	}
	if r.ContentLength <= 0 || len(r.TransferEncoding) > 0 {
		f.t.Errorf("upload without Content-Length (%d, %v)", r.ContentLength, r.TransferEncoding)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		f.t.Errorf("upload is not multipart: %v", err)
		return
	}
	up := fakeUpload{files: map[string]string{}, modes: map[string]uint32{}}
	var order []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.t.Errorf("read part: %v", err)
			return
		}
		data, _ := io.ReadAll(part)
		order = append(order, part.FormName())
		switch part.FormName() {
		case "resources":
			up.resources = string(data)
		case "bits":
			if part.FileName() != "package.zip" {
				f.t.Errorf("bits file name %q", part.FileName())
			}
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				f.t.Errorf("bits are not a zip: %v", err)
				return
			}
			for _, zf := range zr.File {
				rc, _ := zf.Open()
				content, _ := io.ReadAll(rc)
				rc.Close()
				up.files[zf.Name] = string(content)
				up.modes[zf.Name] = uint32(zf.Mode().Perm())
				sum := sha1.Sum(content) //nolint:gosec // API contract
				f.blobs[hex.EncodeToString(sum[:])] = true
			}
		}
	}
	if len(order) == 0 || order[0] != "resources" {
		f.t.Errorf("upload part order %v, want resources first", order)
	}
	f.uploads = append(f.uploads, up)
	pk.pkg.State = "PROCESSING_UPLOAD"
	writeJSON(w, 200, pk.pkg)
}

func (f *fakeCC) createBuild(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Package client.GUIDRef `json:"package"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	pk := f.packages[in.Package.GUID]
	if pk == nil || pk.pkg.State != client.PackageReady {
		writeJSON(w, 422, map[string]any{"errors": []map[string]any{{"code": 10008, "title": "CF-UnprocessableEntity", "detail": "package is not ready"}}})
		return
	}
	b := &fakeBuild{build: client.Build{GUID: f.guid("build"), State: client.BuildStaging, Package: in.Package}, app: pk.app}
	f.builds[b.build.GUID] = b
	f.addLog(pk.app, "STG", "0", "-----> Downloading go buildpack")
	f.addLog(pk.app, "API", "0", "Creating build for app")
	writeJSON(w, 201, b.build)
}

func (f *fakeCC) getBuild(w http.ResponseWriter, guid string) {
	b := f.builds[guid]
	if b == nil {
		notFoundErr(w, "Build")
		return
	}
	if b.build.State == client.BuildStaging {
		if b.polls++; b.polls > 1 {
			if f.stagingError != "" {
				f.addLog(b.app, "STG", "0", "ERROR: "+f.stagingError)
				b.build.State = client.BuildFailed
				msg := f.stagingError
				b.build.Error = &msg
			} else {
				f.addLog(b.app, "STG", "0", "-----> Compiling app\n       done")
				d := &client.Droplet{GUID: f.guid("droplet"), State: "STAGED", Stack: "host", CreatedAt: time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC),
					Buildpacks:   []client.DropletBuildpack{{Name: "go_buildpack", BuildpackName: "go", Version: "1.2.3"}},
					ProcessTypes: map[string]string{"web": "./bin/app"}}
				f.droplets[d.GUID] = d
				b.build.State = client.BuildStaged
				b.build.Droplet = &client.GUIDRef{GUID: d.GUID}
			}
		}
	}
	writeJSON(w, 200, b.build)
}

func (f *fakeCC) readLogs(w http.ResponseWriter, r *http.Request, app string) {
	q := r.URL.Query()
	if q.Get("envelope_types") != "LOG" {
		f.t.Errorf("log read without envelope_types=LOG: %v", q)
	}
	start, _ := strconv.ParseInt(q.Get("start_time"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var sel []client.LogEnvelope
	for _, e := range f.logs[app] {
		if e.Timestamp >= start {
			sel = append(sel, e)
		}
	}
	if q.Get("descending") == "true" {
		for i, j := 0, len(sel)-1; i < j; i, j = i+1, j-1 {
			sel[i], sel[j] = sel[j], sel[i]
		}
	}
	if len(sel) > limit {
		sel = sel[:limit]
	}
	batch := []map[string]any{}
	for _, e := range sel {
		batch = append(batch, map[string]any{"timestamp": strconv.FormatInt(e.Timestamp, 10), "source_id": e.SourceID,
			"instance_id": e.InstanceID, "tags": map[string]string{"source_type": e.SourceType},
			"log": map[string]any{"payload": base64.StdEncoding.EncodeToString([]byte(e.Message)), "type": e.Type}})
	}
	writeJSON(w, 200, map[string]any{"envelopes": map[string]any{"batch": batch}})
}

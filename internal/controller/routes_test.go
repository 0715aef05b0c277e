package controller

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

type routeJSON struct {
	GUID         string `json:"guid"`
	Host         string `json:"host"`
	Path         string `json:"path"`
	URL          string `json:"url"`
	Protocol     string `json:"protocol"`
	Port         *int   `json:"port"`
	Destinations []struct {
		GUID string `json:"guid"`
		App  struct {
			GUID    string `json:"guid"`
			Process struct {
				Type string `json:"type"`
			} `json:"process"`
		} `json:"app"`
		Port     int    `json:"port"`
		Protocol string `json:"protocol"`
	} `json:"destinations"`
}

func (h *harness) sharedDomain() string {
	h.t.Helper()
	var l list[ref]
	h.do("GET", "/v3/domains?names=apps.localhost", nil, 200, &l)
	return l.Resources[0].GUID
}

func (h *harness) createRoute(host, path string) string {
	h.t.Helper()
	var r routeJSON
	h.do("POST", "/v3/routes", map[string]any{"host": host, "path": path, "relationships": map[string]any{
		"domain": map[string]any{"data": map[string]string{"guid": h.sharedDomain()}},
		"space":  map[string]any{"data": map[string]string{"guid": h.defaultSpace()}},
	}}, 201, &r)
	return r.GUID
}

func (h *harness) mapRoute(route, app string) {
	h.t.Helper()
	h.do("POST", "/v3/routes/"+route+"/destinations", map[string]any{"destinations": []any{
		map[string]any{"app": map[string]any{"guid": app, "process": map[string]string{"type": "web"}}},
	}}, 200, nil)
}

func TestRoutesAndDestinations(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("routed")
	domain, space := h.sharedDomain(), h.defaultSpace()
	body := func(host, path string) map[string]any {
		return map[string]any{"host": host, "path": path, "relationships": map[string]any{
			"domain": map[string]any{"data": map[string]string{"guid": domain}},
			"space":  map[string]any{"data": map[string]string{"guid": space}},
		}}
	}
	var r routeJSON
	h.do("POST", "/v3/routes", body("routed", ""), 201, &r)
	if r.URL != "routed.apps.localhost" || r.Protocol != "http" || r.Port != nil || len(r.Destinations) != 0 {
		t.Fatalf("route: %+v", r)
	}
	var withPath routeJSON
	h.do("POST", "/v3/routes", body("routed", "/api"), 201, &withPath)
	if withPath.URL != "routed.apps.localhost/api" {
		t.Fatalf("route with path: %+v", withPath)
	}
	if _, _, d := h.fail("POST", "/v3/routes", body("routed", ""), 422); d != "Route already exists with host 'routed' for domain 'apps.localhost'." {
		t.Fatalf("duplicate route: %q", d)
	}
	for _, bad := range []map[string]any{body("bad host", ""), body("-x", ""), body("ok", "nopath"), body("ok", "/"), body("ok", "/a?b")} {
		h.fail("POST", "/v3/routes", bad, 422)
	}
	if _, _, d := h.fail("GET", "/v3/routes/nope", nil, 404); d != "Route not found" {
		t.Fatalf("unknown route: %q", d)
	}

	// Start the app so mappings publish dea.update.
	newFakeDEA(t, h, "dea-r1")
	h.stagedDroplet(app, nil)
	h.do("POST", "/v3/apps/"+app+"/actions/start", nil, 200, nil)
	updates := h.record(bus.SubjectDEAUpdate)
	var dests struct {
		Destinations []struct {
			GUID string `json:"guid"`
			App  struct {
				GUID string `json:"guid"`
			} `json:"app"`
		} `json:"destinations"`
	}
	h.do("POST", "/v3/routes/"+r.GUID+"/destinations", map[string]any{"destinations": []any{
		map[string]any{"app": map[string]any{"guid": app, "process": map[string]string{"type": "web"}}},
	}}, 200, &dests)
	if len(dests.Destinations) != 1 || dests.Destinations[0].App.GUID != app {
		t.Fatalf("destinations: %+v", dests)
	}
	h.mapRoute(withPath.GUID, app)
	waitUpdate := func(want ...string) {
		t.Helper()
		eventually(t, 5*time.Second, "dea.update with "+slices.Concat(want, []string{"-"})[0], func() bool {
			for _, m := range updates.all() {
				var u messages.UpdateRoutes
				if json.Unmarshal(m, &u) == nil && u.AppGUID == app && slices.Equal(u.URIs, want) {
					return true
				}
			}
			return false
		})
	}
	waitUpdate("routed.apps.localhost", "routed.apps.localhost/api")

	// Route lists as the CLI asks for them.
	var l list[routeJSON]
	h.do("GET", "/v3/routes?app_guids="+app, nil, 200, &l)
	if len(l.Resources) != 2 || len(l.Resources[0].Destinations) != 1 || l.Resources[0].Destinations[0].Port != 8080 || l.Resources[0].Destinations[0].Protocol != "http1" {
		t.Fatalf("routes by app: %+v", l)
	}
	h.do("GET", "/v3/apps/"+app+"/routes", nil, 200, &l)
	if len(l.Resources) != 2 {
		t.Fatalf("app routes: %+v", l)
	}
	h.do("GET", "/v3/routes?hosts=routed&paths=/api&domain_guids="+domain, nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].GUID != withPath.GUID {
		t.Fatalf("route by host+path: %+v", l)
	}
	h.do("GET", "/v3/routes?hosts=routed&paths=", nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].GUID != r.GUID {
		t.Fatalf("route by empty path: %+v", l)
	}

	// Unmap one destination.
	h.do("DELETE", "/v3/routes/"+withPath.GUID+"/destinations/"+destGUID(t, h, withPath.GUID), nil, 204, nil)
	waitUpdate("routed.apps.localhost")

	// Delete the other route with a job.
	hdr := h.do("DELETE", "/v3/routes/"+r.GUID, nil, 202, nil)
	if j := h.waitJob(hdr.Get("Location")); j.State != "COMPLETE" {
		t.Fatalf("route delete job: %+v", j)
	}
	h.fail("GET", "/v3/routes/"+r.GUID, nil, 404)
	waitUpdate()

	// Another space's app cannot be a destination.
	var other ref
	h.do("POST", "/v3/spaces", map[string]any{"name": "other", "relationships": map[string]any{"organization": map[string]any{"data": map[string]string{"guid": orgOf(t, h)}}}}, 201, &other)
	var stranger ref
	h.do("POST", "/v3/apps", map[string]any{"name": "stranger", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": other.GUID}}}}, 201, &stranger)
	h.fail("POST", "/v3/routes/"+withPath.GUID+"/destinations", map[string]any{"destinations": []any{
		map[string]any{"app": map[string]any{"guid": stranger.GUID}},
	}}, 422)
}

func destGUID(t *testing.T, h *harness, route string) string {
	t.Helper()
	var d struct {
		Destinations []struct {
			GUID string `json:"guid"`
		} `json:"destinations"`
	}
	h.do("GET", "/v3/routes/"+route+"/destinations", nil, 200, &d)
	if len(d.Destinations) == 0 {
		t.Fatal("route has no destinations")
	}
	return d.Destinations[0].GUID
}

func orgOf(t *testing.T, h *harness) string {
	t.Helper()
	var l list[ref]
	h.do("GET", "/v3/organizations?names=ingot", nil, 200, &l)
	return l.Resources[0].GUID
}

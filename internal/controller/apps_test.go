package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

type appJSON struct {
	GUID      string `json:"guid"`
	Name      string `json:"name"`
	State     string `json:"state"`
	CreatedAt string `json:"created_at"`
	Lifecycle struct {
		Type string `json:"type"`
		Data struct {
			Buildpacks []string `json:"buildpacks"`
		} `json:"data"`
	} `json:"lifecycle"`
	Relationships struct {
		Space struct {
			Data struct {
				GUID string `json:"guid"`
			} `json:"data"`
		} `json:"space"`
	} `json:"relationships"`
	Links map[string]struct {
		Href string `json:"href"`
	} `json:"links"`
}

type jobJSON struct {
	GUID   string `json:"guid"`
	State  string `json:"state"`
	Errors []struct {
		Detail string `json:"detail"`
	} `json:"errors"`
	Warnings []struct {
		Detail string `json:"detail"`
	} `json:"warnings"`
}

// waitJob polls a job until it finishes and returns it.
func (h *harness) waitJob(location string) jobJSON {
	h.t.Helper()
	var j jobJSON
	eventually(h.t, 10*time.Second, "job "+location, func() bool {
		h.do("GET", strings.TrimPrefix(location, h.url), nil, 200, &j)
		return j.State == "COMPLETE" || j.State == "FAILED"
	})
	return j
}

func TestAppCRUD(t *testing.T) {
	h := newHarness(t)
	space := h.defaultSpace()
	var a appJSON
	h.do("POST", "/v3/apps", map[string]any{
		"name":                  "web1",
		"relationships":         map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}},
		"environment_variables": map[string]any{"A": "1", "N": 2},
		"lifecycle":             map[string]any{"type": "buildpack", "data": map[string]any{"buildpacks": []string{"go_buildpack"}}},
	}, 201, &a)
	if a.Name != "web1" || a.State != "STOPPED" || a.Relationships.Space.Data.GUID != space || a.Lifecycle.Data.Buildpacks[0] != "go_buildpack" {
		t.Fatalf("created app: %+v", a)
	}
	if !strings.HasSuffix(a.CreatedAt, "Z") || a.Links["self"].Href != h.url+"/v3/apps/"+a.GUID {
		t.Fatalf("created_at %q, self %q", a.CreatedAt, a.Links["self"].Href)
	}
	// Web process created with the defaults.
	var p struct {
		Type          string `json:"type"`
		Instances     int    `json:"instances"`
		MemoryInMB    int64  `json:"memory_in_mb"`
		DiskInMB      int64  `json:"disk_in_mb"`
		Relationships struct {
			App struct {
				Data struct {
					GUID string `json:"guid"`
				} `json:"data"`
			} `json:"app"`
		} `json:"relationships"`
		HealthCheck struct {
			Type string `json:"type"`
		} `json:"health_check"`
	}
	h.do("GET", "/v3/apps/"+a.GUID+"/processes/web", nil, 200, &p)
	if p.Type != "web" || p.Instances != 1 || p.MemoryInMB != 256 || p.DiskInMB != 1024 || p.Relationships.App.Data.GUID != a.GUID || p.HealthCheck.Type != "port" {
		t.Fatalf("web process: %+v", p)
	}

	if _, _, d := h.fail("POST", "/v3/apps", map[string]any{
		"name": "web1", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}},
	}, 422); d != "App with the name 'web1' already exists." {
		t.Fatalf("duplicate: %q", d)
	}
	h.fail("POST", "/v3/apps", map[string]any{"name": "x"}, 422)
	h.fail("POST", "/v3/apps", map[string]any{"name": "x", "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}},
		"environment_variables": map[string]any{"VCAP_SERVICES": "x"}}, 422)

	if code, _, d := h.fail("GET", "/v3/apps/does-not-exist", nil, 404); code != 10010 || d != "App not found" {
		t.Fatalf("unknown app: %d %q", code, d)
	}

	// The CLI's lookup with include.
	var l struct {
		list[appJSON]
		Included struct {
			Spaces        []ref `json:"spaces"`
			Organizations []ref `json:"organizations"`
		} `json:"included"`
	}
	h.do("GET", "/v3/apps?names=web1&space_guids="+space+"&include=space,space.organization", nil, 200, &l)
	if len(l.Resources) != 1 || len(l.Included.Spaces) != 1 || len(l.Included.Organizations) != 1 {
		t.Fatalf("list with include: %+v", l)
	}
	h.do("GET", "/v3/apps?names=web1&space_guids=other", nil, 200, &l)
	if len(l.Resources) != 0 {
		t.Fatalf("space filter: %+v", l.Resources)
	}

	// Rename and lifecycle update.
	h.do("PATCH", "/v3/apps/"+a.GUID, map[string]any{"name": "web2", "lifecycle": map[string]any{"data": map[string]any{"buildpacks": []string{}}}}, 200, &a)
	if a.Name != "web2" || len(a.Lifecycle.Data.Buildpacks) != 0 {
		t.Fatalf("patched: %+v", a)
	}

	// Start without a droplet.
	if _, _, d := h.fail("POST", "/v3/apps/"+a.GUID+"/actions/start", nil, 422); d != "Assign a droplet before starting this app." {
		t.Fatalf("start without droplet: %q", d)
	}
	if _, _, d := h.fail("GET", "/v3/apps/"+a.GUID+"/droplets/current", nil, 404); d != "Droplet not found" {
		t.Fatalf("current droplet: %q", d)
	}

	// Delete: 202 + job; then everything is gone.
	drop := h.stagedDroplet(a.GUID, nil)
	hdr := h.do("DELETE", "/v3/apps/"+a.GUID, nil, 202, nil)
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, h.url+"/v3/jobs/") {
		t.Fatalf("Location %q", loc)
	}
	if j := h.waitJob(loc); j.State != "COMPLETE" {
		t.Fatalf("delete job: %+v", j)
	}
	h.fail("GET", "/v3/apps/"+a.GUID, nil, 404)
	if _, err := h.store.Droplets().Get(context.Background(), drop); err == nil {
		t.Fatal("droplet record survived the app")
	}
	if ok, _ := h.blobs.Exists(context.Background(), "droplets/"+drop); ok {
		t.Fatal("droplet blob survived the app")
	}
	if ps, _ := h.store.Processes().List(context.Background(), store.ListOptions{AppGUIDs: []string{a.GUID}}); len(ps) != 0 {
		t.Fatal("processes survived the app")
	}
}

func TestAppEnv(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("envy")
	var ev struct {
		Var map[string]string `json:"var"`
	}
	h.do("PATCH", "/v3/apps/"+app+"/environment_variables", map[string]any{"var": map[string]any{"A": "x", "B": "y", "C": true}}, 200, &ev)
	if ev.Var["A"] != "x" || ev.Var["B"] != "y" || ev.Var["C"] != "true" {
		t.Fatalf("set: %v", ev.Var)
	}
	ev.Var = nil
	h.do("PATCH", "/v3/apps/"+app+"/environment_variables", map[string]any{"var": map[string]any{"B": nil}}, 200, &ev)
	if _, ok := ev.Var["B"]; ok || ev.Var["A"] != "x" {
		t.Fatalf("unset: %v", ev.Var)
	}
	ev.Var = nil
	h.do("GET", "/v3/apps/"+app+"/environment_variables", nil, 200, &ev)
	if len(ev.Var) != 2 {
		t.Fatalf("get: %v", ev.Var)
	}
	h.fail("PATCH", "/v3/apps/"+app+"/environment_variables", map[string]any{"var": map[string]any{"PORT": "1"}}, 422)
	h.fail("PATCH", "/v3/apps/"+app+"/environment_variables", map[string]any{"var": map[string]any{"X": map[string]string{}}}, 422)

	var env struct {
		EnvironmentVariables map[string]string `json:"environment_variables"`
		SystemEnvJSON        struct {
			VCAPServices map[string]any `json:"VCAP_SERVICES"`
		} `json:"system_env_json"`
		ApplicationEnvJSON struct {
			VCAPApplication map[string]any `json:"VCAP_APPLICATION"`
		} `json:"application_env_json"`
		StagingEnvJSON map[string]any `json:"staging_env_json"`
		RunningEnvJSON map[string]any `json:"running_env_json"`
	}
	h.do("GET", "/v3/apps/"+app+"/env", nil, 200, &env)
	va := env.ApplicationEnvJSON.VCAPApplication
	if env.EnvironmentVariables["A"] != "x" || env.SystemEnvJSON.VCAPServices == nil || env.StagingEnvJSON == nil || env.RunningEnvJSON == nil {
		t.Fatalf("env: %+v", env)
	}
	if va["application_id"] != app || va["application_name"] != "envy" || va["space_name"] != "dev" || va["organization_name"] != "ingot" || va["cf_api"] != h.url {
		t.Fatalf("VCAP_APPLICATION: %v", va)
	}
	if lim, _ := va["limits"].(map[string]any); lim["mem"] != float64(256) {
		t.Fatalf("limits: %v", va["limits"])
	}
	// API log lines reach the app's log.
	eventually(t, 5*time.Second, "API log lines", func() bool {
		for _, l := range h.logs.Read(app, logsQueryAll()) {
			if l.SourceType == "API" && strings.Contains(l.Message, "Created app") {
				return true
			}
		}
		return false
	})
}

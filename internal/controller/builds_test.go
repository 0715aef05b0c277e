package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

type buildJSON struct {
	GUID    string  `json:"guid"`
	State   string  `json:"state"`
	Error   *string `json:"error"`
	Droplet *struct {
		GUID string `json:"guid"`
	} `json:"droplet"`
	Package struct {
		GUID string `json:"guid"`
	} `json:"package"`
	CreatedBy struct {
		Name string `json:"name"`
	} `json:"created_by"`
}

type dropletJSON struct {
	GUID         string            `json:"guid"`
	State        string            `json:"state"`
	ProcessTypes map[string]string `json:"process_types"`
	Stack        string            `json:"stack"`
	Checksum     struct {
		Value string `json:"value"`
	} `json:"checksum"`
	Buildpacks []struct {
		Name         string `json:"name"`
		DetectOutput string `json:"detect_output"`
	} `json:"buildpacks"`
}

// readyPackage uploads a one-file package for app.
func (h *harness) readyPackage(app string) string {
	h.t.Helper()
	pkg := h.createPackage(app)
	if status, body := h.upload(pkg, nil, buildZip(h.t, zfile{name: "run", mode: 0o755, body: "#!/bin/sh\n"})); status != 200 {
		h.t.Fatalf("upload: %d %s", status, body)
	}
	return pkg
}

func (h *harness) waitBuild(guid string) buildJSON {
	h.t.Helper()
	var b buildJSON
	eventually(h.t, 15*time.Second, "build "+guid, func() bool {
		h.do("GET", "/v3/builds/"+guid, nil, 200, &b)
		return b.State != "STAGING"
	})
	return b
}

func TestBuildStagesOnAStager(t *testing.T) {
	h := newHarness(t)
	dea := newFakeDEA(t, h, "dea-1")
	app := h.createApp("stageme")
	h.do("PATCH", "/v3/apps/"+app+"/environment_variables", map[string]any{"var": map[string]string{"K": "v"}}, 200, nil)
	pkg := h.readyPackage(app)

	var b buildJSON
	h.do("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg}}, 201, &b)
	if b.State != "STAGING" || b.Package.GUID != pkg || b.Droplet != nil || b.CreatedBy.Name != "admin" {
		t.Fatalf("new build: %+v", b)
	}
	b = h.waitBuild(b.GUID)
	if b.State != "STAGED" || b.Droplet == nil || b.Error != nil {
		t.Fatalf("finished build: %+v", b)
	}
	var d dropletJSON
	h.do("GET", "/v3/droplets/"+b.Droplet.GUID, nil, 200, &d)
	sum := sha256.Sum256(dropletBytes)
	if d.State != "STAGED" || d.ProcessTypes["web"] != "./run" || d.Stack != "host" || d.Checksum.Value != hex.EncodeToString(sum[:]) ||
		len(d.Buildpacks) != 1 || d.Buildpacks[0].Name != "binary_buildpack" {
		t.Fatalf("droplet: %+v", d)
	}
	// What the stager was asked.
	dea.mu.Lock()
	req := dea.staged[0]
	dea.mu.Unlock()
	if req.AppGUID != app || req.Env["K"] != "v" || req.Stack != "host" || req.MemoryMB < 256 || !strings.Contains(req.BuildpackCacheURI, "/internal/v1/buildpack_cache/"+app) {
		t.Fatalf("staging request: %+v", req)
	}

	// The CLI's `cf start` lookup of staged droplets for the package.
	var l list[dropletJSON]
	h.do("GET", "/v3/packages/"+pkg+"/droplets?page=1&per_page=1&states=STAGED", nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].GUID != b.Droplet.GUID {
		t.Fatalf("package droplets: %+v", l)
	}
	h.do("GET", "/v3/apps/"+app+"/droplets", nil, 200, &l)
	if len(l.Resources) != 1 {
		t.Fatalf("app droplets: %+v", l)
	}
	var builds list[buildJSON]
	h.do("GET", "/v3/apps/"+app+"/builds", nil, 200, &builds)
	if len(builds.Resources) != 1 {
		t.Fatalf("app builds: %+v", builds)
	}

	// Make it current; the new process types appear.
	h.do("PATCH", "/v3/apps/"+app+"/relationships/current_droplet", map[string]any{"data": map[string]string{"guid": b.Droplet.GUID}}, 200, nil)
	h.do("GET", "/v3/apps/"+app+"/droplets/current", nil, 200, &d)
	if d.GUID != b.Droplet.GUID {
		t.Fatalf("current droplet: %+v", d)
	}
	var procs list[struct {
		Type      string `json:"type"`
		Instances int    `json:"instances"`
	}]
	h.do("GET", "/v3/apps/"+app+"/processes", nil, 200, &procs)
	if len(procs.Resources) != 2 {
		t.Fatalf("processes after droplet: %+v", procs)
	}
	// Download through the API.
	if status, _, data := h.raw("GET", "/v3/droplets/"+d.GUID+"/download", "", nil, true); status != 200 || string(data) != string(dropletBytes) {
		t.Fatalf("droplet download: %d %q", status, data)
	}
	// Another app's droplet cannot be assigned.
	other := h.createApp("other")
	if _, _, detail := h.fail("PATCH", "/v3/apps/"+other+"/relationships/current_droplet", map[string]any{"data": map[string]string{"guid": d.GUID}}, 422); !strings.Contains(detail, "Unable to assign current droplet") {
		t.Fatalf("foreign droplet: %q", detail)
	}
}

func TestBuildFailures(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("nostager")
	pkg := h.readyPackage(app)

	// No DEA at all: FAILED quickly with a clear message.
	var b buildJSON
	h.do("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg}}, 201, &b)
	b = h.waitBuild(b.GUID)
	if b.State != "FAILED" || b.Error == nil || !strings.Contains(*b.Error, "no compatible cell available") {
		t.Fatalf("no-stager build: %+v", b)
	}
	var d dropletJSON
	h.do("GET", "/v3/droplets/"+b.Droplet2(h), nil, 200, &d)
	if d.State != "FAILED" {
		t.Fatalf("droplet of a failed build: %+v", d)
	}

	// A stager that reports an error.
	dea := newFakeDEA(t, h, "dea-err")
	dea.set(func(d *fakeDEA) { d.stageError = "NoAppDetectedError - no buildpack detected the app" })
	h.do("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg}}, 201, &b)
	b = h.waitBuild(b.GUID)
	if b.State != "FAILED" || *b.Error != "NoAppDetectedError - no buildpack detected the app" {
		t.Fatalf("stager error: %+v", b)
	}
	dea.set(func(d *fakeDEA) { d.stageError = "compile failed" })
	h.do("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg}}, 201, &b)
	if b = h.waitBuild(b.GUID); *b.Error != "StagingError - compile failed" {
		t.Fatalf("untyped stager error: %+v", b)
	}

	// Bad requests.
	h.fail("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": "nope"}}, 422)
	unready := h.createPackage(app)
	h.fail("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": unready}}, 422)
	if _, _, detail := h.fail("GET", "/v3/builds/nope", nil, 404); detail != "Build not found" {
		t.Fatalf("unknown build: %q", detail)
	}
	if _, _, detail := h.fail("GET", "/v3/droplets/nope", nil, 404); detail != "Droplet not found" {
		t.Fatalf("unknown droplet: %q", detail)
	}
}

// Droplet2 returns a failed build's droplet guid from the store (the API
// shows droplet only when STAGED).
func (b buildJSON) Droplet2(h *harness) string {
	h.t.Helper()
	rec, err := h.store.Builds().Get(t0(), b.GUID)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec.DropletGUID
}

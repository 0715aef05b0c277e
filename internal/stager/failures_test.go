package stager

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/messages"
)

// TestCustomBuildpackCompile stages with a custom buildpack given by its
// absolute path that uses the old Heroku compile contract.
func TestCustomBuildpackCompile(t *testing.T) {
	h := newHarness(t, Config{})
	bp := writeBuildpack(t, map[string]string{
		"detect": `[ -f "$1/hello.txt" ] && echo "Hello Pack" || exit 1`,
		"compile": `build=$1 cache=$2
echo "-----> Compiling with the hello buildpack"
[ -f "$cache/runs" ] && echo "cache had: $(cat "$cache/runs")"
echo run >> "$cache/runs"
echo "stack=$CF_STACK memory=$MEMORY_LIMIT greeting=$GREETING" > "$build/compiled.txt"
mkdir -p "$build/.profile.d"
echo 'export HELLO=1' > "$build/.profile.d/hello.sh"
[ "$BUILD_DIR" = "$build" ] && [ "$CACHE_DIR" = "$cache" ] && [ -d "$DEPS_DIR" ] && [ -d "$TMPDIR" ]`,
		"release": `echo "---"; echo "default_process_types:"; echo "  web: ./run.sh"; echo "  worker: ./work.sh"`,
	})
	pkg := zipFiles(t, map[string]string{"hello.txt": "hi", "Procfile": "worker: ./other-worker.sh\n"})
	res := h.stage("custom-app", pkg, func(r *messages.StagingRequest) { r.Buildpacks = []string{bp} })
	d := h.droplet(res)
	si := stagingInfo(t, d)
	if si.DetectedBuildpack != "Hello Pack" || si.StartCommand != "./run.sh" || si.BuildpackPath != bp {
		t.Errorf("staging info = %+v", si)
	}
	if res.BuildpackName != bp || res.DetectedBuildpack != "Hello Pack" {
		t.Errorf("result = %+v", res)
	}
	// Procfile entries override the buildpack's per type.
	if res.ProcessTypes["web"] != "./run.sh" || res.ProcessTypes["worker"] != "./other-worker.sh" {
		t.Errorf("process types = %v", res.ProcessTypes)
	}
	if got := d["app/compiled.txt"].data; got != "stack=host memory=1024m greeting=hi\n" {
		t.Errorf("compiled.txt = %q", got)
	}
	checkApp(t, d, "app/.profile.d/hello.sh")
	if _, ok := d["app/.profile.d/000_ingot_deps.sh"]; ok {
		t.Errorf("compile contract got the deps profile script")
	}

	// The cache the first staging saved is fed back to the second.
	res = h.stage("custom-app", pkg, func(r *messages.StagingRequest) {
		r.Buildpacks = []string{bp}
		r.StartCommand = "./custom-start"
	})
	if si := stagingInfo(t, h.droplet(res)); si.StartCommand != "./custom-start" {
		t.Errorf("user start command lost: %+v", si)
	}
	if log := h.logs.text("custom-app"); !strings.Contains(log, "cache had: run") {
		t.Errorf("second staging did not see the cache:\n%s", log)
	}
}

// TestSupplyFinalizeBuildpacks stages with two custom buildpacks: the first
// supplies a dependency, the last (supply + finalize) builds with it.
func TestSupplyFinalizeBuildpacks(t *testing.T) {
	h := newHarness(t, Config{})
	supplier := writeBuildpack(t, map[string]string{
		"supply": `build=$1 cache=$2 deps=$3 idx=$4
mkdir -p "$deps/$idx/bin" "$deps/$idx/profile.d"
echo "tool v1" > "$deps/$idx/bin/tool"
echo 'export TOOL_HOME="$DEPS_DIR/'"$idx"'"' > "$deps/$idx/profile.d/tool.sh"
echo "-----> Supplied tool at index $idx"`,
		"release": `echo "--- {}"`,
	})
	finalizer := writeBuildpack(t, map[string]string{
		"detect": `exit 1`,
		"supply": `echo "final supply at $4"; echo supplied > "$3/$4/final-supply"`,
		"finalize": `build=$1 deps=$3 idx=$4 profile=$5
cat "$deps/0/bin/tool" > "$build/built-with.txt"
[ "$idx" = 1 ] || { echo "index $idx" >&2; exit 1; }
[ "$profile" = "$build/.profile.d" ] || { echo "profile dir $profile" >&2; exit 1; }
echo 'export FINAL=1' > "$profile/final.sh"`,
		"release": `printf -- '---\ndefault_process_types:\n  web: "./start --port $PORT"\n'`,
	})
	res := h.stage("multi-app", zipFiles(t, map[string]string{"main.txt": "x"}), func(r *messages.StagingRequest) {
		r.Buildpacks = []string{supplier, finalizer}
	})
	d := h.droplet(res)
	si := stagingInfo(t, d)
	if si.StartCommand != "./start --port $PORT" || si.DetectedBuildpack != "my-buildpack" {
		t.Errorf("staging info = %+v", si)
	}
	if got := d["app/built-with.txt"].data; got != "tool v1\n" {
		t.Errorf("built-with.txt = %q", got)
	}
	checkApp(t, d, "deps/0/bin/tool", "deps/0/profile.d/tool.sh", "deps/1/final-supply",
		"app/.profile.d/final.sh", "app/.profile.d/000_ingot_deps.sh")
	if !strings.Contains(d["app/.profile.d/000_ingot_deps.sh"].data, `"${DEPS_DIR:-$HOME/../deps}"/*/profile.d/*.sh`) {
		t.Errorf("deps profile script = %q", d["app/.profile.d/000_ingot_deps.sh"].data)
	}

	// A buildpack without bin/supply cannot come first.
	compileOnly := writeBuildpack(t, map[string]string{"compile": "true", "release": `echo "--- {}"`})
	res = h.stage("multi-app", zipFiles(t, map[string]string{"main.txt": "x"}), func(r *messages.StagingRequest) {
		r.Buildpacks = []string{compileOnly, finalizer}
	})
	if !strings.Contains(res.Error, "does not support multi-buildpack apps") {
		t.Errorf("error = %q", res.Error)
	}
}

func TestStagingFailures(t *testing.T) {
	h := newHarness(t, Config{MaxPackageFiles: 20})
	failing := writeBuildpack(t, map[string]string{
		"compile": `echo "-----> Compiling"; echo "something went wrong: missing widget" >&2; exit 1`,
		"release": `echo "--- {}"`,
	})
	badRelease := writeBuildpack(t, map[string]string{
		"compile": `true`,
		"release": `echo "default_process_types: [unclosed"`,
	})
	slow := writeBuildpack(t, map[string]string{
		"compile": `echo "-----> Sleeping"; sleep 60`,
		"release": `echo "--- {}"`,
	})
	many := map[string]string{}
	for i := range 30 {
		many[filepath.Join("dir", strings.Repeat("f", i+1))] = "x"
	}
	tests := []struct {
		name  string
		pkg   []byte
		mod   func(*messages.StagingRequest)
		wants []string
	}{
		{
			name:  "nothing detected",
			pkg:   zipFiles(t, map[string]string{"README.md": "just text"}),
			wants: []string{"None of the buildpacks detected a compatible application", "go, nodejs, python, java, staticfile"},
		},
		{
			name:  "compile fails",
			pkg:   zipFiles(t, map[string]string{"a.txt": "a"}),
			mod:   func(r *messages.StagingRequest) { r.Buildpacks = []string{failing} },
			wants: []string{"compile step of buildpack my-buildpack failed with exit status 1", "staging error 223", "something went wrong: missing widget"},
		},
		{
			name:  "release prints invalid YAML",
			pkg:   zipFiles(t, map[string]string{"a.txt": "a"}),
			mod:   func(r *messages.StagingRequest) { r.Buildpacks = []string{badRelease} },
			wants: []string{"release step of buildpack my-buildpack printed invalid YAML"},
		},
		{
			name:  "zip slip",
			pkg:   zipFiles(t, map[string]string{"ok.txt": "fine", "../evil": "pwned"}),
			wants: []string{"invalid app package", `"../evil" escapes the app directory`},
		},
		{
			name:  "symlink escaping the app",
			pkg:   zipFiles(t, map[string]string{"link": "@link:../../etc"}),
			wants: []string{"invalid app package", "points outside the app"},
		},
		{
			name:  "too many files",
			pkg:   zipFiles(t, many),
			wants: []string{"invalid app package", "more than the limit of 20"},
		},
		{
			name:  "not a zip",
			pkg:   []byte("this is not a zip file"),
			wants: []string{"invalid app package: not a valid zip archive"},
		},
		{
			name:  "unknown buildpack",
			pkg:   zipFiles(t, map[string]string{"a.txt": "a"}),
			mod:   func(r *messages.StagingRequest) { r.Buildpacks = []string{"cobol_buildpack"} },
			wants: []string{`"cobol_buildpack" is neither a built-in buildpack`, "go_buildpack"},
		},
		{
			name:  "buildpack URL",
			pkg:   zipFiles(t, map[string]string{"a.txt": "a"}),
			mod:   func(r *messages.StagingRequest) { r.Buildpacks = []string{"https://github.com/x/y"} },
			wants: []string{"buildpack URLs are not supported yet"},
		},
		{
			name:  "wrong stack",
			pkg:   zipFiles(t, map[string]string{"a.txt": "a"}),
			mod:   func(r *messages.StagingRequest) { r.Stack = "cflinuxfs4" },
			wants: []string{`stages for the stack "host", not "cflinuxfs4"`},
		},
		{
			name: "package missing",
			pkg:  zipFiles(t, map[string]string{"a.txt": "a"}),
			mod: func(r *messages.StagingRequest) {
				r.PackageURI = strings.Replace(r.PackageURI, "/packages/", "/packages/gone-", 1)
			},
			wants: []string{"downloading the app package", "404 Not Found"},
		},
		{
			name:  "timeout",
			pkg:   zipFiles(t, map[string]string{"a.txt": "a"}),
			mod:   func(r *messages.StagingRequest) { r.Buildpacks = []string{slow}; r.TimeoutSeconds = 2 },
			wants: []string{"staging timed out after 2s", "running compile of buildpack my-buildpack"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := "fail-" + strings.ReplaceAll(tt.name, " ", "-")
			res := h.stage(app, tt.pkg, tt.mod)
			if res.Error == "" {
				t.Fatalf("staging succeeded, want an error with %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(res.Error, w) {
					t.Errorf("error %q lacks %q", res.Error, w)
				}
			}
			if strings.Contains(res.Error, "signature=secret") {
				t.Errorf("error leaks the signed URL: %q", res.Error)
			}
			if res.DropletDigest != "" {
				t.Errorf("failed staging has a droplet digest")
			}
			if _, ok := h.blobs.get("/droplets/" + res.BuildGUID); ok {
				t.Errorf("failed staging uploaded a droplet")
			}
			if log := h.logs.text(app); !strings.Contains(log, "ERR Staging failed: ") {
				t.Errorf("staging log lacks the failure:\n%s", log)
			}
		})
	}
}

// TestPythonIndexUnreachable: a real requirement without a reachable
// package index fails staging with a message that says so.
func TestPythonIndexUnreachable(t *testing.T) {
	requireTool(t, "python3")
	h := newHarness(t, Config{})
	pkg := zipFiles(t, map[string]string{
		"requirements.txt": "# needs the index\ningot-test-package-that-does-not-exist==1.0.0\n",
		"app.py":           "print('hi')\n",
	})
	res := h.stage("py-offline", pkg, func(r *messages.StagingRequest) {
		// An index that refuses connections, so the test means the same
		// with or without network access.
		r.Env["PIP_INDEX_URL"] = "http://127.0.0.1:1/simple"
		r.Env["PIP_RETRIES"] = "0"
	})
	for _, w := range []string{"supply step of buildpack python failed", "the package index is unreachable: "} {
		if !strings.Contains(res.Error, w) {
			t.Errorf("error %q lacks %q", res.Error, w)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, Deps{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("New without a backend succeeded")
	}
	h := newHarness(t, Config{})
	if res := h.stager.Stage(context.Background(), nil); res.Error == "" {
		t.Error("nil request staged")
	}
	res := h.stager.Stage(context.Background(), &messages.StagingRequest{AppGUID: "a"})
	if !strings.Contains(res.Error, "build_guid is required") {
		t.Errorf("error = %q", res.Error)
	}
}

// TestUploadFailures: a failed cache upload is only logged; a failed
// droplet upload (retried once) fails staging.
func TestUploadFailures(t *testing.T) {
	h := newHarness(t, Config{})
	bp := writeBuildpack(t, map[string]string{
		"compile": `echo cached > "$2/thing"`,
		"release": `printf -- '---\ndefault_process_types:\n  web: ./run\n'`,
	})
	pkg := zipFiles(t, map[string]string{"a.txt": "a"})
	res := h.stage("upload-app", pkg, func(r *messages.StagingRequest) {
		r.Buildpacks = []string{bp}
		r.BuildpackCacheURI = h.blobs.url("/broken/cache")
	})
	h.droplet(res)
	if _, puts := h.blobs.counts("/broken/cache"); puts == 0 {
		t.Error("the cache upload was not attempted")
	}
	if log := h.logs.text("upload-app"); !strings.Contains(log, "could not upload the buildpack cache") {
		t.Errorf("log lacks the cache warning:\n%s", log)
	}

	res = h.stage("upload-app", pkg, func(r *messages.StagingRequest) {
		r.Buildpacks = []string{bp}
		r.DropletUploadURI = h.blobs.url("/broken/droplet?signature=secret")
	})
	for _, w := range []string{"uploading the droplet to", "/broken/droplet: 500 Internal Server Error: blobstore is on fire"} {
		if !strings.Contains(res.Error, w) {
			t.Errorf("error %q lacks %q", res.Error, w)
		}
	}
	if strings.Contains(res.Error, "secret") {
		t.Errorf("error leaks the signature: %q", res.Error)
	}
	if _, puts := h.blobs.counts("/broken/droplet"); puts != 2 {
		t.Errorf("droplet upload attempted %d times, want 2", puts)
	}
}

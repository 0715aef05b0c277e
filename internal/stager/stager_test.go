package stager

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/messages"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func examplesDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

func requireTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed on this machine", tool)
		}
	}
}

func checkApp(t *testing.T, d map[string]tarEntry, files ...string) {
	t.Helper()
	if e, ok := d["app/"]; !ok || e.typ != tar.TypeDir {
		t.Errorf("droplet has no app/ directory")
	}
	for _, dir := range []string{"deps/", "tmp/", "logs/"} {
		if _, ok := d[dir]; !ok {
			t.Errorf("droplet has no %s", dir)
		}
	}
	for _, f := range files {
		if _, ok := d[f]; !ok {
			t.Errorf("droplet has no %s", f)
		}
	}
}

// TestStageExamples stages every example app with the built-in buildpacks
// (detection, except binary) on the process backend, without network.
func TestStageExamples(t *testing.T) {
	h := newHarness(t, Config{})
	ex := examplesDir(t)

	t.Run("go", func(t *testing.T) {
		if testing.Short() {
			t.Skip("compiles the Go standard library with a cold cache")
		}
		requireTool(t, "go")
		pkg := zipDir(t, filepath.Join(ex, "go"))
		res := h.stage("go-app", pkg, nil)
		d := h.droplet(res)
		si := stagingInfo(t, d)
		if si.DetectedBuildpack != "go" || si.StartCommand != "./bin/go-hello" {
			t.Errorf("staging info = %+v", si)
		}
		if res.DetectedBuildpack != "go" || res.BuildpackName != "go_buildpack" || res.StartCommand != "./bin/go-hello" {
			t.Errorf("result = %+v", res)
		}
		bin, ok := d["app/bin/go-hello"]
		if !ok || bin.mode&0o111 == 0 {
			t.Errorf("droplet lacks an executable app/bin/go-hello: %+v", bin)
		}
		checkApp(t, d, "app/main.go", "app/.profile.d/000_ingot_deps.sh")
		if _, puts := h.blobs.counts("/caches/go-app"); puts != 1 {
			t.Fatalf("cache uploaded %d times, want 1", puts)
		}
		log := h.logs.text("go-app")
		for _, want := range []string{"-----> Downloading app package...", "-----> Detected buildpack: go", "-----> Uploading droplet (", "-----> Staging complete", "Building . with go version"} {
			if !strings.Contains(log, want) {
				t.Errorf("staging log lacks %q:\n%s", want, log)
			}
		}

		// The second push reuses the cache the first one uploaded.
		res = h.stage("go-app", pkg, nil)
		d = h.droplet(res)
		if si := stagingInfo(t, d); si.StartCommand != "./bin/go-hello" {
			t.Errorf("second staging info = %+v", si)
		}
		gets, puts := h.blobs.counts("/caches/go-app")
		if gets != 2 || puts != 2 {
			t.Errorf("cache gets/puts = %d/%d, want 2/2", gets, puts)
		}
		if log := h.logs.text("go-app"); !strings.Contains(log, "Using the cached Go build cache") || !strings.Contains(log, "Restored buildpack cache") {
			t.Errorf("second staging did not use the cache:\n%s", log)
		}
		t.Logf("staging log:\n%s", h.logs.text("go-app"))
		if body := h.runDroplet(t, res, 64); body != "Hello from ingot (go) instance 3\n" {
			t.Errorf("GET / = %q", body)
		}
	})

	t.Run("static", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the file server")
		}
		// Start from the go app's cache, which holds a compiled net/http.
		if c, ok := h.blobs.get("/caches/go-app"); ok {
			h.blobs.put("/caches/static-app", c)
		}
		res := h.stage("static-app", zipDir(t, filepath.Join(ex, "static")), nil)
		d := h.droplet(res)
		si := stagingInfo(t, d)
		if si.DetectedBuildpack != "staticfile" || !strings.Contains(si.StartCommand, ".staticfile/") {
			t.Errorf("staging info = %+v", si)
		}
		checkApp(t, d, "app/index.html", "app/Staticfile")
		if _, err := exec.LookPath("go"); err == nil {
			if si.StartCommand != `$HOME/.staticfile/bin/server -root "$HOME"` {
				t.Errorf("start command %q", si.StartCommand)
			}
			checkApp(t, d, "app/.staticfile/bin/server")
		}
		if body := h.runDroplet(t, res, 64); !strings.Contains(body, "Hello from ingot (static)") {
			t.Errorf("GET / = %q", body)
		}
	})

	t.Run("node", func(t *testing.T) {
		requireTool(t, "node")
		res := h.stage("node-app", zipDir(t, filepath.Join(ex, "node")), nil)
		d := h.droplet(res)
		si := stagingInfo(t, d)
		if si.DetectedBuildpack != "nodejs" || si.StartCommand != "npm start" {
			t.Errorf("staging info = %+v", si)
		}
		checkApp(t, d, "app/server.js", "app/package.json", "app/.profile.d/nodejs.sh")
		if body := h.runDroplet(t, res, 256); body != "Hello from ingot (node) instance 3\n" {
			t.Errorf("GET / = %q", body)
		}
	})

	t.Run("python", func(t *testing.T) {
		requireTool(t, "python3")
		res := h.stage("python-app", zipDir(t, filepath.Join(ex, "python")), nil)
		d := h.droplet(res)
		si := stagingInfo(t, d)
		if si.DetectedBuildpack != "python" || si.StartCommand != "python3 app.py" {
			t.Errorf("staging info = %+v", si)
		}
		if res.ProcessTypes["web"] != "python3 app.py" {
			t.Errorf("process types %v", res.ProcessTypes)
		}
		checkApp(t, d, "app/app.py", "app/Procfile", "deps/0/profile.d/python.sh")
		if body := h.runDroplet(t, res, 64); body != "Hello from ingot (python) instance 3\n" {
			t.Errorf("GET / = %q", body)
		}
	})

	t.Run("python with a vendored wheel", func(t *testing.T) {
		requireTool(t, "python3")
		// pip installs a local wheel without any index; the droplet finds
		// it through deps/0/profile.d, sourced at run time.
		var whl bytes.Buffer
		zw := zip.NewWriter(&whl)
		for name, content := range map[string]string{
			"mylib/__init__.py":            "GREETING = 'hello from a vendored wheel'\n",
			"mylib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: mylib\nVersion: 1.0\n",
			"mylib-1.0.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
			"mylib-1.0.dist-info/RECORD":   "",
		} {
			w, _ := zw.Create(name)
			_, _ = w.Write([]byte(content))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		app := `import http.server, os, mylib
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(mylib.GREETING.encode())
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`
		res := h.stage("python-wheel", zipFiles(t, map[string]string{
			"requirements.txt":                  "./wheels/mylib-1.0-py3-none-any.whl\n",
			"wheels/mylib-1.0-py3-none-any.whl": whl.String(),
			"app.py":                            app,
		}), nil)
		d := h.droplet(res)
		checkApp(t, d, "deps/0/python/mylib/__init__.py", "deps/0/profile.d/python.sh", "app/.profile.d/000_ingot_deps.sh")
		if body := h.runDroplet(t, res, 64); body != "hello from a vendored wheel" {
			t.Errorf("GET / = %q", body)
		}
	})

	t.Run("java", func(t *testing.T) {
		requireTool(t, "javac", "jar", "java")
		work := t.TempDir()
		classes := filepath.Join(work, "classes")
		jarPath := filepath.Join(work, "app.jar")
		run(t, "javac", "-d", classes, filepath.Join(ex, "java", "src", "Main.java"))
		run(t, "jar", "--create", "--file", jarPath, "--main-class", "Main", "-C", classes, ".")
		// The CLI uploads a jar's contents: the package is the jar itself.
		pkg, err := os.ReadFile(jarPath)
		if err != nil {
			t.Fatal(err)
		}
		res := h.stage("java-app", pkg, func(r *messages.StagingRequest) { r.MemoryMB = 256 })
		d := h.droplet(res)
		si := stagingInfo(t, d)
		if si.DetectedBuildpack != "java" || si.StartCommand != `java $JAVA_OPTS -cp "$HOME" Main` {
			t.Errorf("staging info = %+v", si)
		}
		checkApp(t, d, "app/Main.class", "app/META-INF/MANIFEST.MF", "app/.profile.d/java.sh")
		if body := h.runDroplet(t, res, 256); body != "Hello from ingot (java) instance 3\n" {
			t.Errorf("GET / = %q", body)
		}
	})

	t.Run("binary", func(t *testing.T) {
		requireTool(t, "go")
		out := filepath.Join(t.TempDir(), "build")
		cmd := exec.Command("go", "build", "-o", filepath.Join(out, "server"), ".")
		cmd.Dir = filepath.Join(ex, "binary")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		res := h.stage("binary-app", zipDir(t, out), func(r *messages.StagingRequest) {
			r.Buildpacks = []string{"binary_buildpack"}
			r.StartCommand = "./server"
		})
		d := h.droplet(res)
		si := stagingInfo(t, d)
		if si.DetectedBuildpack != "binary" || si.StartCommand != "./server" {
			t.Errorf("staging info = %+v", si)
		}
		if e := d["app/server"]; e.mode&0o111 == 0 {
			t.Errorf("app/server lost its executable bit: mode %o", e.mode)
		}
		if res.BuildpackName != "binary_buildpack" {
			t.Errorf("buildpack name %q", res.BuildpackName)
		}
		if body := h.runDroplet(t, res, 64); body != "Hello from ingot (binary) instance 3\n" {
			t.Errorf("GET / = %q", body)
		}
	})
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, b)
	}
}

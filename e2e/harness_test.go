// Package e2e boots the whole platform in-process on random ports and
// drives it like a user: the ingot CLI pushes the real example apps, and
// requests go through the real router.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/internal/platform"
	"github.com/ingot-paas/ingot/pkg/client"
)

// env is one running platform plus a CLI configured for it.
type env struct {
	t       *testing.T
	p       *platform.Platform
	dataDir string
	home    string
	api     *client.Client
	space   string
	http    *http.Client
}

type startOpts struct {
	dataDir string // reuse a data dir (platform restart)
	home    string
	// maxFiles and maxBytes lower the package limits (bad-input tests).
	maxFiles int
	maxBytes int64
	// backend is the DEA's container backend ("" = process).
	backend string
}

// repoRoot is the module root (examples/ lives there).
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("INGOT_E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startPlatform boots the platform on random ports and configures the CLI
// (INGOT_HOME) to target it.
func startPlatform(t *testing.T, o startOpts) *env {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	if o.home == "" {
		o.home = t.TempDir()
	}
	t.Setenv("INGOT_HOME", o.home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := platform.Start(ctx, platform.Options{
		DataDir:         o.dataDir,
		APIAddr:         "127.0.0.1:0",
		RouterAddr:      "127.0.0.1:0",
		NATSAddr:        "127.0.0.1:0",
		Domain:          "apps.test",
		Log:             testLogger(t),
		MaxPackageFiles: o.maxFiles,
		MaxPackageBytes: o.maxBytes,
		Backend:         o.backend,
	})
	if err != nil {
		t.Fatalf("start platform: %v", err)
	}
	e := &env{t: t, p: p, dataDir: o.dataDir, home: o.home, http: &http.Client{Timeout: 20 * time.Second}}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if err := p.Stop(); err != nil {
				t.Errorf("stop platform: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	if err := platform.ConfigureCLI(ctx, p); err != nil {
		t.Fatalf("configure cli: %v", err)
	}
	cfg, err := cli.LoadConfig()
	if err != nil {
		t.Fatalf("load cli config: %v", err)
	}
	e.space = cfg.SpaceGUID
	tok, err := client.Login(ctx, p.APIURL, p.Admin.Username, p.Admin.Password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	e.api, err = client.New(client.Config{APIURL: p.APIURL, Token: client.StaticToken(tok.AccessToken)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// with returns a copy of e that reports to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// stop stops the platform now (for restart tests).
func (e *env) stop() {
	e.t.Helper()
	if err := e.p.Stop(); err != nil {
		e.t.Errorf("stop platform: %v", err)
	}
}

// ingot runs the CLI in-process and returns its combined output.
func (e *env) ingot(args ...string) (string, error) {
	e.t.Helper()
	var out bytes.Buffer
	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(""))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if code := cli.Execute(ctx, root); code != 0 {
		return out.String(), fmt.Errorf("exit code %d", code)
	}
	return out.String(), nil
}

// mustIngot runs the CLI and fails the test on error.
func (e *env) mustIngot(args ...string) string {
	e.t.Helper()
	out, err := e.ingot(args...)
	if err != nil {
		e.t.Fatalf("ingot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// get sends GET path to host.<domain> through the router.
func (e *env) get(host, path string, hdr ...string) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.p.RouterURL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host + "." + e.p.Domain
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), resp.Header
}

// eventually polls f until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStatus waits until GET host/path answers status.
func (e *env) waitStatus(host, path string, status int, timeout time.Duration) string {
	e.t.Helper()
	var body string
	var got int
	deadline := time.Now().Add(timeout)
	for {
		got, body, _ = e.get(host, path)
		if got == status {
			return body
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET %s.%s%s: want %d, last got %d %q", host, e.p.Domain, path, status, got, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// copyDir copies an example into a temp dir so builds never write into
// the repo.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func example(t *testing.T, name string) string {
	return copyDir(t, filepath.Join(repoRoot(t), "examples", name))
}

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed: %v", n, err)
		}
	}
}

// run runs a command in dir and fails the test on error.
func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// appGUID looks an app up by name.
func (e *env) appGUID(name string) string {
	e.t.Helper()
	a, err := e.api.GetAppByName(context.Background(), e.space, name)
	if err != nil {
		e.t.Fatalf("get app %s: %v", name, err)
	}
	return a.GUID
}

// webStats returns the web process's instance stats.
func (e *env) webStats(name string) []client.InstanceStats {
	e.t.Helper()
	ctx := context.Background()
	procs, err := e.api.ListProcesses(ctx, e.appGUID(name))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range procs {
		if p.Type == "web" {
			st, err := e.api.ProcessStats(ctx, p.GUID)
			if err != nil {
				e.t.Fatal(err)
			}
			return st.Resources
		}
	}
	e.t.Fatalf("app %s has no web process", name)
	return nil
}

// Package cluster runs an ingot platform as separate OS processes for
// fault-injection tests and benchmarks: a nats-server, one controller
// (SQLite), K DEAs, one router and one health manager, each in its own
// process group with its own log, so any of them can be SIGKILLed,
// SIGTERMed and restarted with the same arguments and data dir. An
// observer on the bus tells which DEA runs which instance.
//
//	c := cluster.Start(t, cluster.Options{DEAs: 3})
//	guid := c.PushApp("web", 4)
//	load := c.Load("web", cluster.LoadOptions{})
//	c.DEAOf(c.Running(guid)[0]).KillHost()
//	res := load.Stop()
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/pkg/client"
)

// Options configures a cluster.
type Options struct {
	// DEAs is the number of DEAs (default 1).
	DEAs int
	// Backend is the DEAs' container backend (default "process").
	Backend string
	// Domain is the shared apps domain (default "apps.test").
	Domain string
	// LogLevel of every component (default "info"). Logs go to a temp dir,
	// or under $INGOT_E2E_LOGDIR (kept) when set; on failure, or with
	// INGOT_E2E_LOGS set, their tails are printed.
	LogLevel string
	// Args adds flags per component kind: "controller", "dea", "router",
	// "healthmgr" (for example timers, once those have flags).
	Args map[string][]string
	// DEAArgs adds flags to DEA i (for example a zone, once that has a
	// flag).
	DEAArgs func(i int) []string
	// Bin is a prebuilt ingot binary (default $INGOT_E2E_BIN, else the
	// module is built into a temp dir).
	Bin string
}

// DEA is a DEA process; ID is its id on the bus (the same after a restart
// with the same data dir).
type DEA struct {
	*Proc
	ID string
}

// Cluster is a running platform of separate processes.
type Cluster struct {
	tb testing.TB

	Bin        string
	Domain     string
	NATSURL    string
	APIURL     string
	RouterAddr string
	RouterURL  string

	NATS, Controller, Router, HM *Proc
	// StandbyHMs are extra health managers (AddHM): one of all acts.
	StandbyHMs []*Proc
	DEAs       []*DEA

	API       *client.Client
	SpaceGUID string
	Username  string
	Password  string
	HTTP      *http.Client

	opts   Options
	tokens client.TokenSource
	obs    *observer
	logDir string

	appOnce sync.Once
	appDir  string
	appErr  error
}

// Start boots the cluster and configures the in-process CLI
// ($INGOT_HOME) to target it; everything stops at cleanup. It skips the
// test when nats-server or go is missing.
func Start(tb testing.TB, o Options) *Cluster {
	tb.Helper()
	for _, tool := range []string{"nats-server", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s not installed (the fault tests run a real nats-server; .ci/run installs it): %v", tool, err)
		}
	}
	if o.DEAs <= 0 {
		o.DEAs = 1
	}
	if o.Backend == "" {
		o.Backend = "process"
	}
	if o.Domain == "" {
		o.Domain = "apps.test"
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	c := &Cluster{tb: tb, opts: o, Domain: o.Domain, HTTP: &http.Client{Timeout: 5 * time.Second}}
	c.logDir = tb.TempDir()
	if keep := os.Getenv("INGOT_E2E_LOGDIR"); keep != "" {
		c.logDir = filepath.Join(keep, strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name()))
		if err := os.MkdirAll(c.logDir, 0o755); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("component logs in %s", c.logDir)
	}
	tb.Cleanup(c.stopAll)
	c.Bin = o.Bin
	if c.Bin == "" {
		c.Bin = os.Getenv("INGOT_E2E_BIN")
	}
	if c.Bin == "" {
		c.Bin = buildIngot(tb)
	}

	natsAddr := freeAddr(tb)
	host, port, _ := net.SplitHostPort(natsAddr)
	c.NATSURL = "nats://" + natsAddr
	c.NATS = c.newProc("nats", "nats-server", "", "-a", host, "-p", port)
	c.mustStart(c.NATS)
	if err := waitTCP(natsAddr, 20*time.Second); err != nil {
		tb.Fatal(err)
	}
	obs, err := newObserver(c.NATSURL)
	if err != nil {
		tb.Fatalf("observer: %v", err)
	}
	c.obs = obs

	apiAddr := freeAddr(tb)
	c.RouterAddr = freeAddr(tb)
	c.APIURL, c.RouterURL = "http://"+apiAddr, "http://"+c.RouterAddr
	ccDir := tb.TempDir()
	c.Router = c.newProc("router", c.Bin, "", c.args("router", "router", "--router-addr", c.RouterAddr)...)
	c.Controller = c.newProc("controller", c.Bin, ccDir, c.args("controller", "controller", "--data-dir", ccDir,
		"--api-addr", apiAddr, "--domain", o.Domain, "--router-url", c.RouterURL)...)
	c.HM = c.newProc("healthmgr", c.Bin, "", c.args("healthmgr", "healthmgr")...)
	c.mustStart(c.Router)
	c.mustStart(c.Controller)
	for i := 0; i < o.DEAs; i++ {
		c.DEAs = append(c.DEAs, c.newDEA(i))
	}
	c.mustStart(c.HM)
	for _, p := range append([]*Proc{c.Router, c.Controller, c.HM}, c.deaProcs()...) {
		if err := c.WaitReady(p, 60*time.Second); err != nil {
			tb.Fatal(err)
		}
	}
	c.login(ccDir)
	return c
}

func (c *Cluster) args(kind string, base ...string) []string {
	a := append(base, "--nats", c.NATSURL, "--log-level", c.opts.LogLevel, "--log-format", "json")
	return append(a, c.opts.Args[kind]...)
}

func (c *Cluster) newProc(name, bin, dataDir string, args ...string) *Proc {
	return &Proc{Name: name, Bin: bin, Args: args, DataDir: dataDir, LogPath: filepath.Join(c.logDir, name+".log")}
}

func (c *Cluster) mustStart(p *Proc) {
	c.tb.Helper()
	if err := p.Start(); err != nil {
		c.tb.Fatal(err)
	}
}

// newDEA starts DEA number i with a fresh data dir.
func (c *Cluster) newDEA(i int) *DEA {
	c.tb.Helper()
	dir := c.tb.TempDir()
	args := c.args("dea", "dea", "--data-dir", dir, "--backend", c.opts.Backend)
	if c.opts.DEAArgs != nil {
		args = append(args, c.opts.DEAArgs(i)...)
	}
	d := &DEA{Proc: c.newProc(fmt.Sprintf("dea%d", i), c.Bin, dir, args...)}
	c.mustStart(d.Proc)
	return d
}

// AddHM starts one more health manager (named hm-N as a lease holder)
// and waits until it runs.
func (c *Cluster) AddHM() *Proc {
	c.tb.Helper()
	n := len(c.StandbyHMs) + 1
	p := c.newProc(fmt.Sprintf("healthmgr%d", n), c.Bin, "", c.args("healthmgr", "healthmgr", "--id", fmt.Sprintf("hm-%d", n))...)
	c.StandbyHMs = append(c.StandbyHMs, p)
	c.mustStart(p)
	if _, err := p.WaitEvent("health-manager-started", 60*time.Second); err != nil {
		c.tb.Fatal(err)
	}
	return p
}

// AddDEA starts one more DEA (a fresh data dir) and waits until it runs.
func (c *Cluster) AddDEA() *DEA {
	c.tb.Helper()
	d := c.newDEA(len(c.DEAs))
	c.DEAs = append(c.DEAs, d)
	if err := c.WaitReady(d.Proc, 60*time.Second); err != nil {
		c.tb.Fatal(err)
	}
	return d
}

func (c *Cluster) deaProcs() []*Proc {
	var out []*Proc
	for _, d := range c.DEAs {
		out = append(out, d.Proc)
	}
	return out
}

// WaitReady waits until p (just started) serves: NATS and the router
// accept connections, the controller's API answers, a DEA has
// heartbeated (its ID is then known), the health manager has logged its
// start.
func (c *Cluster) WaitReady(p *Proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	left := func() time.Duration { return time.Until(deadline) }
	switch {
	case p == c.NATS:
		return waitTCP(strings.TrimPrefix(c.NATSURL, "nats://"), left())
	case p == c.Router:
		if _, err := p.WaitEvent("component-started", left()); err != nil {
			return err
		}
		return waitTCP(c.RouterAddr, left())
	case p == c.Controller:
		return waitHTTP(c.HTTP, c.APIURL+"/", left())
	case p == c.HM:
		_, err := p.WaitEvent("health-manager-started", left())
		return err
	}
	for _, d := range c.DEAs {
		if d.Proc != p {
			continue
		}
		ev, err := p.WaitEvent("dea-started", left())
		if err != nil {
			return err
		}
		d.ID = ev.Str("dea_id")
		started := p.StartedAt()
		for c.obs.lastHeard(d.ID).Before(started) {
			if left() <= 0 {
				return fmt.Errorf("cluster: %s (%s) never heartbeated", p.Name, d.ID)
			}
			time.Sleep(25 * time.Millisecond)
		}
		return nil
	}
	return fmt.Errorf("cluster: %s is not a component of this cluster", p.Name)
}

// Restart starts p again (it must have stopped) and waits until ready.
func (c *Cluster) Restart(p *Proc) {
	c.tb.Helper()
	if p.Running() {
		c.tb.Fatalf("restart %s: it is still running", p.Name)
	}
	c.mustStart(p)
	if err := c.WaitReady(p, 60*time.Second); err != nil {
		c.tb.Fatal(err)
	}
}

// Kill SIGKILLs p (fatal if it was not running).
func (c *Cluster) Kill(p *Proc) {
	c.tb.Helper()
	if err := p.Kill(); err != nil {
		c.tb.Fatalf("kill %s: %v", p.Name, err)
	}
}

// KillHost simulates the loss of the DEA's host: it SIGKILLs the DEA
// process and then every process it started (app instances and stagings
// run in process groups of their own and would outlive the DEA). It
// returns how many instance/staging processes it killed.
func (d *DEA) KillHost() (int, error) {
	pids := map[int]bool{}
	if pid := d.Pid(); pid > 0 {
		for _, p := range descendants(pid) {
			pids[p] = true
		}
	}
	err := d.Kill()
	for _, p := range pidsUnder(d.DataDir) {
		pids[p] = true
	}
	var list []int
	for p := range pids {
		list = append(list, p)
	}
	killGroups(list)
	return len(list), err
}

// InstancePIDs returns the processes (instances, stagings) started by
// the DEA that are alive now, even if the DEA process is gone.
func (d *DEA) InstancePIDs() []int { return pidsUnder(d.DataDir) }

// DEAByID returns the DEA with that bus id (nil if none).
func (c *Cluster) DEAByID(id string) *DEA {
	for _, d := range c.DEAs {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// DEAOf returns the DEA that reported the instance (nil if unknown).
func (c *Cluster) DEAOf(in Instance) *DEA { return c.DEAByID(in.DEA) }

// stopAll stops every component: the health manager first (so nothing is
// restarted meanwhile), then DEAs (killed with their instances), router
// and controller, NATS last; then
// it kills any instance process left behind and prints logs on failure.
func (c *Cluster) stopAll() {
	stage := func(ps ...*Proc) {
		var wg sync.WaitGroup
		for _, p := range ps {
			if p == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = p.Term(20 * time.Second)
			}()
		}
		wg.Wait()
	}
	stage(append([]*Proc{c.HM}, c.StandbyHMs...)...)
	// DEAs are killed, not stopped: a stopped `ingot dea` evacuates and
	// would wait for replacements that no DEA will start now.
	var wg sync.WaitGroup
	for _, d := range c.DEAs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = d.KillHost()
		}()
	}
	wg.Wait()
	stage(c.Router, c.Controller)
	if c.obs != nil {
		c.obs.close()
	}
	stage(c.NATS)
	for _, d := range c.DEAs {
		if left := pidsUnder(d.DataDir); len(left) > 0 {
			c.tb.Logf("%s: killing %d processes left behind", d.Name, len(left))
			killGroups(left)
		}
	}
	if c.tb.Failed() || os.Getenv("INGOT_E2E_LOGS") != "" {
		for _, p := range append([]*Proc{c.NATS, c.Controller, c.Router, c.HM}, c.deaProcs()...) {
			if p != nil {
				c.tb.Logf("--- %s log (last 6 KiB) ---\n%s", p.Name, tail(p.Log(), 6<<10))
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// login logs in as the admin, builds the API client and writes the CLI
// config.
func (c *Cluster) login(ccDir string) {
	tb := c.tb
	tb.Helper()
	var admin struct{ Username, Password string }
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(ccDir, "admin.json"))
		if err == nil && json.Unmarshal(data, &admin) == nil && admin.Password != "" {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no admin credentials in %s: %v", ccDir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Username, c.Password = admin.Username, admin.Password
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := client.Login(ctx, c.APIURL, admin.Username, admin.Password)
	if err != nil {
		tb.Fatalf("login: %v", err)
	}
	c.tokens = client.NewTokenSource(client.TokenSourceConfig{
		UAA: client.NewUAA(c.APIURL, nil, ""), Tokens: *tok, Username: admin.Username, Password: admin.Password,
	})
	c.API, err = client.New(client.Config{APIURL: c.APIURL, Token: c.tokens})
	if err != nil {
		tb.Fatal(err)
	}
	org, err := c.API.GetOrgByName(ctx, "ingot")
	if err != nil {
		tb.Fatal(err)
	}
	space, err := c.API.GetSpaceByName(ctx, org.GUID, "dev")
	if err != nil {
		tb.Fatal(err)
	}
	c.SpaceGUID = space.GUID
	tb.Setenv("INGOT_HOME", tb.TempDir())
	if err := cli.SaveConfig(&cli.Config{API: c.APIURL, Username: admin.Username, Password: admin.Password,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, RouterURL: c.RouterURL,
		OrgGUID: org.GUID, OrgName: org.Name, SpaceGUID: space.GUID, SpaceName: space.Name}); err != nil {
		tb.Fatal(err)
	}
}

// CLI runs the ingot CLI in-process against the cluster and returns its
// combined output.
func (c *Cluster) CLI(args ...string) (string, error) {
	var out bytes.Buffer
	root := cli.NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(""))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if code := cli.Execute(ctx, root); code != 0 {
		return out.String(), fmt.Errorf("ingot %s: exit code %d", strings.Join(args, " "), code)
	}
	return out.String(), nil
}

// MustCLI runs the CLI and fails the test on error.
func (c *Cluster) MustCLI(args ...string) string {
	c.tb.Helper()
	out, err := c.CLI(args...)
	if err != nil {
		c.tb.Fatalf("%v\n%s", err, out)
	}
	return out
}

// repoRoot is the module root.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

func buildIngot(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "ingot")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ingot")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/ingot: %v\n%s", err, out)
	}
	return bin
}

// AppDir returns a directory holding examples/binary compiled as
// ./server (built once per cluster): pushed with the binary buildpack it
// stages in no time.
func (c *Cluster) AppDir() string {
	c.tb.Helper()
	c.appOnce.Do(func() {
		dir := c.tb.TempDir()
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "server"), ".")
		cmd.Dir = filepath.Join(repoRoot(), "examples", "binary")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			c.appErr = fmt.Errorf("build examples/binary: %v\n%s", err, out)
		}
		c.appDir = dir
	})
	if c.appErr != nil {
		c.tb.Fatal(c.appErr)
	}
	return c.appDir
}

// PushApp pushes examples/binary as name with n instances (route
// name.<domain>), waits until every instance runs, and returns the app
// guid. extra flags are added to `ingot push`.
func (c *Cluster) PushApp(name string, n int, extra ...string) string {
	c.tb.Helper()
	args := append([]string{"push", name, "-p", c.AppDir(), "--no-manifest", "-b", "binary_buildpack",
		"-c", "./server", "-m", "32M", "-i", fmt.Sprint(n)}, extra...)
	c.MustCLI(args...)
	guid := c.AppGUID(name)
	if err := c.WaitRunning(guid, n, 60*time.Second); err != nil {
		c.tb.Fatal(err)
	}
	return guid
}

// AppGUID looks an app up by name.
func (c *Cluster) AppGUID(name string) string {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := c.API.GetAppByName(ctx, c.SpaceGUID, name)
	if err != nil {
		c.tb.Fatalf("get app %s: %v", name, err)
	}
	return a.GUID
}

// Instances returns the app's instances as reported by the DEAs heard
// from within the last 3 s, sorted by index.
func (c *Cluster) Instances(appGUID string) []Instance {
	return c.obs.instances(appGUID, 3*time.Second)
}

// Running returns the app's RUNNING instances by index, from DEAs heard
// within the last 3 s whose process is alive (one per index: the first
// found).
func (c *Cluster) Running(appGUID string) map[int]Instance {
	out := map[int]Instance{}
	for _, in := range c.Instances(appGUID) {
		if in.State != "RUNNING" {
			continue
		}
		if d := c.DEAByID(in.DEA); d != nil && !d.Running() {
			continue
		}
		if _, ok := out[in.Index]; !ok {
			out[in.Index] = in
		}
	}
	return out
}

// WaitRunning waits until indices 0..n-1 of the app each have a RUNNING
// instance on a live DEA.
func (c *Cluster) WaitRunning(appGUID string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r := c.Running(appGUID)
		ok := true
		for i := 0; i < n; i++ {
			if _, found := r[i]; !found {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: app %s: %d of %d indices running after %s: %+v", appGUID, len(r), n, timeout, c.Instances(appGUID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Exits returns the droplet.exited messages seen for the app ("" = all).
func (c *Cluster) Exits(appGUID string) []Exit { return c.obs.exitsOf(appGUID) }

// KillInstance SIGKILLs the process group of the process listening on
// the instance's port and returns its pid.
func (c *Cluster) KillInstance(in Instance) (int, error) {
	pid, err := ListenerPID(in.Port)
	if err != nil {
		return 0, err
	}
	killGroups([]int{pid})
	return pid, nil
}

// Get sends GET path to host.<domain> through the router; hdr holds
// header name/value pairs.
func (c *Cluster) Get(host, path string, hdr ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, c.RouterURL+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host + "." + c.Domain
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), nil
}

// GetInstance is Get aimed at one index of the app (X-CF-APP-INSTANCE).
func (c *Cluster) GetInstance(host, appGUID string, index int, path string) (int, string, error) {
	return c.Get(host, path, "X-Cf-App-Instance", fmt.Sprintf("%s:%d", appGUID, index))
}

// WaitServing waits until GET / through the router answers 200 for host.
func (c *Cluster) WaitServing(host string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := c.Get(host, "/")
		if code == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s.%s not serving after %s: %d %q %v", host, c.Domain, timeout, code, tail(body, 200), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stat is one entry of a process's stats as the API returns it.
type Stat struct {
	Index         int     `json:"index"`
	State         string  `json:"state"`
	Host          string  `json:"host"`
	InstanceGUID  string  `json:"instance_guid"`
	Details       *string `json:"details"`
	Uptime        int64   `json:"uptime"`
	InstancePorts []struct {
		External int `json:"external"`
		Internal int `json:"internal"`
	} `json:"instance_ports"`
}

// Stats returns the web process's stats of the app.
func (c *Cluster) Stats(appGUID string) ([]Stat, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	procs, err := c.API.ListProcesses(ctx, appGUID)
	if err != nil {
		return nil, err
	}
	for _, p := range procs {
		if p.Type != "web" {
			continue
		}
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.APIURL+"/v3/processes/"+p.GUID+"/stats", nil)
		req.Header.Set("Authorization", "bearer "+tok)
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("cluster: stats of %s: %s", p.GUID, resp.Status)
		}
		var out struct {
			Resources []Stat `json:"resources"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
			return nil, err
		}
		return out.Resources, nil
	}
	return nil, errors.New("cluster: app has no web process")
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: nothing listens at %s after %s: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitHTTP(hc *http.Client, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s not answering after %s: %w", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

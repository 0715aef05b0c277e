package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/pkg/client"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// buildIngot compiles the ingot binary once per test.
func buildIngot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ingot")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ingot")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ingot: %v\n%s", err, out)
	}
	return bin
}

// startProc starts a component process; it is killed at cleanup.
func startProc(t *testing.T, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log (last 4 KiB) ---\n%s", name, tail(string(data), 4096))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	eventually(t, 30*time.Second, "listener at "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// TestSeparateProcesses runs controller, DEA, router and health manager as
// separate OS processes against a nats-server and pushes an app through
// them.
func TestSeparateProcesses(t *testing.T) {
	needTool(t, "go", "nats-server")
	bin := buildIngot(t)
	natsAddr := freeAddr(t)
	host, port, _ := net.SplitHostPort(natsAddr)
	startProc(t, "nats", "nats-server", "-a", host, "-p", port)
	waitTCP(t, natsAddr)
	natsURL := "nats://" + natsAddr

	apiAddr, routerAddr := freeAddr(t), freeAddr(t)
	ccDir := t.TempDir()
	startProc(t, "router", bin, "router", "--nats", natsURL, "--router-addr", routerAddr)
	startProc(t, "controller", bin, "controller", "--nats", natsURL, "--data-dir", ccDir,
		"--api-addr", apiAddr, "--domain", "apps.test", "--router-url", "http://"+routerAddr)
	startProc(t, "dea", bin, "dea", "--nats", natsURL, "--data-dir", t.TempDir())
	startProc(t, "healthmgr", bin, "healthmgr", "--nats", natsURL)
	waitTCP(t, apiAddr)
	waitTCP(t, routerAddr)

	var admin struct{ Username, Password string }
	eventually(t, 10*time.Second, "admin credentials", func() bool {
		data, err := os.ReadFile(filepath.Join(ccDir, "admin.json"))
		return err == nil && json.Unmarshal(data, &admin) == nil && admin.Password != ""
	})
	apiURL := "http://" + apiAddr
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := client.Login(ctx, apiURL, admin.Username, admin.Password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	api, err := client.New(client.Config{APIURL: apiURL, Token: client.StaticToken(tok.AccessToken)})
	if err != nil {
		t.Fatal(err)
	}
	org, err := api.GetOrgByName(ctx, "ingot")
	if err != nil {
		t.Fatal(err)
	}
	space, err := api.GetSpaceByName(ctx, org.GUID, "dev")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("INGOT_HOME", t.TempDir())
	if err := cli.SaveConfig(&cli.Config{API: apiURL, Username: admin.Username, Password: admin.Password,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, RouterURL: "http://" + routerAddr,
		OrgGUID: org.GUID, OrgName: org.Name, SpaceGUID: space.GUID, SpaceName: space.Name}); err != nil {
		t.Fatal(err)
	}

	e := &env{t: t, http: &http.Client{Timeout: 10 * time.Second}}
	dir := example(t, "go")
	out := e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"))
	t.Logf("push output:\n%s", out)
	req, _ := http.NewRequest(http.MethodGet, "http://"+routerAddr+"/", nil)
	req.Host = "go-hello.apps.test"
	eventually(t, 30*time.Second, "go-hello serving through the router process", func() bool {
		resp, err := e.http.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		return resp.StatusCode == http.StatusOK && sc.Scan() && strings.Contains(sc.Text(), "Hello from ingot")
	})
}

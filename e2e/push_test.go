package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestPushExamples pushes every example app with the CLI and fetches it
// through the router.
func TestPushExamples(t *testing.T) {
	pushExamples(t, startPlatform(t, startOpts{}))
}

// pushExamples pushes every example app to e and checks each serves (the
// process and runc backends share it).
func pushExamples(t *testing.T, e *env) {
	cases := []struct {
		name, dir, host, want string
		prepare               func(t *testing.T, dir string) []string // extra push args
		tools                 []string
	}{
		{name: "go", dir: "go", host: "go-hello", want: "Hello from ingot (go)", tools: []string{"go"}},
		{name: "node", dir: "node", host: "node-hello", tools: []string{"node"}},
		{name: "python", dir: "python", host: "python-hello", tools: []string{"python3"}},
		{name: "static", dir: "static", host: "static-hello"},
		{name: "java", dir: "java", host: "java-hello", tools: []string{"javac", "jar", "java"},
			prepare: func(t *testing.T, dir string) []string {
				run(t, dir, "bash", "build.sh")
				return []string{"-p", filepath.Join(dir, "build", "app.jar")}
			}},
		{name: "binary", dir: "binary", host: "binary-hello", tools: []string{"go"},
			prepare: func(t *testing.T, dir string) []string {
				run(t, dir, "go", "build", "-o", "build/server", ".")
				return nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			needTool(t, tc.tools...)
			dir := example(t, tc.dir)
			args := []string{"push", "-f", filepath.Join(dir, "manifest.yml")}
			if tc.prepare != nil {
				args = append(args, tc.prepare(t, dir)...)
			}
			out := e.mustIngot(args...)
			if !strings.Contains(out, tc.host+"."+e.p.Domain) {
				t.Errorf("push output does not show the route %s.%s:\n%s", tc.host, e.p.Domain, out)
			}
			body := e.waitStatus(tc.host, "/", http.StatusOK, 30*time.Second)
			if tc.want != "" && !strings.Contains(body, tc.want) {
				t.Errorf("GET / = %q, want it to contain %q", body, tc.want)
			}
		})
	}
}

// TestAppLifecycle covers scale, crash recovery, sticky sessions,
// websockets, stop/start and delete on one platform.
func TestAppLifecycle(t *testing.T) {
	needTool(t, "go")
	e := startPlatform(t, startOpts{})
	dir := example(t, "go")
	e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"))
	e.waitStatus("go-hello", "/", http.StatusOK, 30*time.Second)

	t.Run("scale to 3 gives 3 distinct instances", func(t *testing.T) {
		e := e.with(t)
		e.mustIngot("scale", "go-hello", "-i", "3")
		seen := map[string]bool{}
		eventually(t, 60*time.Second, "3 distinct CF_INSTANCE_INDEX answers", func() bool {
			if code, body, _ := e.get("go-hello", "/index"); code == http.StatusOK {
				seen[strings.TrimSpace(body)] = true
			}
			return len(seen) == 3
		})
		for _, want := range []string{"0", "1", "2"} {
			if !seen[want] {
				t.Errorf("instance %s never answered; saw %v", want, seen)
			}
		}
		stats := e.webStats("go-hello")
		if len(stats) != 3 {
			t.Fatalf("stats has %d instances, want 3", len(stats))
		}
	})

	t.Run("sticky session holds with JSESSIONID", func(t *testing.T) {
		e := e.with(t)
		code, body, hdr := e.get("go-hello", "/session")
		if code != http.StatusOK {
			t.Fatalf("GET /session = %d %q", code, body)
		}
		var jsession, vcapID string
		for _, c := range (&http.Response{Header: hdr}).Cookies() {
			switch c.Name {
			case "JSESSIONID":
				jsession = c.Value
			case "__VCAP_ID__":
				vcapID = c.Value
			}
		}
		if jsession == "" || vcapID == "" {
			t.Fatalf("want JSESSIONID and __VCAP_ID__ cookies, got headers %v", hdr["Set-Cookie"])
		}
		first := instanceOf(body)
		cookie := "JSESSIONID=" + jsession + "; __VCAP_ID__=" + vcapID
		for i := 0; i < 12; i++ {
			_, b, _ := e.get("go-hello", "/session", "Cookie", cookie)
			if got := instanceOf(b); got != first {
				t.Fatalf("request %d went to instance %s, want sticky instance %s", i, got, first)
			}
		}
	})

	t.Run("stop gives 404 unknown_route, start gives 200", func(t *testing.T) {
		e := e.with(t)
		e.mustIngot("stop", "go-hello")
		eventually(t, 15*time.Second, "404 after stop", func() bool {
			code, _, hdr := e.get("go-hello", "/")
			return code == http.StatusNotFound && strings.HasPrefix(hdr.Get("X-Cf-Routererror"), "unknown_route")
		})
		e.mustIngot("start", "go-hello")
		e.waitStatus("go-hello", "/", http.StatusOK, 30*time.Second)
	})

	t.Run("delete removes the app", func(t *testing.T) {
		e := e.with(t)
		e.mustIngot("delete", "go-hello", "-f")
		e.waitStatus("go-hello", "/", http.StatusNotFound, 15*time.Second)
		if out, err := e.ingot("app", "go-hello"); err == nil {
			t.Fatalf("ingot app after delete succeeded:\n%s", out)
		}
	})
}

func instanceOf(body string) string {
	f := strings.Fields(body)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// TestCrashRecoveryAndWebsockets kills an instance's process with SIGKILL
// and watches the health manager bring it back; it also talks websocket
// and streaming through the router.
func TestCrashRecoveryAndWebsockets(t *testing.T) {
	needTool(t, "go")
	e := startPlatform(t, startOpts{})
	dir := copyDir(t, filepath.Join(repoRoot(t), "e2e", "testdata", "wsapp"))
	e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"))
	e.waitStatus("wsapp", "/", http.StatusOK, 30*time.Second)

	t.Run("websocket echo", func(t *testing.T) {
		e := e.with(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u := strings.Replace(e.p.RouterURL, "http://", "ws://", 1) + "/ws"
		c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Host: "wsapp." + e.p.Domain})
		if err != nil {
			t.Fatalf("dial websocket through the router: %v", err)
		}
		defer c.CloseNow()
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("hello %d", i)
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, got, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != msg {
				t.Fatalf("echo = %q, want %q", got, msg)
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("streaming response", func(t *testing.T) {
		e := e.with(t)
		code, body, _ := e.get("wsapp", "/stream")
		if code != http.StatusOK || !strings.Contains(body, "chunk 2") {
			t.Fatalf("GET /stream = %d %q", code, body)
		}
	})

	t.Run("SIGKILL of the instance is followed by a restart", func(t *testing.T) {
		e := e.with(t)
		_, body, _ := e.get("wsapp", "/pid")
		pid, err := strconv.Atoi(strings.TrimSpace(body))
		if err != nil {
			t.Fatalf("GET /pid = %q", body)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
		eventually(t, 30*time.Second, "a new instance serving", func() bool {
			code, b, _ := e.get("wsapp", "/pid")
			return code == http.StatusOK && strings.TrimSpace(b) != strconv.Itoa(pid)
		})
		out := e.mustIngot("logs", "wsapp", "--recent")
		if !strings.Contains(out, "CELL") && !strings.Contains(out, "Exited") {
			t.Logf("recent logs after the crash:\n%s", out)
		}
	})
}

// TestPlatformRestartBringsAppsBack stops the platform and starts it again
// on the same data dir.
func TestPlatformRestartBringsAppsBack(t *testing.T) {
	dataDir, home := t.TempDir(), t.TempDir()
	e := startPlatform(t, startOpts{dataDir: dataDir, home: home})
	dir := example(t, "static")
	e.mustIngot("push", "-f", filepath.Join(dir, "manifest.yml"))
	e.waitStatus("static-hello", "/", http.StatusOK, 30*time.Second)
	e.stop()

	e2 := startPlatform(t, startOpts{dataDir: dataDir, home: home})
	e2.waitStatus("static-hello", "/", http.StatusOK, 60*time.Second)
	if _, err := os.Stat(filepath.Join(dataDir, "admin.json")); err != nil {
		t.Fatalf("admin credentials not kept: %v", err)
	}
}

package buildpacks

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// site writes a static site with things that must not be served.
func site(t *testing.T) string {
	t.Helper()
	root := writeApp(t, map[string]string{
		"index.html":      "<h1>home</h1>",
		"sub/index.html":  "<h1>sub</h1>",
		"sub/page.txt":    "page",
		"Staticfile":      "root: .\n",
		"manifest.yml":    "applications: []\n",
		".env":            "SECRET=1",
		".git/config":     "[core]",
		"emptydir/.keep":  "",
		"nested/.hidden":  "h",
		"nested/file.css": "body{}",
	})
	if err := os.Symlink("/etc/hostname", filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	return root
}

// startServer runs cmd with PORT set and waits until it answers.
func startServer(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	port := freePort(t)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkSite(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "<h1>home</h1>"},
		{"/index.html", 200, "<h1>home</h1>"},
		{"/sub/", 200, "<h1>sub</h1>"},
		{"/sub", 301, ""},
		{"/sub/page.txt", 200, "page"},
		{"/nested/file.css", 200, "body{}"},
		{"/missing.html", 404, ""},
		{"/emptydir/", 404, ""},
		{"/Staticfile", 404, ""},
		{"/manifest.yml", 404, ""},
		{"/.env", 404, ""},
		{"/.git/config", 404, ""},
		{"/nested/.hidden", 404, ""},
		{"/escape", 404, ""},
		{"/../../etc/hostname", 404, ""},
		{"/%2e%2e/%2e%2e/etc/hostname", 404, ""},
	}
	for _, tt := range tests {
		resp, err := client.Get(base + tt.path)
		if err != nil {
			t.Errorf("GET %s: %v", tt.path, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if tt.body != "" && string(b) != tt.body {
			t.Errorf("GET %s: body %q, want %q", tt.path, b, tt.body)
		}
	}
}

func TestStaticServerGo(t *testing.T) {
	requireTools(t, "go")
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, "./staticfile/lib")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the file server: %v\n%s", err, out)
	}
	base := startServer(t, exec.Command(bin, "-root", site(t)))
	checkSite(t, base)
	req, _ := http.NewRequest(http.MethodPost, base+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d", resp.StatusCode)
	}
}

func TestStaticServerPython(t *testing.T) {
	requireTools(t, "python3")
	base := startServer(t, exec.Command("python3", "staticfile/lib/server.py", site(t)))
	checkSite(t, base)
}

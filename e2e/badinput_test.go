package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/pkg/client"
)

type zipEntry struct {
	name    string
	body    string
	symlink bool
}

func makeZip(t *testing.T, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, en := range entries {
		h := &zip.FileHeader{Name: en.name, Method: zip.Deflate}
		h.SetMode(0o644)
		if en.symlink {
			h.SetMode(os.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, en.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBadInputIsRejected checks every kind of bad input gets a clear error
// and loses nothing.
func TestBadInputIsRejected(t *testing.T) {
	e := startPlatform(t, startOpts{maxFiles: 50, maxBytes: 1 << 20})
	ctx := context.Background()
	app, err := e.api.CreateApp(ctx, client.CreateAppRequest{Name: "victim", SpaceGUID: e.space})
	if err != nil {
		t.Fatalf("create app: %v", err)
	}

	many := make([]zipEntry, 60)
	for i := range many {
		many[i] = zipEntry{name: fmt.Sprintf("f%03d.txt", i), body: "x"}
	}
	zips := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"dot-dot path", makeZip(t, []zipEntry{{name: "../evil.txt", body: "x"}}), ".."},
		{"absolute path", makeZip(t, []zipEntry{{name: "/etc/evil", body: "x"}}), "absolute"},
		{"symlink outside", makeZip(t, []zipEntry{{name: "link", body: "../../../../etc/passwd", symlink: true}}), "symlink"},
		{"too many files", makeZip(t, many), "files"},
		{"too big unpacked (a zip bomb)", makeZip(t, []zipEntry{{name: "zeros.bin", body: strings.Repeat("\x00", 4<<20)}}), "limit"},
		{"not a zip", []byte("this is not a zip file"), "zip"},
	}
	for _, z := range zips {
		t.Run("upload "+z.name, func(t *testing.T) {
			e := e.with(t)
			pkg, err := e.api.CreatePackage(ctx, app.GUID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.api.UploadPackage(ctx, pkg.GUID, nil, bytes.NewReader(z.data), int64(len(z.data)))
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("upload: want a 422 API error, got %v", err)
			}
			if !strings.Contains(strings.ToLower(apiErr.Detail), z.wantErr) {
				t.Errorf("error %q does not mention %q", apiErr.Detail, z.wantErr)
			}
			got, err := e.api.GetPackage(ctx, pkg.GUID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State == "READY" {
				t.Errorf("package is READY after a rejected upload")
			}
		})
	}

	t.Run("invalid manifest names the field", func(t *testing.T) {
		e := e.with(t)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "manifest.yml"), []byte("applications:\n- name: bad\n  memory: lots\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "index.html"), []byte("hi"), 0o644)
		out, err := e.ingot("push", "-f", filepath.Join(dir, "manifest.yml"))
		if err == nil {
			t.Fatalf("push with an invalid manifest succeeded:\n%s", out)
		}
		if !strings.Contains(out, "memory") {
			t.Errorf("error does not name the field memory:\n%s", out)
		}
		if _, err := e.api.GetAppByName(ctx, e.space, "bad"); !client.IsNotFound(err) {
			t.Errorf("a failed manifest left an app behind: %v", err)
		}
	})

	t.Run("unknown app", func(t *testing.T) {
		e := e.with(t)
		out, err := e.ingot("app", "no-such-app")
		if err == nil || !strings.Contains(out, "not found") {
			t.Fatalf("ingot app no-such-app: err=%v\n%s", err, out)
		}
	})

	t.Run("unknown route", func(t *testing.T) {
		e := e.with(t)
		code, _, hdr := e.get("no-such-route", "/")
		if code != http.StatusNotFound || !strings.HasPrefix(hdr.Get("X-Cf-Routererror"), "unknown_route") {
			t.Fatalf("GET unknown route = %d, X-Cf-Routererror %q", code, hdr.Get("X-Cf-Routererror"))
		}
	})

	t.Run("duplicate app name", func(t *testing.T) {
		e := e.with(t)
		_, err := e.api.CreateApp(ctx, client.CreateAppRequest{Name: "victim", SpaceGUID: e.space})
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("duplicate create: want 422, got %v", err)
		}
	})

	t.Run("request without a valid token", func(t *testing.T) {
		e := e.with(t)
		for _, auth := range []string{"", "bearer not-a-jwt"} {
			req, _ := http.NewRequest(http.MethodGet, e.p.APIURL+"/v3/apps", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /v3/apps with auth %q = %d, want 401", auth, resp.StatusCode)
			}
		}
	})

	t.Run("app that never opens its port", func(t *testing.T) {
		e := e.with(t)
		needTool(t, "python3")
		dir := example(t, "python")
		out, err := e.ingot("push", "silent", "-p", dir, "--no-manifest", "-m", "64M", "-c", "sleep 600", "-t", "3")
		if err == nil {
			t.Fatalf("push of an app that never listens succeeded:\n%s", out)
		}
		if !strings.Contains(strings.ToLower(out), "health") && !strings.Contains(strings.ToLower(out), "crash") {
			t.Errorf("push output does not say the health check failed:\n%s", out)
		}
	})

	t.Run("start command that exits at once", func(t *testing.T) {
		e := e.with(t)
		needTool(t, "python3")
		dir := example(t, "python")
		start := time.Now()
		out, err := e.ingot("push", "quitter", "-p", dir, "--no-manifest", "-m", "64M", "-c", "exit 3")
		if err == nil {
			t.Fatalf("push of an app that exits at once succeeded:\n%s", out)
		}
		if !strings.Contains(out, "Start unsuccessful") && !strings.Contains(strings.ToLower(out), "crash") {
			t.Errorf("push output does not report the crash:\n%s", out)
		}
		t.Logf("crashing push reported after %s", time.Since(start).Round(time.Millisecond))
	})
}

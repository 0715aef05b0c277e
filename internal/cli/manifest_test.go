package cli

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseManifestErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // substring; every error also names the file
	}{
		{"syntax", "applications:\n- name: a\n  memory: [1G\n", "line 2"},
		{"tab indentation", "applications:\n\t- name: a\n", "line 2"},
		{"empty", "", "empty"},
		{"not a mapping", "- a\n- b\n", "line 1: the manifest must be a mapping"},
		{"no applications", "version: 1\n", "no 'applications'"},
		{"applications not a list", "applications: {name: a}\n", "line 1: 'applications' must be a list"},
		{"app not a mapping", "applications:\n- a\n", "line 2: each application must be a mapping"},
		{"missing name", "applications:\n- memory: 1G\n", "line 2: every application needs a 'name'"},
		{"negative instances", "applications:\n- name: a\n  instances: -1\n", "line 3: application 'a': instances"},
		{"string instances", "applications:\n- name: a\n  instances: two\n", "line 3: application 'a': instances"},
		{"bad memory", "applications:\n- name: a\n  memory: lots\n", "line 3: application 'a': memory must be a size"},
		{"bad disk", "applications:\n- name: a\n  disk_quota: 1X\n", "line 3: application 'a': disk_quota"},
		{"bad health check", "applications:\n- name: a\n  health-check-type: ping\n", "line 3: application 'a': health-check-type"},
		{"bad routes", "applications:\n- name: a\n  routes:\n  - host: x\n", "line 4: application 'a': each route needs"},
		{"bad no-route", "applications:\n- name: a\n  no-route: yes please\n", "line 3: application 'a': no-route"},
		{"bad env", "applications:\n- name: a\n  env: [1]\n", "line 3: application 'a': env"},
		{"duplicate app", "applications:\n- name: a\n- name: a\n", "line 3: application 'a' is listed twice"},
		{"bad buildpacks", "applications:\n- name: a\n  buildpacks: go\n", "line 3: application 'a': buildpacks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseManifest([]byte(tt.yaml), "/apps/manifest.yml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "/apps/manifest.yml") ||
				!strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to name the file and contain %q", err, tt.want)
			}
		})
	}
}

func TestParseManifestKeepsFields(t *testing.T) {
	m, err := parseManifest([]byte(`applications:
- name: web
  instances: 2
  memory: 256M
  env: {A: "1", B: 2}
  services: [db]
  custom-field: kept
- name: 42
`), "m.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.apps) != 2 || m.apps[0]["custom-field"] != "kept" || m.apps[0]["instances"] != 2 || m.apps[1]["name"] != "42" {
		t.Fatalf("apps = %#v", m.apps)
	}
}

func intp(n int) *int { return &n }

func TestApplyOverrides(t *testing.T) {
	tests := []struct {
		name     string
		app      map[string]any
		ov       pushOverrides
		want     map[string]any
		wantPath string
		wantErr  string
		inDeploy bool // the manifest is in /proj/deploy (else in cwd)
	}{
		{
			name:     "defaults add default-route and cwd path",
			app:      map[string]any{"name": "a"},
			want:     map[string]any{"name": "a", "default-route": true, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name: "flags override the manifest",
			app: map[string]any{"name": "a", "instances": 1, "memory": "1G", "buildpack": "old", "command": "old",
				"disk_quota": "1G", "routes": []any{map[string]any{"route": "a.x"}}},
			ov: pushOverrides{instances: intp(3), memory: "512", disk: "2g", buildpacks: []string{"go", "binary"},
				command: new(string), healthCheckType: "http", endpoint: "/health", timeout: intp(30)},
			want: map[string]any{"name": "a", "instances": 3, "memory": "512M", "disk_quota": "2G",
				"buildpacks": []string{"go", "binary"}, "command": "", "health-check-type": "http",
				"health-check-http-endpoint": "/health", "timeout": 30, "routes": []any{map[string]any{"route": "a.x"}}, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name:     "disk flag uses disk-quota when the manifest has none",
			app:      map[string]any{"name": "a"},
			ov:       pushOverrides{disk: "1G"},
			want:     map[string]any{"name": "a", "disk-quota": "1G", "default-route": true, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name:     "no-route drops routes",
			app:      map[string]any{"name": "a", "routes": []any{map[string]any{"route": "a.x"}}, "random-route": true},
			ov:       pushOverrides{noRoute: true},
			want:     map[string]any{"name": "a", "no-route": true, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name:     "random-route replaces the default route",
			app:      map[string]any{"name": "a"},
			ov:       pushOverrides{randomRoute: true},
			want:     map[string]any{"name": "a", "random-route": true, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name:     "manifest no-route keeps no default",
			app:      map[string]any{"name": "a", "no-route": true},
			want:     map[string]any{"name": "a", "no-route": true, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name:     "manifest default-route false is respected",
			app:      map[string]any{"name": "a", "default-route": false},
			want:     map[string]any{"name": "a", "default-route": false, "path": "/cwd"},
			wantPath: "/cwd",
		},
		{
			name:     "path relative to the manifest",
			app:      map[string]any{"name": "a", "path": "../build/app.jar"},
			want:     map[string]any{"name": "a", "default-route": true, "path": "/proj/build/app.jar"},
			wantPath: "/proj/build/app.jar",
			inDeploy: true,
		},
		{
			name:     "no path: the manifest's directory",
			app:      map[string]any{"name": "a"},
			want:     map[string]any{"name": "a", "default-route": true, "path": "/proj/deploy"},
			wantPath: "/proj/deploy",
			inDeploy: true,
		},
		{
			name:     "-p wins, relative to cwd",
			app:      map[string]any{"name": "a", "path": "ignored"},
			ov:       pushOverrides{path: "src"},
			want:     map[string]any{"name": "a", "default-route": true, "path": "/cwd/src"},
			wantPath: "/cwd/src",
		},
		{name: "negative instances", app: map[string]any{"name": "a"}, ov: pushOverrides{instances: intp(-1)}, wantErr: "instances"},
		{name: "bad memory", app: map[string]any{"name": "a"}, ov: pushOverrides{memory: "big"}, wantErr: "invalid memory"},
		{name: "bad health check", app: map[string]any{"name": "a"}, ov: pushOverrides{healthCheckType: "tcp"}, wantErr: "health check"},
		{name: "zero timeout", app: map[string]any{"name": "a"}, ov: pushOverrides{timeout: intp(0)}, wantErr: "timeout"},
		{name: "non-string path", app: map[string]any{"name": "a", "path": 3}, wantErr: "path must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := "/cwd"
			if tt.inDeploy {
				dir = "/proj/deploy"
			}
			got, err := applyOverrides(tt.app, tt.ov, dir, "/cwd")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantPath {
				t.Errorf("path = %q, want %q", got, tt.wantPath)
			}
			if !reflect.DeepEqual(tt.app, tt.want) {
				t.Errorf("app = %#v\nwant  %#v", tt.app, tt.want)
			}
		})
	}
}

func TestPlanPush(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"manifest.yml":       "applications:\n- name: front\n  path: web\n- name: back\n  path: api\n  instances: 2\n",
		"web/index.html":     "x",
		"api/main.go":        "x",
		"other/manifest.yml": "applications:\n- name: solo\n",
	})
	tests := []struct {
		name      string
		cwd       string
		appName   string
		f         pushFlags
		ov        pushOverrides
		wantApps  string // name=path,...
		wantErr   string
		wantUsage bool
	}{
		{name: "all apps of the cwd manifest", cwd: dir, wantApps: "front=web,back=api"},
		{name: "NAME picks one", cwd: dir, appName: "back", wantApps: "back=api"},
		{name: "unknown NAME", cwd: dir, appName: "nope", wantErr: "could not find app named 'nope'"},
		{name: "flags with several apps", cwd: dir, ov: pushOverrides{instances: intp(1)}, wantUsage: true},
		{name: "flags with NAME", cwd: dir, appName: "front", ov: pushOverrides{instances: intp(1)}, wantApps: "front=web"},
		{name: "-f elsewhere, path relative to it", cwd: t.TempDir(), f: pushFlags{manifest: filepath.Join(dir, "manifest.yml")}, appName: "front", wantApps: "front=web"},
		{name: "-f a directory", cwd: t.TempDir(), f: pushFlags{manifest: filepath.Join(dir, "other")}, wantApps: "solo=other"},
		{name: "--no-manifest needs NAME", cwd: dir, f: pushFlags{noManifest: true}, wantUsage: true},
		{name: "--no-manifest with NAME", cwd: dir, appName: "x", f: pushFlags{noManifest: true}, wantApps: "x=."},
		{name: "no manifest anywhere", cwd: filepath.Join(dir, "web"), appName: "x", wantApps: "x=web"},
		{name: "manifest found in -p dir", cwd: t.TempDir(), f: pushFlags{path: filepath.Join(dir, "other")},
			ov: pushOverrides{path: filepath.Join(dir, "other")}, wantApps: "solo=other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, apps, planned, err := planPush(tt.cwd, tt.appName, tt.f, tt.ov)
			if tt.wantUsage {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want usage error", err)
				}
				return
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, p := range planned {
				rel, _ := filepath.Rel(dir, p.path)
				got = append(got, p.name+"="+rel)
				if apps[i]["path"] != p.path || apps[i]["default-route"] != true {
					t.Errorf("manifest app %v", apps[i])
				}
			}
			if strings.Join(got, ",") != tt.wantApps {
				t.Errorf("apps = %v, want %s", got, tt.wantApps)
			}
		})
	}
}

func TestEncodeManifestRoundTrip(t *testing.T) {
	data, err := encodeManifest([]map[string]any{{"name": "a", "instances": 2, "default-route": true}})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Applications []map[string]any `yaml:"applications"`
	}
	if err := yaml.Unmarshal(data, &back); err != nil || back.Applications[0]["instances"] != 2 {
		t.Fatalf("%s: %v", data, err)
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"256": 256, "256M": 256, "256mb": 256, "1G": 1024, "1.5G": 1536, "2048K": 2, "1T": 1 << 20} {
		if got, err := sizeInMB("m", in); err != nil || got != want {
			t.Errorf("sizeInMB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "1Q", "-1M", "100K"} {
		if _, err := sizeInMB("m", bad); err == nil {
			t.Errorf("sizeInMB(%q) accepted", bad)
		}
	}
	if s, _ := normalizeSize("m", "512"); s != "512M" {
		t.Errorf("normalizeSize = %q", s)
	}
	for in, want := range map[uint64]string{0: "0B", 1023: "1023B", 1024: "1K", 12700000: "12.1M", 256 << 20: "256M", 1 << 30: "1G"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestReadManifestFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "manifest.yml")
	if err := os.WriteFile(p, []byte("applications:\n- name: a\n  memory: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readManifest(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line") {
		t.Fatalf("err = %v", err)
	}
	if _, err := readManifest(filepath.Join(dir, "missing.yml")); err == nil {
		t.Fatal("missing manifest accepted")
	}
}

package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminCredentialsAreMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	c1, first, err := loadOrCreateAdmin(dir)
	if err != nil || !first || c1.Username != AdminUsername || len(c1.Password) < 16 {
		t.Fatalf("first start: %+v first=%v err=%v", c1, first, err)
	}
	info, err := os.Stat(filepath.Join(dir, "admin.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin.json mode = %v, err %v; want 0600", info.Mode().Perm(), err)
	}
	c2, first, err := loadOrCreateAdmin(dir)
	if err != nil || first || c2 != c1 {
		t.Fatalf("second start: %+v first=%v err=%v, want the same credentials", c2, first, err)
	}
	os.WriteFile(filepath.Join(dir, "admin.json"), []byte("{garbage"), 0o600)
	if _, _, err := loadOrCreateAdmin(dir); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("corrupt admin.json: err = %v, want a clear error", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	var o Options
	if err := o.defaults(); err == nil {
		t.Fatal("options without a data dir were accepted")
	}
	o = Options{DataDir: t.TempDir()}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	if o.APIAddr != DefaultAPIAddr || o.RouterAddr != DefaultRouterAddr || o.Domain != DefaultDomain || o.DEAs != 1 {
		t.Fatalf("defaults = %+v", o)
	}
	for _, port := range []string{":4222", ":5432", ":3306", ":6379", ":5672", ":1883"} {
		for _, addr := range []string{o.APIAddr, o.RouterAddr, o.NATSAddr} {
			if strings.HasSuffix(addr, port) {
				t.Errorf("default address %s collides with a standard service port", addr)
			}
		}
	}
}

func TestHTTPURL(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:9022": "http://127.0.0.1:9022",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"[::]:8080":      "http://127.0.0.1:8080",
		"example:80":     "http://example:80",
	}
	for in, want := range cases {
		if got := httpURL(in); got != want {
			t.Errorf("httpURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseServices(t *testing.T) {
	got, err := parseServices([]string{"postgres=postgres://a", "redis=redis://b"})
	if err != nil || got["postgres"] != "postgres://a" || got["redis"] != "redis://b" || len(got) != 2 {
		t.Fatalf("parseServices = %v, %v", got, err)
	}
	for _, bad := range [][]string{{"postgres"}, {"postgres="}, {"mongo=mongodb://x"}, {"redis=a", "redis=b"}} {
		if _, err := parseServices(bad); err == nil {
			t.Errorf("parseServices(%q) accepted", bad)
		}
	}
}

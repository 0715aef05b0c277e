package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestConfigSaveLoad(t *testing.T) {
	home := filepath.Join(t.TempDir(), "nested", "home")
	t.Setenv("INGOT_HOME", home)
	if got := ConfigPath(); got != filepath.Join(home, "config.json") {
		t.Fatalf("ConfigPath = %q", got)
	}
	empty, err := LoadConfig()
	if err != nil || *empty != (Config{}) {
		t.Fatalf("missing config: %+v %v", empty, err)
	}
	want := Config{API: "http://api.test", Username: "admin", Password: "pw", AccessToken: "a", RefreshToken: "r",
		OrgGUID: "o", OrgName: "main", SpaceGUID: "s", SpaceName: "dev", SkipSSLValidation: true, RouterURL: "http://127.0.0.1:8080"}
	if err := SaveConfig(&want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(home); dst.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v, want 0700", dst.Mode().Perm())
	}
	got, err := LoadConfig()
	if err != nil || *got != want {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	// Overwriting keeps the mode and leaves no temp files behind.
	want.SpaceName = "prod"
	if err := SaveConfig(&want); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 1 {
		t.Errorf("config dir holds %d entries", len(entries))
	}
	if got, _ := LoadConfig(); got.SpaceName != "prod" {
		t.Errorf("space = %q", got.SpaceName)
	}
	if err := os.WriteFile(ConfigPath(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(); err == nil {
		t.Error("corrupt config accepted")
	}
}

func TestConfigPathDefault(t *testing.T) {
	t.Setenv("INGOT_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if got := ConfigPath(); got != "/home/someone/.ingot/config.json" {
		t.Fatalf("ConfigPath = %q", got)
	}
}

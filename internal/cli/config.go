package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxConfigBytes bounds the config file.
const maxConfigBytes = 1 << 20

// Config is the CLI's target and credentials, kept in ConfigPath().
// `ingot up` writes it with the admin credentials so every command works
// without a login step.
type Config struct {
	API               string `json:"api"`
	Username          string `json:"username,omitempty"`
	Password          string `json:"password,omitempty"`
	AccessToken       string `json:"access_token,omitempty"`
	RefreshToken      string `json:"refresh_token,omitempty"`
	OrgGUID           string `json:"org_guid,omitempty"`
	OrgName           string `json:"org_name,omitempty"`
	SpaceGUID         string `json:"space_guid,omitempty"`
	SpaceName         string `json:"space_name,omitempty"`
	SkipSSLValidation bool   `json:"skip_ssl_validation,omitempty"`
	// RouterURL is the router's address (http://127.0.0.1:8080); when set,
	// app routes are printed as full URLs with its scheme and port.
	// INGOT_ROUTER_URL overrides it.
	RouterURL string `json:"router_url,omitempty"`
}

// ConfigPath is $INGOT_HOME/config.json; INGOT_HOME defaults to ~/.ingot.
func ConfigPath() string {
	return filepath.Join(ingotHome(), "config.json")
}

func ingotHome() string {
	if h := os.Getenv("INGOT_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ".ingot"
	}
	return filepath.Join(home, ".ingot")
}

// LoadConfig reads the config; a missing file is an empty config.
func LoadConfig() (*Config, error) {
	path := ConfigPath()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("config %s is larger than %d bytes", path, maxConfigBytes)
	}
	var c Config
	if len(bytes.TrimSpace(data)) == 0 {
		return &c, nil
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	return &c, nil
}

// SaveConfig writes the config atomically (temp file + rename) with mode
// 0600 in a 0700 directory.
func SaveConfig(c *Config) error {
	path := ConfigPath()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config dir: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("create temp config: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod temp config: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write temp config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync temp config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace config: %w", err)
	}
	return nil
}

package dea

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/messages"
)

// maxStagingInfoBytes bounds staging_info.yml.
const maxStagingInfoBytes = 1 << 20

// buildEnv is the environment an instance sees (DESIGN.md "App
// environment"); the user's own variables come last and win.
func buildEnv(host string, msg *messages.StartInstance, pm backend.PortMapping, home string, startedAt time.Time) []string {
	port := strconv.FormatUint(uint64(pm.ContainerPort), 10)
	hostPort := strconv.FormatUint(uint64(pm.HostPort), 10)
	env := []string{
		"PORT=" + port,
		"VCAP_APP_PORT=" + port,
		"VCAP_APP_HOST=0.0.0.0",
		"HOME=" + home + "/app",
		"TMPDIR=" + home + "/tmp",
		"MEMORY_LIMIT=" + strconv.FormatInt(msg.MemoryMB, 10) + "m",
		"VCAP_APPLICATION=" + vcapApplication(msg, pm, startedAt),
	}
	services := "{}"
	if len(msg.VCAPServices) > 0 && json.Valid(msg.VCAPServices) && string(msg.VCAPServices) != "null" {
		services = string(msg.VCAPServices)
	}
	env = append(env, "VCAP_SERVICES="+services)
	if u := databaseURL(msg.VCAPServices); u != "" {
		env = append(env, "DATABASE_URL="+u)
	}
	ports, _ := json.Marshal([]map[string]uint32{{"external": pm.HostPort, "internal": pm.ContainerPort}})
	env = append(env,
		"CF_INSTANCE_INDEX="+strconv.Itoa(msg.Index),
		"CF_INSTANCE_GUID="+msg.InstanceGUID,
		"CF_INSTANCE_IP="+host,
		"CF_INSTANCE_PORT="+hostPort,
		"CF_INSTANCE_ADDR="+net.JoinHostPort(host, hostPort),
		"CF_INSTANCE_PORTS="+string(ports),
	)
	keys := make([]string, 0, len(msg.Env))
	for k := range msg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(msg.Env[k], 0) {
			continue
		}
		env = append(env, k+"="+msg.Env[k])
	}
	return env
}

// vcapApplication merges the controller's VCAP_APPLICATION with the
// instance's own fields.
func vcapApplication(msg *messages.StartInstance, pm backend.PortMapping, startedAt time.Time) string {
	v := make(map[string]any, len(msg.VCAPApplication)+16)
	for k, val := range msg.VCAPApplication {
		v[k] = val
	}
	setDefault := func(k string, val any) {
		if _, ok := v[k]; !ok {
			v[k] = val
		}
	}
	uris := msg.URIs
	if uris == nil {
		uris = []string{}
	}
	setDefault("application_id", msg.AppGUID)
	setDefault("application_name", msg.AppName)
	setDefault("name", msg.AppName)
	setDefault("application_uris", uris)
	setDefault("uris", uris)
	setDefault("version", msg.Version)
	setDefault("application_version", msg.Version)
	setDefault("space_id", msg.SpaceGUID)
	setDefault("space_name", msg.SpaceName)
	setDefault("organization_id", msg.OrgGUID)
	setDefault("organization_name", msg.OrgName)
	if msg.CFAPI != "" {
		setDefault("cf_api", msg.CFAPI)
	}
	ts := startedAt.Unix()
	v["instance_id"] = msg.InstanceGUID
	v["instance_index"] = msg.Index
	v["host"] = "0.0.0.0"
	v["port"] = pm.ContainerPort
	v["started_at"] = startedAt.UTC().Format("2006-01-02 15:04:05 -0700")
	v["started_at_timestamp"] = ts
	v["start"] = v["started_at"]
	v["state_timestamp"] = ts
	v["limits"] = map[string]int64{"mem": msg.MemoryMB, "disk": msg.DiskMB, "fds": msg.FileDescriptors}
	data, err := json.Marshal(v)
	if err != nil {
		// A controller value that JSON cannot hold: keep only our fields.
		data, _ = json.Marshal(map[string]any{"instance_id": msg.InstanceGUID, "instance_index": msg.Index, "port": pm.ContainerPort})
	}
	return string(data)
}

// databaseURL is the uri of the first bound SQL service in VCAP_SERVICES.
func databaseURL(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var services map[string][]struct {
		Credentials map[string]any `json:"credentials"`
	}
	if err := json.Unmarshal(raw, &services); err != nil {
		return ""
	}
	labels := make([]string, 0, len(services))
	for l := range services {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		for _, b := range services[l] {
			for _, key := range []string{"uri", "url", "database_url"} {
				u, _ := b.Credentials[key].(string)
				scheme, _, ok := strings.Cut(u, "://")
				if !ok {
					continue
				}
				switch strings.ToLower(scheme) {
				case "postgres", "postgresql", "mysql", "mysql2":
					return u
				}
			}
		}
	}
	return ""
}

// startScript runs command the way Cloud Foundry does: source the
// buildpacks' profile scripts and the app's .profile, cd into the app, exec.
func startScript(command string) string {
	return `mkdir -p "$TMPDIR"
if [ -d app/.profile.d ]; then
  for i in app/.profile.d/*.sh; do
    if [ -r "$i" ]; then . "$i"; fi
  done
  unset i
fi
if [ -r app/.profile ]; then . app/.profile; fi
cd app || exit 1
exec bash -c ` + shellQuote(command) + "\n"
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// stagingInfo is the droplet's staging_info.yml.
type stagingInfo struct {
	DetectedBuildpack string `yaml:"detected_buildpack"`
	StartCommand      string `yaml:"start_command"`
}

// readStartCommand reads start_command from the droplet's
// staging_info.yml in the container's home ("" when there is none).
func readStartCommand(ctx context.Context, c backend.Container) (string, error) {
	rc, err := c.StreamOut(ctx, c.HomeDir()+"/staging_info.yml")
	if err != nil {
		// A droplet without staging_info.yml has no start command of its
		// own; the caller reports that.
		return "", nil
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return "", fmt.Errorf("read staging_info.yml: %w", err)
	}
	if hdr.Size > maxStagingInfoBytes {
		return "", fmt.Errorf("staging_info.yml is %d bytes, more than %d", hdr.Size, maxStagingInfoBytes)
	}
	data, err := io.ReadAll(io.LimitReader(tr, maxStagingInfoBytes))
	if err != nil {
		return "", fmt.Errorf("read staging_info.yml: %w", err)
	}
	return parseStagingInfo(data)
}

func parseStagingInfo(data []byte) (string, error) {
	var si stagingInfo
	if err := yaml.Unmarshal(data, &si); err != nil {
		return "", fmt.Errorf("parse staging_info.yml: %w", err)
	}
	return si.StartCommand, nil
}

// streamDroplet extracts the droplet tgz into the container's home.
func streamDroplet(ctx context.Context, c backend.Container, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open droplet: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("droplet is not gzip: %w", err)
	}
	defer gz.Close()
	if err := c.StreamIn(ctx, c.HomeDir(), gz); err != nil {
		if errors.Is(err, backend.ErrInvalidPath) {
			return fmt.Errorf("droplet has an unsafe entry: %w", err)
		}
		return err
	}
	return nil
}

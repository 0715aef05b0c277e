package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxManifestBytes bounds a manifest file.
const maxManifestBytes = 1 << 20

// ErrInvalidManifest is wrapped by every manifest error.
var ErrInvalidManifest = errors.New("invalid manifest")

// manifest is a parsed manifest: the applications as generic maps, so
// every field the server knows is sent on unchanged.
type manifest struct {
	// file is the manifest's path ("" for a manifest made from flags).
	file string
	apps []map[string]any
}

// manifestNames are the files push looks for.
var manifestNames = []string{"manifest.yml", "manifest.yaml"}

// findManifest returns the manifest in dir, or "".
func findManifest(dir string) string {
	for _, n := range manifestNames {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// readManifest reads and validates a manifest file (a directory means its
// manifest.yml).
func readManifest(file string) (*manifest, error) {
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		found := findManifest(file)
		if found == "" {
			return nil, fmt.Errorf("%w: no manifest.yml in %s", ErrInvalidManifest, file)
		}
		file = found
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", file, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidManifest, file, maxManifestBytes)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	return parseManifest(data, abs)
}

// parseManifest parses manifest YAML; errors name the file and line.
func parseManifest(data []byte, file string) (*manifest, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w %s: %s", ErrInvalidManifest, file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w %s: the file is empty", ErrInvalidManifest, file)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nodeErr(file, root, "the manifest must be a mapping with an 'applications' list")
	}
	appsNode := mapValue(root, "applications")
	if appsNode == nil {
		return nil, nodeErr(file, root, "the manifest has no 'applications' list")
	}
	if appsNode.Kind != yaml.SequenceNode {
		return nil, nodeErr(file, appsNode, "'applications' must be a list")
	}
	m := &manifest{file: file}
	names := map[string]bool{}
	for _, item := range appsNode.Content {
		if item.Kind != yaml.MappingNode {
			return nil, nodeErr(file, item, "each application must be a mapping")
		}
		name, err := validateApp(file, item)
		if err != nil {
			return nil, err
		}
		if names[name] {
			return nil, nodeErr(file, item, fmt.Sprintf("application '%s' is listed twice", name))
		}
		names[name] = true
		var app map[string]any
		if err := item.Decode(&app); err != nil {
			return nil, nodeErr(file, item, err.Error())
		}
		app["name"] = name
		m.apps = append(m.apps, app)
	}
	if len(m.apps) == 0 {
		return nil, nodeErr(file, appsNode, "'applications' is empty")
	}
	return m, nil
}

func nodeErr(file string, n *yaml.Node, msg string) error {
	return fmt.Errorf("%w %s: line %d: %s", ErrInvalidManifest, file, n.Line, msg)
}

// mapValue returns the value of key in a mapping node.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var sizeRE = regexp.MustCompile(`(?i)^\s*(\d+(?:\.\d+)?)\s*(B|K|KB|M|MB|G|GB|T|TB)?\s*$`)

var healthCheckTypes = map[string]bool{"port": true, "process": true, "http": true, "none": true}

// validateApp checks the fields push and the server need, naming the
// line of a bad one, and returns the app's name.
func validateApp(file string, app *yaml.Node) (string, error) {
	nameNode := mapValue(app, "name")
	if nameNode == nil || nameNode.Kind != yaml.ScalarNode || strings.TrimSpace(nameNode.Value) == "" {
		return "", nodeErr(file, app, "every application needs a 'name'")
	}
	name := nameNode.Value
	bad := func(n *yaml.Node, msg string) error {
		return nodeErr(file, n, fmt.Sprintf("application '%s': %s", name, msg))
	}
	for i := 0; i+1 < len(app.Content); i += 2 {
		key, val := app.Content[i].Value, app.Content[i+1]
		isNull := val.Kind == yaml.ScalarNode && val.Tag == "!!null"
		if isNull {
			continue
		}
		switch key {
		case "instances":
			if n, err := strconv.Atoi(val.Value); val.Kind != yaml.ScalarNode || val.Tag != "!!int" || err != nil || n < 0 {
				return "", bad(val, "instances must be a whole number >= 0")
			}
		case "timeout":
			if n, err := strconv.Atoi(val.Value); val.Kind != yaml.ScalarNode || val.Tag != "!!int" || err != nil || n <= 0 {
				return "", bad(val, "timeout must be a whole number of seconds > 0")
			}
		case "memory", "disk_quota", "disk-quota", "log-rate-limit-per-second":
			if val.Kind != yaml.ScalarNode || !sizeRE.MatchString(val.Value) {
				return "", bad(val, fmt.Sprintf("%s must be a size such as 256M or 1G", key))
			}
		case "buildpacks":
			if err := scalarList(val); err != nil {
				return "", bad(val, "buildpacks must be a list of names")
			}
		case "buildpack", "command", "path", "stack", "health-check-http-endpoint":
			if val.Kind != yaml.ScalarNode {
				return "", bad(val, key+" must be a string")
			}
		case "health-check-type":
			if val.Kind != yaml.ScalarNode || !healthCheckTypes[val.Value] {
				return "", bad(val, "health-check-type must be one of port, process, http, none")
			}
		case "no-route", "random-route", "default-route":
			if val.Kind != yaml.ScalarNode || val.Tag != "!!bool" {
				return "", bad(val, key+" must be true or false")
			}
		case "env":
			if val.Kind != yaml.MappingNode {
				return "", bad(val, "env must be a mapping of names to values")
			}
		case "routes":
			if val.Kind != yaml.SequenceNode {
				return "", bad(val, "routes must be a list of {route: host.domain}")
			}
			for _, r := range val.Content {
				rv := (*yaml.Node)(nil)
				if r.Kind == yaml.MappingNode {
					rv = mapValue(r, "route")
				}
				if rv == nil || rv.Kind != yaml.ScalarNode || rv.Value == "" {
					return "", bad(r, "each route needs a 'route: host.domain[/path]'")
				}
			}
		case "services", "processes", "sidecars":
			if val.Kind != yaml.SequenceNode {
				return "", bad(val, key+" must be a list")
			}
		}
	}
	return name, nil
}

func scalarList(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return errors.New("not a list")
	}
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return errors.New("not a scalar")
		}
	}
	return nil
}

// normalizeSize turns a size flag into the manifest form: "256" → "256M",
// "1gb" → "1GB"; an unparsable size is an error.
func normalizeSize(flag, s string) (string, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return "", &usageError{msg: fmt.Sprintf("invalid %s %q: use a size such as 256M or 1G", flag, s)}
	}
	unit := strings.ToUpper(m[2])
	if unit == "" {
		unit = "M"
	}
	return m[1] + unit, nil
}

// sizeInMB converts a size ("256M", "1G", "512") to whole megabytes.
func sizeInMB(flag, s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, &usageError{msg: fmt.Sprintf("invalid %s %q: use a size such as 256M or 1G", flag, s)}
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, &usageError{msg: fmt.Sprintf("invalid %s %q", flag, s)}
	}
	switch strings.ToUpper(m[2]) {
	case "B":
		v /= 1024 * 1024
	case "K", "KB":
		v /= 1024
	case "G", "GB":
		v *= 1024
	case "T", "TB":
		v *= 1024 * 1024
	}
	mb := int64(v)
	if mb < 1 {
		return 0, &usageError{msg: fmt.Sprintf("invalid %s %q: must be at least 1M", flag, s)}
	}
	return mb, nil
}

// pushOverrides are the push flags that change the manifest.
type pushOverrides struct {
	instances       *int
	memory          string
	disk            string
	buildpacks      []string
	command         *string
	healthCheckType string
	endpoint        string
	timeout         *int
	noRoute         bool
	randomRoute     bool
	// path is the -p flag ("" when not given).
	path string
}

// any tells whether a flag other than -f/--no-start was given.
func (o pushOverrides) any() bool {
	return o.instances != nil || o.memory != "" || o.disk != "" || len(o.buildpacks) > 0 || o.command != nil ||
		o.healthCheckType != "" || o.endpoint != "" || o.timeout != nil || o.noRoute || o.randomRoute || o.path != ""
}

// applyOverrides applies flags to one manifest application, defaults
// default-route, and resolves the app path: -p (relative to cwd) wins over
// `path:` (relative to the manifest's directory), else the manifest's
// directory (cwd when there is no manifest file). It returns the
// absolute app path, which it also writes to `path:`.
func applyOverrides(app map[string]any, o pushOverrides, manifestDir, cwd string) (string, error) {
	if o.instances != nil {
		if *o.instances < 0 {
			return "", &usageError{msg: "instances must be >= 0"}
		}
		app["instances"] = *o.instances
	}
	if o.memory != "" {
		v, err := normalizeSize("memory", o.memory)
		if err != nil {
			return "", err
		}
		app["memory"] = v
	}
	if o.disk != "" {
		v, err := normalizeSize("disk", o.disk)
		if err != nil {
			return "", err
		}
		if _, ok := app["disk_quota"]; ok {
			app["disk_quota"] = v
		} else {
			app["disk-quota"] = v
		}
	}
	if len(o.buildpacks) > 0 {
		delete(app, "buildpack")
		app["buildpacks"] = append([]string(nil), o.buildpacks...)
	}
	if o.command != nil {
		app["command"] = *o.command
	}
	if o.healthCheckType != "" {
		if !healthCheckTypes[o.healthCheckType] {
			return "", &usageError{msg: fmt.Sprintf("invalid health check type %q: use port, process, http or none", o.healthCheckType)}
		}
		app["health-check-type"] = o.healthCheckType
	}
	if o.endpoint != "" {
		app["health-check-http-endpoint"] = o.endpoint
	}
	if o.timeout != nil {
		if *o.timeout <= 0 {
			return "", &usageError{msg: "timeout must be > 0 seconds"}
		}
		app["timeout"] = *o.timeout
	}
	if o.noRoute {
		delete(app, "routes")
		delete(app, "random-route")
		delete(app, "default-route")
		app["no-route"] = true
	}
	if o.randomRoute {
		app["random-route"] = true
	}
	_, hasRoutes := app["routes"]
	_, hasDefault := app["default-route"]
	if !hasRoutes && !hasDefault && !isTrue(app["no-route"]) && !isTrue(app["random-route"]) {
		app["default-route"] = true
	}
	var appPath string
	switch {
	case o.path != "":
		appPath = o.path
		if !filepath.IsAbs(appPath) {
			appPath = filepath.Join(cwd, appPath)
		}
	case app["path"] != nil:
		p, ok := app["path"].(string)
		if !ok || p == "" {
			return "", fmt.Errorf("%w: application '%v': path must be a string", ErrInvalidManifest, app["name"])
		}
		appPath = p
		if !filepath.IsAbs(appPath) {
			appPath = filepath.Join(manifestDir, appPath)
		}
	default:
		appPath = manifestDir
	}
	appPath = filepath.Clean(appPath)
	app["path"] = appPath
	return appPath, nil
}

func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// selectApps picks the applications to push: the one named, or all of
// them when no name is given.
func (m *manifest) selectApps(name string) ([]map[string]any, error) {
	if name == "" {
		return m.apps, nil
	}
	for _, a := range m.apps {
		if a["name"] == name {
			return []map[string]any{a}, nil
		}
	}
	return nil, fmt.Errorf("could not find app named '%s' in manifest %s", name, m.file)
}

// encodeManifest renders the applications for apply_manifest.
func encodeManifest(apps []map[string]any) ([]byte, error) {
	data, err := yaml.Marshal(map[string]any{"applications": apps})
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return data, nil
}

// Package manifest parses and validates the subset of Cloud Foundry app
// manifests that ingot applies (apply_manifest, manifest_diff), with errors
// that name the offending field, e.g.
// `applications[0].memory: "12XB" is not a valid size`.
package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid manifest")

// ValidationError lists every problem found.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// MaxApplications bounds one manifest.
const MaxApplications = 1000

// Manifest is a parsed manifest.
type Manifest struct {
	Applications []*Application
}

// Process is one entry of an application's processes.
type Process struct {
	Type                         string
	Instances                    *int
	MemoryMB                     *int64
	DiskMB                       *int64
	Command                      *string
	HealthCheckType              *string // port, http or process
	HealthCheckEndpoint          *string
	HealthCheckTimeout           *int
	HealthCheckInvocationTimeout *int

	// Keys maps a field id (see Field*) to the key as written.
	Keys map[string]string
	// Raw is the process as generic YAML data.
	Raw map[string]any
}

// Application is one entry of applications.
type Application struct {
	Name string
	Process
	// Buildpacks is set when buildpacks or buildpack was given
	// (BuildpacksSet); empty means auto-detect.
	Buildpacks    []string
	BuildpacksSet bool
	Stack         *string
	// Env is nil when absent.
	Env map[string]string
	// Routes are "host.domain[/path]" strings; RoutesSet when given.
	Routes       []string
	RoutesSet    bool
	NoRoute      bool
	RandomRoute  bool
	DefaultRoute bool
	Processes    []*Process
	// Services are the service instances to bind ("services:").
	Services []ServiceBinding
	// Unsupported lists keys ingot recognises but does not apply yet
	// (sidecars), as "applications[i].key".
	Unsupported []string
}

// Field ids used in Keys.
const (
	FieldInstances         = "instances"
	FieldMemory            = "memory"
	FieldDisk              = "disk-quota"
	FieldCommand           = "command"
	FieldBuildpacks        = "buildpacks"
	FieldBuildpack         = "buildpack"
	FieldEnv               = "env"
	FieldRoutes            = "routes"
	FieldHealthCheckType   = "health-check-type"
	FieldHealthCheckHTTP   = "health-check-http-endpoint"
	FieldTimeout           = "timeout"
	FieldInvocationTimeout = "health-check-invocation-timeout"
	FieldStack             = "stack"
	FieldProcesses         = "processes"
)

type parser struct {
	problems []string
}

func (p *parser) errf(path, format string, args ...any) {
	if len(p.problems) < 100 {
		p.problems = append(p.problems, path+": "+fmt.Sprintf(format, args...))
	}
}

// Parse parses and validates a manifest.
func Parse(data []byte) (*Manifest, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ValidationError{Problems: []string{"manifest is not valid YAML: " + err.Error()}}
	}
	p := &parser{}
	m := &Manifest{}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &ValidationError{Problems: []string{"manifest is empty"}}
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &ValidationError{Problems: []string{"manifest must be a mapping with an applications list"}}
	}
	var apps *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "applications" {
			apps = deref(root.Content[i+1])
		}
	}
	switch {
	case apps == nil:
		p.errf("applications", "is required")
	case apps.Kind != yaml.SequenceNode:
		p.errf("applications", "must be a list")
	case len(apps.Content) == 0:
		p.errf("applications", "must name at least one application")
	case len(apps.Content) > MaxApplications:
		p.errf("applications", "has more than %d entries", MaxApplications)
	default:
		names := map[string]bool{}
		for i, n := range apps.Content {
			path := fmt.Sprintf("applications[%d]", i)
			a := p.application(path, n)
			if a == nil {
				continue
			}
			if a.Name != "" {
				if names[a.Name] {
					p.errf(path+".name", "%q appears more than once", a.Name)
				}
				names[a.Name] = true
			}
			m.Applications = append(m.Applications, a)
		}
	}
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	return m, nil
}

// normKey folds underscores into dashes: disk_quota == disk-quota.
func normKey(k string) string { return strings.ReplaceAll(strings.ToLower(k), "_", "-") }

func (p *parser) application(path string, n *yaml.Node) *Application {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errf(path, "must be a mapping")
		return nil
	}
	a := &Application{}
	a.Keys = map[string]string{}
	a.Raw = rawMap(n)
	seen := map[string]bool{}
	var nameSet bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, v := n.Content[i].Value, deref(n.Content[i+1])
		k := normKey(key)
		fp := path + "." + key
		if seen[k] {
			p.errf(fp, "is given more than once")
			continue
		}
		seen[k] = true
		if p.processField(fp, k, key, v, &a.Process) {
			continue
		}
		switch k {
		case "name":
			if s, ok := p.str(fp, v); ok {
				a.Name = strings.TrimSpace(s)
				nameSet = true
			}
		case FieldBuildpacks:
			a.Keys[FieldBuildpacks] = key
			a.BuildpacksSet = true
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				p.errf(fp, "must be a list of buildpack names")
				continue
			}
			for j, b := range v.Content {
				if s, ok := p.str(fmt.Sprintf("%s[%d]", fp, j), deref(b)); ok && s != "" {
					a.Buildpacks = append(a.Buildpacks, s)
				}
			}
		case FieldBuildpack:
			a.Keys[FieldBuildpacks] = key
			a.BuildpacksSet = true
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if s, ok := p.str(fp, v); ok && s != "" && s != "default" && s != "null" {
				a.Buildpacks = []string{s}
			}
		case FieldStack:
			a.Keys[FieldStack] = key
			if s, ok := p.str(fp, v); ok {
				a.Stack = &s
			}
		case FieldEnv:
			a.Keys[FieldEnv] = key
			a.Env = p.env(fp, v)
		case FieldRoutes:
			a.Keys[FieldRoutes] = key
			a.RoutesSet = true
			a.Routes = p.routes(fp, v)
		case "no-route":
			a.NoRoute = p.boolean(fp, v)
		case "random-route":
			a.RandomRoute = p.boolean(fp, v)
		case "default-route":
			a.DefaultRoute = p.boolean(fp, v)
		case FieldProcesses:
			a.Keys[FieldProcesses] = key
			a.Processes = p.processes(fp, v)
		case "docker":
			p.errf(fp, "docker images are not supported; push source code")
		case "services":
			a.Services = p.services(fp, v)
		case "sidecars":
			a.Unsupported = append(a.Unsupported, fp)
		}
	}
	if !nameSet || a.Name == "" {
		p.errf(path+".name", "is required")
	}
	if a.NoRoute && a.RoutesSet && len(a.Routes) > 0 {
		p.errf(path, "no-route and routes cannot be used together")
	}
	return a
}

// processField handles the keys an application shares with its processes;
// it reports whether k was one of them.
func (p *parser) processField(fp, k, key string, v *yaml.Node, pr *Process) bool {
	switch k {
	case FieldInstances:
		pr.Keys[FieldInstances] = key
		if n, ok := p.integer(fp, v); ok {
			if n < 0 {
				p.errf(fp, "must be 0 or more, got %d", n)
			} else if n > 10000 {
				p.errf(fp, "must be at most 10000, got %d", n)
			} else {
				i := int(n)
				pr.Instances = &i
			}
		}
	case FieldMemory:
		pr.Keys[FieldMemory] = key
		if mb, ok := p.size(fp, v); ok {
			pr.MemoryMB = &mb
		}
	case FieldDisk:
		pr.Keys[FieldDisk] = key
		if mb, ok := p.size(fp, v); ok {
			pr.DiskMB = &mb
		}
	case FieldCommand:
		pr.Keys[FieldCommand] = key
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			s := ""
			pr.Command = &s
		} else if s, ok := p.str(fp, v); ok {
			pr.Command = &s
		}
	case FieldHealthCheckType:
		pr.Keys[FieldHealthCheckType] = key
		if s, ok := p.str(fp, v); ok {
			switch s {
			case "port", "http", "process":
			case "none":
				s = "process"
			default:
				p.errf(fp, "%q is not a health check type (use port, http or process)", s)
				return true
			}
			pr.HealthCheckType = &s
		}
	case FieldHealthCheckHTTP:
		pr.Keys[FieldHealthCheckHTTP] = key
		if s, ok := p.str(fp, v); ok {
			if !strings.HasPrefix(s, "/") {
				p.errf(fp, "%q must be a path starting with /", s)
				return true
			}
			pr.HealthCheckEndpoint = &s
		}
	case FieldTimeout:
		pr.Keys[FieldTimeout] = key
		if n, ok := p.positive(fp, v); ok {
			pr.HealthCheckTimeout = &n
		}
	case FieldInvocationTimeout:
		pr.Keys[FieldInvocationTimeout] = key
		if n, ok := p.positive(fp, v); ok {
			pr.HealthCheckInvocationTimeout = &n
		}
	default:
		return false
	}
	return true
}

func (p *parser) processes(path string, v *yaml.Node) []*Process {
	if v.Kind != yaml.SequenceNode {
		p.errf(path, "must be a list")
		return nil
	}
	var out []*Process
	types := map[string]bool{}
	for i, n := range v.Content {
		pp := fmt.Sprintf("%s[%d]", path, i)
		n = deref(n)
		if n.Kind != yaml.MappingNode {
			p.errf(pp, "must be a mapping")
			continue
		}
		pr := &Process{Keys: map[string]string{}, Raw: rawMap(n)}
		for j := 0; j+1 < len(n.Content); j += 2 {
			key, val := n.Content[j].Value, deref(n.Content[j+1])
			k := normKey(key)
			fp := pp + "." + key
			if k == "type" {
				if s, ok := p.str(fp, val); ok {
					pr.Type = s
				}
				continue
			}
			p.processField(fp, k, key, val, pr)
		}
		switch {
		case pr.Type == "":
			p.errf(pp+".type", "is required")
		case !validProcessType(pr.Type):
			p.errf(pp+".type", "%q must be letters, digits, '-' or '_' (at most 255)", pr.Type)
		case types[pr.Type]:
			p.errf(pp+".type", "%q appears more than once", pr.Type)
		default:
			types[pr.Type] = true
			out = append(out, pr)
		}
	}
	return out
}

var processTypeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func validProcessType(s string) bool { return processTypeRE.MatchString(s) }

func (p *parser) str(path string, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errf(path, "must be a string")
		return "", false
	}
	if len(v.Value) > 4096 {
		p.errf(path, "is longer than 4096 characters")
		return "", false
	}
	return v.Value, true
}

func (p *parser) boolean(path string, v *yaml.Node) bool {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		b, err := strconv.ParseBool(strings.ToLower(v.Value))
		if err == nil {
			return b
		}
	}
	p.errf(path, "must be true or false")
	return false
}

func (p *parser) integer(path string, v *yaml.Node) (int64, bool) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
		n, err := strconv.ParseInt(v.Value, 0, 64)
		if err == nil {
			return n, true
		}
	}
	p.errf(path, "%s is not an integer", quoteNode(v))
	return 0, false
}

func (p *parser) positive(path string, v *yaml.Node) (int, bool) {
	n, ok := p.integer(path, v)
	if !ok {
		return 0, false
	}
	if n <= 0 || n > 86400 {
		p.errf(path, "must be between 1 and 86400 seconds, got %d", n)
		return 0, false
	}
	return int(n), true
}

func quoteNode(v *yaml.Node) string {
	if v.Kind == yaml.ScalarNode {
		return strconv.Quote(v.Value)
	}
	return "a " + kindName(v.Kind)
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func (p *parser) size(path string, v *yaml.Node) (int64, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errf(path, "%s is not a valid size", quoteNode(v))
		return 0, false
	}
	mb, err := ParseSizeMB(v.Value)
	if err != nil {
		p.errf(path, "%q is not a valid size (%v)", v.Value, err)
		return 0, false
	}
	return mb, true
}

var sizeRE = regexp.MustCompile(`^(?i)\s*([0-9]{1,15})\s*([KMGT]?)B?\s*$`)

// ParseSizeMB parses a size like 256M, 1G, 512MB, 1024 (MB) or 2048K into
// megabytes. It must be at least 1 MB.
func ParseSizeMB(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("use a number with an optional unit: K, M, G or T")
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	var mb int64
	switch strings.ToUpper(m[2]) {
	case "K":
		mb = n / 1024
	case "", "M":
		mb = n
	case "G":
		mb = n * 1024
	case "T":
		mb = n * 1024 * 1024
	}
	if mb < 1 {
		return 0, errors.New("must be at least 1M")
	}
	if mb > 16*1024*1024 {
		return 0, errors.New("must be at most 16T")
	}
	return mb, nil
}

// FormatMB renders megabytes the way manifests write them.
func FormatMB(mb int64) string {
	if mb >= 1024 && mb%1024 == 0 {
		return strconv.FormatInt(mb/1024, 10) + "G"
	}
	return strconv.FormatInt(mb, 10) + "M"
}

func (p *parser) env(path string, v *yaml.Node) map[string]string {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return map[string]string{}
	}
	if v.Kind != yaml.MappingNode {
		p.errf(path, "must be a mapping of names to values")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], deref(v.Content[i+1])
		fp := path + "." + k.Value
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			p.errf(path, "has an empty or non-string variable name")
			continue
		}
		if err := ValidateEnvName(k.Value); err != nil {
			p.errf(fp, "%v", err)
			continue
		}
		if val.Kind != yaml.ScalarNode {
			p.errf(fp, "must be a string, number or boolean")
			continue
		}
		if val.Tag == "!!null" {
			out[k.Value] = ""
			continue
		}
		out[k.Value] = val.Value
	}
	return out
}

// ValidateEnvName checks a user environment variable name.
func ValidateEnvName(k string) error {
	switch {
	case k == "":
		return errors.New("variable name must not be empty")
	case strings.HasPrefix(strings.ToUpper(k), "VCAP_"):
		return errors.New("variable name cannot start with VCAP_")
	case k == "PORT":
		return errors.New("variable name cannot be PORT")
	case strings.ContainsAny(k, "=\x00"):
		return errors.New("variable name cannot contain '=' or NUL")
	case len(k) > 1024:
		return errors.New("variable name is longer than 1024 characters")
	}
	return nil
}

func (p *parser) routes(path string, v *yaml.Node) []string {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errf(path, "must be a list of {route: host.domain}")
		return nil
	}
	var out []string
	for i, n := range v.Content {
		rp := fmt.Sprintf("%s[%d]", path, i)
		n = deref(n)
		if n.Kind != yaml.MappingNode {
			p.errf(rp, "must be a mapping with a route key")
			continue
		}
		var route string
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "route" {
				if s, ok := p.str(rp+".route", deref(n.Content[j+1])); ok {
					route = strings.TrimSpace(s)
				}
			}
		}
		if route == "" {
			p.errf(rp+".route", "is required")
			continue
		}
		if err := CheckRouteSyntax(route); err != nil {
			p.errf(rp+".route", "%q %v", route, err)
			continue
		}
		out = append(out, strings.ToLower(route))
	}
	return out
}

// CheckRouteSyntax checks a manifest route "host.domain[/path]".
func CheckRouteSyntax(route string) error {
	if strings.Contains(route, "://") {
		return errors.New("must not include a scheme")
	}
	hostPart, _, _ := strings.Cut(route, "/")
	if strings.Contains(hostPart, ":") {
		return errors.New("has a port; TCP routes are not supported")
	}
	if hostPart == "" || strings.HasPrefix(hostPart, ".") || strings.HasSuffix(hostPart, ".") || strings.Contains(hostPart, "..") {
		return errors.New("is not a valid host name")
	}
	for _, r := range hostPart {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '*' || r == '_') {
			return fmt.Errorf("has an invalid character %q", r)
		}
	}
	return nil
}

// rawMap decodes a mapping node into generic data (for diffs).
func rawMap(n *yaml.Node) map[string]any {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return map[string]any{}
	}
	return m
}

// deref follows YAML aliases (bounded, so alias cycles cannot loop).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// ServiceBinding is one entry of "services:": a service instance name, or
// {name, binding_name, parameters}.
type ServiceBinding struct {
	Name        string
	BindingName string
	// Parameters is a JSON object for the broker, nil when absent.
	Parameters map[string]any
}

func (p *parser) services(path string, v *yaml.Node) []ServiceBinding {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errf(path, "must be a list of service instance names")
		return nil
	}
	var out []ServiceBinding
	seen := map[string]bool{}
	for i, n := range v.Content {
		sp := fmt.Sprintf("%s[%d]", path, i)
		n = deref(n)
		var sb ServiceBinding
		switch n.Kind {
		case yaml.ScalarNode:
			sb.Name = strings.TrimSpace(n.Value)
		case yaml.MappingNode:
			for j := 0; j+1 < len(n.Content); j += 2 {
				k, val := n.Content[j].Value, deref(n.Content[j+1])
				switch k {
				case "name":
					if s, ok := p.str(sp+".name", val); ok {
						sb.Name = strings.TrimSpace(s)
					}
				case "binding_name":
					if s, ok := p.str(sp+".binding_name", val); ok {
						sb.BindingName = strings.TrimSpace(s)
					}
				case "parameters":
					var m map[string]any
					if err := val.Decode(&m); err != nil || val.Kind != yaml.MappingNode {
						p.errf(sp+".parameters", "must be a mapping")
						continue
					}
					sb.Parameters = m
				}
			}
		default:
			p.errf(sp, "must be a service instance name or a mapping with a name")
			continue
		}
		if sb.Name == "" {
			p.errf(sp, "a service instance name is required")
			continue
		}
		if seen[sb.Name] {
			p.errf(sp, "service instance %q is listed twice", sb.Name)
			continue
		}
		seen[sb.Name] = true
		out = append(out, sb)
	}
	return out
}

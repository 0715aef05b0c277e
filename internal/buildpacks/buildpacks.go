// Package buildpacks holds ingot's built-in buildpacks: directories of bash
// scripts following the Cloud Foundry contract (bin/detect, bin/supply,
// bin/finalize, bin/release; the older Heroku bin/compile is not used by
// the built-ins but is honoured by the stager for custom buildpacks).
//
// The built-ins use the toolchains of the stack `host` (the DEA host's own
// OS): they never download a language runtime. They produce relocatable
// droplets: staging happens in one directory and the app runs from another,
// so profile scripts and start commands only use $HOME (the app directory at
// run time) and $DEPS_DIR, never a staging-time absolute path.
//
// Layout in FS: <name>/bin/{detect,supply,finalize,release} and
// <name>/lib/... for helpers.
package buildpacks

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed go nodejs python java staticfile binary
var files embed.FS

// FS returns the built-in buildpacks, one directory per name. Embedded
// files carry no mode bits: whoever installs a buildpack must make the
// files under bin/ executable.
func FS() fs.FS { return files }

// Names returns the built-ins that take part in detection, in detection
// order. The binary buildpack is never detected: it is used only when
// named.
func Names() []string {
	return []string{"go", "nodejs", "python", "java", "staticfile"}
}

// All returns every built-in, the detected ones first, then binary.
func All() []string {
	return append(Names(), "binary")
}

// Resolve maps a buildpack name as a user gives it ("go", "go_buildpack",
// "Node.js"-style variants are not accepted) to the name of a built-in. The
// Cloud Foundry spelling "<name>_buildpack" and a few aliases are accepted.
func Resolve(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimSuffix(n, "_buildpack")
	n = strings.TrimSuffix(n, "-buildpack")
	switch n {
	case "node", "node.js":
		n = "nodejs"
	case "golang":
		n = "go"
	case "static", "staticfiles":
		n = "staticfile"
	case "python3":
		n = "python"
	}
	for _, b := range All() {
		if b == n {
			return b, true
		}
	}
	return "", false
}

// Key is the name a built-in is known by in the API (Cloud Foundry's admin
// buildpack names): "go_buildpack", "nodejs_buildpack", ...
func Key(name string) string { return name + "_buildpack" }

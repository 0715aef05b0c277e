package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Bounds of a .cfignore file.
const (
	maxCfignoreBytes    = 1 << 20
	maxCfignoreLine     = 4096
	maxPatternSegments  = 64
	maxIgnoredPathDepth = 256
)

// defaultIgnoreLines are always excluded from an app's bits (the cf CLI's
// list, with the manifests anchored to the app root).
var defaultIgnoreLines = []string{
	".cfignore",
	"/manifest.yml",
	"/manifest.yaml",
	".gitignore",
	".git",
	".hg",
	".svn",
	"_darcs",
	".DS_Store",
}

// ignorePattern is one parsed .cfignore line.
type ignorePattern struct {
	negate   bool
	dirOnly  bool
	anchored bool
	segs     []string
}

// Cfignore matches paths against .cfignore patterns with gitignore
// semantics: `#` comments, `!` negation, a trailing `/` for directories
// only, a leading or inner `/` anchoring to the app root, `*`, `?`, `[...]`
// within a path segment and `**` across segments. The last matching pattern
// wins, and nothing under an ignored directory can be re-included.
type Cfignore struct {
	patterns []ignorePattern
}

// ParseCfignore parses .cfignore content. Malformed patterns (a bad
// character class) are skipped, never an error.
func ParseCfignore(data []byte) *Cfignore {
	c := &Cfignore{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) > maxCfignoreLine {
			continue
		}
		if p, ok := parseIgnoreLine(string(line)); ok {
			c.patterns = append(c.patterns, p)
		}
	}
	return c
}

func parseIgnoreLine(line string) (ignorePattern, bool) {
	var p ignorePattern
	line = strings.TrimSuffix(line, "\r")
	trimmed := strings.TrimRight(line, " \t")
	if strings.HasSuffix(trimmed, `\`) && len(trimmed) < len(line) {
		// "foo\ " keeps its escaped trailing space.
		trimmed += " "
	}
	line = strings.TrimLeft(trimmed, " \t")
	if line == "" || strings.HasPrefix(line, "#") {
		return p, false
	}
	if strings.HasPrefix(line, "!") {
		p.negate = true
		line = line[1:]
	} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if strings.Contains(line, "/") {
		p.anchored = true
		line = strings.TrimLeft(line, "/")
	}
	if line == "" {
		return p, false
	}
	for _, seg := range strings.Split(line, "/") {
		if seg == "" {
			continue // "a//b" is "a/b"
		}
		if seg == "**" && len(p.segs) > 0 && p.segs[len(p.segs)-1] == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return p, false
		}
		p.segs = append(p.segs, seg)
	}
	if len(p.segs) == 0 || len(p.segs) > maxPatternSegments {
		return p, false
	}
	if len(p.segs) == 1 && p.segs[0] == "**" {
		p.anchored = true
	}
	return p, true
}

// Match tells whether the slash-separated path rel (relative to the app
// root) is ignored; isDir says whether rel is a directory. A path under an
// ignored directory is ignored.
func (c *Cfignore) Match(rel string, isDir bool) bool {
	rel = strings.Trim(path.Clean("/"+filepath.ToSlash(rel)), "/")
	if rel == "" || rel == "." {
		return false
	}
	segs := strings.Split(rel, "/")
	if len(segs) > maxIgnoredPathDepth {
		segs = segs[:maxIgnoredPathDepth]
	}
	for i := 1; i < len(segs); i++ {
		if c.matchOne(segs[:i], true) {
			return true
		}
	}
	return c.matchOne(segs, isDir)
}

// matchOne applies the patterns to one path, ignoring its parents.
func (c *Cfignore) matchOne(segs []string, isDir bool) bool {
	ignored := false
	for _, p := range c.patterns {
		if p.dirOnly && !isDir {
			continue
		}
		var hit bool
		if p.anchored {
			hit = matchSegments(p.segs, segs)
		} else {
			ok, _ := path.Match(p.segs[0], segs[len(segs)-1])
			hit = ok
		}
		if hit {
			ignored = !p.negate
		}
	}
	return ignored
}

// matchSegments matches pattern segments (with `**` for any number of
// segments; a trailing `**` needs at least one) against path segments, by
// dynamic programming so that many `**` stay linear in time.
func matchSegments(pat, name []string) bool {
	// can[j] tells whether pat[i:] matches name[j:], for the current i,
	// computed from the end.
	can := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
	next[len(name)] = true // empty pattern matches empty name
	for i := len(pat) - 1; i >= 0; i-- {
		for j := len(name); j >= 0; j-- {
			switch {
			case pat[i] == "**" && i == len(pat)-1:
				can[j] = j < len(name)
			case pat[i] == "**":
				// Zero segments (next[j]) or one more (can[j+1]).
				can[j] = next[j] || (j < len(name) && can[j+1])
			case j == len(name):
				can[j] = false
			default:
				ok, _ := path.Match(pat[i], name[j])
				can[j] = ok && next[j+1]
			}
		}
		can, next = next, can
	}
	return next[0]
}

// loadCfignore returns the default exclusions plus dir/.cfignore.
func loadCfignore(dir string) (*Cfignore, error) {
	c := ParseCfignore([]byte(strings.Join(defaultIgnoreLines, "\n")))
	f, err := os.Open(filepath.Join(dir, ".cfignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open .cfignore: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCfignoreBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read .cfignore: %w", err)
	}
	if len(data) > maxCfignoreBytes {
		return nil, fmt.Errorf(".cfignore is larger than %d bytes", maxCfignoreBytes)
	}
	user := ParseCfignore(data)
	c.patterns = append(c.patterns, user.patterns...)
	return c, nil
}

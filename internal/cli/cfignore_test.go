package cli

import (
	"strings"
	"testing"
)

func TestCfignoreMatch(t *testing.T) {
	tests := []struct {
		name     string
		patterns string
		path     string
		isDir    bool
		want     bool
	}{
		{"basename anywhere", "*.log", "a/b/debug.log", false, true},
		{"basename no match", "*.log", "a/b/debug.txt", false, false},
		{"dir name excludes children", "node_modules", "web/node_modules/x/index.js", false, true},
		{"dir-only pattern skips files", "build/", "build", false, false},
		{"dir-only pattern matches dirs", "build/", "build", true, true},
		{"dir-only pattern excludes children", "build/", "build/out.bin", false, true},
		{"anchored leading slash", "/config.yml", "config.yml", false, true},
		{"anchored leading slash not nested", "/config.yml", "sub/config.yml", false, false},
		{"inner slash anchors", "docs/*.md", "docs/a.md", false, true},
		{"inner slash anchors not nested", "docs/*.md", "x/docs/a.md", false, false},
		{"star does not cross slash", "docs/*", "docs/a/b.md", false, true}, // via parent docs/a
		{"leading double star", "**/tmp", "a/b/tmp", true, true},
		{"leading double star top", "**/tmp", "tmp", true, true},
		{"middle double star zero dirs", "a/**/b", "a/b", false, true},
		{"middle double star many dirs", "a/**/b", "a/x/y/b", false, true},
		{"trailing double star", "a/**", "a/x", false, true},
		{"trailing double star not self", "a/**", "a", true, false},
		{"negation re-includes", "*.log\n!keep.log", "keep.log", false, false},
		{"last match wins", "!keep.log\n*.log", "keep.log", false, true},
		{"no re-include under ignored dir", "logs/\n!logs/keep.log", "logs/keep.log", false, true},
		{"comment ignored", "# *.go", "main.go", false, false},
		{"escaped hash", `\#notes`, "#notes", false, true},
		{"escaped bang", `\!important`, "!important", false, true},
		{"question mark", "file?.txt", "file1.txt", false, true},
		{"character class", "file[0-9].txt", "file7.txt", false, true},
		{"character class miss", "file[0-9].txt", "filex.txt", false, false},
		{"bad class skipped", "[\n*.tmp", "x.tmp", false, true},
		{"crlf and trailing spaces", "*.bak  \r", "x.bak", false, true},
		{"empty pattern list", "", "anything", false, false},
		{"root itself never ignored", "*", "", true, false},
		{"dot slash path", "secret.txt", "./secret.txt", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ParseCfignore([]byte(tt.patterns))
			if got := c.Match(tt.path, tt.isDir); got != tt.want {
				t.Errorf("Match(%q, %v) with %q = %v, want %v", tt.path, tt.isDir, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestDefaultIgnores(t *testing.T) {
	c := ParseCfignore([]byte(strings.Join(defaultIgnoreLines, "\n")))
	for _, p := range []string{".git", "sub/.git", ".cfignore", "manifest.yml", "manifest.yaml", ".DS_Store", "a/.svn", "_darcs", ".hg"} {
		if !c.Match(p, p == ".git" || p == "sub/.git") {
			t.Errorf("%s is not ignored by default", p)
		}
	}
	for _, p := range []string{"main.go", "sub/manifest.yml", "gitfile"} {
		if c.Match(p, false) {
			t.Errorf("%s is ignored by default", p)
		}
	}
}

func TestMatchSegmentsManyStars(t *testing.T) {
	pat := strings.Split(strings.Repeat("**/a/", 30)+"b", "/")
	name := strings.Split(strings.Repeat("a/", 200)+"c", "/")
	if matchSegments(pat, name) {
		t.Fatal("matched")
	}
}

func FuzzParseCfignore(f *testing.F) {
	f.Add([]byte("*.log\n!keep.log\nbuild/\n/abs\n**/tmp\na/**/b\n[x"), "a/b/keep.log", false)
	f.Add([]byte("\\#x\n\\!y\n  \n# c\n"), "#x", true)
	f.Fuzz(func(t *testing.T, data []byte, p string, isDir bool) {
		if len(data) > 1<<16 || len(p) > 1<<12 {
			return
		}
		c := ParseCfignore(data)
		_ = c.Match(p, isDir)
		for _, pt := range c.patterns {
			if len(pt.segs) == 0 || len(pt.segs) > maxPatternSegments {
				t.Fatalf("pattern with %d segments", len(pt.segs))
			}
		}
	})
}

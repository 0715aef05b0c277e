package buildpacks

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestFS(t *testing.T) {
	if !slices.Equal(Names(), []string{"go", "nodejs", "python", "java", "staticfile"}) {
		t.Errorf("Names() = %v", Names())
	}
	for _, n := range All() {
		for _, script := range []string{"detect", "supply", "finalize", "release"} {
			if _, err := fs.Stat(FS(), n+"/bin/"+script); err != nil {
				t.Errorf("%s lacks bin/%s: %v", n, script, err)
			}
		}
	}
	for in, want := range map[string]string{
		"go": "go", "go_buildpack": "go", "Nodejs_Buildpack": "nodejs", "node": "nodejs",
		"binary_buildpack": "binary", "staticfile_buildpack": "staticfile", "python": "python", "java_buildpack": "java",
	} {
		if got, ok := Resolve(in); !ok || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "cobol", "/abs/path", "go_buildpack_x"} {
		if got, ok := Resolve(bad); ok {
			t.Errorf("Resolve(%q) = %q", bad, got)
		}
	}
}

// installed copies the embedded buildpacks to a directory with bin/
// scripts executable, as the stager does.
func installed(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(FS(), p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if filepath.Base(filepath.Dir(p)) == "bin" {
			mode = 0o755
		}
		return os.WriteFile(dst, data, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func script(t *testing.T, bps, bp, name string, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bps, bp, "bin", name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestDetect(t *testing.T) {
	requireTools(t, "bash")
	bps := installed(t)
	manifest := "Manifest-Version: 1.0\r\nMain-Class: com.example.Main\r\nCreated-By: test\r\n\r\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string // first built-in (detection order) that detects; "" none
	}{
		{"go", map[string]string{"go.mod": "module x\n"}, "go"},
		{"node", map[string]string{"package.json": "{}"}, "nodejs"},
		{"go before node", map[string]string{"go.mod": "module x\n", "package.json": "{}"}, "go"},
		{"requirements", map[string]string{"requirements.txt": ""}, "python"},
		{"pyproject", map[string]string{"pyproject.toml": ""}, "python"},
		{"pipfile", map[string]string{"Pipfile": ""}, "python"},
		{"exploded jar", map[string]string{"META-INF/MANIFEST.MF": manifest}, "java"},
		{"manifest without main", map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}, ""},
		{"jar file", map[string]string{"app.jar": "PK"}, "java"},
		{"maven", map[string]string{"pom.xml": "<project/>"}, "java"},
		{"static", map[string]string{"Staticfile": "", "index.html": "hi"}, "staticfile"},
		{"nothing", map[string]string{"README": "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := writeApp(t, tt.files)
			got := ""
			for _, n := range All() {
				out, _, err := script(t, bps, n, "detect", nil, app)
				if err == nil {
					if strings.TrimSpace(out) != n {
						t.Errorf("%s detect printed %q", n, out)
					}
					got = n
					break
				}
			}
			if got != tt.want {
				t.Errorf("detected %q, want %q", got, tt.want)
			}
		})
	}
}

type release struct {
	DefaultProcessTypes map[string]string `yaml:"default_process_types"`
}

func web(t *testing.T, bps, bp, app string, env ...string) string {
	t.Helper()
	out, stderr, err := script(t, bps, bp, "release", env, app)
	if err != nil {
		t.Fatalf("%s release: %v\n%s", bp, err, stderr)
	}
	var r release
	if err := yaml.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s release printed invalid YAML %q: %v", bp, out, err)
	}
	return r.DefaultProcessTypes["web"]
}

func TestRelease(t *testing.T) {
	requireTools(t, "bash")
	bps := installed(t)
	tests := []struct {
		name, bp string
		files    map[string]string
		env      []string
		want     string
	}{
		{"go module", "go", map[string]string{"go.mod": "module github.com/acme/shop\n\ngo 1.22\n"}, nil, "./bin/shop"},
		{"go major version", "go", map[string]string{"go.mod": "module example.com/api/v2\n"}, nil, "./bin/api"},
		{"go quoted", "go", map[string]string{"go.mod": "// c\nmodule \"hello\" // x\n"}, nil, "./bin/hello"},
		{"go package spec", "go", map[string]string{"go.mod": "module x\n"}, []string{"GO_INSTALL_PACKAGE_SPEC=x/cmd/server"}, "./bin/server"},
		{"binary", "binary", nil, nil, ""},
		{"static fallback root", "staticfile", map[string]string{"Staticfile": "root: 'public/' # the site\r\n", "public/index.html": "x"}, nil, `python3 $HOME/.staticfile/server.py "$HOME/public"`},
		{"static go server", "staticfile", map[string]string{"Staticfile": "", ".staticfile/bin/server": "x"}, nil, `$HOME/.staticfile/bin/server -root "$HOME"`},
		{"python app.py", "python", map[string]string{"requirements.txt": "", "app.py": ""}, nil, "python3 app.py"},
		{"python main.py", "python", map[string]string{"requirements.txt": "", "main.py": ""}, nil, "python3 main.py"},
		{"python none", "python", map[string]string{"requirements.txt": ""}, nil, ""},
		{"java jar", "java", map[string]string{"my app.jar": "PK"}, nil, `java $JAVA_OPTS -jar "$HOME/my app.jar"`},
		{"java exploded", "java", map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nMain-Class: com.example.Ma\n in\nClass-Path: lib/a.jar lib/b.jar\n  http://x/y.jar /abs.jar\n"}, nil,
			`java $JAVA_OPTS -cp "$HOME:$HOME/lib/a.jar:$HOME/lib/b.jar" com.example.Main`},
	}
	if _, err := exec.LookPath("node"); err == nil {
		tests = append(tests,
			struct {
				name, bp string
				files    map[string]string
				env      []string
				want     string
			}{"node start script", "nodejs", map[string]string{"package.json": `{"scripts":{"start":"node x.js"}}`}, nil, "npm start"},
			struct {
				name, bp string
				files    map[string]string
				env      []string
				want     string
			}{"node main", "nodejs", map[string]string{"package.json": `{"main":"lib/app"}`, "lib/app.js": ""}, nil, "node lib/app.js"},
			struct {
				name, bp string
				files    map[string]string
				env      []string
				want     string
			}{"node server.js", "nodejs", map[string]string{"package.json": `{"main":"missing.js"}`, "server.js": ""}, nil, "node server.js"},
			struct {
				name, bp string
				files    map[string]string
				env      []string
				want     string
			}{"node nothing", "nodejs", map[string]string{"package.json": `{}`}, nil, ""},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := writeApp(t, tt.files)
			if got := web(t, bps, tt.bp, app, tt.env...); got != tt.want {
				t.Errorf("web = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFinalizeErrors: the clear messages of buildpacks that cannot build.
func TestFinalizeErrors(t *testing.T) {
	requireTools(t, "bash")
	bps := installed(t)
	tests := []struct {
		name, bp string
		files    map[string]string
		env      []string
		want     string
	}{
		{"maven", "java", map[string]string{"pom.xml": "<project/>"}, nil, "Maven and Gradle builds are not supported yet"},
		{"go missing", "go", map[string]string{"go.mod": "module x\n"}, []string{"PATH=/nonexistent"}, "go is not installed on the stack 'host'"},
		{"static root escapes", "staticfile", map[string]string{"Staticfile": "root: ../x\n"}, nil, "must stay inside the app"},
		{"static root missing", "staticfile", map[string]string{"Staticfile": "root: public\n"}, nil, "is not a directory of the app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "go missing" {
				if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
					t.Skip("go is found at a well-known path even without PATH")
				}
			}
			app := writeApp(t, tt.files)
			home := t.TempDir()
			env := append([]string{"CF_STACK=host", "TMPDIR=" + home}, tt.env...)
			_, stderr, err := script(t, bps, tt.bp, "finalize", env, app, filepath.Join(home, "cache"), filepath.Join(home, "deps"), "0", filepath.Join(app, ".profile.d"))
			if err == nil {
				t.Fatal("finalize succeeded")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", stderr, tt.want)
			}
		})
	}
}

func TestJavaProfile(t *testing.T) {
	requireTools(t, "bash", "java")
	bps := installed(t)
	app := writeApp(t, map[string]string{"app.jar": "PK"})
	profile := filepath.Join(app, ".profile.d")
	home := t.TempDir()
	if _, stderr, err := script(t, bps, "java", "finalize", nil, app, home, home, "0", profile); err != nil {
		t.Fatalf("finalize: %v\n%s", err, stderr)
	}
	for _, tt := range []struct{ limit, opts, want string }{
		{"256m", "", "-Xmx192m"},
		{"1G", "", "-Xmx768m"},
		{"1024M", "-Dx=1", "-Xmx768m -Dx=1"},
		{"512m", "-Xmx100m", "-Xmx100m"},
		{"", "", ""},
		{"lots", "", ""},
	} {
		cmd := exec.Command("bash", "-c", `. "$1"; printf %s "$JAVA_OPTS"`, "-", filepath.Join(profile, "java.sh"))
		cmd.Env = append(os.Environ(), "MEMORY_LIMIT="+tt.limit, "JAVA_OPTS="+tt.opts)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tt.want {
			t.Errorf("MEMORY_LIMIT=%q JAVA_OPTS=%q: got %q, want %q", tt.limit, tt.opts, out, tt.want)
		}
	}
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed on this machine", tool)
		}
	}
}

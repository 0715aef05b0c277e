package stager

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"web", "web: python3 app.py\n", map[string]string{"web": "python3 app.py"}, ""},
		{"several and comments", "# comment\n\nweb: ./server -p $PORT\nworker:  bundle exec sidekiq  \n", map[string]string{"web": "./server -p $PORT", "worker": "bundle exec sidekiq"}, ""},
		{"crlf and bom", "\xef\xbb\xbfweb: node server.js\r\nclock: node clock.js\r\n", map[string]string{"web": "node server.js", "clock": "node clock.js"}, ""},
		{"colon in command", "web: java -cp a:b Main\n", map[string]string{"web": "java -cp a:b Main"}, ""},
		{"quoted", `web: "bundle exec rackup -p $PORT"` + "\nx: 'it''s'\n", map[string]string{"web": "bundle exec rackup -p $PORT", "x": "it's"}, ""},
		{"later wins", "web: a\nweb: b\n", map[string]string{"web": "b"}, ""},
		{"no newline at end", "web: a", map[string]string{"web": "a"}, ""},
		{"empty", "", map[string]string{}, ""},
		{"not a process line", "web python app.py\n", nil, "line 1 is not"},
		{"bad type", "we b: x\n", nil, "line 1 is not"},
		{"no command", "# x\nweb:\n", nil, `line 2: process type "web" has no command`},
		{"too large", "web: " + strings.Repeat("x", MaxProcfileBytes), nil, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcfile([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadProcfile) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStartCommandPrecedence(t *testing.T) {
	procfile := map[string]string{"web": "from-procfile"}
	release := map[string]string{"web": "from-buildpack"}
	tests := []struct {
		user              string
		procfile, release map[string]string
		want              string
	}{
		{"from-user", procfile, release, "from-user"},
		{"  ", procfile, release, "from-procfile"},
		{"", map[string]string{"worker": "w"}, release, "from-buildpack"},
		{"", nil, nil, ""},
	}
	for _, tt := range tests {
		if got := startCommand(tt.user, tt.procfile, tt.release); got != tt.want {
			t.Errorf("startCommand(%q, %v, %v) = %q, want %q", tt.user, tt.procfile, tt.release, got, tt.want)
		}
	}
}

func TestEntryRelativizer(t *testing.T) {
	tests := []struct {
		base  string
		names []string
		want  []string
	}{
		{"app", []string{"./", "a.txt", "sub/", "sub/b"}, []string{"", "a.txt", "sub", "sub/b"}},
		{"app", []string{"app/", "app/a.txt", "app/app/x"}, []string{"", "a.txt", "app/x"}},
		{"cache", []string{"go-build/", "go-build/x"}, []string{"go-build", "go-build/x"}},
	}
	for _, tt := range tests {
		rel := entryRelativizer(tt.base)
		for i, n := range tt.names {
			got, ok := rel(n)
			if !ok || got != tt.want[i] {
				t.Errorf("%s: rel(%q) = %q, %v; want %q", tt.base, n, got, ok, tt.want[i])
			}
		}
	}
	rel := entryRelativizer("app")
	rel("app/")
	if _, ok := rel("other/x"); ok {
		t.Error("an entry outside the directory was accepted")
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{512: "512B", 2048: "2.0K", 12_900_000: "12.3M", 3 << 30: "3.0G"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 32}
	for i := range 20 {
		_, _ = tb.Write([]byte(strings.Repeat("x", i) + "\n"))
	}
	_, _ = tb.Write([]byte("last line\n\n"))
	got := tb.lastLines(2)
	if !strings.HasSuffix(got, "\nlast line") || strings.Count(got, "\n") != 1 {
		t.Errorf("lastLines = %q", got)
	}
}

// FuzzParseProcfile: never panics; what it accepts is well formed.
func FuzzParseProcfile(f *testing.F) {
	for _, s := range []string{"web: a\n", "web: 'x'\nworker: \"y\"\r\n", "# c\n\nx-y_z: cmd:with:colons", ":", "web:", "\xef\xbb\xbf"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseProcfile(data)
		if err != nil {
			if !errors.Is(err, ErrBadProcfile) {
				t.Fatalf("error %v does not wrap ErrBadProcfile", err)
			}
			return
		}
		for k, v := range got {
			if !validProcessType(k) {
				t.Fatalf("invalid type %q accepted", k)
			}
			if v == "" || v != strings.TrimSpace(v) || strings.ContainsAny(v, "\n") {
				t.Fatalf("bad command %q for %q", v, k)
			}
		}
	})
}

package router

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestNormalizeURI(t *testing.T) {
	cases := []struct {
		in   string
		want string // key(); "" for an error
		wild bool
		path string
	}{
		{"myapp.example.com", "myapp.example.com", false, ""},
		{"MyApp.Example.COM", "myapp.example.com", false, ""},
		{"myapp.example.com/", "myapp.example.com", false, ""},
		{"myapp.example.com//", "myapp.example.com", false, ""},
		{"myapp.example.com?x=1", "myapp.example.com", false, ""},
		{"myapp.example.com/Ctx/Sub/?q", "myapp.example.com/ctx/sub", false, "/ctx/sub"},
		{" myapp.example.com\n", "myapp.example.com", false, ""},
		{"myapp.example.com:8080/ctx", "myapp.example.com/ctx", false, "/ctx"},
		{"myapp.example.com.", "myapp.example.com", false, ""},
		{"*.Wild.example.com", "*.wild.example.com", true, ""},
		{"*.wild.example.com/api", "*.wild.example.com/api", true, "/api"},
		{"under_score.example.com", "under_score.example.com", false, ""},
		{"", "", false, ""},
		{"/", "", false, ""},
		{"*", "", false, ""},
		{"*.", "", false, ""},
		{"a.*.example.com", "", false, ""},
		{"bad host.example.com", "", false, ""},
		{"a..b", "", false, ""},
		{".a.b", "", false, ""},
		{"a.b/with space", "", false, ""},
		{"a.b/frag#x", "", false, ""},
		{"[::1]:80", "", false, ""},
		{strings.Repeat("a", 300) + ".com", "", false, ""},
	}
	for _, c := range cases {
		u, err := normalizeURI(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("normalizeURI(%q) = %q, want an error", c.in, u.key())
			} else if !errors.Is(err, ErrInvalidURI) {
				t.Errorf("normalizeURI(%q) error %v does not wrap ErrInvalidURI", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("normalizeURI(%q): %v", c.in, err)
			continue
		}
		if u.key() != c.want || u.wildcard != c.wild || u.path != c.path {
			t.Errorf("normalizeURI(%q) = %+v (key %q), want key %q wildcard %v path %q", c.in, u, u.key(), c.want, c.wild, c.path)
		}
	}
}

func TestRequestHost(t *testing.T) {
	cases := map[string]string{
		"myapp.example.com":       "myapp.example.com",
		"MyApp.Example.COM:8080":  "myapp.example.com",
		"myapp.example.com.":      "myapp.example.com",
		"myapp.example.com.:8080": "myapp.example.com",
		"[::1]:8080":              "::1",
		"[::1]":                   "::1",
		"":                        "",
		":80":                     "",
	}
	for in, want := range cases {
		if got := requestHost(in); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestHostDoesNotAllocateForLowercase(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = requestHost("myapp.example.com:8080") })
	if allocs != 0 {
		t.Errorf("requestHost allocated %v times", allocs)
	}
}

func TestPathMatches(t *testing.T) {
	cases := []struct {
		path, prefix string
		want         bool
	}{
		{"/anything", "", true},
		{"/api", "/api", true},
		{"/api/", "/api", true},
		{"/api/x", "/api", true},
		{"/API/x", "/api", true},
		{"/apix", "/api", false},
		{"/ap", "/api", false},
		{"", "/api", false},
		{"/api/v2/x", "/api/v2", true},
	}
	for _, c := range cases {
		if got := pathMatches(c.path, c.prefix); got != c.want {
			t.Errorf("pathMatches(%q, %q) = %v, want %v", c.path, c.prefix, got, c.want)
		}
	}
}

// gorouter's own check of X-CF-APP-INSTANCE.
var appInstanceRE = regexp.MustCompile(`^[\da-f]{8}-([\da-f]{4}-){3}[\da-f]{12}:\d+$`)

func TestParseAppInstance(t *testing.T) {
	cases := map[string]bool{
		testAppGUID + ":0":                       true,
		testAppGUID + ":12":                      true,
		testAppGUID + ":":                        false,
		testAppGUID:                              false,
		strings.ToUpper(testAppGUID) + ":0":      false,
		testAppGUID + ":1:2":                     false,
		testAppGUID + ":-1":                      false,
		"0b0c6d3e6f1a-4c55-9d6a-1f3e4c5b6a7d0:0": false,
		"zb0c6d3e-6f1a-4c55-9d6a-1f3e4c5b6a7d:0": false,
		"":                                       false,
	}
	for in, ok := range cases {
		guid, idx, got := parseAppInstance(in)
		if got != ok {
			t.Errorf("parseAppInstance(%q) ok = %v, want %v", in, got, ok)
		}
		if got && guid+":"+idx != in {
			t.Errorf("parseAppInstance(%q) = %q, %q", in, guid, idx)
		}
	}
}

func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{"myapp.example.com", "*.Wild.example.com/API/?x", "a.b:80/c/", "[::1]:80", "a..b", "x/y z", "héllo.example.com/Ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := normalizeURI(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidURI) {
				t.Fatalf("error %v does not wrap ErrInvalidURI", err)
			}
			return
		}
		if validHost(u.host) != nil {
			t.Fatalf("normalizeURI(%q) accepted host %q", raw, u.host)
		}
		if strings.HasSuffix(u.path, "/") || strings.ContainsAny(u.path, "? #") {
			t.Fatalf("normalizeURI(%q) path %q not normalised", raw, u.path)
		}
		if u.path != "" && u.path[0] != '/' {
			t.Fatalf("normalizeURI(%q) path %q", raw, u.path)
		}
		// Normalising is idempotent.
		again, err := normalizeURI(u.key())
		if err != nil || again != u {
			t.Fatalf("normalizeURI(%q) = %+v, but normalising its key %q gives %+v, %v", raw, u, u.key(), again, err)
		}
		// A request for the route's own host and path finds it.
		if !u.wildcard {
			tbl := buildTable([]*pool{{host: u.host, path: u.path}}, []bool{false})
			if tbl.lookup(requestHost(u.host), u.path+"/x") == nil {
				t.Fatalf("route %q not found by its own host", u.key())
			}
		}
	})
}

func FuzzRequestHost(f *testing.F) {
	for _, s := range []string{"MyApp.Example.COM:8080", "[::1]:80", "a.", ":", "[", "]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := requestHost(h)
		if strings.ContainsAny(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("requestHost(%q) = %q is not lowercase", h, got)
		}
		if len(got) > len(h) {
			t.Fatalf("requestHost(%q) = %q grew", h, got)
		}
		if requestHost(got) != got && !strings.HasPrefix(got, "[") && !strings.ContainsAny(got, ":") && !strings.HasSuffix(got, ".") {
			t.Fatalf("requestHost(%q) = %q is not stable", h, got)
		}
		// A host that routes (valid DNS name) is found case-insensitively
		// and with any port.
		if validHost(got) == nil && requestHost(strings.ToUpper(got)+":8080") != got {
			t.Fatalf("requestHost of %q upper-cased with a port differs", got)
		}
	})
}

func FuzzParseAppInstance(f *testing.F) {
	for _, s := range []string{testAppGUID + ":0", testAppGUID, "a:b", strings.ToUpper(testAppGUID) + ":1", testAppGUID + ":1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		guid, idx, ok := parseAppInstance(v)
		if want := appInstanceRE.MatchString(v); ok != want {
			t.Fatalf("parseAppInstance(%q) ok = %v, gorouter's regexp says %v", v, ok, want)
		}
		if ok && guid+":"+idx != v {
			t.Fatalf("parseAppInstance(%q) = %q, %q", v, guid, idx)
		}
	})
}

package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCLISession drives a whole session of the CLI the way a team would
// set up a platform: orgs and spaces, domains, routes, an app, then tear
// it down.
func TestCLISession(t *testing.T) {
	e := startPlatform(t, startOpts{})
	want := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	want(e.mustIngot("create-org", "acme"), "Creating org acme", "OK")
	want(e.mustIngot("create-space", "web", "-o", "acme"), "Creating space web in org acme", "OK")
	want(e.mustIngot("target", "-o", "acme", "-s", "web"), "acme", "web")
	want(e.mustIngot("orgs"), "acme", "ingot")
	want(e.mustIngot("spaces"), "web")
	want(e.mustIngot("create-shared-domain", "shared.test"), "OK")
	want(e.mustIngot("create-private-domain", "acme", "acme.test"), "OK")
	out := e.mustIngot("domains")
	want(out, "shared.test", "acme.test", "private", e.p.Domain)

	dir := example(t, "static")
	e.mustIngot("push", "site", "-p", dir, "--no-manifest")
	e.waitStatus("site", "/", http.StatusOK, 30*time.Second)

	// A route on the private domain, mapped and unmapped.
	want(e.mustIngot("create-route", "acme.test", "--hostname", "www"), "www.acme.test has been created")
	want(e.mustIngot("map-route", "site", "acme.test", "--hostname", "www"), "OK")
	// Mapping creates a missing route, here with a path.
	want(e.mustIngot("map-route", "site", "shared.test", "--hostname", "docs", "--path", "/guide"), "OK")
	out = e.mustIngot("routes")
	want(out, "www", "acme.test", "docs", "/guide", "site")
	// getHost answers the status, or -1 when the router found no route.
	getHost := func(host, path string) int {
		req, _ := http.NewRequest(http.MethodGet, e.p.RouterURL+path, nil)
		req.Host = host
		resp, err := e.http.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		if resp.Header.Get("X-Cf-Routererror") != "" {
			return -1
		}
		return resp.StatusCode
	}
	eventually(t, 10*time.Second, "www.acme.test served", func() bool { return getHost("www.acme.test", "/") == 200 })
	eventually(t, 10*time.Second, "docs.shared.test/guide served", func() bool { return getHost("docs.shared.test", "/guide/") > 0 })
	want(e.mustIngot("unmap-route", "site", "acme.test", "--hostname", "www"), "OK")
	eventually(t, 10*time.Second, "www.acme.test gone", func() bool { return getHost("www.acme.test", "/") == -1 })
	want(e.mustIngot("delete-route", "acme.test", "--hostname", "www", "-f"), "OK")
	want(e.mustIngot("delete-route", "acme.test", "--hostname", "www", "-f"), "does not exist")
	want(e.mustIngot("delete-domain", "shared.test", "-f"), "OK")
	eventually(t, 10*time.Second, "docs.shared.test gone with its domain", func() bool { return getHost("docs.shared.test", "/guide/") == -1 })
	if out, err := e.ingot("delete-domain", "shared.test"); err == nil || !strings.Contains(out, "use -f") {
		t.Errorf("delete-domain without -f and without a terminal: %v\n%s", err, out)
	}

	// Renames keep the target.
	want(e.mustIngot("rename-space", "web", "www"), "OK")
	want(e.mustIngot("rename-org", "acme", "acme-corp"), "OK")
	want(e.mustIngot("target"), "acme-corp", "www")
	want(e.mustIngot("apps"), "site")

	// Mistakes get clear errors.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create-org", "acme-corp"}, "already exists"},
		{[]string{"create-private-domain", "nope", "x.test"}, "not found"},
		{[]string{"map-route", "nope", "acme.test"}, "App 'nope' not found"},
		{[]string{"create-route", "no.such.domain"}, "not found"},
		{[]string{"create-shared-domain", "bad_domain.test"}, "invalid character"},
	} {
		out, err := e.ingot(c.args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("ingot %s: err %v, want an error with %q:\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
	}

	want(e.mustIngot("delete", "site", "-r", "-f"), "OK")
	want(e.mustIngot("logout"), "OK")
	if out, err := e.ingot("apps"); err == nil {
		t.Errorf("apps after logout worked:\n%s", out)
	}
}

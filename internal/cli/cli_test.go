package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func testOptions() options {
	return options{
		pollInterval:   time.Millisecond,
		statsInterval:  time.Millisecond,
		logInterval:    time.Millisecond,
		stagingTimeout: 20 * time.Second,
		startupTimeout: 20 * time.Second,
		requestTimeout: 10 * time.Second,
		now:            time.Now,
	}
}

type result struct {
	out, err string
	code     int
}

// runCLI runs `ingot args...` with stdin and returns its output and exit
// code.
func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runCLIWith(t, testOptions(), stdin, args...)
}

func runCLIWith(t *testing.T, o options, stdin string, args ...string) result {
	t.Helper()
	root := newRootCommand(o)
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Execute(ctx, root)
	return result{out: out.String(), err: errOut.String(), code: code}
}

// loggedIn writes the config `ingot up` would: API, admin credentials and
// the target.
func loggedIn(t *testing.T, f *fakeCC) {
	t.Helper()
	t.Setenv("INGOT_HOME", t.TempDir())
	t.Setenv("INGOT_ROUTER_URL", "")
	if err := SaveConfig(&Config{API: f.srv.URL, Username: "admin", Password: "secret",
		OrgGUID: fakeOrg, OrgName: "main", SpaceGUID: fakeSpace, SpaceName: "dev"}); err != nil {
		t.Fatal(err)
	}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// inOrder checks that calls contains each want entry in order.
func inOrder(t *testing.T, calls []string, want ...string) {
	t.Helper()
	i := 0
	for _, c := range calls {
		if i < len(want) && c == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("call %q missing or out of order in:\n%s", want[i], strings.Join(calls, "\n"))
	}
}

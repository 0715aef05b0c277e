package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/pkg/client"
)

func mustFail(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := runCLI(t, stdin, args...)
	if r.code == 0 {
		t.Fatalf("ingot %s succeeded:\n%s", strings.Join(args, " "), r.out)
	}
	return r
}

func loadConfig(t *testing.T) *Config {
	t.Helper()
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUserCommands(t *testing.T) {
	_, _, st := startPlatform(t)
	ctx := context.Background()
	admin := loadConfig(t)

	mustContain(t, "create-user", mustRun(t, "create-user", "alice", "alice-pw"), "Creating user alice as admin...", "OK")
	mustContain(t, "create-user again", mustRun(t, "create-user", "alice", "other"), "User 'alice' already exists.")
	u, err := st.Users().GetByName(ctx, "uaa", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CCUsers().Get(ctx, u.GUID); err != nil {
		t.Fatalf("create-user did not register the user with the API: %v", err)
	}
	if ms, _ := st.Groups().ListForUser(ctx, u.GUID); len(ms) != 0 {
		t.Fatalf("a new user got groups: %+v", ms)
	}

	// alice logs in and changes her password.
	// (ingot login would also target an org, which needs a role.)
	loginAs(t, admin, "alice", "alice-pw")
	r := mustFail(t, "wrong\nnew-pw\nnew-pw\n", "passwd")
	mustContain(t, "passwd with a wrong current password", r.err, "Old password is incorrect")
	mustFail(t, "alice-pw\nnew-pw\ntypo\n", "passwd")
	r = runCLI(t, "alice-pw\nnew-pw\nnew-pw\n", "passwd")
	if r.code != 0 {
		t.Fatalf("passwd: %d %s %s", r.code, r.out, r.err)
	}
	mustContain(t, "passwd", r.out, "Changing password for alice...", "OK", "Please log in again.")
	if c := loadConfig(t); c.AccessToken != "" || c.RefreshToken != "" {
		t.Fatal("passwd kept the revoked tokens")
	}
	if _, err := client.Login(ctx, admin.API, "alice", "alice-pw"); err == nil {
		t.Fatal("the old password still works")
	}
	loginAs(t, admin, "alice", "new-pw")
	// alice is no admin: she can neither create users nor reset passwords.
	mustFail(t, "", "create-user", "mallory", "x")
	mustFail(t, "x\nx\n", "passwd", "--user", "admin")

	// The admin resets alice's password.
	if err := SaveConfig(admin); err != nil {
		t.Fatal(err)
	}
	mustFail(t, "reset-pw\n", "passwd", "--user", "alice") // no verification line
	r = runCLI(t, "reset-pw\nreset-pw\n", "passwd", "--user", "alice")
	if r.code != 0 {
		t.Fatalf("passwd --user: %s %s", r.out, r.err)
	}
	if _, err := client.Login(ctx, admin.API, "alice", "reset-pw"); err != nil {
		t.Fatalf("login with the reset password: %v", err)
	}
	mustFail(t, "a\na\n", "passwd", "--user", "nobody")

	// The admin changes their own password: the stored credentials follow.
	r = runCLI(t, "secret\nnew-admin-pw\nnew-admin-pw\n", "passwd")
	if r.code != 0 {
		t.Fatalf("admin passwd: %s %s", r.out, r.err)
	}
	if c := loadConfig(t); c.Password != "new-admin-pw" || c.AccessToken == "" {
		t.Fatalf("config after admin passwd: password %q, token %v", c.Password, c.AccessToken != "")
	}
	mustRun(t, "create-user", "bob", "bob-pw")

	// delete-user ends alice's sessions and removes both records.
	mustFail(t, "", "delete-user", "alice") // no terminal, no -f
	mustContain(t, "delete-user", mustRun(t, "delete-user", "alice", "-f"), "Deleting user alice as admin...", "OK")
	mustContain(t, "delete-user again", mustRun(t, "delete-user", "alice", "-f"), "User 'alice' does not exist.")
	if _, err := st.Users().Get(ctx, u.GUID); err == nil {
		t.Fatal("uaa user remains")
	}
	if _, err := st.CCUsers().Get(ctx, u.GUID); err == nil {
		t.Fatal("cc user remains")
	}
	if _, err := client.Login(ctx, admin.API, "alice", "reset-pw"); err == nil {
		t.Fatal("deleted user logged in")
	}
}

func TestClientAndKeyCommands(t *testing.T) {
	_, _, st := startPlatform(t)
	ctx := context.Background()
	admin := loadConfig(t)
	mustContain(t, "create-client", mustRun(t, "create-client", "ci", "--secret", "ci-secret", "--scopes", "cloud_controller.admin,cloud_controller.read"), "OK")
	c, err := st.OAuthClients().GetByClientID(ctx, "ci")
	if err != nil || strings.Join(c.Authorities, ",") != "cloud_controller.admin,cloud_controller.read" || strings.Join(c.GrantTypes, ",") != "client_credentials" {
		t.Fatalf("client record: %+v %v", c, err)
	}
	mustFail(t, "", "create-client", "bad", "--secret", "s", "--grant-types", "implicit")

	before, err := newTestClient(t, admin).SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "rotate-signing-key")
	mustContain(t, "rotate-signing-key", out, "OK", "New tokens are signed with key key-")
	after, err := newTestClient(t, admin).SigningKeys(ctx)
	if err != nil || len(after) != len(before)+1 || !strings.Contains(out, after[0].Kid) {
		t.Fatalf("keys before %v after %v (%v)", before, after, err)
	}
	// The CLI's session (a token signed by the old key) keeps working.
	mustRun(t, "apps")
	mustContain(t, "delete-client", mustRun(t, "delete-client", "ci", "-f"), "OK")
	if _, err := st.OAuthClients().GetByClientID(ctx, "ci"); err == nil {
		t.Fatal("client remains")
	}
}

// loginAs writes a config logged in as user (tokens only, no password).
func loginAs(t *testing.T, admin *Config, user, pw string) {
	t.Helper()
	tok, err := client.Login(context.Background(), admin.API, user, pw)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	if err := SaveConfig(&Config{API: admin.API, Username: user, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}); err != nil {
		t.Fatal(err)
	}
}

func newTestClient(t *testing.T, cfg *Config) *client.Client {
	t.Helper()
	uaa := client.NewUAA(cfg.API, nil, "")
	c, err := client.New(client.Config{APIURL: cfg.API, Token: client.NewPasswordTokenSource(uaa, cfg.Username, cfg.Password, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

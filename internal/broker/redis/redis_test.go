package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/osbtest"
	"github.com/ingot-paas/ingot/internal/broker/redis"
)

const defaultURL = "redis://127.0.0.1:6379/0"

func adminURL() string { return osbtest.EnvOr("INGOT_TEST_REDIS_URL", defaultURL) }

// adminClient connects to the test server or skips the test.
func adminClient(t *testing.T) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(adminURL())
	if err != nil {
		t.Fatal(err)
	}
	opts.DialTimeout = 3 * time.Second
	rdb := goredis.NewClient(opts)
	osbtest.RequireServer(t, "Redis", adminURL(), "INGOT_TEST_REDIS_URL", func(ctx context.Context) error {
		return rdb.Ping(ctx).Err()
	}, func() { _ = rdb.Close() })
	return rdb
}

type env struct {
	*osbtest.Env[*redis.Broker]
	rdb    *goredis.Client
	prefix string
}

// newEnv starts a broker with a state prefix of its own; at the end it
// deprovisions whatever the test left and deletes the state.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{rdb: adminClient(t), prefix: osbtest.StateName() + ":"}
	e.Env = osbtest.NewEnv(t, func(user, pass string, log *slog.Logger) (*redis.Broker, error) {
		return redis.New(redis.Config{
			ListenAddr: "127.0.0.1:0", AdminURL: adminURL(), Username: user, Password: pass,
			StatePrefix: e.prefix, MaxAdminConns: 4,
		}, log)
	}, func() []string {
		vals, _ := e.rdb.HVals(context.Background(), e.prefix+"instances").Result()
		return vals
	}, func(t *testing.T) {
		if err := e.rdb.Del(context.Background(), e.prefix+"instances", e.prefix+"bindings").Err(); err != nil {
			t.Errorf("delete state: %v", err)
		}
	})
	return e
}

func clientFor(t *testing.T, creds map[string]any) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(creds["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	opts.DialTimeout = 3 * time.Second
	opts.MaxRetries = -1
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var credentials = osbtest.Credentials

func isNoPerm(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }

func TestProvisionBindIsolateRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	instA, instB := "rd-a-"+uuid.NewString(), "rd-b-"+uuid.NewString()
	if resp := e.C.Provision(t, instA, redis.ServiceID, redis.PlanSharedID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision: %d %s", resp.Status, resp.Raw)
	}
	credsA1 := credentials(t, e.C.Bind(t, instA, "a1", redis.ServiceID, redis.PlanSharedID, "app-a", nil))
	for _, k := range []string{"uri", "hostname", "port", "username", "password", "key_prefix"} {
		if _, ok := credsA1[k]; !ok {
			t.Fatalf("credentials lack %q", k)
		}
	}
	prefixA := credsA1["key_prefix"].(string)
	if prefixA != redis.KeyPrefix(instA) || !strings.HasPrefix(credsA1["uri"].(string), "redis://") {
		t.Fatalf("credentials %v", credsA1)
	}
	a1 := clientFor(t, credsA1)
	if err := a1.Set(ctx, prefixA+"greeting", "hello", 0).Err(); err != nil {
		t.Fatalf("set in own key space: %v", err)
	}
	if v, err := a1.Get(ctx, prefixA+"greeting").Result(); err != nil || v != "hello" {
		t.Fatalf("get: %q %v", v, err)
	}
	if err := a1.HSet(ctx, prefixA+"h", "f", "v").Err(); err != nil {
		t.Fatalf("hset: %v", err)
	}
	// Outside the key space, and the commands that look beyond it.
	for name, err := range map[string]error{
		"set other key":  a1.Set(ctx, "other:key", "x", 0).Err(),
		"get state":      a1.HGetAll(ctx, e.prefix+"bindings").Err(),
		"keys":           a1.Keys(ctx, "*").Err(),
		"scan":           a1.Scan(ctx, 0, "*", 10).Err(),
		"flushdb":        a1.FlushDB(ctx).Err(),
		"select":         a1.Do(ctx, "SELECT", "1").Err(),
		"config":         a1.ConfigGet(ctx, "*").Err(),
		"acl list":       a1.ACLList(ctx).Err(),
		"publish other":  a1.Publish(ctx, "news", "x").Err(),
		"function flush": a1.FunctionFlush(ctx).Err(),
	} {
		if !isNoPerm(err) {
			t.Errorf("%s: %v, want NOPERM", name, err)
		}
	}
	if err := a1.Publish(ctx, prefixA+"events", "x").Err(); err != nil {
		t.Errorf("publish on own channel: %v", err)
	}

	// A second binding of the instance shares the key space.
	credsA2 := credentials(t, e.C.Bind(t, instA, "a2", redis.ServiceID, redis.PlanSharedID, "app-a2", nil))
	a2 := clientFor(t, credsA2)
	if v, err := a2.Get(ctx, prefixA+"greeting").Result(); err != nil || v != "hello" {
		t.Fatalf("second binding reads: %q %v", v, err)
	}

	// Another instance's binding cannot.
	if resp := e.C.Provision(t, instB, redis.ServiceID, redis.PlanSharedID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision B: %d %s", resp.Status, resp.Raw)
	}
	credsB := credentials(t, e.C.Bind(t, instB, "b1", redis.ServiceID, redis.PlanSharedID, "app-b", nil))
	b1 := clientFor(t, credsB)
	if err := b1.Get(ctx, prefixA+"greeting").Err(); !isNoPerm(err) {
		t.Fatalf("instance B reads instance A's key: %v", err)
	}
	if err := b1.Set(ctx, credsB["key_prefix"].(string)+"k", "b", 0).Err(); err != nil {
		t.Fatalf("instance B writes its own key: %v", err)
	}

	// Unbind revokes: the connection is killed and the password is dead.
	if resp := e.C.Unbind(t, instA, "a1", redis.ServiceID, redis.PlanSharedID); resp.Status != http.StatusOK {
		t.Fatalf("unbind: %d %s", resp.Status, resp.Raw)
	}
	if err := a1.Get(ctx, prefixA+"greeting").Err(); err == nil {
		t.Fatal("the unbound binding's client still works")
	}
	fresh := clientFor(t, credsA1)
	if err := fresh.Ping(ctx).Err(); err == nil {
		t.Fatal("connected with an unbound binding's password")
	}
	if v, err := a2.Get(ctx, prefixA+"greeting").Result(); err != nil || v != "hello" {
		t.Fatalf("data after unbind: %q %v", v, err)
	}

	// Plan changes are not offered.
	if resp := e.C.Update(t, instA, redis.ServiceID, "no-such-plan", nil); resp.Status != http.StatusBadRequest {
		t.Fatalf("update: %d %s", resp.Status, resp.Raw)
	}

	// Deprovision deletes the keys and every user.
	if resp := e.C.Deprovision(t, instA, redis.ServiceID, redis.PlanSharedID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision: %d %s", resp.Status, resp.Raw)
	}
	if n, err := e.rdb.Exists(ctx, prefixA+"greeting", prefixA+"h").Result(); err != nil || n != 0 {
		t.Fatalf("keys after deprovision: %d %v", n, err)
	}
	if err := e.rdb.Do(ctx, "ACL", "GETUSER", credsA2["username"]).Err(); !errors.Is(err, goredis.Nil) {
		t.Fatalf("binding user after deprovision: %v", err)
	}
	if err := clientFor(t, credsA2).Ping(ctx).Err(); err == nil {
		t.Fatal("connected to a deprovisioned instance")
	}
	// Instance B is untouched.
	if v, err := b1.Get(ctx, credsB["key_prefix"].(string)+"k").Result(); err != nil || v != "b" {
		t.Fatalf("instance B after A's deprovision: %q %v", v, err)
	}
	if resp := e.C.Deprovision(t, instB, redis.ServiceID, redis.PlanSharedID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision B: %d %s", resp.Status, resp.Raw)
	}
}

func TestDeprovisionDeletesManyKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := "rd-many-" + uuid.NewString()
	if resp := e.C.Provision(t, id, redis.ServiceID, redis.PlanSharedID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision: %d %s", resp.Status, resp.Raw)
	}
	prefix := redis.KeyPrefix(id)
	pipe := e.rdb.Pipeline()
	for i := range 2000 {
		pipe.Set(ctx, prefix+"k"+string(rune('a'+i%26))+uuid.NewString()[:6], i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := e.C.Deprovision(t, id, redis.ServiceID, redis.PlanSharedID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision: %d %s", resp.Status, resp.Raw)
	}
	keys, _, err := e.rdb.Scan(ctx, 0, prefix+"*", 10000).Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("%d keys left (%v)", len(keys), err)
	}
}

func TestReconcileRestoresLostUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := "rd-reconcile-" + uuid.NewString()
	if resp := e.C.Provision(t, id, redis.ServiceID, redis.PlanSharedID, nil); resp.Status != http.StatusCreated {
		t.Fatalf("provision: %d %s", resp.Status, resp.Raw)
	}
	creds := credentials(t, e.C.Bind(t, id, "b1", redis.ServiceID, redis.PlanSharedID, "app", nil))
	gone := credentials(t, e.C.Bind(t, id, "b2", redis.ServiceID, redis.PlanSharedID, "app", nil))
	if resp := e.C.Unbind(t, id, "b2", redis.ServiceID, redis.PlanSharedID); resp.Status != http.StatusOK {
		t.Fatalf("unbind: %d", resp.Status)
	}
	// The server forgets its users (a restart without an aclfile).
	if err := e.rdb.ACLDelUser(ctx, creds["username"].(string)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := clientFor(t, creds).Ping(ctx).Err(); err == nil {
		t.Fatal("user still works after ACL DELUSER")
	}
	n, err := e.Broker.Reconcile(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reconcile: restored %d, err %v; want 1", n, err)
	}
	c := clientFor(t, creds)
	if err := c.Set(ctx, creds["key_prefix"].(string)+"k", "v", 0).Err(); err != nil {
		t.Fatalf("restored user: %v", err)
	}
	if err := c.Set(ctx, "outside", "v", 0).Err(); !isNoPerm(err) {
		t.Fatalf("restored user outside its key space: %v", err)
	}
	// The unbound binding stays gone.
	if err := clientFor(t, gone).Ping(ctx).Err(); err == nil {
		t.Fatal("reconcile resurrected an unbound binding")
	}
	if n, err := e.Broker.Reconcile(ctx); err != nil || n != 0 {
		t.Fatalf("second reconcile: %d %v", n, err)
	}
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	osbtest.Run(t, e.Target, osbtest.Options{
		RequiredCredentials: []string{"uri", "hostname", "port", "username", "password", "key_prefix"},
		CheckCredentials: func(t *testing.T, creds map[string]any) {
			c := clientFor(t, creds)
			key := creds["key_prefix"].(string) + "probe"
			if err := c.Set(context.Background(), key, "1", 0).Err(); err != nil {
				t.Fatalf("set with binding credentials: %v", err)
			}
		},
	})
}

func TestConformanceOverRun(t *testing.T) {
	rdb := adminClient(t)
	prefix := osbtest.StateName() + ":"
	t.Cleanup(func() { _ = rdb.Del(context.Background(), prefix+"instances", prefix+"bindings").Err() })
	b, err := redis.New(redis.Config{ListenAddr: "127.0.0.1:0", AdminURL: adminURL(),
		Username: "u", Password: "p", StatePrefix: prefix, ReconcileInterval: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := osbtest.RunBroker(t, b, "u", "p")
	id := "rd-run-" + uuid.NewString()
	c.ProvisionAsyncAndWait(t, id, redis.ServiceID, redis.PlanSharedID, nil)
	creds := credentials(t, c.Bind(t, id, "b1", redis.ServiceID, redis.PlanSharedID, "app", nil))
	// The reconcile loop of Run brings back a user the server lost.
	if err := rdb.ACLDelUser(context.Background(), creds["username"].(string)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for clientFor(t, creds).Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the reconcile loop did not restore the user")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp := c.Deprovision(t, id, redis.ServiceID, redis.PlanSharedID); resp.Status != http.StatusOK {
		t.Fatalf("deprovision: %d %s", resp.Status, resp.Raw)
	}
}

func TestStore(t *testing.T) {
	rdb := adminClient(t)
	prefix := osbtest.StateName() + ":"
	t.Cleanup(func() { _ = rdb.Del(context.Background(), prefix+"instances", prefix+"bindings").Err() })
	osbtest.RunStore(t, func(*testing.T) osb.Store { return redis.NewStore(rdb, prefix) })
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]redis.Config{
		"no-admin-url":   {Username: "u", Password: "p"},
		"no-credentials": {AdminURL: defaultURL},
		"bad-prefix":     {AdminURL: defaultURL, Username: "u", Password: "p", StatePrefix: "si:state:"},
		"bad-url":        {AdminURL: "http://x", Username: "u", Password: "p"},
	} {
		if _, err := redis.New(cfg, nil); !errors.Is(err, redis.ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", name, err)
		}
	}
}

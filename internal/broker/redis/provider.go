package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// deniedCommands are refused to binding users on top of @admin and
// @dangerous: commands that see or reach keys beyond the user's pattern
// (key names of other instances, other databases) or act on server-wide
// state shared by every instance.
var deniedCommands = []string{
	"-select", "-swapdb", "-move", "-copy",
	"-scan", "-randomkey", "-dbsize",
	"-function", "-script|flush", "-script|kill",
	"-pubsub|channels", "-pubsub|shardchannels", "-pubsub|numpat",
}

// scanBatch bounds the keys fetched and unlinked per round trip.
const scanBatch = 500

type provider struct {
	rdb     *goredis.Client
	scheme  string
	host    string
	port    int
	db      int
	aclFile bool
	log     *slog.Logger
}

func newProvider(ctx context.Context, rdb *goredis.Client, scheme, host string, port, db int, log *slog.Logger) (*provider, error) {
	if _, err := rdb.ACLWhoAmI(ctx).Result(); err != nil {
		return nil, fmt.Errorf("connect to the admin server (ACL WHOAMI): %w", err)
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("inspect the server: %w", err)
	}
	if v := infoField(info, "redis_version"); !atLeast(v, 6, 2) {
		return nil, fmt.Errorf("redis %s is too old: ACL channel patterns need 6.2 or later", v)
	}
	p := &provider{rdb: rdb, scheme: scheme, host: host, port: port, db: db, log: log}
	if cfg, err := rdb.ConfigGet(ctx, "aclfile").Result(); err == nil && cfg["aclfile"] != "" {
		p.aclFile = true
	}
	return p, nil
}

func infoField(info, key string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return ""
}

func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// KeyPrefix is the prefix of an instance's keys and channels.
func KeyPrefix(instanceID string) string { return "si:" + instanceID + ":" }

func userPrefix(instanceID string) string { return "b_" + osb.NameHash(instanceID)[:16] + "_" }

// UserName is the ACL user of a binding.
func UserName(instanceID, bindingID string) string {
	return userPrefix(instanceID) + osb.NameHash(instanceID, bindingID)[:16]
}

func (p *provider) ValidateInstanceParameters(_ context.Context, planID string, raw json.RawMessage) error {
	if planID != PlanSharedID {
		return fmt.Errorf("%w: unknown plan %q", osb.ErrBadRequest, planID)
	}
	return brokerkit.NoParameters(raw)
}

func (p *provider) ValidateBindingParameters(_ context.Context, _ *osb.Instance, raw json.RawMessage) error {
	return brokerkit.NoParameters(raw)
}

// Provision has nothing to create: the key space exists as soon as a
// binding user writes to it. It checks that the server is reachable, so a
// provision does not succeed against a server that is down.
func (p *provider) Provision(ctx context.Context, _ *osb.Instance) error {
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("reach the server: %w", err)
	}
	return nil
}

// Update has nothing to change: there is one plan and no parameters.
func (p *provider) Update(ctx context.Context, _ *osb.Instance, _ string, _ json.RawMessage) error {
	return p.rdb.Ping(ctx).Err()
}

// rules are a binding user's full ACL (starting from reset, so that a
// repeated SETUSER leaves exactly this).
func (p *provider) rules(instanceID, password string) []string {
	prefix := KeyPrefix(instanceID)
	rules := []string{"reset", "on", ">" + password, "~" + prefix + "*", "resetchannels", "&" + prefix + "*",
		"+@all", "-@admin", "-@dangerous"}
	rules = append(rules, deniedCommands...)
	if p.db != 0 {
		rules = append(rules, "+select|"+strconv.Itoa(p.db))
	}
	return rules
}

func (p *provider) saveACL(ctx context.Context) error {
	if !p.aclFile {
		return nil
	}
	if err := p.rdb.Do(ctx, "ACL", "SAVE").Err(); err != nil {
		return fmt.Errorf("acl save: %w", err)
	}
	return nil
}

func (p *provider) userExists(ctx context.Context, name string) (bool, error) {
	err := p.rdb.Do(ctx, "ACL", "GETUSER", name).Err()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acl getuser %s: %w", name, err)
	}
	return true, nil
}

func (p *provider) Bind(ctx context.Context, inst *osb.Instance, b *osb.Binding) (map[string]any, error) {
	user := UserName(inst.ID, b.ID)
	password, err := osb.RandomSecret()
	if err != nil {
		return nil, err
	}
	// The rules carry the password: errors name the step only.
	if err := p.rdb.ACLSetUser(ctx, user, p.rules(inst.ID, password)...).Err(); err != nil {
		return nil, fmt.Errorf("acl setuser %s: %s", user, redactPassword(err, password))
	}
	if err := p.saveACL(ctx); err != nil {
		return nil, err
	}
	return p.credentials(inst.ID, user, password), nil
}

func redactPassword(err error, password string) string {
	return strings.ReplaceAll(err.Error(), password, "<redacted>")
}

func (p *provider) credentials(instanceID, user, password string) map[string]any {
	hostport := net.JoinHostPort(p.host, strconv.Itoa(p.port))
	uri := url.URL{Scheme: p.scheme, User: url.UserPassword(user, password), Host: hostport}
	if p.db != 0 {
		uri.Path = "/" + strconv.Itoa(p.db)
	}
	prefix := KeyPrefix(instanceID)
	return map[string]any{
		"uri":        uri.String(),
		"hostname":   p.host,
		"port":       p.port,
		"username":   user,
		"password":   password,
		"key_prefix": prefix,
		"name":       strings.TrimSuffix(prefix, ":"),
	}
}

// dropUser disables a user, kills its connections and deletes it.
func (p *provider) dropUser(ctx context.Context, user string) error {
	exists, err := p.userExists(ctx, user)
	if err != nil || !exists {
		return err
	}
	if err := p.rdb.ACLSetUser(ctx, user, "off").Err(); err != nil {
		return fmt.Errorf("acl setuser %s off: %w", user, err)
	}
	if err := p.rdb.ClientKillByFilter(ctx, "USER", user).Err(); err != nil {
		return fmt.Errorf("client kill user %s: %w", user, err)
	}
	if err := p.rdb.ACLDelUser(ctx, user).Err(); err != nil {
		return fmt.Errorf("acl deluser %s: %w", user, err)
	}
	return nil
}

func (p *provider) Unbind(ctx context.Context, inst *osb.Instance, b *osb.Binding) error {
	if err := p.dropUser(ctx, UserName(inst.ID, b.ID)); err != nil {
		return err
	}
	return p.saveACL(ctx)
}

func (p *provider) Deprovision(ctx context.Context, inst *osb.Instance, bindings []*osb.Binding) error {
	users, err := p.rdb.ACLUsers(ctx).Result()
	if err != nil {
		return fmt.Errorf("acl users: %w", err)
	}
	prefix := userPrefix(inst.ID)
	var mine []string
	for _, u := range users {
		if strings.HasPrefix(u, prefix) {
			mine = append(mine, u)
		}
	}
	for _, b := range bindings {
		if u := UserName(inst.ID, b.ID); !slices.Contains(mine, u) {
			mine = append(mine, u)
		}
	}
	for _, u := range mine {
		if err := p.dropUser(ctx, u); err != nil {
			return err
		}
	}
	if err := p.saveACL(ctx); err != nil {
		return err
	}
	return p.deleteKeys(ctx, KeyPrefix(inst.ID))
}

// deleteKeys unlinks every key with the prefix, a batch at a time.
func (p *provider) deleteKeys(ctx context.Context, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := p.rdb.Scan(ctx, cursor, prefix+"*", scanBatch).Result()
		if err != nil {
			return fmt.Errorf("scan %s*: %w", prefix, err)
		}
		if len(keys) > 0 {
			if err := p.rdb.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("unlink keys of %s: %w", prefix, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// restoreUser re-creates a bound binding's user with its recorded password
// when the server lost it; it reports whether it did.
func (p *provider) restoreUser(ctx context.Context, b *osb.Binding) (bool, error) {
	user := UserName(b.InstanceID, b.ID)
	exists, err := p.userExists(ctx, user)
	if err != nil || exists {
		return false, err
	}
	password, _ := b.Credentials["password"].(string)
	if password == "" {
		return false, fmt.Errorf("binding %s has no recorded password", b.ID)
	}
	if err := p.rdb.ACLSetUser(ctx, user, p.rules(b.InstanceID, password)...).Err(); err != nil {
		return false, fmt.Errorf("acl setuser %s: %s", user, redactPassword(err, password))
	}
	if err := p.saveACL(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Package redis is ingot's built-in Redis service broker: a standalone Open
// Service Broker API server that provisions isolated key spaces on a Redis
// 7 server the operator names by its admin URL.
//
// An instance is a key space: the keys (and pub/sub channels) that start
// with "si:<instance id>:". Each binding is an ACL user,
// b_<instance hash>_<binding hash>, with a random password, allowed every
// command except the administrative and dangerous ones and those that see
// or reach beyond its key space (KEYS, SCAN, RANDOMKEY, DBSIZE, SELECT,
// MOVE, COPY, FUNCTION, SCRIPT FLUSH/KILL, PUBSUB CHANNELS, …), and only on
// keys and channels matching si:<instance id>:*. Unbind disables the user,
// kills its connections (CLIENT KILL USER) and deletes it; deprovision
// deletes every user of the instance and the instance's keys (SCAN MATCH +
// UNLINK).
//
// Why ACL users and not a logical database per instance: logical databases
// are not an isolation boundary (ACLs cannot restrict SELECT by number, so
// every user could read every database), and there are only 16 of them by
// default. Key patterns are enforced by the server for every command that
// names keys, including inside Lua scripts.
//
// Redis has no per-user memory or connection limits, so the catalog has one
// plan, "shared", and no plan changes. Instances take no parameters.
//
// The broker's records live in two hashes on the same server (default
// keys ingot_broker:instances and ingot_broker:bindings), outside every
// binding's key pattern. ACL users are kept by the server in memory and in
// its aclfile when it has one (the broker runs ACL SAVE then); a server
// without an aclfile forgets them on restart, so Run re-creates missing
// binding users from the records every ReconcileInterval.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Stable catalog ids.
const (
	ServiceID    = "9a6b2e47-8c1d-4e3f-b5a2-63d4e5f6a301"
	PlanSharedID = "9a6b2e47-8c1d-4e3f-b5a2-63d4e5f6a302"
	ServiceName  = "redis"
	// DefaultStatePrefix prefixes the keys of the broker's records.
	DefaultStatePrefix = "ingot_broker:"
	// DefaultListenAddr is where the broker listens by default.
	DefaultListenAddr = "127.0.0.1:9203"
	// DefaultReconcileInterval is how often Run re-creates lost users.
	DefaultReconcileInterval = 30 * time.Second
)

// ErrInvalidConfig: the broker's config is unusable.
var ErrInvalidConfig = errors.New("invalid redis broker config")

// Config configures a Broker.
type Config struct {
	// ListenAddr defaults to DefaultListenAddr.
	ListenAddr string
	// AdminURL is an admin connection URL of the server, e.g.
	// redis://127.0.0.1:6379/0 or rediss://admin:secret@host:6380/0. Keys
	// live in its database number.
	AdminURL string
	// Username and Password protect the broker's API (basic auth).
	Username string
	Password string
	// PublicHost and PublicPort are put in credentials; default the admin
	// URL's host and port.
	PublicHost string
	PublicPort int
	// StatePrefix prefixes the broker's record keys; it must not start
	// with "si:".
	StatePrefix string
	// ReconcileInterval: how often Run re-creates binding users the server
	// lost; default DefaultReconcileInterval, negative disables.
	ReconcileInterval time.Duration
	// SyncTimeout, OperationTimeout and MaxConcurrentOperations are passed
	// to osb.Config (zero: its defaults).
	SyncTimeout             time.Duration
	OperationTimeout        time.Duration
	MaxConcurrentOperations int
	// MaxAdminConns bounds the admin connection pool; default 8.
	MaxAdminConns int
}

var statePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func (c *Config) applyDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.StatePrefix == "" {
		c.StatePrefix = DefaultStatePrefix
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = DefaultReconcileInterval
	}
	if c.MaxAdminConns == 0 {
		c.MaxAdminConns = brokerkit.DefaultMaxAdminConns
	}
}

// Validate checks a defaulted config.
func (c *Config) Validate() error {
	errs := brokerkit.Common{AdminURL: c.AdminURL, Username: c.Username, Password: c.Password,
		PublicPort: c.PublicPort, MaxAdminConns: c.MaxAdminConns}.Check()
	if !statePrefixPattern.MatchString(c.StatePrefix) || len(c.StatePrefix) >= 3 && c.StatePrefix[:3] == "si:" {
		errs = append(errs, fmt.Errorf("state prefix %q must be 1-64 letters, digits or _.:- and not start with si:", c.StatePrefix))
	}
	return brokerkit.Invalid(ErrInvalidConfig, errs)
}

// Catalog is the broker's catalog.
func Catalog() osb.Catalog {
	return brokerkit.Catalog(brokerkit.Service{
		ID: ServiceID, Name: ServiceName,
		Description:      "Isolated Redis key spaces on a shared Redis 7 server",
		Tags:             []string{"redis", "key-value", "cache"},
		DisplayName:      "Redis",
		LongDescription:  "A key prefix per instance, enforced by a Redis ACL user per binding.",
		DocumentationURL: "https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/",
	}, []osb.Plan{brokerkit.FreePlan(PlanSharedID, "shared", "A key space on a shared server (keys si:<instance>:*)",
		"Redis shared", "Own key prefix, enforced by ACL", "Shared memory and connections")})
}

// Broker is the Redis service broker.
type Broker struct {
	*brokerkit.Server
	store    *Store
	prov     *provider
	log      *slog.Logger
	interval time.Duration
}

// New connects to the server, checks that it supports ACL key and channel
// patterns (Redis 6.2+), and binds the listener; Run serves.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = brokerkit.Logger(log, ServiceName)
	opts, err := goredis.ParseURL(cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("%w: admin URL: %w", ErrInvalidConfig, err)
	}
	opts.PoolSize = cfg.MaxAdminConns
	opts.DialTimeout = 10 * time.Second
	opts.ReadTimeout = 30 * time.Second
	opts.WriteTimeout = 30 * time.Second
	host, port, err := brokerkit.PublicEndpoint(cfg.PublicHost, cfg.PublicPort, opts.Addr, true, ErrInvalidConfig)
	if err != nil {
		return nil, err
	}
	rdb := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), brokerkit.ConnectTimeout)
	defer cancel()
	scheme := "redis"
	if opts.TLSConfig != nil {
		scheme = "rediss"
	}
	store := NewStore(rdb, cfg.StatePrefix)
	var prov *provider
	srv, err := brokerkit.Start(func() { _ = rdb.Close() }, log, func() (brokerkit.ServerConfig, osb.Provider, osb.Store, error) {
		var err error
		prov, err = newProvider(ctx, rdb, scheme, host, port, opts.DB, log)
		return brokerkit.ServerConfig{
			ListenAddr: cfg.ListenAddr, Username: cfg.Username, Password: cfg.Password,
			Catalog: Catalog(), SyncTimeout: cfg.SyncTimeout, OperationTimeout: cfg.OperationTimeout,
			MaxConcurrentOperations: cfg.MaxConcurrentOperations,
		}, prov, store, err
	})
	if err != nil {
		return nil, err
	}
	return &Broker{Server: srv, store: store, prov: prov, log: log, interval: cfg.ReconcileInterval}, nil
}

// Run re-creates lost binding users, serves until ctx is done (repeating
// the reconciliation every ReconcileInterval), then stops and closes the
// admin client.
func (b *Broker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loopCtx, cancel := context.WithCancel(ctx)
	if b.interval > 0 {
		wg.Go(func() { b.reconcileLoop(loopCtx) })
	}
	err := b.Server.OSB().Run(ctx)
	cancel()
	wg.Wait()
	_ = b.Close()
	return err
}

func (b *Broker) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		if _, err := b.Reconcile(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("reconcile-failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reconcile re-creates the ACL users of bound bindings that the server no
// longer has (a restart without an aclfile) and returns how many it made.
// Each binding is re-checked under its instance's lock, so a concurrent
// unbind or deprovision is never undone.
func (b *Broker) Reconcile(ctx context.Context) (int, error) {
	bindings, err := b.store.ListBound(ctx)
	if err != nil {
		return 0, err
	}
	restored := 0
	var errs []error
	for _, bd := range bindings {
		err := b.OSB().WithInstanceLock(ctx, bd.InstanceID, func(ctx context.Context) error {
			inst, err := b.store.GetInstance(ctx, bd.InstanceID)
			if errors.Is(err, osb.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			cur, err := b.store.GetBinding(ctx, bd.ID)
			if errors.Is(err, osb.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if inst.Pending() || !inst.Usable() || cur.Pending() || !cur.Usable() {
				return nil
			}
			ok, err := b.prov.restoreUser(ctx, cur)
			if ok {
				restored++
				b.log.Info("binding-user-restored", "instance_id", cur.InstanceID, "binding_id", cur.ID)
			}
			return err
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return restored, errors.Join(errs...)
}

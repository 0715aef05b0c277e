// Package postgres is ingot's built-in PostgreSQL service broker: a
// standalone Open Service Broker API server that provisions databases on a
// PostgreSQL server the operator names by its admin URL.
//
// Provision creates a role si_<hash> (NOLOGIN) and a database of the same
// name owned by it, with the plan's connection limit, CONNECT revoked from
// PUBLIC and the public schema owned by the instance role; the requested
// extensions are created in it. Bind creates a login role b_<hash> with a
// random password that is a member of the instance role and whose sessions
// start with SET ROLE to it (ALTER ROLE … SET role). So every object a
// binding creates is owned by the instance role, and every other binding of
// the instance, now or later, can use it; unbinding never strands data.
// Unbind disables the login, terminates its sessions, reassigns anything it
// still owns to the instance role (objects made after RESET ROLE), and
// drops it. Deprovision terminates the database's sessions and drops the
// database, the binding roles and the instance role.
//
// Names derive from the instance and binding ids (osb.NameHash), so a
// retried operation finds what an interrupted one made. The broker's own
// records live in the admin database, in a schema (default ingot_broker)
// that PUBLIC cannot use, so the broker itself is stateless.
//
// The admin role must be a superuser (it creates databases and roles, and
// connects to every instance database to manage extensions and ownership).
// Other databases on the server (postgres, template1, …) keep PostgreSQL's
// default CONNECT privilege for PUBLIC; revoke it there if bindings must
// not even connect to them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Stable catalog ids.
const (
	ServiceID     = "4b9c1f0e-7a52-4c1d-9e3b-2f61a8d0c101"
	PlanSmallID   = "4b9c1f0e-7a52-4c1d-9e3b-2f61a8d0c102"
	PlanMediumID  = "4b9c1f0e-7a52-4c1d-9e3b-2f61a8d0c103"
	ServiceName   = "postgres"
	DefaultSchema = "ingot_broker"
	// DefaultListenAddr is where the broker listens by default.
	DefaultListenAddr = "127.0.0.1:9201"
)

// ErrInvalidConfig: the broker's config is unusable.
var ErrInvalidConfig = errors.New("invalid postgres broker config")

// Plan is a service plan: a database with a connection limit.
type Plan struct {
	ID          string
	Name        string
	Description string
	// ConnectionLimit is the database's CONNECTION LIMIT (all bindings
	// together).
	ConnectionLimit int
}

// DefaultPlans are small (10 connections) and medium (50 connections).
func DefaultPlans() []Plan {
	return []Plan{
		{ID: PlanSmallID, Name: "small", Description: "A dedicated database, up to 10 connections", ConnectionLimit: 10},
		{ID: PlanMediumID, Name: "medium", Description: "A dedicated database, up to 50 connections", ConnectionLimit: 50},
	}
}

// Config configures a Broker.
type Config struct {
	// ListenAddr defaults to DefaultListenAddr.
	ListenAddr string
	// AdminURL is a superuser connection URL of the server to provision on,
	// e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	AdminURL string
	// Username and Password protect the broker's API (basic auth).
	Username string
	Password string
	// PublicHost and PublicPort are put in credentials; default the admin
	// URL's host and port.
	PublicHost string
	PublicPort int
	// StateSchema is the admin database's schema for the broker's records.
	StateSchema string
	// Plans default to DefaultPlans.
	Plans []Plan
	// SyncTimeout, OperationTimeout and MaxConcurrentOperations are passed
	// to osb.Config (zero: its defaults).
	SyncTimeout             time.Duration
	OperationTimeout        time.Duration
	MaxConcurrentOperations int
	// MaxAdminConns bounds the admin connection pool; default 8.
	MaxAdminConns int32
}

func (c *Config) applyDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.StateSchema == "" {
		c.StateSchema = DefaultSchema
	}
	if len(c.Plans) == 0 {
		c.Plans = DefaultPlans()
	}
	if c.MaxAdminConns == 0 {
		c.MaxAdminConns = brokerkit.DefaultMaxAdminConns
	}
}

// Validate checks a defaulted config (the catalog and credentials are
// checked again by osb.New).
func (c *Config) Validate() error {
	errs := brokerkit.Common{AdminURL: c.AdminURL, Username: c.Username, Password: c.Password,
		PublicPort: c.PublicPort, MaxAdminConns: int(c.MaxAdminConns)}.Check()
	if !schemaPattern.MatchString(c.StateSchema) {
		errs = append(errs, fmt.Errorf("state schema %q must be lowercase letters, digits and '_'", c.StateSchema))
	}
	for _, p := range c.Plans {
		if p.ConnectionLimit < 1 {
			errs = append(errs, fmt.Errorf("plan %q: connection limit must be at least 1", p.Name))
		}
	}
	return brokerkit.Invalid(ErrInvalidConfig, errs)
}

// Catalog is the broker's catalog for plans.
func Catalog(plans []Plan) osb.Catalog {
	out := make([]osb.Plan, 0, len(plans))
	for _, p := range plans {
		out = append(out, brokerkit.FreePlan(p.ID, p.Name, p.Description, "PostgreSQL "+p.Name,
			"Dedicated database", strconv.Itoa(p.ConnectionLimit)+" concurrent connections"))
	}
	return brokerkit.Catalog(brokerkit.Service{
		ID: ServiceID, Name: ServiceName,
		Description:      "PostgreSQL databases on a shared server",
		Tags:             []string{"postgres", "postgresql", "relational"},
		PlanUpdateable:   true,
		DisplayName:      "PostgreSQL",
		LongDescription:  "A dedicated PostgreSQL database per instance and a dedicated role per binding.",
		DocumentationURL: "https://www.postgresql.org/docs/",
	}, out)
}

// Broker is the PostgreSQL service broker.
type Broker struct {
	*brokerkit.Server
}

// New connects to the admin database, creates the state schema if needed
// and binds the listener; Run serves.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = brokerkit.Logger(log, ServiceName)
	poolCfg, err := pgxpool.ParseConfig(cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("%w: admin URL: %w", ErrInvalidConfig, err)
	}
	poolCfg.MaxConns = cfg.MaxAdminConns
	host, port := cfg.PublicHost, cfg.PublicPort
	if host == "" {
		host = poolCfg.ConnConfig.Host
	}
	if port == 0 {
		port = int(poolCfg.ConnConfig.Port)
	}
	if host == "" || host[0] == '/' {
		return nil, fmt.Errorf("%w: the admin URL uses a unix socket; set a public host for credentials", ErrInvalidConfig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerkit.ConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the admin database: %w", err)
	}
	srv, err := brokerkit.Start(pool.Close, log, func() (brokerkit.ServerConfig, osb.Provider, osb.Store, error) {
		if err := pool.Ping(ctx); err != nil {
			return brokerkit.ServerConfig{}, nil, nil, fmt.Errorf("connect to the admin database: %w", err)
		}
		store, err := NewStore(ctx, pool, cfg.StateSchema)
		if err != nil {
			return brokerkit.ServerConfig{}, nil, nil, err
		}
		prov, err := newProvider(ctx, pool, poolCfg.ConnConfig, host, port, cfg.Plans, log)
		return brokerkit.ServerConfig{
			ListenAddr: cfg.ListenAddr, Username: cfg.Username, Password: cfg.Password,
			Catalog: Catalog(cfg.Plans), SyncTimeout: cfg.SyncTimeout, OperationTimeout: cfg.OperationTimeout,
			MaxConcurrentOperations: cfg.MaxConcurrentOperations,
		}, prov, store, err
	})
	if err != nil {
		return nil, err
	}
	return &Broker{srv}, nil
}

// Package mysql is ingot's built-in MySQL/MariaDB service broker: a
// standalone Open Service Broker API server that provisions databases on a
// MySQL or MariaDB server the operator names by its admin URL.
//
// Provision creates a database si_<hash> (with the requested character set
// and collation). Bind creates a user 'b_<hash>'@'%' with a random password
// and the plan's MAX_USER_CONNECTIONS, granted ALL PRIVILEGES on that
// database only (the '_' of the name is escaped in GRANT, where it would
// otherwise be a wildcard). Unbind drops the user and kills its connections;
// deprovision drops every user granted on the database, kills their
// connections and drops the database. A plan change alters the connection
// limit of every binding user.
//
// Names derive from the instance and binding ids (osb.NameHash), so a
// retried operation finds what an interrupted one made. The broker's own
// records live on the same server, in a database of their own (default
// ingot_broker) that binding users have no grant on.
//
// The admin user needs CREATE, DROP, CREATE USER, GRANT OPTION (with ALL on
// the instance databases), PROCESS/CONNECTION ADMIN (to kill connections)
// and SELECT on mysql.db; root has all of them.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Stable catalog ids.
const (
	ServiceID    = "7d3e5a91-2c4b-4f8e-a6d0-91b2c3e4f201"
	PlanSmallID  = "7d3e5a91-2c4b-4f8e-a6d0-91b2c3e4f202"
	PlanMediumID = "7d3e5a91-2c4b-4f8e-a6d0-91b2c3e4f203"
	ServiceName  = "mysql"
	// DefaultStateDatabase holds the broker's records.
	DefaultStateDatabase = "ingot_broker"
	// DefaultListenAddr is where the broker listens by default.
	DefaultListenAddr = "127.0.0.1:9202"
)

// ErrInvalidConfig: the broker's config is unusable.
var ErrInvalidConfig = errors.New("invalid mysql broker config")

// Plan is a service plan: a database whose binding users each have a
// connection limit.
type Plan struct {
	ID          string
	Name        string
	Description string
	// MaxUserConnections is each binding user's MAX_USER_CONNECTIONS.
	MaxUserConnections int
}

// DefaultPlans are small (10 connections per binding) and medium (50).
func DefaultPlans() []Plan {
	return []Plan{
		{ID: PlanSmallID, Name: "small", Description: "A dedicated database, up to 10 connections per binding", MaxUserConnections: 10},
		{ID: PlanMediumID, Name: "medium", Description: "A dedicated database, up to 50 connections per binding", MaxUserConnections: 50},
	}
}

// Config configures a Broker.
type Config struct {
	// ListenAddr defaults to DefaultListenAddr.
	ListenAddr string
	// AdminURL names the server and its admin user:
	// mysql://root:secret@127.0.0.1:3306/ (query: tls=true|skip-verify|preferred).
	// A go-sql-driver DSN (root:secret@tcp(127.0.0.1:3306)/) is accepted too.
	AdminURL string
	// Username and Password protect the broker's API (basic auth).
	Username string
	Password string
	// PublicHost and PublicPort are put in credentials; default the admin
	// URL's host and port.
	PublicHost string
	PublicPort int
	// StateDatabase holds the broker's records.
	StateDatabase string
	// Plans default to DefaultPlans.
	Plans []Plan
	// SyncTimeout, OperationTimeout and MaxConcurrentOperations are passed
	// to osb.Config (zero: its defaults).
	SyncTimeout             time.Duration
	OperationTimeout        time.Duration
	MaxConcurrentOperations int
	// MaxAdminConns bounds the admin connection pool; default 8.
	MaxAdminConns int
}

var namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

func (c *Config) applyDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.StateDatabase == "" {
		c.StateDatabase = DefaultStateDatabase
	}
	if len(c.Plans) == 0 {
		c.Plans = DefaultPlans()
	}
	if c.MaxAdminConns == 0 {
		c.MaxAdminConns = brokerkit.DefaultMaxAdminConns
	}
}

// Validate checks a defaulted config.
func (c *Config) Validate() error {
	errs := brokerkit.Common{AdminURL: c.AdminURL, Username: c.Username, Password: c.Password,
		PublicPort: c.PublicPort, MaxAdminConns: c.MaxAdminConns}.Check()
	if !namePattern.MatchString(c.StateDatabase) {
		errs = append(errs, fmt.Errorf("state database %q must be lowercase letters, digits and '_'", c.StateDatabase))
	}
	for _, p := range c.Plans {
		if p.MaxUserConnections < 1 {
			errs = append(errs, fmt.Errorf("plan %q: max user connections must be at least 1", p.Name))
		}
	}
	return brokerkit.Invalid(ErrInvalidConfig, errs)
}

// ParseAdminURL turns a mysql:// URL (or a go-sql-driver DSN) into a
// driver config.
func ParseAdminURL(s string) (*driver.Config, error) {
	if !strings.HasPrefix(s, "mysql://") {
		cfg, err := driver.ParseDSN(s)
		if err != nil {
			return nil, fmt.Errorf("%w: admin URL: %w", ErrInvalidConfig, err)
		}
		return cfg, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: admin URL: %w", ErrInvalidConfig, err)
	}
	cfg := driver.NewConfig()
	cfg.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, fmt.Errorf("%w: admin URL has no host", ErrInvalidConfig)
	}
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(host, port)
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if v := u.Query().Get("tls"); v != "" {
		cfg.TLSConfig = v
	}
	return cfg, nil
}

// Catalog is the broker's catalog for plans.
func Catalog(plans []Plan) osb.Catalog {
	out := make([]osb.Plan, 0, len(plans))
	for _, p := range plans {
		out = append(out, brokerkit.FreePlan(p.ID, p.Name, p.Description, "MySQL "+p.Name,
			"Dedicated database", strconv.Itoa(p.MaxUserConnections)+" concurrent connections per binding"))
	}
	return brokerkit.Catalog(brokerkit.Service{
		ID: ServiceID, Name: ServiceName,
		Description:      "MySQL/MariaDB databases on a shared server",
		Tags:             []string{"mysql", "mariadb", "relational"},
		PlanUpdateable:   true,
		DisplayName:      "MySQL",
		LongDescription:  "A dedicated MySQL/MariaDB database per instance and a dedicated user per binding.",
		DocumentationURL: "https://mariadb.com/kb/en/documentation/",
	}, out)
}

// Broker is the MySQL service broker.
type Broker struct {
	*brokerkit.Server
}

// New connects to the server, creates the state database if needed and
// binds the listener; Run serves.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = brokerkit.Logger(log, ServiceName)
	dcfg, err := ParseAdminURL(cfg.AdminURL)
	if err != nil {
		return nil, err
	}
	host, port, err := brokerkit.PublicEndpoint(cfg.PublicHost, cfg.PublicPort, dcfg.Addr, dcfg.Net == "tcp", ErrInvalidConfig)
	if err != nil {
		return nil, err
	}
	dcfg.DBName = ""
	dcfg.ClientFoundRows = true // UPDATE reports matched rows, not changed ones
	dcfg.ParseTime = true
	if dcfg.Timeout == 0 {
		dcfg.Timeout = 10 * time.Second
	}
	connector, err := driver.NewConnector(dcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: admin URL: %w", ErrInvalidConfig, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(cfg.MaxAdminConns)
	db.SetMaxIdleConns(cfg.MaxAdminConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), brokerkit.ConnectTimeout)
	defer cancel()
	srv, err := brokerkit.Start(func() { _ = db.Close() }, log, func() (brokerkit.ServerConfig, osb.Provider, osb.Store, error) {
		if err := db.PingContext(ctx); err != nil {
			return brokerkit.ServerConfig{}, nil, nil, fmt.Errorf("connect to the admin server: %w", err)
		}
		store, err := NewStore(ctx, db, cfg.StateDatabase)
		return brokerkit.ServerConfig{
			ListenAddr: cfg.ListenAddr, Username: cfg.Username, Password: cfg.Password,
			Catalog: Catalog(cfg.Plans), SyncTimeout: cfg.SyncTimeout, OperationTimeout: cfg.OperationTimeout,
			MaxConcurrentOperations: cfg.MaxConcurrentOperations,
		}, newProvider(db, host, port, cfg.Plans, log), store, err
	})
	if err != nil {
		return nil, err
	}
	return &Broker{srv}, nil
}

// Package sqlstore implements store.Store on SQLite (modernc.org/sqlite, pure
// Go) and PostgreSQL (pgx). Each resource is one table whose key, filter and
// unique columns are real columns; every other field is JSON in a "data"
// column. Timestamps are stored as unix nanoseconds, so they round-trip
// exactly.
//
// Deletes do not cascade, except that a destination is deleted with its
// route or its app (ON DELETE CASCADE). The controller deletes other
// children itself.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ingot-paas/ingot/internal/store"
)

// Drivers accepted in Config.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// ErrConfig is returned by Open for an unusable configuration.
var ErrConfig = errors.New("sqlstore: invalid config")

// Config selects the database.
type Config struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// DSN is a file path for SQLite (":memory:" also works) and a
	// PostgreSQL URL or keyword/value string for PostgreSQL.
	DSN string
	// MaxOpenConns bounds the PostgreSQL pool (default 10). SQLite always
	// uses one connection: there is one writer anyway.
	MaxOpenConns int
}

// Validate checks cfg.
func (c Config) Validate() error {
	switch c.Driver {
	case DriverSQLite, DriverPostgres:
	default:
		return fmt.Errorf("%w: driver %q is not %q or %q", ErrConfig, c.Driver, DriverSQLite, DriverPostgres)
	}
	if c.DSN == "" {
		return fmt.Errorf("%w: dsn is required", ErrConfig)
	}
	if c.MaxOpenConns < 0 {
		return fmt.Errorf("%w: max open conns must be >= 0", ErrConfig)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is a store.Store on one database. A Store returned by Open is safe
// for concurrent use; the Store InTx hands to f is bound to one transaction
// and must only be used inside f.
type Store struct {
	db      *sql.DB
	q       querier
	driver  string
	inTx    bool
	closeDB bool
}

var _ store.Store = (*Store)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates it.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	return Open(ctx, Config{Driver: DriverSQLite, DSN: path})
}

// Open connects to the database in cfg and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var (
		db  *sql.DB
		err error
	)
	switch cfg.Driver {
	case DriverSQLite:
		db, err = openSQLite(cfg.DSN)
	case DriverPostgres:
		db, err = sql.Open("pgx", cfg.DSN)
		if err == nil {
			n := cfg.MaxOpenConns
			if n == 0 {
				n = 10
			}
			db.SetMaxOpenConns(n)
			db.SetMaxIdleConns(n)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", cfg.Driver, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", cfg.Driver, err)
	}
	s := &Store{db: db, q: db, driver: cfg.Driver, closeDB: true}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(dsn string) (*sql.DB, error) {
	path := dsn
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path != ":memory:" && !strings.HasPrefix(path, "file:") {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	dsn += sep + "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer, and one connection makes the
	// pragmas (and ":memory:") hold for every statement.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Driver reports DriverSQLite or DriverPostgres.
func (s *Store) Driver() string { return s.driver }

// DB is the underlying pool, for diagnostics and tests.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database. On a transaction-bound Store it does nothing.
func (s *Store) Close() error {
	if s.inTx || !s.closeDB {
		return nil
	}
	return s.db.Close()
}

// InTx runs f in one transaction: it commits when f returns nil and rolls
// back when f returns an error or panics. Inside a transaction, InTx runs f
// in the same transaction. With SQLite the transaction holds the only
// connection, so f must use the Store it is given, never the outer one.
func (s *Store) InTx(ctx context.Context, f func(tx store.Store) error) (err error) {
	if s.inTx {
		return f(s)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	txs := &Store{db: s.db, q: tx, driver: s.driver, inTx: true}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := f(txs); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("roll back: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// rebind turns ? placeholders into $1, $2, … for PostgreSQL. Queries in
// this package never contain a literal '?'.
func (s *Store) rebind(q string) string {
	if s.driver != DriverPostgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.q.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.q.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.q.QueryRowContext(ctx, s.rebind(q), args...)
}

// errForeignKey marks a write that names a missing parent; mapErr wraps it
// together with store.ErrNotFound.
var errForeignKey = errors.New("referenced record does not exist")

// mapErr translates driver errors into the store's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", store.ErrDuplicate, pgErr.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w: %s", store.ErrNotFound, errForeignKey, pgErr.ConstraintName)
		}
		return err
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", store.ErrDuplicate, sqErr.Error())
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", store.ErrNotFound, errForeignKey)
		}
	}
	return err
}

func (s *Store) Orgs() store.OrgStore          { return crud[store.Org]{s, orgTable} }
func (s *Store) Spaces() store.SpaceStore      { return crud[store.Space]{s, spaceTable} }
func (s *Store) Domains() store.DomainStore    { return crud[store.Domain]{s, domainTable} }
func (s *Store) Apps() store.AppStore          { return crud[store.App]{s, appTable} }
func (s *Store) Processes() store.ProcessStore { return crud[store.Process]{s, processTable} }
func (s *Store) Packages() store.PackageStore  { return crud[store.Package]{s, packageTable} }
func (s *Store) Builds() store.BuildStore      { return crud[store.Build]{s, buildTable} }
func (s *Store) Droplets() store.DropletStore  { return crud[store.Droplet]{s, dropletTable} }
func (s *Store) Routes() store.RouteStore      { return crud[store.Route]{s, routeTable} }
func (s *Store) Destinations() store.DestinationStore {
	return crud[store.Destination]{s, destinationTable}
}
func (s *Store) Jobs() store.JobStore     { return crud[store.Job]{s, jobTable} }
func (s *Store) Users() store.UserStore   { return userStore{crud[store.User]{s, userTable}} }
func (s *Store) Leases() store.LeaseStore { return leaseStore{s} }
func (s *Store) Deployments() store.DeploymentStore {
	return crud[store.Deployment]{s, deploymentTable}
}

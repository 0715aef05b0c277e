package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/sqlstate"
)

var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Store keeps the broker's records in two tables of a schema of the admin
// database. Records are JSON text (not jsonb, which would reformat the
// canonical parameters the broker compares).
type Store struct {
	*sqlstate.Store
}

var _ osb.Store = (*Store)(nil)

// NewStore creates the schema and tables if needed.
func NewStore(ctx context.Context, pool *pgxpool.Pool, schema string) (*Store, error) {
	if !schemaPattern.MatchString(schema) {
		return nil, fmt.Errorf("%w: bad state schema %q", ErrInvalidConfig, schema)
	}
	s := pgx.Identifier{schema}.Sanitize()
	instances, bindings := s+".instances", s+".bindings"
	// Serialise concurrent migrations (several brokers or test packages
	// starting at once): CREATE … IF NOT EXISTS races on the catalogs.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		stmts := []string{
			`SELECT pg_advisory_xact_lock(7394021688)`,
			`CREATE SCHEMA IF NOT EXISTS ` + s,
			`REVOKE ALL ON SCHEMA ` + s + ` FROM PUBLIC`,
			`CREATE TABLE IF NOT EXISTS ` + instances + ` (
				id text PRIMARY KEY,
				pending boolean NOT NULL,
				data text NOT NULL,
				updated_at timestamptz NOT NULL DEFAULT now())`,
			`CREATE TABLE IF NOT EXISTS ` + bindings + ` (
				id text PRIMARY KEY,
				instance_id text NOT NULL,
				pending boolean NOT NULL,
				data text NOT NULL,
				updated_at timestamptz NOT NULL DEFAULT now())`,
			`CREATE INDEX IF NOT EXISTS bindings_instance_id ON ` + bindings + ` (instance_id)`,
			`CREATE INDEX IF NOT EXISTS instances_pending ON ` + instances + ` (pending) WHERE pending`,
			`CREATE INDEX IF NOT EXISTS bindings_pending ON ` + bindings + ` (pending) WHERE pending`,
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create state schema %s: %w", schema, err)
	}
	return &Store{sqlstate.New(pgConn{pool}, dialect, instances, bindings)}, nil
}

// pgConn runs the store's statements on the admin pool.
type pgConn struct{ pool *pgxpool.Pool }

func (c pgConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (c pgConn) QueryString(ctx context.Context, q string, args ...any) (string, error) {
	var v string
	err := c.pool.QueryRow(ctx, q, args...).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", brokerkit.ErrNoRecord
	}
	return v, err
}

func (c pgConn) QueryStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := c.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

var dialect = sqlstate.Dialect{
	Param:        func(n int) string { return "$" + strconv.Itoa(n) },
	Now:          "now()",
	InsertSuffix: " ON CONFLICT (id) DO NOTHING",
}

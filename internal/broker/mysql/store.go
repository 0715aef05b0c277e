package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	driver "github.com/go-sql-driver/mysql"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
	"github.com/ingot-paas/ingot/internal/broker/sqlstate"
)

const errDuplicateEntry = 1062

// Store keeps the broker's records in two tables of a database of their
// own. Ids use a binary collation: OSB ids are case-sensitive.
type Store struct {
	*sqlstate.Store
}

var _ osb.Store = (*Store)(nil)

// NewStore creates the database and tables if needed. db must report
// matched rows for UPDATE (the ClientFoundRows driver option).
func NewStore(ctx context.Context, db *sql.DB, database string) (*Store, error) {
	if !namePattern.MatchString(database) {
		return nil, fmt.Errorf("%w: bad state database %q", ErrInvalidConfig, database)
	}
	d := ident(database)
	instances, bindings := d+".instances", d+".bindings"
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("create state database: %w", err)
	}
	defer conn.Close()
	// Serialise concurrent migrations of several brokers starting at once.
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK('ingot_broker_migrate', 30)`).Scan(&got); err != nil {
		return nil, fmt.Errorf("create state database: take the migration lock: %w", err)
	}
	if got.Int64 != 1 {
		return nil, errors.New("create state database: the migration lock is held elsewhere")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK('ingot_broker_migrate')`) //nolint:errcheck
	stmts := []string{
		`CREATE DATABASE IF NOT EXISTS ` + d + ` CHARACTER SET utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + instances + ` (
			id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
			pending BOOLEAN NOT NULL,
			data LONGTEXT NOT NULL,
			updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			KEY instances_pending (pending)
		) ENGINE=InnoDB`,
		`CREATE TABLE IF NOT EXISTS ` + bindings + ` (
			id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
			instance_id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
			pending BOOLEAN NOT NULL,
			data LONGTEXT NOT NULL,
			updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			KEY bindings_instance_id (instance_id),
			KEY bindings_pending (pending)
		) ENGINE=InnoDB`,
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("create state database %s: %w", database, err)
		}
	}
	return &Store{sqlstate.New(sqlConn{db}, dialect, instances, bindings)}, nil
}

func mysqlErrNumber(err error) uint16 {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// sqlConn runs the store's statements on the admin pool.
type sqlConn struct{ db *sql.DB }

func (c sqlConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c sqlConn) QueryString(ctx context.Context, q string, args ...any) (string, error) {
	var v string
	err := c.db.QueryRowContext(ctx, q, args...).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", brokerkit.ErrNoRecord
	}
	return v, err
}

func (c sqlConn) QueryStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var dialect = sqlstate.Dialect{
	Param:       func(int) string { return "?" },
	Now:         "CURRENT_TIMESTAMP(6)",
	IsDuplicate: func(err error) bool { return mysqlErrNumber(err) == errDuplicateEntry },
}

package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/ as NNNN_name.sql (both dialects) or
// NNNN_name.sqlite.sql / NNNN_name.postgres.sql where the dialects differ.
// Each runs once, in its own transaction, and is recorded in
// schema_migrations.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	body    string
}

// migrationsFor lists the migrations of driver in version order.
func migrationsFor(driver string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]migration{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		dialect := ""
		for _, d := range []string{DriverSQLite, DriverPostgres} {
			if strings.HasSuffix(name, "."+d) {
				dialect = d
				name = strings.TrimSuffix(name, "."+d)
			}
		}
		if dialect != "" && dialect != driver {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", e.Name())
		}
		if _, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("migration %s: version %d appears twice", e.Name(), v)
		}
		body, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		byVersion[v] = migration{version: v, name: name, body: string(body)}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// statements splits a migration into statements at semicolons that end a
// line, dropping "--" comment lines.
func statements(body string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if st := strings.TrimSpace(cur.String()); st != ";" {
				out = append(out, st)
			}
			cur.Reset()
		}
	}
	if st := strings.TrimSpace(cur.String()); st != "" {
		out = append(out, st)
	}
	return out
}

// migrationLockKey is the PostgreSQL advisory lock that serializes
// controllers migrating the same database at once.
const migrationLockKey = 7_346_221_901

// migrate applies every pending migration.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrationsFor(s.driver)
	if err != nil {
		return err
	}
	if err := s.ensureMigrationsTable(ctx); err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// lockedTx begins a transaction that, on PostgreSQL, holds the migration
// advisory lock until it ends.
func (s *Store) lockedTx(ctx context.Context) (*sql.Tx, *Store, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	ts := &Store{db: s.db, q: tx, driver: s.driver, inTx: true}
	if s.driver == DriverPostgres {
		if _, err := ts.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrationLockKey)); err != nil {
			_ = tx.Rollback()
			return nil, nil, fmt.Errorf("take migration lock: %w", err)
		}
	}
	return tx, ts, nil
}

func (s *Store) ensureMigrationsTable(ctx context.Context) error {
	tx, ts, err := s.lockedTx(ctx)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := ts.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema_migrations: commit: %w", err)
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) error {
	tx, ts, err := s.lockedTx(ctx)
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := ts.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("migration %d: check: %w", m.version, err)
	}
	if n > 0 {
		return nil
	}
	for i, st := range statements(m.body) {
		if _, err := tx.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("migration %d (%s) statement %d: %w", m.version, m.name, i+1, err)
		}
	}
	if _, err := ts.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("migration %d: record: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", m.version, err)
	}
	return nil
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Store keeps the broker's records in two tables of a schema of the admin
// database. Records are JSON text (not jsonb, which would reformat the
// canonical parameters the broker compares).
type Store struct {
	pool      *pgxpool.Pool
	instances string
	bindings  string
}

var _ osb.Store = (*Store)(nil)

// NewStore creates the schema and tables if needed.
func NewStore(ctx context.Context, pool *pgxpool.Pool, schema string) (*Store, error) {
	if !schemaPattern.MatchString(schema) {
		return nil, fmt.Errorf("%w: bad state schema %q", ErrInvalidConfig, schema)
	}
	s := pgx.Identifier{schema}.Sanitize()
	st := &Store{pool: pool, instances: s + ".instances", bindings: s + ".bindings"}
	// Serialise concurrent migrations (several brokers or test packages
	// starting at once): CREATE … IF NOT EXISTS races on the catalogs.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		stmts := []string{
			`SELECT pg_advisory_xact_lock(7394021688)`,
			`CREATE SCHEMA IF NOT EXISTS ` + s,
			`REVOKE ALL ON SCHEMA ` + s + ` FROM PUBLIC`,
			`CREATE TABLE IF NOT EXISTS ` + st.instances + ` (
				id text PRIMARY KEY,
				pending boolean NOT NULL,
				data text NOT NULL,
				updated_at timestamptz NOT NULL DEFAULT now())`,
			`CREATE TABLE IF NOT EXISTS ` + st.bindings + ` (
				id text PRIMARY KEY,
				instance_id text NOT NULL,
				pending boolean NOT NULL,
				data text NOT NULL,
				updated_at timestamptz NOT NULL DEFAULT now())`,
			`CREATE INDEX IF NOT EXISTS bindings_instance_id ON ` + st.bindings + ` (instance_id)`,
			`CREATE INDEX IF NOT EXISTS instances_pending ON ` + st.instances + ` (pending) WHERE pending`,
			`CREATE INDEX IF NOT EXISTS bindings_pending ON ` + st.bindings + ` (pending) WHERE pending`,
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
	return st, nil
}

func (s *Store) insert(ctx context.Context, table, id, instanceID string, pending bool, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	var tag interface{ RowsAffected() int64 }
	if table == s.bindings {
		tag, err = s.pool.Exec(ctx, `INSERT INTO `+table+` (id, instance_id, pending, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, id, instanceID, pending, string(data))
	} else {
		tag, err = s.pool.Exec(ctx, `INSERT INTO `+table+` (id, pending, data) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, id, pending, string(data))
	}
	if err != nil {
		return fmt.Errorf("insert %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record %s: %w", id, osb.ErrExists)
	}
	return nil
}

func (s *Store) update(ctx context.Context, table, id string, pending bool, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE `+table+` SET pending = $2, data = $3, updated_at = now() WHERE id = $1`,
		id, pending, string(data))
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record %s: %w", id, osb.ErrNotFound)
	}
	return nil
}

func (s *Store) get(ctx context.Context, table, id string, dst any) error {
	var data string
	err := s.pool.QueryRow(ctx, `SELECT data FROM `+table+` WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("record %s: %w", id, osb.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(data), dst); err != nil {
		return fmt.Errorf("decode record %s: %w", id, err)
	}
	return nil
}

func (s *Store) delete(ctx context.Context, table, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

func queryAll[T any](ctx context.Context, pool *pgxpool.Pool, q string, args ...any) ([]*T, error) {
	rows, err := pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(datas))
	for _, d := range datas {
		v := new(T)
		if err := json.Unmarshal([]byte(d), v); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// CreateInstance implements osb.Store.
func (s *Store) CreateInstance(ctx context.Context, inst *osb.Instance) error {
	return s.insert(ctx, s.instances, inst.ID, "", inst.Pending(), inst)
}

// GetInstance implements osb.Store.
func (s *Store) GetInstance(ctx context.Context, id string) (*osb.Instance, error) {
	var inst osb.Instance
	if err := s.get(ctx, s.instances, id, &inst); err != nil {
		return nil, err
	}
	return &inst, nil
}

// UpdateInstance implements osb.Store.
func (s *Store) UpdateInstance(ctx context.Context, inst *osb.Instance) error {
	return s.update(ctx, s.instances, inst.ID, inst.Pending(), inst)
}

// DeleteInstance implements osb.Store.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	return s.delete(ctx, s.instances, id)
}

// CreateBinding implements osb.Store.
func (s *Store) CreateBinding(ctx context.Context, b *osb.Binding) error {
	return s.insert(ctx, s.bindings, b.ID, b.InstanceID, b.Pending(), b)
}

// GetBinding implements osb.Store.
func (s *Store) GetBinding(ctx context.Context, id string) (*osb.Binding, error) {
	var b osb.Binding
	if err := s.get(ctx, s.bindings, id, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// UpdateBinding implements osb.Store.
func (s *Store) UpdateBinding(ctx context.Context, b *osb.Binding) error {
	return s.update(ctx, s.bindings, b.ID, b.Pending(), b)
}

// DeleteBinding implements osb.Store.
func (s *Store) DeleteBinding(ctx context.Context, id string) error {
	return s.delete(ctx, s.bindings, id)
}

// ListBindings implements osb.Store.
func (s *Store) ListBindings(ctx context.Context, instanceID string) ([]*osb.Binding, error) {
	out, err := queryAll[osb.Binding](ctx, s.pool, `SELECT data FROM `+s.bindings+` WHERE instance_id = $1 ORDER BY id`, instanceID)
	if err != nil {
		return nil, fmt.Errorf("list bindings of %s: %w", instanceID, err)
	}
	return out, nil
}

// ListPending implements osb.Store.
func (s *Store) ListPending(ctx context.Context) ([]*osb.Instance, []*osb.Binding, error) {
	insts, err := queryAll[osb.Instance](ctx, s.pool, `SELECT data FROM `+s.instances+` WHERE pending ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list pending instances: %w", err)
	}
	binds, err := queryAll[osb.Binding](ctx, s.pool, `SELECT data FROM `+s.bindings+` WHERE pending ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list pending bindings: %w", err)
	}
	return insts, binds, nil
}

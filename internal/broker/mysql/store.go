package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	driver "github.com/go-sql-driver/mysql"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

const errDuplicateEntry = 1062

// Store keeps the broker's records in two tables of a database of their
// own. Ids use a binary collation: OSB ids are case-sensitive.
type Store struct {
	db        *sql.DB
	instances string
	bindings  string
}

var _ osb.Store = (*Store)(nil)

// NewStore creates the database and tables if needed. db must report
// matched rows for UPDATE (the ClientFoundRows driver option).
func NewStore(ctx context.Context, db *sql.DB, database string) (*Store, error) {
	if !namePattern.MatchString(database) {
		return nil, fmt.Errorf("%w: bad state database %q", ErrInvalidConfig, database)
	}
	d := ident(database)
	st := &Store{db: db, instances: d + ".instances", bindings: d + ".bindings"}
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
		`CREATE TABLE IF NOT EXISTS ` + st.instances + ` (
			id VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
			pending BOOLEAN NOT NULL,
			data LONGTEXT NOT NULL,
			updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
			KEY instances_pending (pending)
		) ENGINE=InnoDB`,
		`CREATE TABLE IF NOT EXISTS ` + st.bindings + ` (
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
	return st, nil
}

func mysqlErrNumber(err error) uint16 {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func (s *Store) insert(ctx context.Context, table, id, instanceID string, pending bool, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	if table == s.bindings {
		_, err = s.db.ExecContext(ctx, `INSERT INTO `+table+` (id, instance_id, pending, data) VALUES (?, ?, ?, ?)`,
			id, instanceID, pending, string(data))
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO `+table+` (id, pending, data) VALUES (?, ?, ?)`, id, pending, string(data))
	}
	if mysqlErrNumber(err) == errDuplicateEntry {
		return fmt.Errorf("record %s: %w", id, osb.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert %s: %w", id, err)
	}
	return nil
}

func (s *Store) update(ctx context.Context, table, id string, pending bool, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE `+table+` SET pending = ?, data = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?`,
		pending, string(data), id)
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("record %s: %w", id, osb.ErrNotFound)
	}
	return nil
}

func (s *Store) get(ctx context.Context, table, id string, dst any) error {
	var data string
	err := s.db.QueryRowContext(ctx, `SELECT data FROM `+table+` WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
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
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

func queryAll[T any](ctx context.Context, db *sql.DB, q string, args ...any) ([]*T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		v := new(T)
		if err := json.Unmarshal([]byte(data), v); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
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
	out, err := queryAll[osb.Binding](ctx, s.db, `SELECT data FROM `+s.bindings+` WHERE instance_id = ? ORDER BY id`, instanceID)
	if err != nil {
		return nil, fmt.Errorf("list bindings of %s: %w", instanceID, err)
	}
	return out, nil
}

// ListPending implements osb.Store.
func (s *Store) ListPending(ctx context.Context) ([]*osb.Instance, []*osb.Binding, error) {
	insts, err := queryAll[osb.Instance](ctx, s.db, `SELECT data FROM `+s.instances+` WHERE pending ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list pending instances: %w", err)
	}
	binds, err := queryAll[osb.Binding](ctx, s.db, `SELECT data FROM `+s.bindings+` WHERE pending ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list pending bindings: %w", err)
	}
	return insts, binds, nil
}

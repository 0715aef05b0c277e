// Package sqlstate is the osb.Store of ingot's SQL service brokers
// (postgres, mysql): instance and binding records as JSON text in two
// tables, instances (id, pending, data, updated_at) and bindings (id,
// instance_id, pending, data, updated_at), that the broker creates in its
// own schema or database. The SQL differs only by Dialect; the connection
// is any Conn.
package sqlstate

import (
	"context"
	"fmt"
	"strings"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Conn runs the store's statements.
type Conn interface {
	// Exec runs a statement and returns the rows it affected (matched,
	// for UPDATE).
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	// QueryString returns the single text column of the first row, or
	// brokerkit.ErrNoRecord when there is none.
	QueryString(ctx context.Context, q string, args ...any) (string, error)
	// QueryStrings returns the single text column of every row.
	QueryStrings(ctx context.Context, q string, args ...any) ([]string, error)
}

// Dialect is what differs between the SQL servers.
type Dialect struct {
	// Param is the placeholder of the n-th (1-based) argument.
	Param func(n int) string
	// Now is the current timestamp expression.
	Now string
	// InsertSuffix ends an INSERT so that a duplicate id inserts nothing
	// (it then affects no rows); empty when IsDuplicate reports it.
	InsertSuffix string
	// IsDuplicate reports an INSERT's duplicate-key error; nil when
	// InsertSuffix handles duplicates.
	IsDuplicate func(error) bool
}

// Store keeps records in the tables instances and bindings (qualified
// names).
type Store struct {
	brokerkit.Records
	conn      Conn
	instances string
	bindings  string
	p         func(int) string
}

var _ osb.Store = (*Store)(nil)

// New is a store over existing tables.
func New(conn Conn, d Dialect, instances, bindings string) *Store {
	s := &Store{conn: conn, instances: instances, bindings: bindings, p: d.Param}
	s.Records = brokerkit.Records{Backend: &backend{s: s, d: d}}
	return s
}

// params is "p(from), …, p(from+n-1)".
func (s *Store) params(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = s.p(from + i)
	}
	return strings.Join(ps, ", ")
}

type backend struct {
	s *Store
	d Dialect
}

func (b *backend) table(k brokerkit.Kind) string {
	if k == brokerkit.Bindings {
		return b.s.bindings
	}
	return b.s.instances
}

func (b *backend) Insert(ctx context.Context, k brokerkit.Kind, id, instanceID string, pending bool, data []byte) (bool, error) {
	var n int64
	var err error
	if k == brokerkit.Bindings {
		n, err = b.s.conn.Exec(ctx, `INSERT INTO `+b.s.bindings+` (id, instance_id, pending, data) VALUES (`+b.s.params(1, 4)+`)`+b.d.InsertSuffix,
			id, instanceID, pending, string(data))
	} else {
		n, err = b.s.conn.Exec(ctx, `INSERT INTO `+b.s.instances+` (id, pending, data) VALUES (`+b.s.params(1, 3)+`)`+b.d.InsertSuffix,
			id, pending, string(data))
	}
	if b.d.IsDuplicate != nil && b.d.IsDuplicate(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

func (b *backend) Update(ctx context.Context, k brokerkit.Kind, id string, pending bool, data []byte) (bool, error) {
	n, err := b.s.conn.Exec(ctx, `UPDATE `+b.table(k)+` SET pending = `+b.s.p(1)+`, data = `+b.s.p(2)+
		`, updated_at = `+b.d.Now+` WHERE id = `+b.s.p(3), pending, string(data), id)
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

func (b *backend) Get(ctx context.Context, k brokerkit.Kind, id string) ([]byte, error) {
	data, err := b.s.conn.QueryString(ctx, `SELECT data FROM `+b.table(k)+` WHERE id = `+b.s.p(1), id)
	if err != nil {
		return nil, err
	}
	return []byte(data), nil
}

func (b *backend) Delete(ctx context.Context, k brokerkit.Kind, id string) error {
	_, err := b.s.conn.Exec(ctx, `DELETE FROM `+b.table(k)+` WHERE id = `+b.s.p(1), id)
	return err
}

func queryAll[T any](ctx context.Context, conn Conn, q string, args ...any) ([]*T, error) {
	datas, err := conn.QueryStrings(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return brokerkit.Decode[T](datas)
}

// ListBindings implements osb.Store.
func (s *Store) ListBindings(ctx context.Context, instanceID string) ([]*osb.Binding, error) {
	out, err := queryAll[osb.Binding](ctx, s.conn, `SELECT data FROM `+s.bindings+` WHERE instance_id = `+s.p(1)+` ORDER BY id`, instanceID)
	if err != nil {
		return nil, fmt.Errorf("list bindings of %s: %w", instanceID, err)
	}
	return out, nil
}

// ListPending implements osb.Store.
func (s *Store) ListPending(ctx context.Context) ([]*osb.Instance, []*osb.Binding, error) {
	insts, err := queryAll[osb.Instance](ctx, s.conn, `SELECT data FROM `+s.instances+` WHERE pending ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list pending instances: %w", err)
	}
	binds, err := queryAll[osb.Binding](ctx, s.conn, `SELECT data FROM `+s.bindings+` WHERE pending ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("list pending bindings: %w", err)
	}
	return insts, binds, nil
}

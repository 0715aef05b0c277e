package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// table describes how one record type maps onto its table: the meta columns
// (guid, created_at, updated_at, version) come first, then cols, whose
// values come from values and are scanned back through scan.
type table[T any] struct {
	name string // table name
	what string // record name in errors, e.g. "app"
	cols []string
	meta func(*T) *store.Meta
	// values returns one value per col.
	values func(*T) ([]any, error)
	// scan returns one destination per col and a function that finishes
	// decoding (the data JSON) after Scan.
	scan func(*T) ([]any, func() error)
	// filters maps list options onto columns.
	filters func(store.ListOptions) []filter
}

type filter struct {
	col  string
	vals []string
}

func (t *table[T]) selectCols() string {
	return "guid, created_at, updated_at, version, " + strings.Join(t.cols, ", ")
}

// now is the store's clock: UTC, without a monotonic reading, so a
// timestamp written back to a record equals the one read from the database.
func now() time.Time { return time.Now().UTC().Round(0) }

func toNanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func (t *table[T]) create(ctx context.Context, s *Store, r *T) error {
	m := t.meta(r)
	if m.GUID == "" {
		return fmt.Errorf("create %s: guid is required", t.what)
	}
	vals, err := t.values(r)
	if err != nil {
		return fmt.Errorf("create %s %s: %w", t.what, m.GUID, err)
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = now()
	}
	created = created.UTC().Round(0)
	updated := m.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	updated = updated.UTC().Round(0)
	args := append([]any{m.GUID, toNanos(created), toNanos(updated), int64(1)}, vals...)
	q := "INSERT INTO " + t.name + " (" + t.selectCols() + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ") + ")"
	if _, err := s.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("create %s %s: %w", t.what, m.GUID, mapErr(err))
	}
	// Round-trip exactly what is stored.
	m.CreatedAt = fromNanos(toNanos(created))
	m.UpdatedAt = fromNanos(toNanos(updated))
	m.Version = 1
	return nil
}

func (t *table[T]) scanRow(sc interface{ Scan(...any) error }) (*T, error) {
	r := new(T)
	m := t.meta(r)
	var created, updated int64
	dest, finish := t.scan(r)
	if err := sc.Scan(append([]any{&m.GUID, &created, &updated, &m.Version}, dest...)...); err != nil {
		return nil, err
	}
	m.CreatedAt = fromNanos(created)
	m.UpdatedAt = fromNanos(updated)
	if finish != nil {
		if err := finish(); err != nil {
			return nil, fmt.Errorf("decode %s %s: %w", t.what, m.GUID, err)
		}
	}
	return r, nil
}

func (t *table[T]) get(ctx context.Context, s *Store, guid string) (*T, error) {
	return t.getWhere(ctx, s, guid, "guid = ?", guid)
}

func (t *table[T]) getWhere(ctx context.Context, s *Store, key, where string, args ...any) (*T, error) {
	row := s.queryRow(ctx, "SELECT "+t.selectCols()+" FROM "+t.name+" WHERE "+where, args...)
	r, err := t.scanRow(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get %s %s: %w", t.what, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", t.what, key, err)
	}
	return r, nil
}

func (t *table[T]) list(ctx context.Context, s *Store, opt store.ListOptions) ([]*T, error) {
	var (
		where []string
		args  []any
	)
	fs := []filter{{"guid", opt.GUIDs}}
	if t.filters != nil {
		fs = append(fs, t.filters(opt)...)
	}
	for _, f := range fs {
		if len(f.vals) == 0 {
			continue
		}
		where = append(where, f.col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.vals)), ", ")+")")
		for _, v := range f.vals {
			args = append(args, v)
		}
	}
	q := "SELECT " + t.selectCols() + " FROM " + t.name
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at, guid"
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", t.what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		r, err := t.scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", t.what, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %ss: %w", t.what, err)
	}
	return out, nil
}

func (t *table[T]) update(ctx context.Context, s *Store, r *T) error {
	m := t.meta(r)
	vals, err := t.values(r)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", t.what, m.GUID, err)
	}
	updated := now()
	set := make([]string, 0, len(t.cols)+2)
	for _, c := range t.cols {
		set = append(set, c+" = ?")
	}
	set = append(set, "updated_at = ?", "version = ?")
	args := append(vals, toNanos(updated), m.Version+1, m.GUID, m.Version)
	q := "UPDATE " + t.name + " SET " + strings.Join(set, ", ") + " WHERE guid = ? AND version = ?"
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", t.what, m.GUID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %s %s: %w", t.what, m.GUID, err)
	}
	if n == 0 {
		var one int
		err := s.queryRow(ctx, "SELECT 1 FROM "+t.name+" WHERE guid = ?", m.GUID).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("update %s %s: %w", t.what, m.GUID, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("update %s %s: %w", t.what, m.GUID, err)
		}
		return fmt.Errorf("update %s %s at version %d: %w", t.what, m.GUID, m.Version, store.ErrConflict)
	}
	m.Version++
	m.UpdatedAt = updated
	return nil
}

func (t *table[T]) delete(ctx context.Context, s *Store, guid string) error {
	res, err := s.exec(ctx, "DELETE FROM "+t.name+" WHERE guid = ?", guid)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", t.what, guid, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", t.what, guid, err)
	}
	if n == 0 {
		return fmt.Errorf("delete %s %s: %w", t.what, guid, store.ErrNotFound)
	}
	return nil
}

// jsonCol marshals v for a data column.
func jsonCol(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode data: %w", err)
	}
	return string(b), nil
}

// dataScan returns a scan destination for a data column and a function
// that decodes it into v.
func dataScan(v any) (*string, func() error) {
	s := new(string)
	return s, func() error { return json.Unmarshal([]byte(*s), v) }
}

// crud binds a table to a store: its Create/Get/List/Update/Delete are
// the methods of every store interface (each interface names the subset
// its resource supports).
type crud[T any] struct {
	s *Store
	t *table[T]
}

func (x crud[T]) Create(ctx context.Context, r *T) error { return x.t.create(ctx, x.s, r) }
func (x crud[T]) Get(ctx context.Context, guid string) (*T, error) {
	return x.t.get(ctx, x.s, guid)
}
func (x crud[T]) List(ctx context.Context, opt store.ListOptions) ([]*T, error) {
	return x.t.list(ctx, x.s, opt)
}
func (x crud[T]) Update(ctx context.Context, r *T) error        { return x.t.update(ctx, x.s, r) }
func (x crud[T]) Delete(ctx context.Context, guid string) error { return x.t.delete(ctx, x.s, guid) }

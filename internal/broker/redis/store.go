package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Store keeps the broker's records as JSON in two Redis hashes,
// <prefix>instances and <prefix>bindings, keyed by id.
type Store struct {
	rdb       *goredis.Client
	instances string
	bindings  string
}

var _ osb.Store = (*Store)(nil)

// replaceIfExists sets a hash field only if it is already there.
var replaceIfExists = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0`)

// NewStore returns a store under the key prefix.
func NewStore(rdb *goredis.Client, prefix string) *Store {
	return &Store{rdb: rdb, instances: prefix + "instances", bindings: prefix + "bindings"}
}

func (s *Store) create(ctx context.Context, key, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	ok, err := s.rdb.HSetNX(ctx, key, id, data).Result()
	if err != nil {
		return fmt.Errorf("insert %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("record %s: %w", id, osb.ErrExists)
	}
	return nil
}

func (s *Store) replace(ctx context.Context, key, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	n, err := replaceIfExists.Run(ctx, s.rdb, []string{key}, id, data).Int()
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("record %s: %w", id, osb.ErrNotFound)
	}
	return nil
}

func (s *Store) get(ctx context.Context, key, id string, dst any) error {
	data, err := s.rdb.HGet(ctx, key, id).Bytes()
	if errors.Is(err, goredis.Nil) {
		return fmt.Errorf("record %s: %w", id, osb.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("decode record %s: %w", id, err)
	}
	return nil
}

func (s *Store) remove(ctx context.Context, key, id string) error {
	if err := s.rdb.HDel(ctx, key, id).Err(); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

func all[T any](ctx context.Context, rdb *goredis.Client, key string) ([]*T, error) {
	vals, err := rdb.HVals(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(vals))
	for _, v := range vals {
		rec := new(T)
		if err := json.Unmarshal([]byte(v), rec); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// CreateInstance implements osb.Store.
func (s *Store) CreateInstance(ctx context.Context, inst *osb.Instance) error {
	return s.create(ctx, s.instances, inst.ID, inst)
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
	return s.replace(ctx, s.instances, inst.ID, inst)
}

// DeleteInstance implements osb.Store.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	return s.remove(ctx, s.instances, id)
}

// CreateBinding implements osb.Store.
func (s *Store) CreateBinding(ctx context.Context, b *osb.Binding) error {
	return s.create(ctx, s.bindings, b.ID, b)
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
	return s.replace(ctx, s.bindings, b.ID, b)
}

// DeleteBinding implements osb.Store.
func (s *Store) DeleteBinding(ctx context.Context, id string) error {
	return s.remove(ctx, s.bindings, id)
}

// ListBindings implements osb.Store.
func (s *Store) ListBindings(ctx context.Context, instanceID string) ([]*osb.Binding, error) {
	bindings, err := all[osb.Binding](ctx, s.rdb, s.bindings)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	var out []*osb.Binding
	for _, b := range bindings {
		if b.InstanceID == instanceID {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ListBound returns the bindings whose credentials are in place.
func (s *Store) ListBound(ctx context.Context) ([]*osb.Binding, error) {
	bindings, err := all[osb.Binding](ctx, s.rdb, s.bindings)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	var out []*osb.Binding
	for _, b := range bindings {
		if b.Usable() && !b.Pending() {
			out = append(out, b)
		}
	}
	return out, nil
}

// ListPending implements osb.Store.
func (s *Store) ListPending(ctx context.Context) ([]*osb.Instance, []*osb.Binding, error) {
	insts, err := all[osb.Instance](ctx, s.rdb, s.instances)
	if err != nil {
		return nil, nil, fmt.Errorf("list instances: %w", err)
	}
	binds, err := all[osb.Binding](ctx, s.rdb, s.bindings)
	if err != nil {
		return nil, nil, fmt.Errorf("list bindings: %w", err)
	}
	var pi []*osb.Instance
	var pb []*osb.Binding
	for _, i := range insts {
		if i.Pending() {
			pi = append(pi, i)
		}
	}
	for _, b := range binds {
		if b.Pending() {
			pb = append(pb, b)
		}
	}
	return pi, pb, nil
}

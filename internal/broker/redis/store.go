package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Store keeps the broker's records as JSON in two Redis hashes,
// <prefix>instances and <prefix>bindings, keyed by id.
type Store struct {
	brokerkit.Records
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
	s := &Store{rdb: rdb, instances: prefix + "instances", bindings: prefix + "bindings"}
	s.Records = brokerkit.Records{Backend: hashes{s}}
	return s
}

// hashes keeps each kind of record in its hash.
type hashes struct{ s *Store }

func (h hashes) key(k brokerkit.Kind) string {
	if k == brokerkit.Bindings {
		return h.s.bindings
	}
	return h.s.instances
}

func (h hashes) Insert(ctx context.Context, k brokerkit.Kind, id, _ string, _ bool, data []byte) (bool, error) {
	return h.s.rdb.HSetNX(ctx, h.key(k), id, data).Result()
}

func (h hashes) Update(ctx context.Context, k brokerkit.Kind, id string, _ bool, data []byte) (bool, error) {
	n, err := replaceIfExists.Run(ctx, h.s.rdb, []string{h.key(k)}, id, data).Int()
	return n != 0, err
}

func (h hashes) Get(ctx context.Context, k brokerkit.Kind, id string) ([]byte, error) {
	data, err := h.s.rdb.HGet(ctx, h.key(k), id).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, brokerkit.ErrNoRecord
	}
	return data, err
}

func (h hashes) Delete(ctx context.Context, k brokerkit.Kind, id string) error {
	return h.s.rdb.HDel(ctx, h.key(k), id).Err()
}

func all[T any](ctx context.Context, rdb *goredis.Client, key string) ([]*T, error) {
	vals, err := rdb.HVals(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	return brokerkit.Decode[T](vals)
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

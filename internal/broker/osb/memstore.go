package osb

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// MemoryStore is a Store in memory, for tests and for brokers that need
// no persistence. Records are stored as JSON, as the real stores do, so
// callers never share memory with the store.
type MemoryStore struct {
	mu        sync.Mutex
	instances map[string][]byte
	bindings  map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{instances: map[string][]byte{}, bindings: map[string][]byte{}}
}

var _ Store = (*MemoryStore)(nil)

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

func decodeInstance(b []byte) (*Instance, error) {
	var inst Instance
	if err := json.Unmarshal(b, &inst); err != nil {
		return nil, fmt.Errorf("decode instance record: %w", err)
	}
	return &inst, nil
}

func decodeBinding(b []byte) (*Binding, error) {
	var bd Binding
	if err := json.Unmarshal(b, &bd); err != nil {
		return nil, fmt.Errorf("decode binding record: %w", err)
	}
	return &bd, nil
}

// CreateInstance implements Store.
func (m *MemoryStore) CreateInstance(_ context.Context, inst *Instance) error {
	data, err := encode(inst)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.instances[inst.ID]; ok {
		return fmt.Errorf("instance %s: %w", inst.ID, ErrExists)
	}
	m.instances[inst.ID] = data
	return nil
}

// GetInstance implements Store.
func (m *MemoryStore) GetInstance(_ context.Context, id string) (*Instance, error) {
	m.mu.Lock()
	data, ok := m.instances[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("instance %s: %w", id, ErrNotFound)
	}
	return decodeInstance(data)
}

// UpdateInstance implements Store.
func (m *MemoryStore) UpdateInstance(_ context.Context, inst *Instance) error {
	data, err := encode(inst)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.instances[inst.ID]; !ok {
		return fmt.Errorf("instance %s: %w", inst.ID, ErrNotFound)
	}
	m.instances[inst.ID] = data
	return nil
}

// DeleteInstance implements Store.
func (m *MemoryStore) DeleteInstance(_ context.Context, id string) error {
	m.mu.Lock()
	delete(m.instances, id)
	m.mu.Unlock()
	return nil
}

// CreateBinding implements Store.
func (m *MemoryStore) CreateBinding(_ context.Context, b *Binding) error {
	data, err := encode(b)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.bindings[b.ID]; ok {
		return fmt.Errorf("binding %s: %w", b.ID, ErrExists)
	}
	m.bindings[b.ID] = data
	return nil
}

// GetBinding implements Store.
func (m *MemoryStore) GetBinding(_ context.Context, id string) (*Binding, error) {
	m.mu.Lock()
	data, ok := m.bindings[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("binding %s: %w", id, ErrNotFound)
	}
	return decodeBinding(data)
}

// UpdateBinding implements Store.
func (m *MemoryStore) UpdateBinding(_ context.Context, b *Binding) error {
	data, err := encode(b)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.bindings[b.ID]; !ok {
		return fmt.Errorf("binding %s: %w", b.ID, ErrNotFound)
	}
	m.bindings[b.ID] = data
	return nil
}

// DeleteBinding implements Store.
func (m *MemoryStore) DeleteBinding(_ context.Context, id string) error {
	m.mu.Lock()
	delete(m.bindings, id)
	m.mu.Unlock()
	return nil
}

// ListBindings implements Store.
func (m *MemoryStore) ListBindings(_ context.Context, instanceID string) ([]*Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Binding
	for _, data := range m.bindings {
		b, err := decodeBinding(data)
		if err != nil {
			return nil, err
		}
		if b.InstanceID == instanceID {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ListPending implements Store.
func (m *MemoryStore) ListPending(_ context.Context) ([]*Instance, []*Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var insts []*Instance
	var binds []*Binding
	for _, data := range m.instances {
		inst, err := decodeInstance(data)
		if err != nil {
			return nil, nil, err
		}
		if inst.Pending() {
			insts = append(insts, inst)
		}
	}
	for _, data := range m.bindings {
		b, err := decodeBinding(data)
		if err != nil {
			return nil, nil, err
		}
		if b.Pending() {
			binds = append(binds, b)
		}
	}
	return insts, binds, nil
}

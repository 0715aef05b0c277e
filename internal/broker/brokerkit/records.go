package brokerkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Kind names a record collection.
type Kind int

// The two record collections.
const (
	Instances Kind = iota
	Bindings
)

// ErrNoRecord is what a RecordBackend's Get returns for a missing record.
var ErrNoRecord = errors.New("no such record")

// RecordBackend stores JSON records by kind and id; Records turns it into
// the record half of an osb.Store.
type RecordBackend interface {
	// Insert adds a record; false when one with the id exists.
	Insert(ctx context.Context, k Kind, id, instanceID string, pending bool, data []byte) (bool, error)
	// Update replaces a record; false when there is none with the id.
	Update(ctx context.Context, k Kind, id string, pending bool, data []byte) (bool, error)
	// Get loads a record or returns ErrNoRecord.
	Get(ctx context.Context, k Kind, id string) ([]byte, error)
	// Delete removes a record if it exists.
	Delete(ctx context.Context, k Kind, id string) error
}

// Records implements the create/get/update/delete methods of osb.Store
// over a RecordBackend; stores embed it and add the list methods.
type Records struct {
	Backend RecordBackend
}

func (r Records) insert(ctx context.Context, k Kind, id, instanceID string, pending bool, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	ok, err := r.Backend.Insert(ctx, k, id, instanceID, pending, data)
	if err != nil {
		return fmt.Errorf("insert %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("record %s: %w", id, osb.ErrExists)
	}
	return nil
}

func (r Records) update(ctx context.Context, k Kind, id string, pending bool, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	ok, err := r.Backend.Update(ctx, k, id, pending, data)
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("record %s: %w", id, osb.ErrNotFound)
	}
	return nil
}

func (r Records) get(ctx context.Context, k Kind, id string, dst any) error {
	data, err := r.Backend.Get(ctx, k, id)
	if errors.Is(err, ErrNoRecord) {
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

func (r Records) delete(ctx context.Context, k Kind, id string) error {
	if err := r.Backend.Delete(ctx, k, id); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// CreateInstance implements osb.Store.
func (r Records) CreateInstance(ctx context.Context, inst *osb.Instance) error {
	return r.insert(ctx, Instances, inst.ID, "", inst.Pending(), inst)
}

// GetInstance implements osb.Store.
func (r Records) GetInstance(ctx context.Context, id string) (*osb.Instance, error) {
	var inst osb.Instance
	if err := r.get(ctx, Instances, id, &inst); err != nil {
		return nil, err
	}
	return &inst, nil
}

// UpdateInstance implements osb.Store.
func (r Records) UpdateInstance(ctx context.Context, inst *osb.Instance) error {
	return r.update(ctx, Instances, inst.ID, inst.Pending(), inst)
}

// DeleteInstance implements osb.Store.
func (r Records) DeleteInstance(ctx context.Context, id string) error {
	return r.delete(ctx, Instances, id)
}

// CreateBinding implements osb.Store.
func (r Records) CreateBinding(ctx context.Context, b *osb.Binding) error {
	return r.insert(ctx, Bindings, b.ID, b.InstanceID, b.Pending(), b)
}

// GetBinding implements osb.Store.
func (r Records) GetBinding(ctx context.Context, id string) (*osb.Binding, error) {
	var b osb.Binding
	if err := r.get(ctx, Bindings, id, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// UpdateBinding implements osb.Store.
func (r Records) UpdateBinding(ctx context.Context, b *osb.Binding) error {
	return r.update(ctx, Bindings, b.ID, b.Pending(), b)
}

// DeleteBinding implements osb.Store.
func (r Records) DeleteBinding(ctx context.Context, id string) error {
	return r.delete(ctx, Bindings, id)
}

// Decode unmarshals JSON records.
func Decode[T any, D ~string | ~[]byte](datas []D) ([]*T, error) {
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

// Package osb is the server side of the Open Service Broker API v2.17 shared
// by ingot's built-in brokers (postgres, mysql, redis).
//
// A broker is a Provider (what provisioning and binding mean on one kind of
// server) plus a Store (where the broker keeps its records). The Server does
// everything else the spec asks for: routing, HTTP basic auth, the
// X-Broker-API-Version check, request validation against the catalog, the
// 200/201/202/409/410/422 semantics of idempotent PUT and DELETE, and the
// tracking of asynchronous operations for last_operation polling.
//
// Every operation is recorded in the Store before the Provider is asked to
// act, and every Provider method must be idempotent. So a broker that dies in
// the middle of an operation repairs it on the next identical request (a
// re-sent PUT re-runs provision or bind, a re-sent DELETE re-runs
// deprovision or unbind), and Run resumes asynchronous operations that were
// in progress when the previous process stopped. Synchronous operations that
// were interrupted are marked failed instead, because their caller got no
// answer and will repeat or orphan-mitigate them.
//
// Instances are provisioned, updated and deprovisioned asynchronously when
// the platform sends accepts_incomplete=true and synchronously otherwise.
// Bindings are always created and deleted synchronously (the spec lets a
// broker answer a bind synchronously even when the platform accepts
// asynchronous answers); their last_operation endpoint reports the outcome
// of the last bind or unbind.
//
// Operations on one instance and its bindings are serialised; a request that
// arrives while an asynchronous operation on the same instance is running is
// answered 422 ConcurrencyError, except a repeat of that same operation,
// which is answered 202 with its operation token.
package osb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors.
var (
	// ErrNotFound: the store has no such record.
	ErrNotFound = errors.New("osb: not found")
	// ErrExists: the store already has a record with that id.
	ErrExists = errors.New("osb: already exists")
	// ErrBadRequest marks errors caused by the request (bad parameters,
	// something the server cannot do for this request). Providers wrap it;
	// the server answers 400 with the error's text.
	ErrBadRequest = errors.New("bad request")
	// ErrInvalidConfig: the server's config is unusable.
	ErrInvalidConfig = errors.New("invalid broker config")
	// ErrAlreadyRunning: Run was called twice.
	ErrAlreadyRunning = errors.New("broker is already running")
)

// Operation kinds.
const (
	OpProvision   = "provision"
	OpUpdate      = "update"
	OpDeprovision = "deprovision"
	OpBind        = "bind"
	OpUnbind      = "unbind"
)

// Operation is the last operation on an instance or binding.
type Operation struct {
	// ID is the opaque token given to the platform in 202 answers.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// State is StateInProgress, StateSucceeded or StateFailed.
	State       string `json:"state"`
	Description string `json:"description,omitempty"`
	// Async is true when the platform was answered 202 and polls.
	Async bool `json:"async"`
	// PlanID and Parameters are an update's target.
	PlanID     string          `json:"plan_id,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
}

// InProgress reports whether the operation has not finished.
func (o *Operation) InProgress() bool { return o != nil && o.State == StateInProgress }

// Instance is a broker's record of a service instance.
type Instance struct {
	ID               string `json:"id"`
	ServiceID        string `json:"service_id"`
	PlanID           string `json:"plan_id"`
	OrganizationGUID string `json:"organization_guid,omitempty"`
	SpaceGUID        string `json:"space_guid,omitempty"`
	// Context is the platform's latest context object.
	Context json.RawMessage `json:"context,omitempty"`
	// Parameters is the canonical JSON object of the provision (or latest
	// update) parameters; "{}" when there were none.
	Parameters json.RawMessage `json:"parameters"`
	// Provisioned is true once a provision succeeded.
	Provisioned   bool       `json:"provisioned"`
	LastOperation *Operation `json:"last_operation,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Pending reports whether an operation on the instance has not finished.
func (i *Instance) Pending() bool { return i.LastOperation.InProgress() }

// Binding is a broker's record of a service binding.
type Binding struct {
	ID           string          `json:"id"`
	InstanceID   string          `json:"instance_id"`
	ServiceID    string          `json:"service_id"`
	PlanID       string          `json:"plan_id"`
	AppGUID      string          `json:"app_guid,omitempty"`
	BindResource *BindResource   `json:"bind_resource,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
	Parameters   json.RawMessage `json:"parameters"`
	// Credentials are what the provider returned; set once Bound.
	Credentials   map[string]any `json:"credentials,omitempty"`
	Bound         bool           `json:"bound"`
	LastOperation *Operation     `json:"last_operation,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// Pending reports whether an operation on the binding has not finished.
func (b *Binding) Pending() bool { return b.LastOperation.InProgress() }

// Usable reports whether a binding's credential is in place.
func (b *Binding) Usable() bool {
	op := b.LastOperation
	return b.Bound && !(op != nil && op.Kind == OpUnbind && op.State != StateSucceeded)
}

// Usable reports whether bindings may be made on inst.
func (i *Instance) Usable() bool {
	op := i.LastOperation
	return i.Provisioned && !(op != nil && op.Kind == OpDeprovision && op.State != StateSucceeded)
}

// Store keeps a broker's records. Implementations must be safe for
// concurrent use and must store records whole (they are small JSON objects).
type Store interface {
	// CreateInstance inserts a new record; ErrExists if the id is taken.
	CreateInstance(ctx context.Context, inst *Instance) error
	// GetInstance returns the record; ErrNotFound if there is none.
	GetInstance(ctx context.Context, id string) (*Instance, error)
	// UpdateInstance replaces an existing record; ErrNotFound if missing.
	UpdateInstance(ctx context.Context, inst *Instance) error
	// DeleteInstance removes the record; no error if it is missing.
	DeleteInstance(ctx context.Context, id string) error

	// CreateBinding inserts a new record; ErrExists if the id is taken.
	CreateBinding(ctx context.Context, b *Binding) error
	// GetBinding returns the record; ErrNotFound if there is none.
	GetBinding(ctx context.Context, id string) (*Binding, error)
	// UpdateBinding replaces an existing record; ErrNotFound if missing.
	UpdateBinding(ctx context.Context, b *Binding) error
	// DeleteBinding removes the record; no error if it is missing.
	DeleteBinding(ctx context.Context, id string) error
	// ListBindings returns the bindings of one instance, ordered by id.
	ListBindings(ctx context.Context, instanceID string) ([]*Binding, error)

	// ListPending returns the instances and bindings whose last operation
	// is in progress.
	ListPending(ctx context.Context) ([]*Instance, []*Binding, error)
}

// Provider does the work of one kind of broker on its server. Every method
// must be idempotent: it may be called again after a crash or a failure
// part-way through, and must then finish the job (creating what is missing,
// dropping what is left). Errors wrapping ErrBadRequest are the caller's
// fault and are answered 400; other errors are answered 500 (synchronous)
// or reported as a failed operation (asynchronous). Error texts are shown
// to users, so they must never contain secrets.
type Provider interface {
	// ValidateInstanceParameters checks provision or update parameters (a
	// JSON object) for a plan before anything is recorded.
	ValidateInstanceParameters(ctx context.Context, planID string, params json.RawMessage) error
	// ValidateBindingParameters checks bind parameters (a JSON object).
	ValidateBindingParameters(ctx context.Context, inst *Instance, params json.RawMessage) error
	// Provision creates the instance's resources for inst.PlanID and
	// inst.Parameters.
	Provision(ctx context.Context, inst *Instance) error
	// Update changes an instance (still described by inst) to a new plan
	// and parameters.
	Update(ctx context.Context, inst *Instance, planID string, params json.RawMessage) error
	// Deprovision removes the instance's resources and those of every
	// binding (bindings lists the recorded ones).
	Deprovision(ctx context.Context, inst *Instance, bindings []*Binding) error
	// Bind creates a credential for b and returns the credentials object.
	// Called again for the same binding, it must leave one working
	// credential: the one it returns.
	Bind(ctx context.Context, inst *Instance, b *Binding) (map[string]any, error)
	// Unbind revokes the binding's credential and closes its sessions.
	Unbind(ctx context.Context, inst *Instance, b *Binding) error
}

// DecodeParameters decodes a parameters object into dst, refusing unknown
// fields, with errors that wrap ErrBadRequest.
func DecodeParameters(params json.RawMessage, dst any) error {
	if len(params) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytesReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%w: parameters: %s", ErrBadRequest, cleanJSONError(err))
	}
	return nil
}

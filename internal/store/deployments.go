package store

import (
	"context"
	"time"
)

// Lease is a named, time-bounded claim held by one holder (for example
// the health manager that acts while several run).
type Lease struct {
	Name      string
	Holder    string
	ExpiresAt time.Time
}

// LeaseStore grants leases atomically.
type LeaseStore interface {
	// Acquire grants name to holder until now+ttl when the lease is free,
	// expired at now, or already held by holder (a renewal). It returns the
	// lease as it stands afterwards; granted reports whether holder has it.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (l Lease, granted bool, err error)
	// Release gives the lease up if holder has it.
	Release(ctx context.Context, name, holder string) error
}

// Deployment states (CF's status.value and status.reason).
const (
	DeploymentActive    = "ACTIVE"
	DeploymentFinalized = "FINALIZED"

	DeploymentDeploying  = "DEPLOYING"
	DeploymentCanceling  = "CANCELING"
	DeploymentDeployed   = "DEPLOYED"
	DeploymentCanceled   = "CANCELED"
	DeploymentSuperseded = "SUPERSEDED"

	StrategyRolling = "rolling"
)

// Deployment replaces an app's running instances with a new version, a
// batch at a time. At most one per app is ACTIVE.
type Deployment struct {
	Meta
	AppGUID string
	// StatusValue is DeploymentActive or DeploymentFinalized (a list filter
	// via ListOptions.States); StatusReason one of the reasons above.
	StatusValue  string
	StatusReason string
	Strategy     string
	// DropletGUID is the target droplet; Revision the version its new
	// instances run.
	DropletGUID string
	Revision    string
	// PreviousDropletGUID and PreviousRevision are what ran before, for a
	// failed or canceled deployment to put back.
	PreviousDropletGUID string
	PreviousRevision    string
	MaxInFlight         int
	// Error says why a deployment was canceled by the platform.
	Error string
}

// DeploymentStore: ListOptions filters AppGUIDs and States (status values).
type DeploymentStore interface {
	Create(ctx context.Context, d *Deployment) error
	Get(ctx context.Context, guid string) (*Deployment, error)
	List(ctx context.Context, opt ListOptions) ([]*Deployment, error)
	Update(ctx context.Context, d *Deployment) error
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

type deploymentData struct {
	StatusReason        string `json:"status_reason"`
	Strategy            string `json:"strategy"`
	DropletGUID         string `json:"droplet_guid"`
	Revision            string `json:"revision"`
	PreviousDropletGUID string `json:"previous_droplet_guid"`
	PreviousRevision    string `json:"previous_revision"`
	MaxInFlight         int    `json:"max_in_flight"`
	Error               string `json:"error,omitempty"`
}

var deploymentTable = &table[store.Deployment]{
	name: "deployments", what: "deployment",
	cols: []string{"app_guid", "status_value", "data"},
	meta: func(r *store.Deployment) *store.Meta { return &r.Meta },
	values: func(r *store.Deployment) ([]any, error) {
		d, err := jsonCol(deploymentData{
			StatusReason: r.StatusReason, Strategy: r.Strategy, DropletGUID: r.DropletGUID, Revision: r.Revision,
			PreviousDropletGUID: r.PreviousDropletGUID, PreviousRevision: r.PreviousRevision,
			MaxInFlight: r.MaxInFlight, Error: r.Error,
		})
		return []any{r.AppGUID, r.StatusValue, d}, err
	},
	scan: func(r *store.Deployment) ([]any, func() error) {
		var d deploymentData
		p, fin := dataScan(&d)
		return []any{&r.AppGUID, &r.StatusValue, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.StatusReason, r.Strategy, r.DropletGUID, r.Revision = d.StatusReason, d.Strategy, d.DropletGUID, d.Revision
			r.PreviousDropletGUID, r.PreviousRevision, r.MaxInFlight, r.Error = d.PreviousDropletGUID, d.PreviousRevision, d.MaxInFlight, d.Error
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"app_guid", o.AppGUIDs}, {"status_value", o.States}}
	},
}

// leaseStore grants leases with one conditional upsert, so two holders
// racing for a free lease cannot both win.
type leaseStore struct{ s *Store }

func (l leaseStore) Acquire(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return store.Lease{}, false, fmt.Errorf("lease: name, holder and a positive ttl are required")
	}
	exp := now.Add(ttl)
	_, err := l.s.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`, name, holder, toNanos(exp), toNanos(now))
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	var cur store.Lease
	var ns int64
	err = l.s.queryRow(ctx, `SELECT name, holder, expires_at FROM leases WHERE name = ?`, name).Scan(&cur.Name, &cur.Holder, &ns)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Lease{}, false, fmt.Errorf("acquire lease %s: vanished", name)
	}
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("read lease %s: %w", name, err)
	}
	cur.ExpiresAt = fromNanos(ns)
	return cur, cur.Holder == holder && cur.ExpiresAt.After(now), nil
}

func (l leaseStore) Release(ctx context.Context, name, holder string) error {
	if _, err := l.s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

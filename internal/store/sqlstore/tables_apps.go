package sqlstore

import (
	"context"

	"github.com/ingot-paas/ingot/internal/store"
)

// Each resource: its data JSON (the fields that are not columns), its
// table, and a thin store type. Get/Update/Delete of a missing guid return
// store.ErrNotFound.

type orgData struct {
	Suspended bool `json:"suspended"`
}

var orgTable = &table[store.Org]{
	name: "orgs", what: "org",
	cols: []string{"name", "data"},
	meta: func(r *store.Org) *store.Meta { return &r.Meta },
	values: func(r *store.Org) ([]any, error) {
		d, err := jsonCol(orgData{Suspended: r.Suspended})
		return []any{r.Name, d}, err
	},
	scan: func(r *store.Org) ([]any, func() error) {
		var d orgData
		p, fin := dataScan(&d)
		return []any{&r.Name, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.Suspended = d.Suspended
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter { return []filter{{"name", o.Names}} },
}

type orgStore struct{ s *Store }

func (x orgStore) Create(ctx context.Context, r *store.Org) error {
	return orgTable.create(ctx, x.s, r)
}
func (x orgStore) Get(ctx context.Context, guid string) (*store.Org, error) {
	return orgTable.get(ctx, x.s, guid)
}
func (x orgStore) List(ctx context.Context, opt store.ListOptions) ([]*store.Org, error) {
	return orgTable.list(ctx, x.s, opt)
}
func (x orgStore) Update(ctx context.Context, r *store.Org) error {
	return orgTable.update(ctx, x.s, r)
}
func (x orgStore) Delete(ctx context.Context, guid string) error {
	return orgTable.delete(ctx, x.s, guid)
}

var spaceTable = &table[store.Space]{
	name: "spaces", what: "space",
	cols:   []string{"name", "org_guid", "data"},
	meta:   func(r *store.Space) *store.Meta { return &r.Meta },
	values: func(r *store.Space) ([]any, error) { return []any{r.Name, r.OrgGUID, "{}"}, nil },
	scan: func(r *store.Space) ([]any, func() error) {
		var d string
		return []any{&r.Name, &r.OrgGUID, &d}, nil
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"org_guid", o.OrgGUIDs}}
	},
}

type spaceStore struct{ s *Store }

func (x spaceStore) Create(ctx context.Context, r *store.Space) error {
	return spaceTable.create(ctx, x.s, r)
}
func (x spaceStore) Get(ctx context.Context, guid string) (*store.Space, error) {
	return spaceTable.get(ctx, x.s, guid)
}
func (x spaceStore) List(ctx context.Context, opt store.ListOptions) ([]*store.Space, error) {
	return spaceTable.list(ctx, x.s, opt)
}
func (x spaceStore) Update(ctx context.Context, r *store.Space) error {
	return spaceTable.update(ctx, x.s, r)
}
func (x spaceStore) Delete(ctx context.Context, guid string) error {
	return spaceTable.delete(ctx, x.s, guid)
}

type domainData struct {
	Internal bool `json:"internal"`
}

var domainTable = &table[store.Domain]{
	name: "domains", what: "domain",
	cols: []string{"name", "org_guid", "data"},
	meta: func(r *store.Domain) *store.Meta { return &r.Meta },
	values: func(r *store.Domain) ([]any, error) {
		d, err := jsonCol(domainData{Internal: r.Internal})
		return []any{r.Name, r.OrgGUID, d}, err
	},
	scan: func(r *store.Domain) ([]any, func() error) {
		var d domainData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.OrgGUID, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.Internal = d.Internal
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"org_guid", o.OrgGUIDs}}
	},
}

type domainStore struct{ s *Store }

func (x domainStore) Create(ctx context.Context, r *store.Domain) error {
	return domainTable.create(ctx, x.s, r)
}
func (x domainStore) Get(ctx context.Context, guid string) (*store.Domain, error) {
	return domainTable.get(ctx, x.s, guid)
}
func (x domainStore) List(ctx context.Context, opt store.ListOptions) ([]*store.Domain, error) {
	return domainTable.list(ctx, x.s, opt)
}
func (x domainStore) Delete(ctx context.Context, guid string) error {
	return domainTable.delete(ctx, x.s, guid)
}

type appData struct {
	DropletGUID string            `json:"droplet_guid"`
	Buildpacks  []string          `json:"buildpacks"`
	Stack       string            `json:"stack"`
	Env         map[string]string `json:"env"`
}

var appTable = &table[store.App]{
	name: "apps", what: "app",
	cols: []string{"name", "space_guid", "state", "data"},
	meta: func(r *store.App) *store.Meta { return &r.Meta },
	values: func(r *store.App) ([]any, error) {
		d, err := jsonCol(appData{DropletGUID: r.DropletGUID, Buildpacks: r.Buildpacks, Stack: r.Stack, Env: r.Env})
		return []any{r.Name, r.SpaceGUID, r.State, d}, err
	},
	scan: func(r *store.App) ([]any, func() error) {
		var d appData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.SpaceGUID, &r.State, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.DropletGUID, r.Buildpacks, r.Stack, r.Env = d.DropletGUID, d.Buildpacks, d.Stack, d.Env
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"space_guid", o.SpaceGUIDs}, {"state", o.States}}
	},
}

type appStore struct{ s *Store }

func (x appStore) Create(ctx context.Context, r *store.App) error {
	return appTable.create(ctx, x.s, r)
}
func (x appStore) Get(ctx context.Context, guid string) (*store.App, error) {
	return appTable.get(ctx, x.s, guid)
}
func (x appStore) List(ctx context.Context, opt store.ListOptions) ([]*store.App, error) {
	return appTable.list(ctx, x.s, opt)
}
func (x appStore) Update(ctx context.Context, r *store.App) error {
	return appTable.update(ctx, x.s, r)
}
func (x appStore) Delete(ctx context.Context, guid string) error {
	return appTable.delete(ctx, x.s, guid)
}

type processData struct {
	Command                      string `json:"command"`
	Instances                    int    `json:"instances"`
	MemoryMB                     int64  `json:"memory_mb"`
	DiskMB                       int64  `json:"disk_mb"`
	HealthCheckType              string `json:"health_check_type"`
	HealthCheckEndpoint          string `json:"health_check_endpoint"`
	HealthCheckTimeout           int    `json:"health_check_timeout"`
	HealthCheckInvocationTimeout int    `json:"health_check_invocation_timeout"`
}

var processTable = &table[store.Process]{
	name: "processes", what: "process",
	cols: []string{"app_guid", "type", "data"},
	meta: func(r *store.Process) *store.Meta { return &r.Meta },
	values: func(r *store.Process) ([]any, error) {
		d, err := jsonCol(processData{
			Command: r.Command, Instances: r.Instances, MemoryMB: r.MemoryMB, DiskMB: r.DiskMB,
			HealthCheckType: r.HealthCheckType, HealthCheckEndpoint: r.HealthCheckEndpoint,
			HealthCheckTimeout: r.HealthCheckTimeout, HealthCheckInvocationTimeout: r.HealthCheckInvocationTimeout,
		})
		return []any{r.AppGUID, r.Type, d}, err
	},
	scan: func(r *store.Process) ([]any, func() error) {
		var d processData
		p, fin := dataScan(&d)
		return []any{&r.AppGUID, &r.Type, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.Command, r.Instances, r.MemoryMB, r.DiskMB = d.Command, d.Instances, d.MemoryMB, d.DiskMB
			r.HealthCheckType, r.HealthCheckEndpoint = d.HealthCheckType, d.HealthCheckEndpoint
			r.HealthCheckTimeout, r.HealthCheckInvocationTimeout = d.HealthCheckTimeout, d.HealthCheckInvocationTimeout
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"app_guid", o.AppGUIDs}, {"type", o.Types}}
	},
}

type processStore struct{ s *Store }

func (x processStore) Create(ctx context.Context, r *store.Process) error {
	return processTable.create(ctx, x.s, r)
}
func (x processStore) Get(ctx context.Context, guid string) (*store.Process, error) {
	return processTable.get(ctx, x.s, guid)
}
func (x processStore) List(ctx context.Context, opt store.ListOptions) ([]*store.Process, error) {
	return processTable.list(ctx, x.s, opt)
}
func (x processStore) Update(ctx context.Context, r *store.Process) error {
	return processTable.update(ctx, x.s, r)
}
func (x processStore) Delete(ctx context.Context, guid string) error {
	return processTable.delete(ctx, x.s, guid)
}

type packageData struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Error  string `json:"error"`
}

var packageTable = &table[store.Package]{
	name: "packages", what: "package",
	cols: []string{"app_guid", "type", "state", "data"},
	meta: func(r *store.Package) *store.Meta { return &r.Meta },
	values: func(r *store.Package) ([]any, error) {
		d, err := jsonCol(packageData{Digest: r.Digest, Size: r.Size, Error: r.Error})
		return []any{r.AppGUID, r.Type, r.State, d}, err
	},
	scan: func(r *store.Package) ([]any, func() error) {
		var d packageData
		p, fin := dataScan(&d)
		return []any{&r.AppGUID, &r.Type, &r.State, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.Digest, r.Size, r.Error = d.Digest, d.Size, d.Error
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"app_guid", o.AppGUIDs}, {"state", o.States}, {"type", o.Types}}
	},
}

type packageStore struct{ s *Store }

func (x packageStore) Create(ctx context.Context, r *store.Package) error {
	return packageTable.create(ctx, x.s, r)
}
func (x packageStore) Get(ctx context.Context, guid string) (*store.Package, error) {
	return packageTable.get(ctx, x.s, guid)
}
func (x packageStore) List(ctx context.Context, opt store.ListOptions) ([]*store.Package, error) {
	return packageTable.list(ctx, x.s, opt)
}
func (x packageStore) Update(ctx context.Context, r *store.Package) error {
	return packageTable.update(ctx, x.s, r)
}
func (x packageStore) Delete(ctx context.Context, guid string) error {
	return packageTable.delete(ctx, x.s, guid)
}

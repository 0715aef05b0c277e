package sqlstore

import (
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

type appData struct {
	DropletGUID string            `json:"droplet_guid"`
	Revision    string            `json:"revision,omitempty"`
	Buildpacks  []string          `json:"buildpacks"`
	Stack       string            `json:"stack"`
	Env         map[string]string `json:"env"`
}

var appTable = &table[store.App]{
	name: "apps", what: "app",
	cols: []string{"name", "space_guid", "state", "data"},
	meta: func(r *store.App) *store.Meta { return &r.Meta },
	values: func(r *store.App) ([]any, error) {
		d, err := jsonCol(appData{DropletGUID: r.DropletGUID, Revision: r.Revision, Buildpacks: r.Buildpacks, Stack: r.Stack, Env: r.Env})
		return []any{r.Name, r.SpaceGUID, r.State, d}, err
	},
	scan: func(r *store.App) ([]any, func() error) {
		var d appData
		p, fin := dataScan(&d)
		return []any{&r.Name, &r.SpaceGUID, &r.State, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.DropletGUID, r.Revision, r.Buildpacks, r.Stack, r.Env = d.DropletGUID, d.Revision, d.Buildpacks, d.Stack, d.Env
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"name", o.Names}, {"space_guid", o.SpaceGUIDs}, {"state", o.States}}
	},
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

package sqlstore

import (
	"context"

	"github.com/ingot-paas/ingot/internal/store"
)

type buildData struct {
	Error           string   `json:"error"`
	DropletGUID     string   `json:"droplet_guid"`
	StagingMemoryMB int64    `json:"staging_memory_mb"`
	StagingDiskMB   int64    `json:"staging_disk_mb"`
	Buildpacks      []string `json:"buildpacks"`
	Stack           string   `json:"stack"`
	CreatedBy       string   `json:"created_by"`
}

var buildTable = &table[store.Build]{
	name: "builds", what: "build",
	cols: []string{"app_guid", "package_guid", "state", "data"},
	meta: func(r *store.Build) *store.Meta { return &r.Meta },
	values: func(r *store.Build) ([]any, error) {
		d, err := jsonCol(buildData{
			Error: r.Error, DropletGUID: r.DropletGUID, StagingMemoryMB: r.StagingMemoryMB,
			StagingDiskMB: r.StagingDiskMB, Buildpacks: r.Buildpacks, Stack: r.Stack, CreatedBy: r.CreatedBy,
		})
		return []any{r.AppGUID, r.PackageGUID, r.State, d}, err
	},
	scan: func(r *store.Build) ([]any, func() error) {
		var d buildData
		p, fin := dataScan(&d)
		return []any{&r.AppGUID, &r.PackageGUID, &r.State, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.Error, r.DropletGUID, r.StagingMemoryMB, r.StagingDiskMB = d.Error, d.DropletGUID, d.StagingMemoryMB, d.StagingDiskMB
			r.Buildpacks, r.Stack, r.CreatedBy = d.Buildpacks, d.Stack, d.CreatedBy
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"app_guid", o.AppGUIDs}, {"state", o.States}, {"package_guid", o.PackageGUIDs}}
	},
}

type dropletData struct {
	BuildGUID         string            `json:"build_guid"`
	Error             string            `json:"error"`
	Digest            string            `json:"digest"`
	Size              int64             `json:"size"`
	DetectedBuildpack string            `json:"detected_buildpack"`
	BuildpackName     string            `json:"buildpack_name"`
	StartCommand      string            `json:"start_command"`
	ProcessTypes      map[string]string `json:"process_types"`
	Stack             string            `json:"stack"`
}

var dropletTable = &table[store.Droplet]{
	name: "droplets", what: "droplet",
	cols: []string{"app_guid", "package_guid", "state", "data"},
	meta: func(r *store.Droplet) *store.Meta { return &r.Meta },
	values: func(r *store.Droplet) ([]any, error) {
		d, err := jsonCol(dropletData{
			BuildGUID: r.BuildGUID, Error: r.Error, Digest: r.Digest, Size: r.Size,
			DetectedBuildpack: r.DetectedBuildpack, BuildpackName: r.BuildpackName,
			StartCommand: r.StartCommand, ProcessTypes: r.ProcessTypes, Stack: r.Stack,
		})
		return []any{r.AppGUID, r.PackageGUID, r.State, d}, err
	},
	scan: func(r *store.Droplet) ([]any, func() error) {
		var d dropletData
		p, fin := dataScan(&d)
		return []any{&r.AppGUID, &r.PackageGUID, &r.State, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.BuildGUID, r.Error, r.Digest, r.Size = d.BuildGUID, d.Error, d.Digest, d.Size
			r.DetectedBuildpack, r.BuildpackName, r.StartCommand = d.DetectedBuildpack, d.BuildpackName, d.StartCommand
			r.ProcessTypes, r.Stack = d.ProcessTypes, d.Stack
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"app_guid", o.AppGUIDs}, {"state", o.States}, {"package_guid", o.PackageGUIDs}}
	},
}

var routeTable = &table[store.Route]{
	name: "routes", what: "route",
	cols: []string{"host", "path", "domain_guid", "space_guid", "data"},
	meta: func(r *store.Route) *store.Meta { return &r.Meta },
	values: func(r *store.Route) ([]any, error) {
		return []any{r.Host, r.Path, r.DomainGUID, r.SpaceGUID, "{}"}, nil
	},
	scan: func(r *store.Route) ([]any, func() error) {
		var d string
		return []any{&r.Host, &r.Path, &r.DomainGUID, &r.SpaceGUID, &d}, nil
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"space_guid", o.SpaceGUIDs}, {"domain_guid", o.DomainGUIDs}, {"host", o.Hosts}, {"path", o.Paths}}
	},
}

type destinationData struct {
	Port int `json:"port"`
}

// destinationTable's create fails with store.ErrNotFound when the route or
// the app does not exist.
var destinationTable = &table[store.Destination]{
	name: "destinations", what: "destination",
	cols: []string{"route_guid", "app_guid", "process_type", "data"},
	meta: func(r *store.Destination) *store.Meta { return &r.Meta },
	values: func(r *store.Destination) ([]any, error) {
		d, err := jsonCol(destinationData{Port: r.Port})
		return []any{r.RouteGUID, r.AppGUID, r.ProcessType, d}, err
	},
	scan: func(r *store.Destination) ([]any, func() error) {
		var d destinationData
		p, fin := dataScan(&d)
		return []any{&r.RouteGUID, &r.AppGUID, &r.ProcessType, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.Port = d.Port
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter {
		return []filter{{"route_guid", o.RouteGUIDs}, {"app_guid", o.AppGUIDs}}
	},
}

type jobData struct {
	ResourceType string           `json:"resource_type"`
	Errors       []store.JobError `json:"errors"`
	Warnings     []string         `json:"warnings"`
}

var jobTable = &table[store.Job]{
	name: "jobs", what: "job",
	cols: []string{"operation", "state", "resource_guid", "data"},
	meta: func(r *store.Job) *store.Meta { return &r.Meta },
	values: func(r *store.Job) ([]any, error) {
		d, err := jsonCol(jobData{ResourceType: r.ResourceType, Errors: r.Errors, Warnings: r.Warnings})
		return []any{r.Operation, r.State, r.ResourceGUID, d}, err
	},
	scan: func(r *store.Job) ([]any, func() error) {
		var d jobData
		p, fin := dataScan(&d)
		return []any{&r.Operation, &r.State, &r.ResourceGUID, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.ResourceType, r.Errors, r.Warnings = d.ResourceType, d.Errors, d.Warnings
			return nil
		}
	},
}

type userData struct {
	PasswordHash string `json:"password_hash"`
	Admin        bool   `json:"admin"`
	Epoch        int64  `json:"revocation_epoch,omitempty"`
}

var userTable = &table[store.User]{
	name: "users", what: "user",
	cols: []string{"origin", "username", "data"},
	meta: func(r *store.User) *store.Meta { return &r.Meta },
	values: func(r *store.User) ([]any, error) {
		d, err := jsonCol(userData{PasswordHash: r.PasswordHash, Admin: r.Admin, Epoch: r.RevocationEpoch})
		return []any{r.Origin, r.Username, d}, err
	},
	scan: func(r *store.User) ([]any, func() error) {
		var d userData
		p, fin := dataScan(&d)
		return []any{&r.Origin, &r.Username, p}, func() error {
			if err := fin(); err != nil {
				return err
			}
			r.PasswordHash, r.Admin, r.RevocationEpoch = d.PasswordHash, d.Admin, d.Epoch
			return nil
		}
	},
	filters: func(o store.ListOptions) []filter { return []filter{{"username", o.Names}} },
}

// userStore adds the lookup by name to the common methods.
type userStore struct{ crud[store.User] }

func (x userStore) GetByName(ctx context.Context, origin, username string) (*store.User, error) {
	return x.t.getWhere(ctx, x.s, origin+"/"+username, "origin = ? AND username = ?", origin, username)
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// pushFlags are push's command-line flags.
type pushFlags struct {
	path            string
	manifest        string
	instances       int
	memory          string
	disk            string
	buildpacks      []string
	command         string
	healthCheckType string
	endpoint        string
	timeout         int
	noStart         bool
	noRoute         bool
	randomRoute     bool
	noManifest      bool
	strategy        string
}

func newPushCommand(o *options) *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push [APP_NAME]",
		Short: "Push a new app or sync changes to an existing app",
		Long: "Push uploads the app (the current directory, -p PATH, or the manifest's path), " +
			"stages it with a buildpack and starts it. A manifest.yml in the current directory " +
			"(or -f FILE) describes the apps; flags override it.",
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			ov := pushOverrides{
				memory: f.memory, disk: f.disk, buildpacks: f.buildpacks,
				healthCheckType: f.healthCheckType, endpoint: f.endpoint,
				noRoute: f.noRoute, randomRoute: f.randomRoute, path: f.path,
			}
			fl := cmd.Flags()
			if fl.Changed("instances") {
				ov.instances = &f.instances
			}
			if fl.Changed("start-command") {
				ov.command = &f.command
			}
			if fl.Changed("app-start-timeout") {
				ov.timeout = &f.timeout
			}
			if f.noRoute && f.randomRoute {
				return &usageError{msg: "--no-route and --random-route cannot be used together"}
			}
			if f.noManifest && f.manifest != "" {
				return &usageError{msg: "-f and --no-manifest cannot be used together"}
			}
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			return s.push(cmd.Context(), name, f, ov)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.path, "path", "p", "", "path to the app directory or to a .zip/.jar/.war archive")
	fl.StringVarP(&f.manifest, "manifest", "f", "", "path to the manifest")
	fl.IntVarP(&f.instances, "instances", "i", 0, "number of instances")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit per instance (e.g. 256M, 1G)")
	fl.StringVarP(&f.disk, "disk", "k", "", "disk limit per instance (e.g. 512M, 1G)")
	fl.StringArrayVarP(&f.buildpacks, "buildpack", "b", nil, "buildpack to use (repeat for several)")
	fl.StringVarP(&f.command, "start-command", "c", "", "start command")
	fl.StringVarP(&f.healthCheckType, "health-check-type", "u", "", "health check type: port, process or http")
	fl.StringVar(&f.endpoint, "endpoint", "", "path the http health check requests")
	fl.IntVarP(&f.timeout, "app-start-timeout", "t", 0, "seconds an instance may take to become healthy")
	fl.BoolVar(&f.noStart, "no-start", false, "upload the app but do not stage or start it")
	fl.BoolVar(&f.noRoute, "no-route", false, "do not map a route to the app")
	fl.BoolVar(&f.randomRoute, "random-route", false, "map a route with a random host name")
	fl.BoolVar(&f.noManifest, "no-manifest", false, "ignore the manifest file")
	addStrategyFlag(cmd, &f.strategy)
	return cmd
}

// plannedApp is one app push will upload.
type plannedApp struct {
	name string
	path string
}

// planPush reads the manifest (unless disabled), picks the apps and applies
// the flags; it returns the manifest to send and the apps to upload.
func planPush(cwd, name string, f pushFlags, ov pushOverrides) (*manifest, []map[string]any, []plannedApp, error) {
	var m *manifest
	if !f.noManifest {
		file := f.manifest
		if file == "" {
			file = findManifest(cwd)
		}
		if file == "" && f.path != "" && !isArchivePath(f.path) {
			p := f.path
			if !filepath.IsAbs(p) {
				p = filepath.Join(cwd, p)
			}
			file = findManifest(p)
		}
		if file != "" {
			var err error
			if m, err = readManifest(file); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	var apps []map[string]any
	manifestDir := cwd
	if m != nil {
		var err error
		if apps, err = m.selectApps(name); err != nil {
			return nil, nil, nil, err
		}
		manifestDir = filepath.Dir(m.file)
	} else {
		if name == "" {
			return nil, nil, nil, &usageError{msg: "the required argument `APP_NAME` was not provided (and there is no manifest.yml)"}
		}
		apps = []map[string]any{{"name": name}}
	}
	if len(apps) > 1 && ov.any() {
		return nil, nil, nil, &usageError{msg: "command line flags (except -f and --no-start) cannot be applied when pushing multiple apps from a manifest"}
	}
	planned := make([]plannedApp, 0, len(apps))
	for _, app := range apps {
		p, err := applyOverrides(app, ov, manifestDir, cwd)
		if err != nil {
			return nil, nil, nil, err
		}
		planned = append(planned, plannedApp{name: fmt.Sprint(app["name"]), path: p})
	}
	return m, apps, planned, nil
}

// push runs the whole push: apply the manifest, upload, stage, start.
func (s *session) push(ctx context.Context, name string, f pushFlags, ov pushOverrides) error {
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("get working directory: %w", err)
	}
	m, apps, planned, err := planPush(cwd, name, f, ov)
	if err != nil {
		return err
	}
	body, err := encodeManifest(apps)
	if err != nil {
		return err
	}
	names := make([]string, len(planned))
	for i, p := range planned {
		names[i] = p.name
	}
	s.printf("Pushing app %s to %s...\n", strings.Join(names, ", "), s.where())
	if m != nil {
		s.printf("Applying manifest file %s...\n", m.file)
		s.printDiff(ctx, body)
	}
	if err := s.c.ApplyManifest(ctx, s.cfg.SpaceGUID, body); err != nil {
		return err
	}
	s.printf("Manifest applied\n")
	for _, p := range planned {
		if err := s.pushOne(ctx, p, f.noStart, f.strategy); err != nil {
			return err
		}
	}
	return nil
}

// printDiff shows what the manifest changes; a server without the diff
// endpoint is fine.
func (s *session) printDiff(ctx context.Context, body []byte) {
	diff, err := s.c.ManifestDiff(ctx, s.cfg.SpaceGUID, body)
	if err != nil || len(diff) == 0 {
		return
	}
	s.printf("Updating with these attributes...\n")
	for _, d := range diff {
		switch d.Op {
		case "add":
			s.printf("+ %s: %v\n", d.Path, d.Value)
		case "remove":
			s.printf("- %s: %v\n", d.Path, d.Was)
		default:
			s.printf("- %s: %v\n+ %s: %v\n", d.Path, d.Was, d.Path, d.Value)
		}
	}
}

// pushOne uploads, stages and starts one app the manifest created.
func (s *session) pushOne(ctx context.Context, p plannedApp, noStart bool, strategy string) error {
	app, err := s.app(ctx, p.name)
	if err != nil {
		return fmt.Errorf("find app %s after applying the manifest: %w", p.name, err)
	}
	pkg, err := s.upload(ctx, app, p.path)
	if err != nil {
		return err
	}
	if noStart {
		if app.State == client.AppStarted {
			if _, err := s.c.StopApp(ctx, app.GUID); err != nil {
				return err
			}
		}
		return s.showApp(ctx, app)
	}
	d, err := s.stage(ctx, app, pkg.GUID)
	if err != nil {
		return err
	}
	if strategy == strategyRolling {
		return s.deployAndWait(ctx, app, d.GUID)
	}
	if err := s.c.SetCurrentDroplet(ctx, app.GUID, d.GUID); err != nil {
		return fmt.Errorf("set current droplet: %w", err)
	}
	return s.startAndWait(ctx, app, true)
}

// upload packages the app's bits, uploads what the server lacks and waits
// for the package to be READY.
func (s *session) upload(ctx context.Context, app *client.App, path string) (*client.Package, error) {
	s.printf("Packaging files to upload...\n")
	bits, err := gatherBits(path)
	if err != nil {
		return nil, err
	}
	defer bits.Close()
	resources := bits.resources()
	matchedSet := map[string]bool{}
	var matched []client.Resource
	if len(resources) > 0 {
		got, err := s.c.ResourceMatches(ctx, resources)
		if err != nil {
			fmt.Fprintf(s.errOut, "Warning: resource matching failed, uploading every file: %v\n", err)
		}
		for _, r := range got {
			matchedSet[matchKey(r.Path, r.Checksum.Value)] = true
		}
		// Send back our own description of each matched file.
		for _, r := range resources {
			if matchedSet[matchKey(r.Path, r.Checksum.Value)] {
				matched = append(matched, r)
			}
		}
		matchedSet = map[string]bool{}
		for _, r := range matched {
			matchedSet[matchKey(r.Path, r.Checksum.Value)] = true
		}
	}
	tmp, err := os.CreateTemp("", "ingot-push-*.zip")
	if err != nil {
		return nil, fmt.Errorf("create temp zip: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	written, err := bits.writeZip(tmp, matchedSet)
	if err != nil {
		return nil, err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("size temp zip: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind temp zip: %w", err)
	}
	var zr io.Reader = tmp
	if written == 0 && len(matched) > 0 {
		zr, size = nil, 0
	}
	s.printf("Uploading files: %d of %d files matched, %s to upload\n", len(matched), bits.fileCount(), kib(size))
	pkg, err := s.c.CreatePackage(ctx, app.GUID)
	if err != nil {
		return nil, err
	}
	if zr != nil && isTerminal(s.out) {
		bar := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(s.out),
			progressbar.OptionSetDescription("Uploading"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionClearOnFinish(),
		)
		pr := progressbar.NewReader(zr, bar)
		zr = &pr
		defer bar.Close()
	}
	if _, err := s.c.UploadPackage(ctx, pkg.GUID, matched, zr, size); err != nil {
		return nil, err
	}
	s.printf("Waiting for API to complete processing files...\n")
	ready, err := s.c.PollPackage(ctx, pkg.GUID)
	if err != nil {
		return nil, err
	}
	return ready, nil
}

// kib renders an upload size.
func kib(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", (n+1023)/1024)
	}
}

package stager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/messages"
)

// Directories of the staging container, under its home.
const (
	dirApp        = "app"
	dirCache      = "cache"
	dirDeps       = "deps"
	dirTmp        = "tmp"
	dirLogs       = "logs"
	dirBuildpacks = "buildpacks"
	dirStagingTmp = "staging-tmp"
	profileDir    = ".profile.d"
	// depsProfileScript (in app/.profile.d) sources the supply
	// buildpacks' deps/<idx>/profile.d scripts at run time.
	depsProfileScript = "000_ingot_deps.sh"
)

// staging is one Stage call.
type staging struct {
	s     *Stager
	req   *messages.StagingRequest
	log   *slog.Logger
	c     backend.Container
	home  string
	memMB int64
	dkMB  int64
	env   []string
	phase string
	// usedDeps is set once a buildpack ran with the supply/finalize
	// contract (and so may have written deps/<idx>/profile.d).
	usedDeps bool
}

func newStaging(s *Stager, req *messages.StagingRequest, log *slog.Logger) *staging {
	// The controller decides the staging limits (Cloud Foundry's minimum
	// staging memory and disk, or an explicit staging_memory_in_mb); the
	// stager's defaults apply only when the request names none.
	st := &staging{s: s, req: req, log: log, memMB: req.MemoryMB, dkMB: req.DiskMB}
	if st.memMB <= 0 {
		st.memMB = s.cfg.DefaultMemoryMB
	}
	if st.dkMB <= 0 {
		st.dkMB = s.cfg.DefaultDiskMB
	}
	return st
}

func (st *staging) emit(msg string) {
	if st.s.deps.Logs != nil {
		st.s.deps.Logs.Emit(st.req.AppGUID, messages.SourceStaging, "0", "OUT", msg)
	}
}

func (st *staging) emitErr(msg string) {
	if st.s.deps.Logs != nil {
		st.s.deps.Logs.Emit(st.req.AppGUID, messages.SourceStaging, "0", "ERR", msg)
	}
}

func (st *staging) path(elem ...string) string {
	return st.home + "/" + strings.Join(elem, "/")
}

func (st *staging) timeout() time.Duration {
	if st.req.TimeoutSeconds > 0 {
		return time.Duration(st.req.TimeoutSeconds) * time.Second
	}
	return st.s.cfg.Timeout
}

// run stages under the staging timeout and turns a deadline into
// ErrTimeout.
func (st *staging) run(parent context.Context) (*messages.StagingResult, error) {
	if st.req.Stack != "" && st.req.Stack != st.s.cfg.Stack {
		return nil, failf(ErrStackMismatch, "this stager stages for the stack %q, not %q", st.s.cfg.Stack, st.req.Stack)
	}
	named, err := st.resolveBuildpacks()
	if err != nil {
		return nil, err
	}
	timeout := st.timeout()
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	res, err := st.stage(ctx, named)
	if err != nil && ctx.Err() != nil {
		if parent.Err() != nil {
			return nil, fmt.Errorf("staging was canceled while %s", st.phase)
		}
		return nil, failf(ErrTimeout, "staging timed out after %s, while %s", timeout, st.phase)
	}
	return res, err
}

func (st *staging) stage(ctx context.Context, named []*buildpack) (*messages.StagingResult, error) {
	req := st.req
	st.phase = "creating the staging container"
	c, err := st.s.deps.Backend.Create(ctx, backend.ContainerSpec{
		Handle:           "staging-" + req.BuildGUID,
		MemoryLimitBytes: uint64(st.memMB) << 20,
		DiskLimitBytes:   uint64(st.dkMB) << 20,
		Properties: map[string]string{
			"ingot.role":       "staging",
			"ingot.app_guid":   req.AppGUID,
			"ingot.build_guid": req.BuildGUID,
		},
	})
	if err != nil {
		if errors.Is(err, backend.ErrExists) {
			return nil, fmt.Errorf("build %s is already staging", req.BuildGUID)
		}
		return nil, fmt.Errorf("creating the staging container: %w", err)
	}
	st.c = c
	defer st.destroy(c.Handle())
	st.home = strings.TrimRight(c.HomeDir(), "/")
	st.env = st.buildEnv()

	ndeps := max(1, len(named))
	st.phase = "preparing the staging container"
	if err := st.layout(ctx, ndeps); err != nil {
		return nil, err
	}

	st.phase = "downloading the app package"
	st.emit("-----> Downloading app package...")
	stats, err := st.downloadPackage(ctx)
	if err != nil {
		return nil, err
	}
	st.emit(fmt.Sprintf("       Downloaded app package (%d files, %s)", stats.Files, humanSize(stats.Bytes)))

	if req.BuildpackCacheURI != "" {
		st.phase = "downloading the buildpack cache"
		st.restoreCache(ctx)
	}

	st.phase = "installing buildpacks"
	candidates := named
	detectAll := len(named) == 0
	if detectAll {
		for _, name := range st.s.cfg.DetectOrder {
			candidates = append(candidates, st.builtin(name))
		}
	}
	if err := st.installBuildpacks(ctx, candidates); err != nil {
		return nil, err
	}

	st.phase = "detecting the buildpack"
	chosen, err := st.selectBuildpacks(ctx, candidates, detectAll)
	if err != nil {
		return nil, err
	}
	if err := checkContract(chosen); err != nil {
		return nil, err
	}
	final := chosen[len(chosen)-1]
	st.emit("-----> Detected buildpack: " + final.detected())

	if err := st.build(ctx, chosen); err != nil {
		return nil, err
	}

	st.phase = "running release"
	release, err := st.release(ctx, final)
	if err != nil {
		return nil, err
	}
	if st.usedDeps {
		st.phase = "writing the profile scripts"
		if err := st.writeDepsProfile(ctx); err != nil {
			return nil, err
		}
	}

	info := StagingInfo{DetectedBuildpack: final.detected(), BuildpackPath: final.path}
	st.phase = "packaging the droplet"
	st.emit("-----> Packaging droplet...")
	d, err := st.packageDroplet(ctx, func(procfile map[string]string) (*StagingInfo, error) {
		types := maps.Clone(release)
		if types == nil {
			types = map[string]string{}
		}
		maps.Copy(types, procfile)
		info.StartCommand = startCommand(req.StartCommand, procfile, release)
		info.processTypes = types
		return &info, nil
	})
	if err != nil {
		return nil, err
	}
	defer d.remove()
	st.announceStart(info)

	st.phase = "uploading the droplet"
	st.emit(fmt.Sprintf("-----> Uploading droplet (%s)", humanSize(d.size)))
	if err := st.upload(ctx, "droplet", req.DropletUploadURI, d); err != nil {
		return nil, err
	}
	if req.BuildpackCacheURI != "" {
		st.phase = "uploading the buildpack cache"
		st.saveCache(ctx)
	}
	st.emit("-----> Staging complete")

	res := &messages.StagingResult{
		DetectedBuildpack: final.detected(),
		BuildpackName:     final.key,
		StartCommand:      info.StartCommand,
		DropletDigest:     d.digest,
		DropletSize:       d.size,
	}
	if len(info.processTypes) > 0 {
		res.ProcessTypes = info.processTypes
	}
	return res, nil
}

func (st *staging) announceStart(info StagingInfo) {
	switch {
	case info.StartCommand == "":
		st.emitErr("       WARNING: No start command specified by buildpack or via Procfile.")
		st.emitErr("       App will not start unless a command is provided (-c or command: in the manifest).")
	case strings.TrimSpace(st.req.StartCommand) != "":
		st.emit("       Start command (given): " + info.StartCommand)
	default:
		st.emit("       Start command: " + info.StartCommand)
	}
	if len(info.processTypes) > 0 {
		keys := slices.Sorted(maps.Keys(info.processTypes))
		st.emit("       Process types: " + strings.Join(keys, ", "))
	}
}

// startCommand applies Cloud Foundry's precedence: the user's command, then
// the Procfile's web entry, then the buildpack's default web process.
func startCommand(user string, procfile, release map[string]string) string {
	if c := strings.TrimSpace(user); c != "" {
		return c
	}
	if c := strings.TrimSpace(procfile["web"]); c != "" {
		return c
	}
	return strings.TrimSpace(release["web"])
}

// destroy removes the staging container, even when staging was canceled.
func (st *staging) destroy(handle string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.s.deps.Backend.Destroy(ctx, handle); err != nil && !errors.Is(err, backend.ErrNotFound) {
		st.log.Warn("staging-container-destroy-failed", "handle", handle, "error", err)
	}
}

// buildEnv is the buildpacks' environment: the app's own variables first,
// then the staging variables, which the app cannot override.
func (st *staging) buildEnv() []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(st.req.Env)) {
		if validEnvName(k) {
			env = append(env, k+"="+st.req.Env[k])
		}
	}
	if st.s.cfg.SharedGoCache != "" {
		env = append(env, "INGOT_GOCACHE="+st.s.cfg.SharedGoCache)
	}
	return append(env,
		"CF_STACK="+st.s.cfg.Stack,
		"MEMORY_LIMIT="+strconv.FormatInt(st.memMB, 10)+"m",
		"HOME="+st.home,
		"TMPDIR="+st.path(dirStagingTmp),
		"DEPS_DIR="+st.path(dirDeps),
		"BUILD_DIR="+st.path(dirApp),
		"CACHE_DIR="+st.path(dirCache),
		"STAGING_TIMEOUT="+strconv.Itoa(int(st.timeout().Seconds())),
	)
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// humanSize formats a byte count like "12.3M".
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

package stager

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/buildpacks"
)

// Exit codes of Cloud Foundry's builder, used to label failed steps.
const (
	codeDetect   = 222
	codeCompile  = 223
	codeRelease  = 224
	codeSupply   = 225
	codeFinalize = 226
)

const (
	maxBuildpackFiles = 10000
	maxBuildpackBytes = 512 << 20
	maxDetectOutput   = 4 << 10
	maxReleaseOutput  = 1 << 20
	stderrTailLines   = 15
)

// buildpack is one buildpack of a staging.
type buildpack struct {
	// name is the short name: a built-in's name ("go") or the base name
	// of a custom buildpack's directory.
	name string
	// key names it in the API: "go_buildpack", or the custom path.
	key string
	// path is the host directory of a custom buildpack ("" for built-ins).
	path string
	fsys fs.FS
	root string
	// dir is where it is installed in the container.
	dir string
	// bin lists the scripts present under bin/.
	bin map[string]bool
	// detectOutput is what bin/detect printed, when it ran and passed.
	detectOutput string
}

func (b *buildpack) has(script string) bool { return b.bin[script] }

// detected is the name staging reports: detect's output, else the name.
func (b *buildpack) detected() string {
	if b.detectOutput != "" {
		return b.detectOutput
	}
	return b.name
}

func (st *staging) builtin(name string) *buildpack {
	return &buildpack{name: name, key: buildpacks.Key(name), fsys: st.s.deps.Buildpacks, root: name}
}

// resolveBuildpacks maps the request's buildpack names to buildpacks. An
// empty result means: detect among the built-ins.
func (st *staging) resolveBuildpacks() ([]*buildpack, error) {
	var names []string
	for _, n := range st.req.Buildpacks {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 1 && (names[0] == "default" || names[0] == "null") {
		return nil, nil
	}
	var out []*buildpack
	for _, n := range names {
		if b, ok := buildpacks.Resolve(n); ok {
			if _, err := fs.Stat(st.s.deps.Buildpacks, b); err != nil {
				return nil, failf(ErrUnknownBuildpack, "the built-in buildpack %q is not installed on this stager", n)
			}
			out = append(out, st.builtin(b))
			continue
		}
		if strings.Contains(n, "://") || strings.HasPrefix(n, "git@") {
			return nil, failf(ErrUnknownBuildpack, "%q: buildpack URLs are not supported yet; use a built-in buildpack (%s) or the absolute path of a buildpack directory on the DEA host", n, builtinKeys())
		}
		if !filepath.IsAbs(n) {
			return nil, failf(ErrUnknownBuildpack, "%q is neither a built-in buildpack (%s) nor the absolute path of a buildpack directory on the DEA host", n, builtinKeys())
		}
		p := filepath.Clean(n)
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			return nil, failf(ErrUnknownBuildpack, "%q is not a buildpack directory on the DEA host", n)
		}
		out = append(out, &buildpack{name: filepath.Base(p), key: p, path: p, fsys: os.DirFS(p), root: "."})
	}
	return out, nil
}

func builtinKeys() string {
	var keys []string
	for _, n := range buildpacks.All() {
		keys = append(keys, buildpacks.Key(n))
	}
	return strings.Join(keys, ", ")
}

// layout creates the staging directories in the container.
func (st *staging) layout(ctx context.Context, ndeps int) error {
	dirs := []string{dirApp, dirApp + "/" + profileDir, dirCache, dirDeps, dirTmp, dirLogs, dirBuildpacks, dirStagingTmp}
	for i := range ndeps {
		dirs = append(dirs, dirDeps+"/"+strconv.Itoa(i))
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Now()}); err != nil {
			return fmt.Errorf("preparing the staging container: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("preparing the staging container: %w", err)
	}
	if err := st.c.StreamIn(ctx, st.home, &buf); err != nil {
		return fmt.Errorf("preparing the staging container: %w", err)
	}
	return nil
}

// installBuildpacks copies the buildpacks into buildpacks/<i>. Files under
// bin/ are made executable (embedded files have no mode bits).
func (st *staging) installBuildpacks(ctx context.Context, bps []*buildpack) error {
	for i, b := range bps {
		b.dir = st.path(dirBuildpacks, strconv.Itoa(i))
		b.bin = make(map[string]bool)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		var err error
		for i, b := range bps {
			if err = tarBuildpack(tw, b, strconv.Itoa(i)); err != nil {
				break
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err := st.c.StreamIn(ctx, st.path(dirBuildpacks), pr)
	_ = pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if StreamIn stopped early
	if werr := <-done; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return fmt.Errorf("installing buildpacks: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("installing buildpacks: %w", err)
	}
	return nil
}

// tarBuildpack writes b's files under prefix/ and records its bin scripts.
func tarBuildpack(tw *tar.Writer, b *buildpack, prefix string) error {
	var files int
	var bytesTotal int64
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/", Mode: 0o755, ModTime: time.Now()}); err != nil {
		return err
	}
	return fs.WalkDir(b.fsys, b.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading buildpack %s: %w", b.key, err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, b.root), "/")
		if b.root == "." {
			rel = p
		}
		if rel == "" || rel == "." {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".svn") {
			return fs.SkipDir
		}
		files++
		if files > maxBuildpackFiles {
			return fmt.Errorf("buildpack %s has more than %d files", b.key, maxBuildpackFiles)
		}
		// Stat follows symbolic links of a custom buildpack.
		fi, err := fs.Stat(b.fsys, p)
		if err != nil {
			return fmt.Errorf("reading buildpack %s: %w", b.key, err)
		}
		name := prefix + "/" + rel
		switch {
		case fi.IsDir():
			if d.Type()&fs.ModeSymlink != 0 {
				return nil // a linked directory is not followed
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: fi.ModTime()})
		case !fi.Mode().IsRegular():
			return nil
		}
		bytesTotal += fi.Size()
		if bytesTotal > maxBuildpackBytes {
			return fmt.Errorf("buildpack %s is larger than %d bytes", b.key, maxBuildpackBytes)
		}
		mode := int64(fi.Mode().Perm() | 0o644)
		if path.Dir(rel) == "bin" {
			mode |= 0o755
			b.bin[path.Base(rel)] = true
		}
		f, err := b.fsys.Open(p)
		if err != nil {
			return fmt.Errorf("reading buildpack %s: %w", b.key, err)
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, io.LimitReader(f, fi.Size())); err != nil {
			return fmt.Errorf("reading buildpack %s: %w", b.key, err)
		}
		return nil
	})
}

// selectBuildpacks runs detection as Cloud Foundry does: among all the
// built-ins when none is named (the first to pass wins); for a single named
// buildpack only to learn its name (it is used even if detect fails); not
// at all for several.
func (st *staging) selectBuildpacks(ctx context.Context, candidates []*buildpack, detectAll bool) ([]*buildpack, error) {
	if !detectAll {
		if len(candidates) == 1 && candidates[0].has("detect") {
			if _, err := st.detect(ctx, candidates[0]); err != nil {
				return nil, err
			}
		}
		return candidates, nil
	}
	var tried []string
	for _, b := range candidates {
		ok, err := st.detect(ctx, b)
		if err != nil {
			return nil, err
		}
		if ok {
			return []*buildpack{b}, nil
		}
		tried = append(tried, b.name)
	}
	return nil, failf(ErrNoBuildpackMatched, "None of the buildpacks detected a compatible application (tried %s). Name one with -b, or add the file it looks for (go.mod, package.json, requirements.txt, an executable jar, Staticfile)", strings.Join(tried, ", "))
}

// detect runs bin/detect; it reports whether it passed.
func (st *staging) detect(ctx context.Context, b *buildpack) (bool, error) {
	out := &boundedBuffer{max: maxDetectOutput}
	status, _, err := st.runScript(ctx, b, "detect", []string{st.path(dirApp)}, out, false)
	if err != nil {
		return false, err
	}
	if status != 0 {
		return false, nil
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	line = strings.TrimSpace(line)
	if len(line) > 100 {
		line = line[:100]
	}
	b.detectOutput = line
	return true, nil
}

// checkContract makes sure the chosen buildpacks can run before running any.
func checkContract(chosen []*buildpack) error {
	for _, b := range chosen[:len(chosen)-1] {
		if !b.has("supply") {
			return failf(ErrBuildpackFailed, "buildpack %s does not support multi-buildpack apps: it has no bin/supply, so it can only be the last one", b.key)
		}
	}
	last := chosen[len(chosen)-1]
	switch {
	case !last.has("finalize") && !last.has("compile"):
		return failf(ErrBuildpackFailed, "buildpack %s has neither bin/finalize nor bin/compile", last.key)
	case !last.has("release"):
		return failf(ErrBuildpackFailed, "buildpack %s has no bin/release", last.key)
	}
	return nil
}

// build runs supply for every buildpack but the last, then the last one's
// supply + finalize, or compile.
func (st *staging) build(ctx context.Context, chosen []*buildpack) error {
	app, cache, deps := st.path(dirApp), st.path(dirCache), st.path(dirDeps)
	last := len(chosen) - 1
	for i, b := range chosen[:last] {
		st.phase = "running supply of buildpack " + b.name
		st.usedDeps = true
		if err := st.step(ctx, b, "supply", codeSupply, app, cache, deps, strconv.Itoa(i)); err != nil {
			return err
		}
	}
	b := chosen[last]
	idx := strconv.Itoa(last)
	if b.has("finalize") {
		st.usedDeps = true
		if b.has("supply") {
			st.phase = "running supply of buildpack " + b.name
			if err := st.step(ctx, b, "supply", codeSupply, app, cache, deps, idx); err != nil {
				return err
			}
		}
		st.phase = "running finalize of buildpack " + b.name
		return st.step(ctx, b, "finalize", codeFinalize, app, cache, deps, idx, st.path(dirApp, profileDir))
	}
	if last > 0 {
		st.emitErr("       WARNING: buildpack " + b.name + " has no bin/finalize: it runs with the older compile contract and may ignore what the other buildpacks supplied")
	}
	st.phase = "running compile of buildpack " + b.name
	return st.step(ctx, b, "compile", codeCompile, app, cache)
}

// step runs one build script with its output in the app's log and turns a
// non-zero exit into an error naming the step and the buildpack.
func (st *staging) step(ctx context.Context, b *buildpack, script string, code int, args ...string) error {
	status, tail, err := st.runScript(ctx, b, script, args, nil, true)
	if err != nil {
		return err
	}
	if status != 0 {
		return stepFailure(b, script, code, status, tail)
	}
	return nil
}

func stepFailure(b *buildpack, script string, code, status int, tail string) error {
	if tail != "" {
		tail = ":\n" + tail
	}
	return failf(ErrBuildpackFailed, "the %s step of buildpack %s failed with exit status %d (staging error %d)%s", script, b.name, status, code, tail)
}

// releaseInfo is what bin/release prints.
type releaseInfo struct {
	DefaultProcessTypes map[string]string `yaml:"default_process_types"`
}

// release runs bin/release and returns its default process types.
func (st *staging) release(ctx context.Context, b *buildpack) (map[string]string, error) {
	out := &boundedBuffer{max: maxReleaseOutput}
	status, tail, err := st.runScript(ctx, b, "release", []string{st.path(dirApp)}, out, true)
	if err != nil {
		return nil, err
	}
	if status != 0 {
		return nil, stepFailure(b, "release", codeRelease, status, tail)
	}
	if out.overflow {
		return nil, failf(ErrBuildpackFailed, "the release step of buildpack %s printed more than %d bytes", b.name, maxReleaseOutput)
	}
	var ri releaseInfo
	if err := yaml.Unmarshal(out.Bytes(), &ri); err != nil {
		return nil, failf(ErrBuildpackFailed, "the release step of buildpack %s printed invalid YAML (staging error %d): %v", b.name, codeRelease, err)
	}
	return ri.DefaultProcessTypes, nil
}

// runScript runs bin/<script> of b. Its stderr, and its stdout unless
// captured in out, go to the app's log when logged is set. It returns the
// exit status and the last lines of stderr (or of stdout when stderr is
// empty).
func (st *staging) runScript(ctx context.Context, b *buildpack, script string, args []string, out io.Writer, logged bool) (int, string, error) {
	errTail := &tailBuffer{max: 8 << 10}
	outTail := &tailBuffer{max: 8 << 10}
	stdout := io.Writer(outTail)
	stderr := io.Writer(errTail)
	var closers []io.Closer
	if logged && st.s.deps.Logs != nil {
		lo := st.s.deps.Logs.Writer(st.req.AppGUID, "STG", "0", "OUT")
		le := st.s.deps.Logs.Writer(st.req.AppGUID, "STG", "0", "ERR")
		closers = append(closers, lo, le)
		stdout = io.MultiWriter(outTail, lo)
		stderr = io.MultiWriter(errTail, le)
	}
	if out != nil {
		stdout = io.MultiWriter(out, outTail)
	}
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	p, err := st.c.Run(ctx, backend.ProcessSpec{
		Path: b.dir + "/bin/" + script,
		Args: args,
		Env:  st.env,
		Dir:  st.home,
	}, backend.ProcessIO{Stdout: stdout, Stderr: stderr})
	if err != nil {
		return 0, "", fmt.Errorf("running %s of buildpack %s: %w", script, b.name, err)
	}
	type exit struct {
		status int
		err    error
	}
	done := make(chan exit, 1)
	go func() {
		s, err := p.Wait()
		done <- exit{s, err}
	}()
	select {
	case e := <-done:
		if e.err != nil {
			return 0, "", fmt.Errorf("running %s of buildpack %s: %w", script, b.name, e.err)
		}
		tail := errTail.lastLines(stderrTailLines)
		if tail == "" {
			tail = outTail.lastLines(stderrTailLines)
		}
		return e.status, tail, nil
	case <-ctx.Done():
		_ = p.Signal(syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return 0, "", ctx.Err()
	}
}

// writeDepsProfile adds app/.profile.d/000_ingot_deps.sh, which sources
// what supply buildpacks left in deps/<idx>/profile.d at run time.
func (st *staging) writeDepsProfile(ctx context.Context) error {
	const script = `# Written by the ingot stager: sources the profile scripts that supply
# buildpacks left in $DEPS_DIR/<index>/profile.d.
for _ingot_f in "${DEPS_DIR:-$HOME/../deps}"/*/profile.d/*.sh; do
	if [ -r "$_ingot_f" ]; then
		. "$_ingot_f"
	fi
done
unset _ingot_f
`
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: profileDir + "/", Mode: 0o755, ModTime: now})
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: profileDir + "/" + depsProfileScript, Mode: 0o644, Size: int64(len(script)), ModTime: now})
	_, _ = tw.Write([]byte(script))
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing the profile scripts: %w", err)
	}
	if err := st.c.StreamIn(ctx, st.path(dirApp), &buf); err != nil {
		return fmt.Errorf("writing the profile scripts: %w", err)
	}
	return nil
}

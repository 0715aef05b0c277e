//go:build linux

package runc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// Config configures the runc backend.
type Config struct {
	// RootDir holds one OCI bundle per container, RootDir/<handle>/.
	// Required.
	RootDir string
	// RuncPath is the runc binary (default "runc", looked up in PATH).
	RuncPath string
	// RuncRoot is runc's --root state directory (default RootDir/.runc).
	RuncRoot string
	// StackRootfs is the root file system of the containers: "" is the
	// host stack (read-only bind mounts of the host's /usr, /bin, /lib*,
	// /sbin and /etc); otherwise a directory holding a whole root file
	// system (see the package documentation).
	StackRootfs string
	// PortRangeStart..PortRangeEnd is the pool NetIn draws from (default
	// 61001..65000). Every container needs a port and a uid, so the size
	// of the range is also the container limit.
	PortRangeStart, PortRangeEnd uint32
	// MemoryBytes and DiskBytes are the capacity reported by Capacity
	// (default: the host's MemTotal and the free space of RootDir).
	MemoryBytes, DiskBytes uint64
	// DefaultPids is the pids limit of a container whose spec sets none
	// (1024).
	DefaultPids uint64
	// NoFile is RLIMIT_NOFILE of every container process (16384).
	NoFile uint64
	// StopGrace is the time between SIGTERM and SIGKILL in Stop (10s).
	StopGrace time.Duration
	// UIDBase: the container in slot n runs as uid and gid UIDBase+n
	// (default 20000). Two backends on one host need disjoint ranges.
	UIDBase uint32
	// MonitorInterval is how often every container's cgroup is checked
	// for out-of-memory kills and a dead init (500ms).
	MonitorInterval time.Duration
	// DiskCheckInterval is how long a measured disk usage of a container
	// without a quota image is reused (5s).
	DiskCheckInterval time.Duration
	// CgroupParent is the cgroup under which the containers' cgroups are
	// made. A relative one (the default, "ingot-<hash of RootDir>") is
	// under the backend's own cgroup (its parent on cgroup v2, as runc
	// does), so a limit on the DEA's service also bounds its apps; an
	// absolute one ("/ingot") is from the hierarchy's root.
	CgroupParent string
	// MkfsPath is mkfs.ext4, needed for disk quotas (default
	// "mkfs.ext4" from PATH).
	MkfsPath string
}

func (c *Config) defaults() error {
	if c.RootDir == "" {
		return errors.New("runc backend: root dir is required")
	}
	abs, err := filepath.Abs(c.RootDir)
	if err != nil {
		return fmt.Errorf("runc backend: root dir: %w", err)
	}
	c.RootDir = abs
	if c.RuncPath == "" {
		c.RuncPath = "runc"
	}
	if c.RuncRoot == "" {
		c.RuncRoot = filepath.Join(c.RootDir, ".runc")
	}
	if c.RuncRoot, err = filepath.Abs(c.RuncRoot); err != nil {
		return fmt.Errorf("runc backend: runc root: %w", err)
	}
	if c.StackRootfs != "" {
		if c.StackRootfs, err = filepath.Abs(c.StackRootfs); err != nil {
			return fmt.Errorf("runc backend: stack rootfs: %w", err)
		}
		if fi, err := os.Stat(filepath.Join(c.StackRootfs, "bin", "sh")); err != nil || fi.IsDir() {
			return fmt.Errorf("runc backend: stack rootfs %s has no /bin/sh: not a root file system", c.StackRootfs)
		}
	}
	if c.PortRangeStart == 0 && c.PortRangeEnd == 0 {
		c.PortRangeStart, c.PortRangeEnd = 61001, 65000
	}
	if c.PortRangeStart == 0 || c.PortRangeEnd < c.PortRangeStart || c.PortRangeEnd > 65535 {
		return fmt.Errorf("runc backend: bad port range %d-%d", c.PortRangeStart, c.PortRangeEnd)
	}
	if c.DefaultPids == 0 {
		c.DefaultPids = 1024
	}
	if c.NoFile == 0 {
		c.NoFile = 16384
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.UIDBase == 0 {
		c.UIDBase = 20000
	}
	if uint64(c.UIDBase)+uint64(c.PortRangeEnd-c.PortRangeStart) >= 1<<31 {
		return fmt.Errorf("runc backend: uid base %d too high", c.UIDBase)
	}
	if c.MonitorInterval <= 0 {
		c.MonitorInterval = 500 * time.Millisecond
	}
	if c.DiskCheckInterval <= 0 {
		c.DiskCheckInterval = 5 * time.Second
	}
	if c.CgroupParent == "" {
		sum := sha256.Sum256([]byte(c.RootDir))
		c.CgroupParent = "ingot-" + hex.EncodeToString(sum[:4])
	}
	absParent := strings.HasPrefix(c.CgroupParent, "/")
	c.CgroupParent = strings.Trim(c.CgroupParent, "/")
	if absParent {
		c.CgroupParent = "/" + c.CgroupParent
	}
	if c.MkfsPath == "" {
		c.MkfsPath = "mkfs.ext4"
	}
	return nil
}

// Available reports whether this backend can run here: runcPath ("" =
// "runc") is an executable and the process is root. It is a cheap check;
// New proves that a container can actually be made.
func Available(runcPath string) error {
	if runcPath == "" {
		runcPath = "runc"
	}
	if _, err := exec.LookPath(runcPath); err != nil {
		return fmt.Errorf("%w: runc not found (%v): install it (Debian: apt-get install runc)", ErrUnavailable, err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: the runc backend needs root (running as uid %d)", ErrUnavailable, os.Geteuid())
	}
	return nil
}

// Backend runs every container in runc. It implements backend.Backend.
type Backend struct {
	cfg Config
	log *slog.Logger
	cap backend.Capacity
	// seccomp is whether runc was built with seccomp support.
	seccomp bool
	// bindFilter is whether ports are enforced with the cgroup BPF filter.
	bindFilter bool
	// path is the PATH of container processes that set none.
	path string

	ports *host.PortPool
	mon   *host.Monitor[*container]

	mu         sync.Mutex
	containers map[string]*container
	creating   map[string]bool
	uids       map[uint32]string // uid → handle holding it
	// cgParents are the parent cgroup directories of the containers,
	// removed when the last container goes (and at Close if empty).
	cgParents map[string]bool
	closed    bool
}

var _ backend.Backend = (*Backend)(nil)

// New checks that runc works (its version, then a throw-away container
// run to completion), creates RootDir and re-adopts the containers
// recorded in it. The error names the fix when runc is missing, the
// process is not root, or a container cannot be made.
func New(cfg Config, log *slog.Logger) (*Backend, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := Available(cfg.RuncPath); err != nil {
		return nil, err
	}
	path, _ := exec.LookPath(cfg.RuncPath)
	cfg.RuncPath = path
	out, err := exec.Command(cfg.RuncPath, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: %s --version: %v: %s", ErrUnavailable, cfg.RuncPath, err, strings.TrimSpace(string(out)))
	}
	version := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	if _, err := exec.LookPath(cfg.MkfsPath); err != nil {
		return nil, fmt.Errorf("%w: %s not found, needed for disk quotas: install e2fsprogs (Debian: apt-get install e2fsprogs)", ErrUnavailable, cfg.MkfsPath)
	}
	for _, d := range []string{cfg.RootDir, cfg.RuncRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runc backend: create %s: %w", d, err)
		}
	}
	mem, disk, err := host.Capacity(cfg.RootDir, cfg.MemoryBytes, cfg.DiskBytes)
	if err != nil {
		return nil, fmt.Errorf("runc backend: %w", err)
	}
	cfg.MemoryBytes, cfg.DiskBytes = mem, disk
	b := &Backend{
		cfg:     cfg,
		log:     log,
		seccomp: strings.Contains(string(out), "libseccomp"),
		cap: backend.Capacity{
			MemoryBytes:   cfg.MemoryBytes,
			DiskBytes:     cfg.DiskBytes,
			MaxContainers: int(cfg.PortRangeEnd - cfg.PortRangeStart + 1),
		},
		containers: map[string]*container{},
		creating:   map[string]bool{},
		ports:      host.NewPortPool(cfg.PortRangeStart, cfg.PortRangeEnd, ErrPortUnavailable),
		uids:       map[uint32]string{},
		cgParents:  map[string]bool{},
	}
	b.mon = host.NewMonitor(&b.mu, cfg.MonitorInterval, func() []*container {
		return slices.Collect(maps.Values(b.containers))
	}, b.checkAll)
	b.path = defaultPath
	if cfg.StackRootfs == "" {
		b.path = hostStackPath(os.Getenv("PATH"))
	}
	if err := b.probe(); err != nil {
		return nil, err
	}
	if err := checkBindFilter(); err != nil {
		log.Warn("port-enforcement-unavailable", "error", err,
			"consequence", "a container can bind a port of the range that NetIn gave another container")
	} else {
		b.bindFilter = true
	}
	if err := b.load(); err != nil {
		return nil, err
	}
	if len(b.containers) == 0 {
		b.mu.Lock()
		b.removeCgroupParentsLocked()
		b.mu.Unlock()
	}
	log.Info("runc-backend-ready", "runc", cfg.RuncPath, "version", version, "seccomp", b.seccomp,
		"port_enforcement", b.bindFilter, "stack", b.stackName(), "containers", len(b.containers))
	return b, nil
}

// hostStackPath is the part of the host's PATH a host-stack container
// sees (directories under the stack's directories, such as
// /usr/local/go/bin), in the host's order, then the standard directories.
func hostStackPath(hostPath string) string {
	var out []string
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, d := range filepath.SplitList(hostPath) {
		if !filepath.IsAbs(d) {
			continue
		}
		d = filepath.Clean(d)
		for _, s := range stackDirs {
			if d == s || strings.HasPrefix(d, s+"/") {
				add(d)
				break
			}
		}
	}
	for _, d := range filepath.SplitList(defaultPath) {
		add(d)
	}
	return strings.Join(out, ":")
}

func (b *Backend) stackName() string {
	if b.cfg.StackRootfs == "" {
		return "host"
	}
	return b.cfg.StackRootfs
}

// probePrefix starts the ids of the throw-away containers New runs.
const probePrefix = "ingot-probe-"

// probe runs a throw-away container to completion with the spec real
// containers get, proving that runc, cgroups, namespaces, seccomp and the
// stack work here.
func (b *Backend) probe() error {
	id := fmt.Sprintf("%s%d-%d", probePrefix, os.Getpid(), time.Now().UnixNano())
	dir := filepath.Join(b.cfg.RootDir, "."+id)
	_ = b.forceDelete(id)
	_ = host.RemoveTree(dir)
	defer func() {
		_ = b.forceDelete(id)
		_ = host.RemoveTree(dir)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("runc backend: probe: %w", err)
	}
	if _, err := makeDisk(ctx, dir, 0, b.cfg.UIDBase, b.cfg.MkfsPath); err != nil {
		return fmt.Errorf("runc backend: probe: %w", err)
	}
	in, err := b.specInput(dir, id, b.cfg.UIDBase, backend.ContainerSpec{Handle: id})
	if err != nil {
		return fmt.Errorf("runc backend: probe: %w", err)
	}
	in.args = []string{"/bin/sh", "-c", "test -w " + homeDir + " && test ! -w /usr && cat /proc/self/cgroup"}
	if err := host.WriteJSON(filepath.Join(dir, "config.json"), buildSpec(in), 0o600); err != nil {
		return fmt.Errorf("runc backend: probe: %w", err)
	}
	logPath := filepath.Join(dir, "runc.log")
	cmd := exec.CommandContext(ctx, b.cfg.RuncPath, "--root", b.cfg.RuncRoot, "--log", logPath, "run", "--bundle", dir, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		logData, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w: runc cannot create a container (%v: %s %s); the runc backend needs root, cgroups (memory, cpu, pids) and a working runc (Debian: apt-get install runc)",
			ErrUnavailable, err, strings.TrimSpace(stderr.String()), lastLine(string(logData)))
	}
	// runc made the parent cgroups in every hierarchy: note them, to
	// remove them when no container is left.
	cg, err := parseCgroups(stdout.Bytes(), in.cgroupsPath)
	if err != nil {
		return fmt.Errorf("runc backend: probe: %w", err)
	}
	if len(cg.All) == 0 {
		return fmt.Errorf("runc backend: probe: no cgroup of the container found in %q", stdout.String())
	}
	b.mu.Lock()
	for _, d := range cg.dirs() {
		b.cgParents[filepath.Dir(d)] = true
	}
	b.mu.Unlock()
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// load re-adopts every RootDir/<handle>/container.json: runc's list says
// whether each container's init still runs.
func (b *Backend) load() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, err := b.runcList(ctx)
	if err != nil {
		return fmt.Errorf("runc backend: %w", err)
	}
	for id, st := range status {
		// A probe left by a New that died half-way.
		if strings.HasPrefix(id, probePrefix) && st == "stopped" {
			_ = b.forceDelete(id)
			_ = host.RemoveTree(filepath.Join(b.cfg.RootDir, "."+id))
		}
	}
	found, err := host.LoadRecords(b.cfg.RootDir, recordFile, func(r *record) string { return r.Handle },
		func(name, dir string) {
			// Create writes the record last: without one, the container
			// was never made.
			_ = b.forceDelete(name)
			_ = unmountDisk(dir)
			_ = host.RemoveTree(dir)
		}, b.log)
	if err != nil {
		return fmt.Errorf("runc backend: %w", err)
	}
	for _, f := range found {
		dir, rec := f.Dir, f.Rec
		c := newContainer(b, dir, rec)
		if rec.DiskImage && !isMountPoint(filepath.Join(dir, diskDirName)) {
			// After a reboot: the files stay reachable until Destroy.
			if err := mountDisk(ctx, filepath.Join(dir, diskImageName), filepath.Join(dir, diskDirName)); err != nil {
				b.log.Warn("container-disk-mount-failed", "handle", rec.Handle, "error", err)
			}
		}
		if st := status[rec.Handle]; st != "running" && c.rec.State == stateActive {
			b.log.Warn("container-init-gone", "handle", rec.Handle, "runc_status", st)
			c.rec.State = stateStopped
			c.save()
		}
		b.containers[rec.Handle] = c
		b.uids[rec.UID] = rec.Handle
		for _, d := range rec.Cgroups.dirs() {
			b.cgParents[filepath.Dir(d)] = true
		}
		for _, p := range rec.Ports {
			b.ports.Hold(p.HostPort, rec.Handle)
		}
		b.log.Info("container-restored", "handle", rec.Handle, "state", c.rec.State, "runc_status", status[rec.Handle])
	}
	if len(b.containers) > 0 {
		b.mu.Lock()
		b.mon.EnsureLocked()
		b.mu.Unlock()
	}
	return nil
}

// Name is "runc".
func (b *Backend) Name() string { return "runc" }

// Capacity reports the configured capacity. MaxContainers is the size of
// the port range: every container needs a port and a uid.
func (b *Backend) Capacity() (backend.Capacity, error) { return b.cap, nil }

// Lookup finds a container by handle (ErrNotFound).
func (b *Backend) Lookup(handle string) (backend.Container, error) {
	return host.Lookup(&b.mu, b.containers, handle)
}

// List returns every container, including those re-adopted from RootDir.
func (b *Backend) List(ctx context.Context) ([]backend.Container, error) {
	return host.List(ctx, &b.mu, b.containers)
}

// Close stops the monitor. Containers and their processes are left running
// (a new Backend on the same RootDir re-adopts them).
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mon.StopLocked()
	if len(b.containers) == 0 && len(b.creating) == 0 {
		b.removeCgroupParentsLocked()
	}
	b.mu.Unlock()
	b.mon.Wait()
	return nil
}

// removeCgroupParentsLocked removes the parent cgroups of the containers
// once none is left (rmdir fails on a cgroup that still has children).
// b.mu must be held.
func (b *Backend) removeCgroupParentsLocked() {
	for d := range b.cgParents {
		if err := os.Remove(d); err == nil || errors.Is(err, fs.ErrNotExist) {
			delete(b.cgParents, d)
		}
	}
}

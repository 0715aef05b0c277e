//go:build linux

package runc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

var (
	// ErrUnavailable: runc cannot be used here (missing, not root, or it
	// cannot create a container). The message names the fix.
	ErrUnavailable = errors.New("runc backend unavailable")
	// ErrInvalidSpec is returned by Create for a malformed spec.
	ErrInvalidSpec = errors.New("runc backend: invalid container spec")
	// ErrPortUnavailable is returned by NetIn when no port (or not the
	// asked one) can be had.
	ErrPortUnavailable = errors.New("runc backend: port unavailable")
)

// initScript is every container's init: it blocks, and reaps the
// processes orphaned in the container (the shell's wait reaps any child).
// As pid 1 of its namespace with no handlers it ignores every signal sent
// from inside the container.
const initScript = "while :; do sleep 3600 & wait; done"

// cpuShares is the container's CPU weight: the spec's, or as Cloud
// Foundry's DEA does, one share per 8 MB of memory limit, within 2..1024
// (1024 is a cgroup's default weight, the DEA's own).
func cpuShares(spec backend.ContainerSpec) uint64 {
	if spec.CPUShares > 0 {
		return min(max(spec.CPUShares, 2), 262144)
	}
	if spec.MemoryLimitBytes == 0 {
		return 1024
	}
	return min(max(spec.MemoryLimitBytes/(8<<20), 2), 1024)
}

// specInput gathers what config.json is made of for a container in dir.
func (b *Backend) specInput(dir, handle string, uid uint32, spec backend.ContainerSpec) (specInput, error) {
	in := specInput{
		handle:      handle,
		diskDir:     filepath.Join(dir, diskDirName),
		uid:         uid,
		cgroupsPath: b.cfg.CgroupParent + "/" + handle,
		memory:      spec.MemoryLimitBytes,
		cpuShares:   cpuShares(spec),
		pids:        spec.MaxPids,
		noFile:      b.cfg.NoFile,
		seccomp:     b.seccomp,
		args:        []string{"/bin/sh", "-c", initScript},
		env:         []string{"PATH=" + defaultPath},
	}
	if in.pids == 0 {
		in.pids = b.cfg.DefaultPids
	}
	stackEtc := "/etc"
	if b.cfg.StackRootfs == "" {
		in.hostStack = true
		in.rootfs = filepath.Join(dir, "rootfs")
		if err := makeHostRootfs(in.rootfs); err != nil {
			return in, err
		}
	} else {
		in.rootfs = b.cfg.StackRootfs
		stackEtc = filepath.Join(b.cfg.StackRootfs, "etc")
	}
	var err error
	in.passwd, in.group, err = writeUserFiles(dir, stackEtc, uid)
	return in, err
}

// makeHostRootfs makes the root of a host-stack container: an empty
// directory where runc creates the mount points, with the host's symlinked
// top-level directories (/bin -> usr/bin on merged-/usr systems) copied as
// symlinks.
func makeHostRootfs(rootfs string) error {
	if err := os.Mkdir(rootfs, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create rootfs: %w", err)
	}
	for _, d := range stackDirs {
		fi, err := os.Lstat(d)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(d)
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		if err := os.Symlink(target, filepath.Join(rootfs, d)); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("rootfs: %w", err)
		}
	}
	return nil
}

// Create makes the bundle (disk, rootfs, config.json), starts the
// container's init with runc, attaches the port filter and records the
// container. Errors: ErrExists, ErrNoCapacity (a limit beyond the whole
// capacity, or no containers left), ErrInvalidSpec, or runc's failure.
func (b *Backend) Create(ctx context.Context, spec backend.ContainerSpec) (backend.Container, error) {
	if err := host.CheckSpec(spec, b.cap, ErrInvalidSpec); err != nil {
		return nil, err
	}
	if spec.MemoryLimitBytes > 0 && spec.MemoryLimitBytes < 4<<20 {
		return nil, fmt.Errorf("%w: memory limit %d bytes is below 4 MiB", ErrInvalidSpec, spec.MemoryLimitBytes)
	}
	for _, kv := range spec.Env {
		if strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("%w: env entry with a NUL byte", ErrInvalidSpec)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uid, err := b.reserve(spec.Handle)
	if err != nil {
		return nil, err
	}
	c, err := b.create(ctx, spec, uid)
	b.mu.Lock()
	delete(b.creating, spec.Handle)
	if err != nil {
		delete(b.uids, uid)
		if len(b.containers) == 0 && len(b.creating) == 0 {
			b.removeCgroupParentsLocked()
		}
	} else {
		b.containers[spec.Handle] = c
		b.mon.EnsureLocked()
	}
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	b.log.Debug("container-created", "handle", spec.Handle, "uid", uid, "memory_limit", spec.MemoryLimitBytes, "disk_limit", spec.DiskLimitBytes)
	return c, nil
}

// reserve claims the handle and a uid for a container being created.
func (b *Backend) reserve(handle string) (uint32, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("runc backend: closed")
	}
	if _, ok := b.containers[handle]; ok || b.creating[handle] {
		return 0, fmt.Errorf("%w: %s", backend.ErrExists, handle)
	}
	if len(b.containers)+len(b.creating) >= b.cap.MaxContainers {
		return 0, fmt.Errorf("%w: %d containers", backend.ErrNoCapacity, len(b.containers))
	}
	for i := uint32(0); i < uint32(b.cap.MaxContainers); i++ {
		uid := b.cfg.UIDBase + i
		if _, used := b.uids[uid]; !used {
			b.uids[uid] = handle
			b.creating[handle] = true
			return uid, nil
		}
	}
	return 0, fmt.Errorf("%w: no free uid", backend.ErrNoCapacity)
}

// create does the work of Create; on failure it leaves nothing behind.
func (b *Backend) create(ctx context.Context, spec backend.ContainerSpec, uid uint32) (c *container, err error) {
	dir := filepath.Join(b.cfg.RootDir, spec.Handle)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s (directory left over)", backend.ErrExists, spec.Handle)
		}
		return nil, fmt.Errorf("create container %s: %w", spec.Handle, err)
	}
	started := false
	defer func() {
		if err == nil {
			return
		}
		if started {
			_ = b.forceDelete(spec.Handle)
		}
		_ = unmountDisk(dir)
		_ = host.RemoveTree(dir)
		err = fmt.Errorf("create container %s: %w", spec.Handle, err)
	}()
	baseline, err := makeDisk(ctx, dir, spec.DiskLimitBytes, uid, b.cfg.MkfsPath)
	if err != nil {
		return nil, err
	}
	in, err := b.specInput(dir, spec.Handle, uid, spec)
	if err != nil {
		return nil, err
	}
	if err := host.WriteJSON(filepath.Join(dir, "config.json"), buildSpec(in), 0o600); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, procsDirName), 0o700); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(dir, "init.pid")
	logPath := filepath.Join(dir, "runc.log")
	runCtx, cancel := context.WithTimeout(ctx, runcTimeout)
	defer cancel()
	// Detached: runc exits once init runs. init's stdio is /dev/null.
	cmd := exec.CommandContext(runCtx, b.cfg.RuncPath, "--root", b.cfg.RuncRoot, "--log", logPath,
		"run", "--detach", "--bundle", dir, "--pid-file", pidFile, spec.Handle)
	started = true
	if err := cmd.Run(); err != nil {
		logData, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("runc run: %w: %s", err, lastLine(string(logData)))
	}
	pidData, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("runc run: %w", err)
	}
	initPid, err := strconv.Atoi(strings.TrimSpace(string(pidData)))
	if err != nil {
		return nil, fmt.Errorf("runc run: bad pid file: %w", err)
	}
	st, ok := readStat(initPid)
	if !ok {
		return nil, fmt.Errorf("container init %d exited at once", initPid)
	}
	cg, err := resolveCgroups(initPid, in.cgroupsPath)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	for _, d := range cg.dirs() {
		b.cgParents[filepath.Dir(d)] = true
	}
	b.mu.Unlock()
	if b.bindFilter {
		if cg.Unified == "" {
			return nil, fmt.Errorf("no cgroup v2 directory of its own to enforce ports on")
		}
		if err := attachBindFilter(cg.Unified, b.cfg.PortRangeStart, b.cfg.PortRangeEnd, nil); err != nil {
			return nil, err
		}
	}
	base := host.NewRecord(spec)
	base.CPUShares, base.MaxPids = in.cpuShares, in.pids
	rec := record{
		Record:       base,
		UID:          uid,
		InitPid:      initPid,
		InitStart:    st.start,
		Cgroups:      cg,
		DiskImage:    spec.DiskLimitBytes > 0,
		DiskBaseline: baseline,
	}
	c = newContainer(b, dir, rec)
	c.mu.Lock()
	err = c.saveLocked()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Destroy kills the container, deletes it from runc, unmounts its disk,
// removes its bundle and releases its ports and uid (ErrNotFound).
func (b *Backend) Destroy(ctx context.Context, handle string) error {
	b.mu.Lock()
	c, ok := b.containers[handle]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, handle)
	}
	if err := c.Stop(ctx, true); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("destroy %s: %w", handle, err)
	}
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", backend.ErrNotFound, handle)
	}
	c.destroyed = true
	cg := c.rec.Cgroups
	uid := c.rec.UID
	c.mu.Unlock()

	var errs []error
	if err := b.forceDelete(handle); err != nil {
		errs = append(errs, err)
	}
	for _, d := range cg.dirs() {
		// runc removed them; this is for a cgroup runc no longer knew.
		_ = os.Remove(d)
	}

	b.ports.ReleaseAll(handle)
	b.mu.Lock()
	delete(b.containers, handle)
	if b.uids[uid] == handle {
		delete(b.uids, uid)
	}
	if len(b.containers) == 0 && len(b.creating) == 0 {
		// No runc run is under way (b.mu is held): the parent cgroups
		// can go with the last container.
		b.removeCgroupParentsLocked()
	}
	b.mu.Unlock()
	if err := unmountDisk(c.dir); err != nil {
		errs = append(errs, err)
	} else if err := host.RemoveTree(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove files: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy %s: %w", handle, err)
	}
	b.log.Debug("container-destroyed", "handle", handle)
	return nil
}

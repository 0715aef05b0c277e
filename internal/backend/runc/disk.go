//go:build linux

package runc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The disk quota. A container with a disk limit gets an ext4 file system
// image of exactly that size (a sparse file, RootDir/<handle>/disk.img),
// loop-mounted on RootDir/<handle>/disk; its home/ and tmp/ directories are
// the container's /home/vcap and /tmp, so both share the quota and a write
// past it fails with ENOSPC. The file system's own metadata takes a few
// percent of the image. Without a limit, disk/ is a plain directory.

const (
	diskDirName   = "disk"
	diskImageName = "disk.img"
	// minDiskBytes is the smallest image made; smaller limits get it.
	minDiskBytes = 2 << 20
)

// makeDisk prepares the container's disk: the quota image when limit > 0,
// then home/ (owned by uid) and tmp/. It returns the bytes used by an empty
// disk, subtracted from the usage Info reports.
func makeDisk(ctx context.Context, dir string, limit uint64, uid uint32, mkfs string) (baseline uint64, err error) {
	disk := filepath.Join(dir, diskDirName)
	if err := os.Mkdir(disk, 0o755); err != nil {
		return 0, fmt.Errorf("create disk dir: %w", err)
	}
	if limit > 0 {
		img := filepath.Join(dir, diskImageName)
		f, err := os.OpenFile(img, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return 0, fmt.Errorf("create disk image: %w", err)
		}
		err = f.Truncate(int64(max(limit, minDiskBytes)))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("size disk image: %w", err)
		}
		// No journal (the data is as disposable as the container) and no
		// reserved blocks: the whole image is the container's.
		if out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal",
			"-E", "lazy_itable_init=1,nodiscard", img).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("mkfs disk image: %w: %s", err, strings.TrimSpace(string(out)))
		}
		if err := mountDisk(ctx, img, disk); err != nil {
			return 0, err
		}
		_ = os.Remove(filepath.Join(disk, "lost+found"))
	}
	home, tmp := filepath.Join(disk, "home"), filepath.Join(disk, "tmp")
	if err := os.Mkdir(home, 0o700); err != nil {
		return 0, fmt.Errorf("create home: %w", err)
	}
	if err := os.Chown(home, int(uid), int(uid)); err != nil {
		return 0, fmt.Errorf("chown home: %w", err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return 0, fmt.Errorf("create tmp: %w", err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return 0, fmt.Errorf("chmod tmp: %w", err)
	}
	if limit > 0 {
		baseline, _ = fsUsed(disk)
	}
	return baseline, nil
}

// mountDisk loop-mounts img on dir.
func mountDisk(ctx context.Context, img, dir string) error {
	out, err := exec.CommandContext(ctx, "mount", "-t", "ext4", "-o", "loop,nosuid,nodev", img, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount disk image: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// isMountPoint reports whether dir is the root of a mounted file system.
func isMountPoint(dir string) bool {
	var st, parent syscall.Stat_t
	if syscall.Lstat(dir, &st) != nil || syscall.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// unmountDisk unmounts the quota image of dir if it is mounted (lazily when
// busy); mount's loop device is freed with the last unmount.
func unmountDisk(dir string) error {
	disk := filepath.Join(dir, diskDirName)
	if !isMountPoint(disk) {
		return nil
	}
	var err error
	for i := 0; i < 50; i++ {
		err = syscall.Unmount(disk, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Unmount(disk, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("unmount disk: %w", err)
	}
	return nil
}

// fsUsed is the space used on the file system holding dir.
func fsUsed(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return (st.Blocks - st.Bfree) * uint64(st.Bsize), nil
}

// writeUserFiles writes the passwd and group files bind-mounted over the
// stack's: the stack's entries plus vcap with the container's uid, so
// that whoami, getpwuid and ssh-like tools work.
func writeUserFiles(dir, stackEtc string, uid uint32) (passwd, group string, err error) {
	id := strconv.FormatUint(uint64(uid), 10)
	shell := "/bin/sh"
	if _, err := os.Stat(filepath.Join(stackEtc, "..", "bin", "bash")); err == nil {
		shell = "/bin/bash"
	}
	filter := func(name, entry string) []byte {
		data, _ := os.ReadFile(filepath.Join(stackEtc, name))
		var b bytes.Buffer
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if line == "" || f[0] == "vcap" || (len(f) > 2 && f[2] == id) {
				continue
			}
			b.WriteString(line + "\n")
		}
		b.WriteString(entry + "\n")
		return b.Bytes()
	}
	passwd, group = filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	if err := os.WriteFile(passwd, filter("passwd", "vcap:x:"+id+":"+id+":vcap:"+homeDir+":"+shell), 0o644); err != nil {
		return "", "", fmt.Errorf("write passwd: %w", err)
	}
	if err := os.WriteFile(group, filter("group", "vcap:x:"+id+":"), 0o644); err != nil {
		return "", "", fmt.Errorf("write group: %w", err)
	}
	return passwd, group, nil
}

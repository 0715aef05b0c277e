//go:build linux

package runc

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// The OCI runtime spec, reduced to the fields this backend sets
// (https://github.com/opencontainers/runtime-spec/blob/main/config.md).

type ociSpec struct {
	OCIVersion string     `json:"ociVersion"`
	Process    ociProcess `json:"process"`
	Root       ociRoot    `json:"root"`
	Hostname   string     `json:"hostname,omitempty"`
	Mounts     []ociMount `json:"mounts"`
	Linux      ociLinux   `json:"linux"`
}

type ociProcess struct {
	Terminal        bool            `json:"terminal,omitempty"`
	User            ociUser         `json:"user"`
	Args            []string        `json:"args"`
	Env             []string        `json:"env,omitempty"`
	Cwd             string          `json:"cwd"`
	Capabilities    ociCapabilities `json:"capabilities"`
	Rlimits         []ociRlimit     `json:"rlimits,omitempty"`
	NoNewPrivileges bool            `json:"noNewPrivileges"`
}

type ociUser struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// ociCapabilities is always empty: container processes hold no capability
// in any set.
type ociCapabilities struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Ambient     []string `json:"ambient"`
}

type ociRlimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type ociLinux struct {
	Namespaces    []ociNamespace `json:"namespaces"`
	CgroupsPath   string         `json:"cgroupsPath"`
	Resources     ociResources   `json:"resources"`
	MaskedPaths   []string       `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string       `json:"readonlyPaths,omitempty"`
	Seccomp       *ociSeccomp    `json:"seccomp,omitempty"`
}

type ociNamespace struct {
	Type string `json:"type"`
}

type ociResources struct {
	Memory *ociMemory `json:"memory,omitempty"`
	CPU    *ociCPU    `json:"cpu,omitempty"`
	Pids   *ociPids   `json:"pids,omitempty"`
}

type ociMemory struct {
	Limit *int64 `json:"limit,omitempty"`
	Swap  *int64 `json:"swap,omitempty"`
}

type ociCPU struct {
	Shares *uint64 `json:"shares,omitempty"`
}

type ociPids struct {
	Limit int64 `json:"limit"`
}

type ociSeccomp struct {
	DefaultAction string           `json:"defaultAction"`
	Architectures []string         `json:"architectures"`
	Syscalls      []ociSeccompRule `json:"syscalls"`
}

type ociSeccompRule struct {
	Names    []string         `json:"names"`
	Action   string           `json:"action"`
	ErrnoRet *uint            `json:"errnoRet,omitempty"`
	Args     []ociSeccompArgs `json:"args,omitempty"`
}

type ociSeccompArgs struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// Paths of /proc and /sys a container must not read (masked: bind-mounted
// over with /dev/null or an empty tmpfs) or write (remounted read-only);
// the lists runc's own default spec uses.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// deniedSyscalls fail with EPERM. With no capabilities most of them fail
// anyway; the filter is a second wall against kernel bugs reached through
// them, and it also closes what needs no capability: user namespaces
// (unshare, setns, clone with CLONE_NEWUSER), keyrings, ptrace, bpf,
// perf events, userfaultfd and io_uring.
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "fanotify_init", "fsconfig", "fsmount", "fsopen",
	"fspick", "get_kernel_syms", "init_module", "io_uring_enter",
	"io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load",
	"kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr",
	"move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
	"open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
	"process_vm_writev", "ptrace", "query_module", "quotactl", "reboot", "request_key",
	"setdomainname", "sethostname", "setns", "settimeofday", "stime",
	"swapoff", "swapon", "syslog", "umount", "umount2", "unshare", "uselib",
	"userfaultfd", "ustat", "vhangup", "vm86", "vm86old",
}

const cloneNewUser = 0x10000000 // CLONE_NEWUSER

// seccompProfile is an allow-by-default profile with deniedSyscalls
// failing with EPERM, clone with CLONE_NEWUSER failing with EPERM, and
// clone3 (whose flags a filter cannot read) failing with ENOSYS so that
// libc falls back to clone.
func seccompProfile() *ociSeccomp {
	eperm, enosys := uint(syscall.EPERM), uint(syscall.ENOSYS)
	var arches []string
	switch runtime.GOARCH {
	case "amd64":
		arches = []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}
	case "arm64":
		arches = []string{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
	case "386":
		arches = []string{"SCMP_ARCH_X86"}
	}
	// clone's flags are its first argument everywhere but s390x.
	cloneArgs := []ociSeccompArgs{{Index: 0, Value: cloneNewUser, ValueTwo: cloneNewUser, Op: "SCMP_CMP_MASKED_EQ"}}
	return &ociSeccomp{
		DefaultAction: "SCMP_ACT_ALLOW",
		Architectures: arches,
		Syscalls: []ociSeccompRule{
			{Names: deniedSyscalls, Action: "SCMP_ACT_ERRNO", ErrnoRet: &eperm},
			{Names: []string{"clone"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &eperm, Args: cloneArgs},
			{Names: []string{"clone3"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &enosys},
		},
	}
}

// stackDirs are the host directories the "host" stack is made of.
var stackDirs = []string{"/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin", "/etc"}

// specInput is what one container's config.json is built from.
type specInput struct {
	handle      string
	rootfs      string // root.path
	hostStack   bool   // bind the host's stackDirs
	diskDir     string // host dir holding home/ and tmp/
	passwd      string // host files bind-mounted over /etc/passwd and /etc/group
	group       string
	uid         uint32
	cgroupsPath string
	memory      uint64
	cpuShares   uint64
	pids        uint64
	noFile      uint64
	seccomp     bool
	args        []string
	env         []string
}

// buildSpec assembles the container's config.json.
func buildSpec(in specInput) ociSpec {
	hostname := in.handle
	if len(hostname) > 63 {
		hostname = hostname[:63]
	}
	mounts := []ociMount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	if in.hostStack {
		for _, d := range stackDirs {
			if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
				mounts = append(mounts, ociMount{Destination: d, Type: "bind", Source: d, Options: []string{"rbind", "ro", "nosuid", "nodev"}})
			}
		}
	}
	ro := []string{"bind", "ro", "nosuid", "nodev", "noexec"}
	if in.passwd != "" {
		mounts = append(mounts,
			ociMount{Destination: "/etc/passwd", Type: "bind", Source: in.passwd, Options: ro},
			ociMount{Destination: "/etc/group", Type: "bind", Source: in.group, Options: ro})
	}
	rw := []string{"bind", "rw", "nosuid", "nodev"}
	mounts = append(mounts,
		ociMount{Destination: homeDir, Type: "bind", Source: filepath.Join(in.diskDir, "home"), Options: rw},
		ociMount{Destination: "/tmp", Type: "bind", Source: filepath.Join(in.diskDir, "tmp"), Options: rw})

	res := ociResources{Pids: &ociPids{Limit: int64(in.pids)}}
	if in.memory > 0 {
		m := int64(in.memory)
		res.Memory = &ociMemory{Limit: &m, Swap: &m}
	}
	if in.cpuShares > 0 {
		s := in.cpuShares
		res.CPU = &ociCPU{Shares: &s}
	}
	s := ociSpec{
		OCIVersion: "1.0.2",
		Process:    processSpec(in.uid, in.args, in.env, "/", in.noFile),
		Root:       ociRoot{Path: in.rootfs, Readonly: true},
		Hostname:   hostname,
		Mounts:     mounts,
		Linux: ociLinux{
			Namespaces:    []ociNamespace{{"pid"}, {"mount"}, {"ipc"}, {"uts"}},
			CgroupsPath:   in.cgroupsPath,
			Resources:     res,
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
		},
	}
	if in.seccomp {
		s.Linux.Seccomp = seccompProfile()
	}
	return s
}

// processSpec is a process of the container: the container's user, no
// capabilities, no_new_privileges and the open-files limit.
func processSpec(uid uint32, args, env []string, cwd string, noFile uint64) ociProcess {
	empty := []string{}
	return ociProcess{
		User: ociUser{UID: uid, GID: uid},
		Args: args,
		Env:  env,
		Cwd:  cwd,
		Capabilities: ociCapabilities{
			Bounding: empty, Effective: empty, Inheritable: empty, Permitted: empty, Ambient: empty,
		},
		Rlimits: []ociRlimit{
			{Type: "RLIMIT_NOFILE", Hard: noFile, Soft: noFile},
			{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
		},
		NoNewPrivileges: true,
	}
}

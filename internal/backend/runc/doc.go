// Package runc is ingot's Linux isolation backend: every container is an
// OCI bundle run by the runc runtime (Debian package runc), invoked as a
// binary. It needs root.
//
// # Containers
//
// RootDir/<handle>/ is the bundle: config.json, container.json (the
// record a restarted DEA re-adopts the container from), rootfs/ (the
// mount points of the host stack), disk/ (home/ and tmp/), passwd and
// group. The container's init is a shell that sleeps and reaps orphans;
// it is started with `runc run --detach`, and every Run is a foreground
// `runc exec` whose stdio are the process's, with --pid-file giving the
// process's host pid (for Signal) and runc's exit status being the
// process's (128+signal when killed). Stop sends SIGTERM to every process
// but init, waits StopGrace, then kills init, which ends the container's
// pid namespace at once.
//
// # Isolation
//
//   - Namespaces: pid, mount, ipc, uts (hostname = handle). The network
//     namespace is the host's (see Ports).
//   - User: each container runs as its own unprivileged uid and gid,
//     UIDBase+slot, with no capabilities in any set, no_new_privileges,
//     RLIMIT_NOFILE = NoFile and no core dumps. User namespaces were
//     not chosen: with the host network namespace runc cannot mount a
//     fresh sysfs in a user namespace, host-side tools (StreamIn's chown,
//     ps, the disk image) would need the uid mapping, and a distinct
//     unprivileged host uid already gives what they would: files and
//     processes no other container's user can touch.
//   - Root file system: the stack. The "host" stack is a read-only,
//     nosuid, nodev bind of the host's /usr, /bin, /lib*, /sbin and /etc
//     (symlinked ones, as on merged-/usr systems, become the same
//     symlinks); /etc/passwd and /etc/group are overlaid with copies that
//     add the user vcap. The root itself is read-only. Apps can read what
//     is world-readable in those directories, so the host's secrets belong
//     in files only root reads (or use a StackRootfs). /home/vcap and /tmp
//     are the writable disk; /proc, /sys (read-only), and a minimal /dev
//     (null, zero, full, random, urandom, tty, ptmx, pts, shm, mqueue;
//     runc's default device cgroup allows only these). /proc/kcore,
//     /proc/keys, /proc/timer_list, /proc/sched_debug, /proc/scsi,
//     /sys/firmware and the like are masked; /proc/sys, /proc/bus,
//     /proc/fs, /proc/irq and /proc/sysrq-trigger are read-only.
//   - Seccomp (when runc is built with libseccomp): allow by default,
//     deny with EPERM the system calls that reach kernel attack surface no
//     app needs: mount and friends, namespaces (unshare, setns, clone with
//     CLONE_NEWUSER; clone3 fails with ENOSYS so libc falls back to
//     clone), keyrings, ptrace, bpf, perf_event_open, io_uring,
//     userfaultfd, module loading, kexec, reboot, swap and clock setting.
//
// # Limits
//
//   - Memory: the cgroup limit, with swap equal to it (no swap). When the
//     kernel's OOM killer kills a process of the container (memory.oom_control
//     or memory.events oom_kill, checked every MonitorInterval and when a
//     process dies of SIGKILL), the container gets the event
//     backend.EventOutOfMemory and is stopped, as Warden does.
//   - CPU: cpu.shares (cpu.weight on cgroup v2, converted by runc) of the
//     spec, else one share per 8 MB of memory limit within 2..1024.
//   - Pids: the spec's MaxPids, else DefaultPids: a fork bomb stops at it.
//   - Disk: an ext4 image of exactly the disk limit, loop-mounted on
//     disk/, holds both /home/vcap and /tmp, so a write past the quota
//     fails with ENOSPC (no measuring and killing). Without a limit disk/
//     is a plain directory. Info's disk usage is the image's used blocks
//     (minus the empty file system's), or a bounded walk of disk/.
//
// # Ports
//
// Containers share the host's network namespace: an app listens on its
// PORT on the host, reachable by the router and by other hosts with no
// address translation, and it reaches services on the host's loopback
// (the built-in brokers' databases) as a process-backend app does. The
// price is that there is no network isolation between apps beyond ports:
// an app can connect to any port on the host, other apps' included, and to
// abstract unix sockets.
// Port ownership is enforced: a cgroup BPF program on the bind hooks of
// each container's cgroup v2 cgroup (the unified hierarchy on a hybrid
// cgroup v1 host) fails with EPERM any bind to a port of the range that
// NetIn did not give this container; other ports stay free to bind. Where
// the kernel has no cgroup v2 hierarchy or refuses the program, New logs
// port-enforcement-unavailable and apps are trusted with their ports. The
// alternative, a private network namespace per container with a veth pair
// and DNAT, isolates the network too but needs iptables and ip forwarding
// on the host and cuts apps off from services on the host's loopback.
//
// # Stacks
//
// Config.StackRootfs names a directory holding a whole root file system
// used read-only, instead of the host's directories. Make one with
// debootstrap, as root:
//
//	apt-get install debootstrap
//	debootstrap --variant=minbase bookworm /var/lib/ingot/stacks/bookworm http://deb.debian.org/debian
//	chroot /var/lib/ingot/stacks/bookworm apt-get install -y bash python3 ca-certificates
//
// and pass StackRootfs: "/var/lib/ingot/stacks/bookworm". It needs
// /bin/sh and sleep (init), /etc/passwd and /etc/group; runc creates the
// mount points (/home/vcap, /tmp, /proc, /dev, /sys) in it.
//
// # Restarts
//
// Containers outlive the Backend: Close leaves them running, and New on
// the same RootDir re-adopts each recorded container (`runc list` tells
// whether its init still runs; a stopped one is reported stopped). A
// re-adopted container is fully usable: Run, Stop, NetIn, Info, Destroy.
// Processes started by the previous Backend keep running, but only their
// starter can Wait for them.
package runc

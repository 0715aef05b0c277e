//go:build linux

package runc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// Port ownership. Containers share the host's network namespace, so a
// container could bind a port NetIn gave to another container while that
// one is not listening (before its start, between a crash and the
// restart). A cgroup BPF program on the bind hooks (BPF_CGROUP_INET4_BIND,
// BPF_CGROUP_INET6_BIND) of the container's cgroup v2 cgroup (the unified
// hierarchy in hybrid mode) rejects, with EPERM, every bind to a port of the
// backend's range other than the container's own. Ports outside the range
// and port 0 (ephemeral) stay free to bind. The program stays attached as
// long as the cgroup exists, so it outlives the DEA; NetIn replaces it with
// one allowing the new port.

const (
	bpfProgLoad   = 5
	bpfProgAttach = 8

	bpfProgTypeCgroupSockAddr = 18
	bpfCgroupInet4Bind        = 8
	bpfCgroupInet6Bind        = 9

	// offsetof(struct bpf_sock_addr, user_port): user_family, user_ip4,
	// user_ip6[4] precede it.
	sockAddrUserPort = 24
)

// bpfInsn is one eBPF instruction.
type bpfInsn struct {
	code uint8
	regs uint8 // dst | src<<4
	off  int16
	imm  int32
}

func (i bpfInsn) put(b []byte) {
	b[0] = i.code
	b[1] = i.regs
	binary.LittleEndian.PutUint16(b[2:], uint16(i.off))
	binary.LittleEndian.PutUint32(b[4:], uint32(i.imm))
}

// bindProgram returns the instructions of a bind hook that allows a bind
// unless its port lies in [lo, hi] and is not one of allowed.
func bindProgram(lo, hi uint32, allowed []uint32) []bpfInsn {
	const (
		ldxW    = 0x61 // BPF_LDX | BPF_MEM | BPF_W
		endBE   = 0xdc // BPF_ALU | BPF_END | BPF_TO_BE
		jltK    = 0xa5 // BPF_JMP | BPF_JLT | BPF_K
		jgtK    = 0x25 // BPF_JMP | BPF_JGT | BPF_K
		jeqK    = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
		movK    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
		exitOp  = 0x95 // BPF_JMP | BPF_EXIT
		r0, r1  = 0, 1
		r2      = 2
		nChecks = 2
	)
	n := nChecks + len(allowed)
	prog := []bpfInsn{
		// r2 = ctx->user_port (network byte order in the low 16 bits)
		{code: ldxW, regs: r2 | r1<<4, off: sockAddrUserPort},
		// r2 = be16(r2): the port in host order
		{code: endBE, regs: r2, imm: 16},
	}
	// Each check jumps to "allow", which follows the two deny
	// instructions; the jump offset counts the instructions in between.
	jump := func(i int) int16 { return int16(n - i - 1 + 2) }
	prog = append(prog, bpfInsn{code: jltK, regs: r2, off: jump(0), imm: int32(lo)})
	prog = append(prog, bpfInsn{code: jgtK, regs: r2, off: jump(1), imm: int32(hi)})
	for i, p := range allowed {
		prog = append(prog, bpfInsn{code: jeqK, regs: r2, off: jump(nChecks + i), imm: int32(p)})
	}
	return append(prog,
		bpfInsn{code: movK, regs: r0, imm: 0}, // deny
		bpfInsn{code: exitOp},
		bpfInsn{code: movK, regs: r0, imm: 1}, // allow
		bpfInsn{code: exitOp},
	)
}

// loadBindProgram loads prog for attachType and returns its fd.
func loadBindProgram(prog []bpfInsn, attachType uint32) (int, error) {
	code := make([]byte, 8*len(prog))
	for i, in := range prog {
		in.put(code[8*i:])
	}
	license := []byte("GPL\x00")
	logBuf := make([]byte, 4096)
	// union bpf_attr, the BPF_PROG_LOAD member.
	var attr [72]byte
	binary.LittleEndian.PutUint32(attr[0:], bpfProgTypeCgroupSockAddr)
	binary.LittleEndian.PutUint32(attr[4:], uint32(len(prog)))
	binary.LittleEndian.PutUint64(attr[8:], uint64(uintptr(unsafe.Pointer(&code[0]))))
	binary.LittleEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&license[0]))))
	binary.LittleEndian.PutUint32(attr[24:], 1) // log_level
	binary.LittleEndian.PutUint32(attr[28:], uint32(len(logBuf)))
	binary.LittleEndian.PutUint64(attr[32:], uint64(uintptr(unsafe.Pointer(&logBuf[0]))))
	copy(attr[48:64], "ingot_bind")
	binary.LittleEndian.PutUint32(attr[68:], attachType)
	var fd uintptr
	var errno syscall.Errno
	for try := 0; try < 20; try++ {
		// The verifier gives up with EAGAIN when a signal is pending, and
		// the Go runtime signals its threads (preemption): try again.
		fd, _, errno = syscall.Syscall(sysBPF, bpfProgLoad, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
		if errno != syscall.EAGAIN && errno != syscall.EINTR {
			break
		}
	}
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		msg := string(logBuf)
		if i := indexByte(logBuf, 0); i >= 0 {
			msg = string(logBuf[:i])
		}
		return -1, fmt.Errorf("load bind program: %w (verifier: %s)", errno, msg)
	}
	return int(fd), nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// checkBindFilter reports whether the kernel takes the bind program and
// has a cgroup v2 hierarchy to attach it to.
func checkBindFilter() error {
	if sysBPF == 0 {
		return fmt.Errorf("bind filter: bpf(2) unknown on %s", runtime.GOARCH)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return fmt.Errorf("bind filter: %w", err)
	}
	v2 := false
	for _, m := range mounts {
		v2 = v2 || m.v2
	}
	if !v2 {
		return errors.New("bind filter: no cgroup v2 hierarchy mounted")
	}
	fd, err := loadBindProgram(bindProgram(1, 2, []uint32{1}), bpfCgroupInet4Bind)
	if err != nil {
		return err
	}
	syscall.Close(fd)
	return nil
}

// attachBindFilter attaches (or replaces) the bind hooks of the cgroup v2
// directory cgroupDir so that only the ports allowed, and any port outside
// [lo, hi], can be bound by its processes.
func attachBindFilter(cgroupDir string, lo, hi uint32, allowed []uint32) error {
	if cgroupDir == "" || sysBPF == 0 {
		return errors.New("bind filter: no cgroup v2 directory")
	}
	dir, err := os.Open(cgroupDir)
	if err != nil {
		return fmt.Errorf("bind filter: open cgroup: %w", err)
	}
	defer dir.Close()
	prog := bindProgram(lo, hi, allowed)
	for _, at := range []uint32{bpfCgroupInet4Bind, bpfCgroupInet6Bind} {
		fd, err := loadBindProgram(prog, at)
		if err != nil {
			return fmt.Errorf("bind filter: %w", err)
		}
		// union bpf_attr, the BPF_PROG_ATTACH member: target_fd,
		// attach_bpf_fd, attach_type, attach_flags (0: one program, which
		// a new attach replaces, and none below it).
		var attr [20]byte
		binary.LittleEndian.PutUint32(attr[0:], uint32(dir.Fd()))
		binary.LittleEndian.PutUint32(attr[4:], uint32(fd))
		binary.LittleEndian.PutUint32(attr[8:], at)
		_, _, errno := syscall.Syscall(sysBPF, bpfProgAttach, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
		// The cgroup holds its own reference to the program.
		syscall.Close(fd)
		if errno != 0 {
			return fmt.Errorf("bind filter: attach to %s: %w", cgroupDir, errno)
		}
	}
	return nil
}

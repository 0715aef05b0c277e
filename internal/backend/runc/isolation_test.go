//go:build linux

package runc

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/testutil"
)

const waitFor = testutil.WaitFor

type syncBuffer = testutil.SyncBuffer

var (
	eventually = testutil.Eventually
	ctxT       = testutil.Context
)

// mustCreate makes a container destroyed at the end of the test.
func mustCreate(t *testing.T, b *Backend, spec backend.ContainerSpec) *container {
	t.Helper()
	c, err := b.Create(ctxT(t), spec)
	if err != nil {
		t.Fatalf("create %s: %v", spec.Handle, err)
	}
	t.Cleanup(func() {
		if err := b.Destroy(context.Background(), spec.Handle); err != nil && !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("destroy %s: %v", spec.Handle, err)
		}
	})
	return c.(*container)
}

// sh runs a bash script in c and returns its exit status and output.
func sh(t *testing.T, c backend.Container, script string) (int, string) {
	t.Helper()
	var out syncBuffer
	p, err := c.Run(ctxT(t), backend.ProcessSpec{Path: "bash", Args: []string{"-c", script}}, backend.ProcessIO{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("run %q: %v", script, err)
	}
	code := wait(t, p)
	return code, out.String()
}

func wait(t *testing.T, p backend.Process) int {
	t.Helper()
	ch := make(chan int, 1)
	go func() {
		code, _ := p.Wait()
		ch <- code
	}()
	select {
	case code := <-ch:
		return code
	case <-time.After(waitFor):
		t.Fatalf("process %s did not exit", p.ID())
		return -1
	}
}

func tarOf(t *testing.T, files map[string]string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// sharedBackend is one backend for the isolation tests of a package run.
func sharedBackend(t *testing.T) *Backend {
	t.Helper()
	skipUnlessRunc(t)
	b := newTestBackend(t, testConfig(t.TempDir()))
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestIsolationBetweenContainers(t *testing.T) {
	b := sharedBackend(t)
	a := mustCreate(t, b, backend.ContainerSpec{Handle: "iso-a"})
	other := mustCreate(t, b, backend.ContainerSpec{Handle: "iso-b"})
	if err := other.StreamIn(ctxT(t), homeDir, tarOf(t, map[string]string{"secret": "b-secret"})); err != nil {
		t.Fatal(err)
	}
	// A process of the other container, findable by its argument.
	p, err := other.Run(ctxT(t), backend.ProcessSpec{Path: "sleep", Args: []string{"4242"}}, backend.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })

	otherBundle := filepath.Join(b.cfg.RootDir, "iso-b")
	checks := []struct {
		name, script string
	}{
		{"sees only its own processes", `n=0; for d in /proc/[0-9]*; do n=$((n+1)); grep -q '424[2]' $d/cmdline 2>/dev/null && { echo "sees $d"; exit 1; }; done; [ $n -lt 10 ] || { echo "$n processes"; exit 1; }`},
		{"its init is pid 1", `grep -q 'sleep 3600' /proc/1/cmdline || grep -q '/bin/sh' /proc/1/cmdline`},
		{"cannot reach the other's files on the host", fmt.Sprintf(`! ls %s 2>/dev/null && ! cat %s/disk/home/secret 2>/dev/null`, otherBundle, otherBundle)},
		{"cannot see the backend's root dir", fmt.Sprintf(`! test -e %s && ! test -e %s`, b.cfg.RootDir, b.cfg.RuncRoot)},
		{"home holds only its own files", `! test -e /home/vcap/secret && [ "$(ls /home)" = vcap ]`},
		{"cannot write the stack", `! touch /usr/ingot-x 2>/dev/null && ! touch /etc/ingot-x 2>/dev/null && ! touch /ingot-x 2>/dev/null && ! touch /bin/ingot-x 2>/dev/null`},
		{"writes its home and tmp", `echo x > /home/vcap/f && echo y > /tmp/f && [ "$(cat /home/vcap/f /tmp/f)" = "$(printf 'x\ny')" ]`},
		{"runs as its unprivileged user", fmt.Sprintf(`[ "$(id -u)" = %d ] && [ "$(id -g)" = %d ] && [ "$(whoami)" = vcap ]`, a.rec.UID, a.rec.UID)},
		{"has no capabilities", `for k in CapInh CapPrm CapEff CapBnd CapAmb; do grep -q "^$k:[[:space:]]*0000000000000000$" /proc/self/status || { grep ^Cap /proc/self/status; exit 1; }; done`},
		{"no new privileges", `grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status`},
		{"hostname is the handle", `[ "$(cat /proc/sys/kernel/hostname)" = iso-a ]`},
		{"host-only paths are absent", `! test -e /root && ! test -e /var/lib && ! test -e /work`},
		{"dangerous proc paths are masked", `[ ! -s /proc/kcore ] && ! grep -q . /proc/keys 2>/dev/null && ! echo 1 > /proc/sys/kernel/panic 2>/dev/null`},
		{"cannot create namespaces", `! unshare -U true 2>/dev/null && ! unshare -n true 2>/dev/null`},
		{"minimal devices", `test -c /dev/null && test -c /dev/urandom && ! test -e /dev/vda && ! test -e /dev/loop0 && ! test -e /dev/mem`},
	}
	if b.seccomp {
		checks = append(checks, struct{ name, script string }{"seccomp filter on", `grep -q '^Seccomp:[[:space:]]*2$' /proc/self/status`})
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if code, out := sh(t, a, tc.script); code != 0 {
				t.Errorf("exit %d: %s", code, out)
			}
		})
	}
	if a.rec.UID == other.rec.UID {
		t.Errorf("both containers run as uid %d", a.rec.UID)
	}
}

func TestPortOwnership(t *testing.T) {
	b := sharedBackend(t)
	if !b.bindFilter {
		t.Skip("port enforcement unavailable on this kernel")
	}
	a := mustCreate(t, b, backend.ContainerSpec{Handle: "port-a"})
	c := mustCreate(t, b, backend.ContainerSpec{Handle: "port-b"})
	ma, err := a.NetIn(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := c.NetIn(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bind := func(family string, port uint32) string {
		addr := "'0.0.0.0'"
		if family == "AF_INET6" {
			addr = "'::'"
		}
		return fmt.Sprintf(`python3 -c "import socket; s = socket.socket(socket.%s); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((%s, %d)); s.listen(); print('bound', s.getsockname()[1])"`, family, addr, port)
	}
	for _, fam := range []string{"AF_INET", "AF_INET6"} {
		if code, out := sh(t, c, bind(fam, ma.HostPort)); code == 0 || !strings.Contains(out, "PermissionError") {
			t.Errorf("%s: binding the other container's port %d: exit %d, %s", fam, ma.HostPort, code, out)
		}
		if code, out := sh(t, c, bind(fam, mc.HostPort)); code != 0 {
			t.Errorf("%s: binding its own port %d: exit %d, %s", fam, mc.HostPort, code, out)
		}
		if code, out := sh(t, c, bind(fam, 0)); code != 0 {
			t.Errorf("%s: binding an ephemeral port: exit %d, %s", fam, code, out)
		}
	}
	// A port of the range nobody holds is not free to take either.
	free := ma.HostPort + 1
	for free == mc.HostPort {
		free++
	}
	if code, out := sh(t, a, bind("AF_INET", free)); code == 0 {
		t.Errorf("binding an unassigned port %d of the range succeeded: %s", free, out)
	}
	// The port given later is allowed, the earlier one still is.
	m2, err := a.NetIn(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint32{ma.HostPort, m2.HostPort} {
		if code, out := sh(t, a, bind("AF_INET", p)); code != 0 {
			t.Errorf("binding own port %d after a second NetIn: exit %d, %s", p, code, out)
		}
	}
}

func TestOutOfMemoryStopsOnlyThatContainer(t *testing.T) {
	b := sharedBackend(t)
	hog := mustCreate(t, b, backend.ContainerSpec{Handle: "oom-hog", MemoryLimitBytes: 48 << 20})
	calm := mustCreate(t, b, backend.ContainerSpec{Handle: "oom-calm", MemoryLimitBytes: 48 << 20})
	var calmOut syncBuffer
	calmProc, err := calm.Run(ctxT(t), backend.ProcessSpec{Path: "bash", Args: []string{"-c", "while :; do echo tick; sleep 0.05; done"}},
		backend.ProcessIO{Stdout: &calmOut})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = calmProc.Signal(syscall.SIGKILL) })
	p, err := hog.Run(ctxT(t), backend.ProcessSpec{Path: "python3", Args: []string{"-c", "b = bytearray(256 << 20); import time; time.sleep(60)"}}, backend.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	if code := wait(t, p); code != 137 {
		t.Errorf("exit status = %d, want 137 (SIGKILL)", code)
	}
	eventually(t, "out of memory event", func() bool {
		info, err := hog.Info(ctxT(t))
		return err == nil && slices.Equal(info.Events, []string{backend.EventOutOfMemory}) && info.State == "stopped"
	})
	// The other container keeps going.
	before := strings.Count(calmOut.String(), "tick")
	eventually(t, "the calm container still ticking", func() bool { return strings.Count(calmOut.String(), "tick") > before+3 })
	info, err := calm.Info(ctxT(t))
	if err != nil || info.State != "active" || len(info.Events) != 0 {
		t.Errorf("calm container Info = %+v, %v", info, err)
	}
	if code, out := sh(t, calm, "echo alive"); code != 0 || out != "alive\n" {
		t.Errorf("calm container run: %d %q", code, out)
	}
}

func TestForkBombHitsPidsLimit(t *testing.T) {
	b := sharedBackend(t)
	bomb := mustCreate(t, b, backend.ContainerSpec{Handle: "bomb", MaxPids: 64, MemoryLimitBytes: 256 << 20})
	p, err := bomb.Run(ctxT(t), backend.ProcessSpec{Path: "bash", Args: []string{"-c", "f() { f | f & }; f; sleep 60"}}, backend.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	pidsDir := bomb.rec.Cgroups.Procs
	readPids := func(name string) uint64 {
		v, _ := readUint(filepath.Join(pidsDir, name))
		return v
	}
	if readPids("pids.max") != 64 {
		t.Fatalf("pids.max = %d, want 64", readPids("pids.max"))
	}
	eventually(t, "the fork bomb hitting the limit", func() bool {
		n, err := readKeyed(filepath.Join(pidsDir, "pids.events"), "max")
		return err == nil && n > 0
	})
	if cur := readPids("pids.current"); cur > 64 {
		t.Errorf("pids.current = %d over the limit", cur)
	}
	// The host and the backend are fine.
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Errorf("host fork: %v %s", err, out)
	}
	other := mustCreate(t, b, backend.ContainerSpec{Handle: "bomb-neighbour"})
	if code, out := sh(t, other, "echo fine"); code != 0 || out != "fine\n" {
		t.Errorf("neighbour: %d %q", code, out)
	}
	// Stop ends the bomb at once by killing init.
	if err := bomb.Stop(ctxT(t), true); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wait(t, p)
	if pids, _ := bomb.rec.Cgroups.pids(); len(pids) != 0 {
		t.Errorf("%d processes left after Stop", len(pids))
	}
}

func TestDiskQuota(t *testing.T) {
	b := sharedBackend(t)
	const limit = 16 << 20
	c := mustCreate(t, b, backend.ContainerSpec{Handle: "disk", DiskLimitBytes: limit})
	code, out := sh(t, c, "dd if=/dev/zero of=/home/vcap/big bs=1M count=64 2>&1")
	if code == 0 || !strings.Contains(out, "No space left") {
		t.Errorf("filling home: exit %d, %s", code, out)
	}
	fi, err := os.Stat(filepath.Join(c.disk, "home", "big"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > limit {
		t.Errorf("wrote %d bytes past a %d quota", fi.Size(), limit)
	}
	// /tmp shares the quota.
	if code, out := sh(t, c, "dd if=/dev/zero of=/tmp/more bs=1M count=4 2>&1"); code == 0 {
		t.Errorf("/tmp write past the quota succeeded: %s", out)
	}
	info, err := c.Info(ctxT(t))
	if err != nil || info.Usage.DiskBytes < limit/2 || info.Usage.DiskBytes > limit {
		t.Errorf("disk usage = %d, want about %d (%v)", info.Usage.DiskBytes, limit, err)
	}
	// Freeing space makes room again; StreamIn is bound by the quota too.
	if code, out := sh(t, c, "rm /home/vcap/big /tmp/more; echo ok > /tmp/small"); code != 0 {
		t.Errorf("cleanup: %s", out)
	}
	big := tarOf(t, map[string]string{"huge": strings.Repeat("x", 2*limit)})
	if err := c.StreamIn(ctxT(t), homeDir, big); err == nil {
		t.Error("StreamIn of twice the quota succeeded")
	}
	if err := c.StreamIn(ctxT(t), homeDir+"/app", tarOf(t, map[string]string{"f": "fits"})); err != nil {
		t.Errorf("StreamIn after freeing space: %v", err)
	}
	if code, out := sh(t, c, "stat -c %u /home/vcap/app/f"); code != 0 || strings.TrimSpace(out) != strconv.Itoa(int(c.rec.UID)) {
		t.Errorf("streamed file owner = %q, want uid %d", out, c.rec.UID)
	}
}

func TestRunErrors(t *testing.T) {
	b := sharedBackend(t)
	c := mustCreate(t, b, backend.ContainerSpec{Handle: "errs"})
	var stderr syncBuffer
	_, err := c.Run(ctxT(t), backend.ProcessSpec{Path: "no-such-program-ingot"}, backend.ProcessIO{Stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "no-such-program-ingot") {
		t.Errorf("Run of a missing program = %v", err)
	}
	if stderr.String() != "" {
		t.Errorf("runc's error leaked to the process's stderr: %q", stderr.String())
	}
	if _, err := c.Run(ctxT(t), backend.ProcessSpec{Path: "true", Dir: "/no/such/dir"}, backend.ProcessIO{}); err == nil {
		t.Error("Run in a missing directory succeeded")
	}
	if _, err := c.StreamOut(ctxT(t), "/etc/passwd"); !errors.Is(err, backend.ErrInvalidPath) {
		t.Errorf("StreamOut of /etc/passwd = %v, want ErrInvalidPath", err)
	}
	if _, err := b.Create(ctxT(t), backend.ContainerSpec{Handle: "../evil"}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("Create with a bad handle = %v", err)
	}
	if _, err := c.NetIn(61001, 61002); !errors.Is(err, ErrPortUnavailable) {
		t.Errorf("NetIn with different ports = %v", err)
	}
}

func TestOrphansAreReaped(t *testing.T) {
	b := sharedBackend(t)
	c := mustCreate(t, b, backend.ContainerSpec{Handle: "reap", MaxPids: 32})
	// Each run leaves a short-lived orphan to init; more than the pids
	// limit in total, so unreaped zombies would make the last runs fail.
	for i := 0; i < 40; i++ {
		if code, out := sh(t, c, "(sleep 0.01 &); exit 0"); code != 0 {
			t.Fatalf("run %d: exit %d %s", i, code, out)
		}
	}
	eventually(t, "no zombies", func() bool {
		pids, _ := c.rec.Cgroups.pids()
		for _, pid := range pids {
			if st, ok := readStat(pid); ok && st.state == 'Z' {
				return false
			}
		}
		return true
	})
}

func TestCgroupLimits(t *testing.T) {
	b := sharedBackend(t)
	c := mustCreate(t, b, backend.ContainerSpec{Handle: "limits", MemoryLimitBytes: 256 << 20})
	cg := c.rec.Cgroups
	if cg.V2 {
		t.Skip("cgroup v1 file names")
	}
	cpuDir := v1Dir(t, c.rec.InitPid, "cpu")
	for file, want := range map[string]uint64{
		filepath.Join(cg.Memory, "memory.limit_in_bytes"):       256 << 20,
		filepath.Join(cg.Memory, "memory.memsw.limit_in_bytes"): 256 << 20,
		filepath.Join(cpuDir, "cpu.shares"):                     32, // 256 MB / 8
		filepath.Join(cg.Procs, "pids.max"):                     1024,
	} {
		got, err := readUint(file)
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", file, got, err, want)
		}
	}
	if code, out := sh(t, c, "ulimit -n"); code != 0 || strings.TrimSpace(out) != "16384" {
		t.Errorf("ulimit -n = %q", out)
	}
}

func TestReadoption(t *testing.T) {
	skipUnlessRunc(t)
	cfg := testConfig(t.TempDir())
	b1 := newTestBackend(t, cfg)
	c, err := b1.Create(ctxT(t), backend.ContainerSpec{Handle: "phoenix", MemoryLimitBytes: 64 << 20, DiskLimitBytes: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StreamIn(ctxT(t), homeDir, tarOf(t, map[string]string{"kept": "still here"})); err != nil {
		t.Fatal(err)
	}
	p, err := c.Run(ctxT(t), backend.ProcessSpec{Path: "sleep", Args: []string{"600"}}, backend.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	_ = b1.Close()

	b2 := newTestBackend(t, cfg)
	t.Cleanup(func() { _ = b2.Close() })
	t.Cleanup(func() { _ = b2.Destroy(context.Background(), "phoenix") })
	got, err := b2.Lookup("phoenix")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := sh(t, got, "cat /home/vcap/kept; pgrep -x sleep >/dev/null && echo sleeping"); code != 0 || out != "still heresleeping\n" {
		t.Errorf("run in the re-adopted container: %d %q", code, out)
	}
	m, err := got.NetIn(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, err := got.Info(ctxT(t))
	if err != nil || info.State != "active" || info.Usage.MemoryBytes == 0 || !slices.Contains(info.Ports, m) {
		t.Errorf("Info = %+v, %v", info, err)
	}
	// The monitor watches it: going over its memory stops it.
	if code, _ := sh(t, got, "python3 -c 'b = bytearray(128 << 20)'"); code == 0 {
		t.Error("allocation past the limit succeeded")
	}
	eventually(t, "out of memory after re-adoption", func() bool {
		info, err := got.Info(ctxT(t))
		return err == nil && info.State == "stopped" && slices.Contains(info.Events, backend.EventOutOfMemory)
	})
	if code := wait(t, p); code != 137 {
		t.Errorf("the first backend's process exited %d, want 137", code)
	}
	cgDirs := got.(*container).rec.Cgroups.All
	if len(cgDirs) == 0 {
		t.Fatal("no cgroup directories recorded")
	}
	if err := b2.Destroy(ctxT(t), "phoenix"); err != nil {
		t.Fatal(err)
	}
	// The last container takes its cgroups and their parents with it, in
	// every hierarchy.
	for _, d := range cgDirs {
		for _, dir := range []string{d, filepath.Dir(d)} {
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup %s left after Destroy: %v", dir, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.RootDir, "phoenix")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bundle left after Destroy: %v", err)
	}
}

func TestNewReportsMissingRunc(t *testing.T) {
	_, err := New(Config{RootDir: t.TempDir(), RuncPath: "/nonexistent/runc"}, nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "apt-get install runc") {
		t.Errorf("New with a missing runc = %v", err)
	}
	if err := Available("/nonexistent/runc"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Available = %v", err)
	}
}

// v1Dir is the directory of process pid's cgroup v1 controller ctrl.
func v1Dir(t *testing.T, pid int, ctrl string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), ctrl) {
			for _, m := range mounts {
				if slices.Contains(m.ctrls, ctrl) {
					return filepath.Join(m.point, strings.TrimPrefix(parts[2], m.root))
				}
			}
		}
	}
	t.Fatalf("no %s cgroup for %d", ctrl, pid)
	return ""
}

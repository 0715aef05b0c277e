// Package backendtest is the conformance suite every backend.Backend
// implementation passes. It needs bash, sleep and python3 on the host (or
// in the container's root file system).
package backendtest

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/testutil"
)

// Run runs the suite. newBackend returns a backend with a short stop grace
// (a second or two) and a short monitor interval. Called twice with the same
// *testing.T it must return backends on the same storage: the second one
// models the DEA restarting. When a backend implements io.Closer the suite
// closes it when it is done with it.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	open := func(t *testing.T) backend.Backend {
		t.Helper()
		b := newBackend(t)
		if cl, ok := b.(io.Closer); ok {
			t.Cleanup(func() { _ = cl.Close() })
		}
		return b
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend.Backend)
	}{
		{"CreateLookupListDestroy", testLifecycle},
		{"Properties", testProperties},
		{"StreamRoundTrip", testStreamRoundTrip},
		{"StreamInRejectsEscapes", testStreamInRejects},
		{"RunEnvDirOutputStatus", testRun},
		{"Signal", testSignal},
		{"StopKillsTree", testStopKillsTree},
		{"MemoryLimit", testMemoryLimit},
		{"NetIn", testNetIn},
		{"Usage", testUsage},
		{"RunStopped", testRunStopped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	t.Run("ListAfterRestart", func(t *testing.T) { testRestart(t, newBackend) })
}

func testLifecycle(t *testing.T, b backend.Backend) {
	ctx := testutil.Context(t)
	if b.Name() == "" {
		t.Error("Name is empty")
	}
	capa, err := b.Capacity()
	if err != nil || capa.MemoryBytes == 0 || capa.DiskBytes == 0 || capa.MaxContainers <= 0 {
		t.Errorf("Capacity = %+v, %v; want non-zero", capa, err)
	}
	c := create(t, b, backend.ContainerSpec{Handle: "life-1"})
	if c.Handle() != "life-1" {
		t.Errorf("Handle = %q", c.Handle())
	}
	if c.HomeDir() == "" {
		t.Error("HomeDir is empty")
	}
	if _, err := b.Create(ctx, backend.ContainerSpec{Handle: "life-1"}); !errors.Is(err, backend.ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	create(t, b, backend.ContainerSpec{Handle: "life-2"})
	got, err := b.Lookup("life-1")
	if err != nil || got.Handle() != "life-1" {
		t.Fatalf("Lookup = %v, %v", got, err)
	}
	list, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var handles []string
	for _, c := range list {
		handles = append(handles, c.Handle())
	}
	slices.Sort(handles)
	if !slices.Equal(handles, []string{"life-1", "life-2"}) {
		t.Errorf("List = %v", handles)
	}
	info, err := c.Info(ctx)
	if err != nil || info.State != "active" || info.Handle != "life-1" {
		t.Errorf("Info = %+v, %v; want active life-1", info, err)
	}
	if err := b.Destroy(ctx, "life-1"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := b.Lookup("life-1"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Lookup after Destroy = %v, want ErrNotFound", err)
	}
	if err := b.Destroy(ctx, "life-1"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("second Destroy = %v, want ErrNotFound", err)
	}
	if _, err := b.Lookup("never-made"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Lookup unknown = %v, want ErrNotFound", err)
	}
	if _, err := c.Info(ctx); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Info on destroyed container = %v, want ErrNotFound", err)
	}
	// The handle is free again.
	create(t, b, backend.ContainerSpec{Handle: "life-1"})
}

func testProperties(t *testing.T, b backend.Backend) {
	props := map[string]string{"app_guid": "a-1", "index": "3", "empty": ""}
	c := create(t, b, backend.ContainerSpec{Handle: "props", Properties: props})
	info, err := c.Info(testutil.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(info.Properties) != fmt.Sprint(props) {
		t.Errorf("Properties = %v, want %v", info.Properties, props)
	}
	info.Properties["app_guid"] = "changed"
	again, _ := c.Info(testutil.Context(t))
	if again.Properties["app_guid"] != "a-1" {
		t.Error("Info returned the container's own properties map")
	}
}

func testStreamRoundTrip(t *testing.T, b backend.Backend) {
	ctx := testutil.Context(t)
	c := create(t, b, backend.ContainerSpec{Handle: "stream"})
	in := []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "app/", typ: tar.TypeDir, mode: 0o750},
		{name: "app/run.sh", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\necho hi\n"},
		{name: "app/data/note.txt", typ: tar.TypeReg, mode: 0o640, body: "hello"},
		{name: "app/link", typ: tar.TypeSymlink, linkname: "data/note.txt"},
		{name: "app/hard", typ: tar.TypeLink, linkname: "app/data/note.txt"},
	}
	dst := c.HomeDir() + "/x"
	if err := c.StreamIn(ctx, dst, buildTar(t, in)); err != nil {
		t.Fatalf("StreamIn: %v", err)
	}
	rc, err := c.StreamOut(ctx, dst)
	if err != nil {
		t.Fatalf("StreamOut: %v", err)
	}
	out := readTar(t, rc)
	rc.Close()
	for _, want := range []tarEntry{
		{name: "app", typ: tar.TypeDir, mode: 0o750},
		{name: "app/run.sh", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\necho hi\n"},
		{name: "app/data/note.txt", typ: tar.TypeReg, mode: 0o640, body: "hello"},
		{name: "app/link", typ: tar.TypeSymlink, linkname: "data/note.txt"},
	} {
		got, ok := out[want.name]
		if !ok {
			t.Errorf("StreamOut lacks %s (has %v)", want.name, keys(out))
			continue
		}
		if got.typ != want.typ || got.body != want.body || got.linkname != want.linkname || (want.mode != 0 && got.mode != want.mode) {
			t.Errorf("entry %s = %+v, want %+v", want.name, got, want)
		}
	}
	if h, ok := out["app/hard"]; !ok || (h.body != "hello" && h.linkname == "") {
		t.Errorf("hard link entry = %+v", h)
	}
	// A single file streams out as one entry named by its base name.
	body, ok := readFile(t, c, dst+"/app/data/note.txt")
	if !ok || body != "hello" {
		t.Errorf("StreamOut of a file = %q, %v", body, ok)
	}
	// Processes see the files.
	var stdout testutil.SyncBuffer
	p := run(t, c, "cat x/app/link && ./x/app/run.sh", nil, "", &stdout, nil)
	if code := waitExit(t, p); code != 0 || stdout.String() != "hellohi\n" {
		t.Errorf("process saw %q (exit %d)", stdout.String(), code)
	}
	// StreamIn again overwrites files and replaces symlinks instead of
	// writing through them.
	if err := c.StreamIn(ctx, dst, buildTar(t, []tarEntry{{name: "app/link", typ: tar.TypeReg, mode: 0o644, body: "new"}})); err != nil {
		t.Fatalf("second StreamIn: %v", err)
	}
	if body, _ := readFile(t, c, dst+"/app/data/note.txt"); body != "hello" {
		t.Errorf("StreamIn wrote through a symlink: note.txt = %q", body)
	}
}

func keys(m map[string]tarEntry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func testStreamInRejects(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "escape"})
	cases := []struct {
		name    string
		entries []tarEntry
	}{
		{"absolute", []tarEntry{{name: "/etc/evil", typ: tar.TypeReg, mode: 0o644, body: "x"}}},
		{"dotdot", []tarEntry{{name: "../evil", typ: tar.TypeReg, mode: 0o644, body: "x"}}},
		{"nested dotdot", []tarEntry{{name: "a/../../evil", typ: tar.TypeReg, mode: 0o644, body: "x"}}},
		{"absolute symlink", []tarEntry{{name: "evil", typ: tar.TypeSymlink, linkname: "/etc"}}},
		{"escaping symlink", []tarEntry{{name: "a/evil", typ: tar.TypeSymlink, linkname: "../../.."}}},
		{"escaping hard link", []tarEntry{{name: "evil", typ: tar.TypeLink, linkname: "../evil"}}},
		{"symlink then write through", []tarEntry{
			{name: "up", typ: tar.TypeSymlink, linkname: ".."},
			{name: "up/evil", typ: tar.TypeReg, mode: 0o644, body: "x"},
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := fmt.Sprintf("%s/d%d/in", c.HomeDir(), i)
			err := c.StreamIn(testutil.Context(t), dst, buildTar(t, tc.entries))
			if !errors.Is(err, backend.ErrInvalidPath) {
				t.Fatalf("StreamIn = %v, want ErrInvalidPath", err)
			}
			for _, n := range streamOutNames(t, c, fmt.Sprintf("%s/d%d", c.HomeDir(), i)) {
				if strings.Contains(n, "evil") && !strings.HasPrefix(n, "in/") {
					t.Errorf("escaping entry written: %s", n)
				}
			}
		})
	}
	if err := c.StreamIn(testutil.Context(t), "/etc", buildTar(t, nil)); !errors.Is(err, backend.ErrInvalidPath) {
		t.Errorf("StreamIn to /etc = %v, want ErrInvalidPath", err)
	}
}

func testRun(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "run", Env: []string{"FROM_CONTAINER=c", "OVERRIDE=container"}})
	var out, errb testutil.SyncBuffer
	p := run(t, c, `echo "$FROM_CONTAINER $OVERRIDE $FROM_PROCESS"; pwd; echo oops >&2; exit 7`,
		[]string{"OVERRIDE=process", "FROM_PROCESS=p"}, "", &out, &errb)
	if p.ID() == "" {
		t.Error("process ID is empty")
	}
	if code := waitExit(t, p); code != 7 {
		t.Errorf("exit status = %d, want 7", code)
	}
	want := "c process p\n" + c.HomeDir() + "\n"
	if out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
	if errb.String() != "oops\n" {
		t.Errorf("stderr = %q", errb.String())
	}
	// Dir, relative and absolute; a nil writer discards.
	if err := c.StreamIn(testutil.Context(t), c.HomeDir()+"/sub", buildTar(t, []tarEntry{{name: "f", typ: tar.TypeReg, mode: 0o644, body: "in sub"}})); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"sub", c.HomeDir() + "/sub"} {
		var o testutil.SyncBuffer
		p := run(t, c, "cat f", nil, dir, &o, nil)
		if code := waitExit(t, p); code != 0 || o.String() != "in sub" {
			t.Errorf("dir %s: %q, exit %d", dir, o.String(), code)
		}
	}
	p = run(t, c, "exit 0", nil, "", nil, nil)
	if code := waitExit(t, p); code != 0 {
		t.Errorf("exit status = %d", code)
	}
	if _, err := c.Run(testutil.Context(t), backend.ProcessSpec{Path: "no-such-program-ingot"}, backend.ProcessIO{}); err == nil {
		t.Error("Run of a missing program succeeded")
	}
}

func testSignal(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "signal"})
	var out testutil.SyncBuffer
	p := run(t, c, `trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done`, nil, "", &out, nil)
	testutil.Eventually(t, "trap installed", func() bool { return strings.Contains(out.String(), "ready") })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	if code := waitExit(t, p); code != 3 {
		t.Errorf("exit status = %d, want 3", code)
	}
	if !strings.Contains(out.String(), "got-term") {
		t.Errorf("stdout = %q", out.String())
	}
	// Killed by a signal: 128+signal.
	p = run(t, c, "sleep 60", nil, "", nil, nil)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, p); code != 128+9 {
		t.Errorf("exit status = %d, want 137", code)
	}
}

func testStopKillsTree(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "stop"})
	var out testutil.SyncBuffer
	// The child ignores SIGTERM (and so does its sleep); only SIGKILL
	// after the grace period ends it.
	p := run(t, c, `bash -c 'trap "" TERM; while :; do echo tick >> ticks; sleep 0.05; done' & echo started; wait`, nil, "", &out, nil)
	testutil.Eventually(t, "child ticking", func() bool {
		body, ok := readFile(t, c, c.HomeDir()+"/ticks")
		return ok && strings.Count(body, "tick") >= 2
	})
	if err := c.Stop(testutil.Context(t), false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitExit(t, p)
	before, _ := readFile(t, c, c.HomeDir()+"/ticks")
	// Ten tick periods without a tick: the child is gone. (A negative
	// check needs some time to pass.)
	time.Sleep(500 * time.Millisecond)
	after, _ := readFile(t, c, c.HomeDir()+"/ticks")
	if after != before {
		t.Errorf("a process of the tree survived Stop: ticks grew from %d to %d", len(before), len(after))
	}
	info, err := c.Info(testutil.Context(t))
	if err != nil || info.State != "stopped" {
		t.Errorf("Info after Stop = %+v, %v; want stopped", info, err)
	}
	// Stop is idempotent.
	if err := c.Stop(testutil.Context(t), true); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func testMemoryLimit(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "oom", MemoryLimitBytes: 64 << 20})
	// A tree: bash → python3 holding 200 MiB, and a sleep.
	p := run(t, c, `python3 -c 'import time; b = b"x" * (200 << 20); time.sleep(120)' & sleep 120 & wait`, nil, "", nil, nil)
	code := waitExit(t, p)
	if code == 0 {
		t.Errorf("exit status = 0, want killed")
	}
	var info backend.Info
	testutil.Eventually(t, "out of memory event", func() bool {
		var err error
		info, err = c.Info(testutil.Context(t))
		return err == nil && slices.Contains(info.Events, backend.EventOutOfMemory)
	})
	if len(info.Events) != 1 || info.State != "stopped" {
		t.Errorf("Info after the kill = %+v, want one event and stopped", info)
	}
	if _, err := c.Run(testutil.Context(t), backend.ProcessSpec{Path: "bash", Args: []string{"-c", "true"}}, backend.ProcessIO{}); !errors.Is(err, backend.ErrStopped) {
		t.Errorf("Run after an out-of-memory kill = %v, want ErrStopped", err)
	}
}

func testNetIn(t *testing.T, b backend.Backend) {
	c1 := create(t, b, backend.ContainerSpec{Handle: "net-1"})
	c2 := create(t, b, backend.ContainerSpec{Handle: "net-2"})
	m1, err := c1.NetIn(0, 0)
	if err != nil {
		t.Fatalf("NetIn: %v", err)
	}
	m2, err := c2.NetIn(0, 0)
	if err != nil {
		t.Fatalf("NetIn: %v", err)
	}
	if m1.HostPort == 0 || m1.ContainerPort == 0 || m1.HostPort == m2.HostPort {
		t.Fatalf("mappings %+v and %+v: want distinct non-zero host ports", m1, m2)
	}
	info, err := c1.Info(testutil.Context(t))
	if err != nil || !slices.Contains(info.Ports, m1) || info.HostIP == "" {
		t.Fatalf("Info = %+v, %v; want port %+v and a host ip", info, err, m1)
	}
	if err := c1.StreamIn(testutil.Context(t), c1.HomeDir()+"/www", buildTar(t, []tarEntry{{name: "index.html", typ: tar.TypeReg, mode: 0o644, body: "net-1 here"}})); err != nil {
		t.Fatal(err)
	}
	p := run(t, c1, "exec python3 -m http.server "+strconv.Itoa(int(m1.ContainerPort))+" --bind 0.0.0.0", nil, "www", nil, nil)
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	addr := net.JoinHostPort(info.HostIP, strconv.Itoa(int(m1.HostPort)))
	testutil.Eventually(t, "server reachable on "+addr, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /index.html HTTP/1.0\r\n\r\n")
		body, _ := io.ReadAll(io.LimitReader(conn, 1<<16))
		return strings.Contains(string(body), "net-1 here")
	})
}

func testUsage(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "usage"})
	if err := c.StreamIn(testutil.Context(t), c.HomeDir(), buildTar(t, []tarEntry{{name: "blob", typ: tar.TypeReg, mode: 0o644, body: strings.Repeat("z", 256<<10)}})); err != nil {
		t.Fatal(err)
	}
	p := run(t, c, `while :; do :; done`, nil, "", nil, nil)
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	testutil.Eventually(t, "non-zero cpu, memory and disk usage", func() bool {
		info, err := c.Info(testutil.Context(t))
		return err == nil && info.Usage.CPUTime > 0 && info.Usage.MemoryBytes > 0 && info.Usage.DiskBytes >= 256<<10
	})
}

func testRunStopped(t *testing.T, b backend.Backend) {
	c := create(t, b, backend.ContainerSpec{Handle: "stopped"})
	if err := c.Stop(testutil.Context(t), false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := c.Run(testutil.Context(t), backend.ProcessSpec{Path: "bash", Args: []string{"-c", "true"}}, backend.ProcessIO{}); !errors.Is(err, backend.ErrStopped) {
		t.Errorf("Run on stopped container = %v, want ErrStopped", err)
	}
	// Files stay until Destroy.
	if _, err := c.StreamOut(testutil.Context(t), c.HomeDir()); err != nil {
		t.Errorf("StreamOut after Stop: %v", err)
	}
}

func testRestart(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	b1 := newBackend(t)
	props := map[string]string{"app_guid": "a-restart", "instance_guid": "i-1"}
	c, err := b1.Create(testutil.Context(t), backend.ContainerSpec{Handle: "survivor", Properties: props, MemoryLimitBytes: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.NetIn(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	p := run(t, c, "echo up; sleep 600", nil, "", &out, nil)
	testutil.Eventually(t, "process up", func() bool { return strings.Contains(out.String(), "up") })
	if cl, ok := b1.(io.Closer); ok {
		_ = cl.Close()
	}

	b2 := newBackend(t)
	if cl, ok := b2.(io.Closer); ok {
		t.Cleanup(func() { _ = cl.Close() })
	}
	list, err := b2.List(testutil.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Handle() != "survivor" {
		t.Fatalf("List after restart = %d containers", len(list))
	}
	info, err := list[0].Info(testutil.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(info.Properties) != fmt.Sprint(props) || !slices.Contains(info.Ports, m) {
		t.Errorf("restored Info = %+v, want properties %v and port %+v", info, props, m)
	}
	// The restored container still reaches the old process.
	if err := list[0].Stop(testutil.Context(t), false); err != nil {
		t.Fatalf("Stop restored: %v", err)
	}
	if code := waitExit(t, p); code == 0 {
		t.Errorf("surviving process exited 0, want killed")
	}
	// Its port is still held: a new container gets another.
	c2 := create(t, b2, backend.ContainerSpec{Handle: "newcomer"})
	m2, err := c2.NetIn(0, 0)
	if err != nil || m2.HostPort == m.HostPort {
		t.Errorf("NetIn after restart = %+v, %v; port %d is held by survivor", m2, err, m.HostPort)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.WaitFor)
	defer cancel()
	if err := b2.Destroy(ctx, "survivor"); err != nil {
		t.Fatalf("Destroy restored: %v", err)
	}
	if _, err := b2.Lookup("survivor"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Lookup after Destroy = %v", err)
	}
}

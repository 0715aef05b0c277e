package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/backend/internal/host"
)

// syncBuffer is a bytes.Buffer safe for the tail's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ticker is a detached app that counts on stdout and stderr until SIGTERM,
// then says goodbye and exits 7.
const ticker = `trap 'echo bye; exit 7' TERM; i=0; while :; do echo "tick $i"; echo "err $i" >&2; i=$((i+1)); sleep 0.05; done`

// TestHelperDetachedOwner is not a test: it is the process that starts a
// detached process and is then SIGKILLed by TestDetachedSurvivesOwnerDeath.
func TestHelperDetachedOwner(t *testing.T) {
	root := os.Getenv("INGOT_DETACHED_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process only")
	}
	b := newTestBackend(t, root)
	ctx := context.Background()
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "survivor", MemoryLimitBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetIn(0, 0); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	p, err := c.Run(ctx, backend.ProcessSpec{Path: "bash", Args: []string{"-c", ticker}, Detached: true}, backend.ProcessIO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "output tailed", func() bool { return strings.Contains(out.String(), "tick 2") })
	fmt.Printf("PID=%s\n", p.ID())
	time.Sleep(time.Hour) // until killed
}

func TestDetachedSurvivesOwnerDeath(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDetachedOwner$", "-test.v")
	cmd.Env = append(os.Environ(), "INGOT_DETACHED_HELPER_ROOT="+root)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PID="); ok {
				pidc <- v
			}
		}
		close(pidc)
	}()
	var id string
	select {
	case id = <-pidc:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("helper did not start its process")
	}
	if id == "" {
		_ = cmd.Wait()
		t.Fatal("helper failed")
	}
	// The owner dies without any cleanup.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	pid, _ := strconv.Atoi(id)
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }) // if the test fails half-way
	st, ok := host.ReadStat(pid)
	if !ok || st.Zombie() {
		t.Fatalf("the detached process %d died with its owner", pid)
	}

	b := newTestBackend(t, root)
	defer b.Close()
	c, err := b.Lookup("survivor")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	p, err := c.(backend.Attacher).Attach(id, backend.ProcessIO{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if p.ID() != id {
		t.Errorf("attached process id %s, want %s", p.ID(), id)
	}
	// Output written while nobody read it, and from now on, arrives.
	waitUntil(t, "output after attach", func() bool {
		s := out.String()
		i := strings.LastIndex(s, "tick ")
		if i < 0 {
			return false
		}
		n, _ := strconv.Atoi(strings.Fields(s[i+5:])[0])
		return n > 20 && strings.Contains(errOut.String(), "err ")
	})
	// Memory is accounted again, and the port is held again.
	waitUntil(t, "memory sampled", func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.Usage.MemoryBytes > 0
	})
	info, _ := c.Info(context.Background())
	if len(info.Ports) != 1 {
		t.Fatalf("ports = %+v", info.Ports)
	}
	if _, _, err := b.ports.Alloc("other", info.Ports[0].HostPort); !errors.Is(err, ErrPortUnavailable) {
		t.Errorf("the adopted container's port was handed out again: %v", err)
	}
	if _, err := c.(backend.Attacher).Attach(id, backend.ProcessIO{}); err == nil {
		t.Error("a second Attach succeeded")
	}
	// Stop reaches it; its exit status comes from the wrapper.
	if err := c.Stop(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait()
	if err != nil || code != 7 {
		t.Errorf("Wait = %d, %v; want 7", code, err)
	}
	if !strings.Contains(out.String(), "bye") {
		t.Error("the goodbye line written at exit was not copied")
	}
	if err := b.Destroy(context.Background(), "survivor"); err != nil {
		t.Fatal(err)
	}
}

func TestAttachRefusesDeadAndReusedPids(t *testing.T) {
	root := t.TempDir()
	b := newTestBackend(t, root)
	ctx := context.Background()
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "guard"})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	live, err := c.Run(ctx, backend.ProcessSpec{Path: "sleep", Args: []string{"600"}, Detached: true}, backend.ProcessIO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	livePid, _ := strconv.Atoi(live.ID())
	t.Cleanup(func() { _ = syscall.Kill(-livePid, syscall.SIGKILL) })
	dead, err := c.Run(ctx, backend.ProcessSpec{Path: "bash", Args: []string{"-c", "echo done; exit 3"}, Detached: true}, backend.ProcessIO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := dead.Wait(); code != 3 || err != nil {
		t.Fatalf("Wait = %d, %v; want 3", code, err)
	}
	if !strings.Contains(out.String(), "done") {
		t.Errorf("output %q lacks the last line", out.String())
	}
	_ = b.Close()

	// The recorded start time of the live one no longer matches: its pid
	// now names another process.
	recPath := filepath.Join(root, "guard", recordFile)
	data, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	for i := range rec.Detached {
		if strconv.Itoa(rec.Detached[i].Pid) == live.ID() {
			rec.Detached[i].Start++
		}
	}
	if err := host.WriteJSON(recPath, &rec, 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := newTestBackend(t, root)
	defer b2.Close()
	c2, err := b2.Lookup("guard")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.(backend.Attacher).Attach(live.ID(), backend.ProcessIO{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Attach to a reused pid = %v, want ErrNotFound", err)
	}
	if _, err := c2.(backend.Attacher).Attach(dead.ID(), backend.ProcessIO{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Attach to an exited process = %v, want ErrNotFound", err)
	}
	if _, err := c2.(backend.Attacher).Attach("12x", backend.ProcessIO{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Attach to a bad id = %v, want ErrNotFound", err)
	}
	// Destroy still kills the process it would not attach to (by group).
	if err := b2.Destroy(ctx, "guard"); err != nil {
		t.Fatal(err)
	}
	if code, _ := live.Wait(); code == 0 {
		t.Errorf("the live process exited 0 after Destroy")
	}
}

func TestDetachedOutputIsBounded(t *testing.T) {
	b := newTestBackend(t, t.TempDir())
	defer b.Close()
	ctx := context.Background()
	c, err := b.Create(ctx, backend.ContainerSpec{Handle: "chatty"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(ctx, "chatty")
	var n countWriter
	// 4 MiB of output in 64 KiB lines, then a pause to be read.
	p, err := c.Run(ctx, backend.ProcessSpec{Path: "bash", Args: []string{"-c",
		`for i in $(seq 64); do head -c 65535 /dev/zero | tr '\0' x; echo; done; sleep 600`}, Detached: true},
		backend.ProcessIO{Stdout: &n})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "all output copied", func() bool { return n.Load() >= 64<<16 })
	cc := c.(*container)
	cc.mu.Lock()
	dir := filepath.Join(cc.dir, cc.rec.Detached[0].Dir)
	cc.mu.Unlock()
	fi, err := os.Stat(filepath.Join(dir, stdoutFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > maxOutputFile+64<<10 {
		t.Errorf("stdout file is %d bytes after being read, want it truncated", fi.Size())
	}
	if err := c.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Wait()
}

type countWriter struct {
	mu sync.Mutex
	n  int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += len(p)
	return len(p), nil
}

func (w *countWriter) Load() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

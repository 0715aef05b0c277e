package dea

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend/process"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

// TestHelperDEAProcess is not a test: it is the DEA process that
// TestReadoptAfterCrash SIGKILLs.
func TestHelperDEAProcess(t *testing.T) {
	url := os.Getenv("INGOT_DEA_HELPER_NATS")
	if url == "" {
		t.Skip("helper process only")
	}
	ports, _ := strconv.Atoi(os.Getenv("INGOT_DEA_HELPER_PORTS"))
	log := slog.New(slog.DiscardHandler)
	b, err := bus.Connect(bus.Options{URL: url, Name: "helper-dea"}, log)
	if err != nil {
		t.Fatal(err)
	}
	be, err := process.New(testBackendConfig(os.Getenv("INGOT_DEA_HELPER_ROOT"), uint32(ports)), log)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(testConfig(os.Getenv("INGOT_DEA_HELPER_DATA")), Deps{Bus: b, Backend: be, Logs: logs.NewEmitter(b, log)}, log)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("DEA=%s\n", d.ID())
	_ = d.Run(context.Background()) // until killed
}

// startHelperDEA runs a DEA in a process of its own and returns it and its
// id.
func startHelperDEA(t *testing.T, natsURL, root, data string, ports uint32) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDEAProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "INGOT_DEA_HELPER_NATS="+natsURL, "INGOT_DEA_HELPER_ROOT="+root,
		"INGOT_DEA_HELPER_DATA="+data, fmt.Sprintf("INGOT_DEA_HELPER_PORTS=%d", ports))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	idc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "DEA="); ok {
				idc <- v
			}
		}
		close(idc)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case id, ok := <-idc:
		if !ok {
			t.Fatal("helper DEA failed to start")
		}
		return cmd, id
	case <-time.After(waitFor):
		t.Fatal("helper DEA did not start")
		return nil, ""
	}
}

// procStat reads a process's state and start time from /proc/<pid>/stat.
func procStat(pid int) (state byte, start uint64, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 20 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err == nil
}

// alive reports whether pid is a live (non-zombie) process started at
// start.
func alive(pid int, start uint64) bool {
	state, st, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X' && st == start
}

func get(t *testing.T, port int, path string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
}

func TestReadoptAfterCrash(t *testing.T) {
	t.Parallel()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	b, err := bus.Connect(bus.Options{URL: e.URL(), Name: t.Name()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	rec := &recorder{}
	if _, err := b.Subscribe(bus.SubjectDEAAdvertise, "", rec.add); err != nil {
		t.Fatal(err)
	}
	root, data, ports := t.TempDir(), t.TempDir(), newPortBlock()
	cmd, id := startHelperDEA(t, e.URL(), root, data, ports)
	// It takes starts once it advertises.
	eventually(t, "the helper DEA advertising", func() bool {
		return len(rec.find(bus.SubjectDEAAdvertise, func(b []byte) bool {
			var ad messages.DEAAdvertise
			return json.Unmarshal(b, &ad) == nil && ad.ID == id
		})) > 0
	})

	d := webApp(t)
	keep, lost := startMsg(d, "app-keep", 0), startMsg(d, "app-lost", 0)
	for _, m := range []*messages.StartInstance{keep, lost} {
		raw, _ := json.Marshal(m)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply, err := b.Request(ctx, bus.DEAStartSubject(id), raw)
		cancel()
		if err != nil || !decode[messages.StartReply](t, reply).Accepted {
			t.Fatalf("start on the helper DEA: %s, %v", reply, err)
		}
	}
	// Both run, and the snapshot names their processes.
	procs := map[string]snapshotInstance{}
	eventually(t, "both instances running in the snapshot", func() bool {
		snap, err := readSnapshot(data)
		if err != nil {
			return false
		}
		for _, si := range snap.Instances {
			if si.State == messages.StateRunning && si.ProcessID != "" {
				procs[si.Start.InstanceGUID] = si
			}
		}
		return len(procs) == 2
	})
	pid := func(guid string) int { n, _ := strconv.Atoi(procs[guid].ProcessID); return n }
	starts := map[int]uint64{}
	for guid := range procs {
		_, st, ok := procStat(pid(guid))
		if !ok {
			t.Fatalf("process of %s not found", guid)
		}
		starts[pid(guid)] = st
		p := pid(guid)
		t.Cleanup(func() { _ = syscall.Kill(-p, syscall.SIGKILL) }) // if the test fails half-way
	}
	keepPort := int(procs[keep.InstanceGUID].Port)
	get(t, keepPort, "/health")

	// The DEA dies without any cleanup; its apps do not.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	get(t, keepPort, "/health")
	// One app dies while its DEA is down.
	lostPid := pid(lost.InstanceGUID)
	_ = syscall.Kill(-lostPid, syscall.SIGKILL)
	eventually(t, "the lost app gone", func() bool { return !alive(lostPid, starts[lostPid]) })

	// The DEA comes back on the same data dir and backend root.
	h := newHarness(t, harnessOpts{natsURL: e.URL(), dataDir: data, backendRoot: root, ports: ports})
	if h.dea.ID() != id {
		t.Fatalf("restarted DEA id %q, want %q", h.dea.ID(), id)
	}
	reg := decode[messages.RouterRegister](t, h.waitMsg(bus.SubjectRouterRegister, routeFor(keep.InstanceGUID)))
	if int(reg.Port) != keepPort {
		t.Errorf("re-registered port %d, want %d", reg.Port, keepPort)
	}
	if hb := h.running(keep.InstanceGUID); hb.Port != keepPort || hb.Index != 0 {
		t.Errorf("heartbeat = %+v", hb)
	}
	keepPid := pid(keep.InstanceGUID)
	if !alive(keepPid, starts[keepPid]) {
		t.Fatal("the re-adopted app process is not the one that ran before")
	}
	// Still serving, and its output reaches the app's log again.
	get(t, keepPort, "/index.html?after-restart")
	h.waitLog("app-keep", "APP/PROC/WEB", "GET /index.html?after-restart")
	h.waitLog("app-keep", messages.SourceCell, "re-adopted instance")
	// Its memory is reserved again.
	ad := decode[messages.DEAAdvertise](t, h.waitMsg(bus.SubjectDEAAdvertise, nil))
	if ad.AvailableMemoryMB != 4096-keep.MemoryMB {
		t.Errorf("available memory %d MB, want %d", ad.AvailableMemoryMB, 4096-keep.MemoryMB)
	}
	// The one that died is reported.
	if ex := h.exited(lost.InstanceGUID); ex.Reason != messages.ReasonCrashed || ex.ExitDescription != notAdopted {
		t.Errorf("droplet.exited of the lost instance = %+v", ex)
	}
	if snap, err := readSnapshot(data); err != nil || len(snap.Instances) != 1 || snap.Instances[0].ProcessID != strconv.Itoa(keepPid) {
		t.Errorf("snapshot after re-adoption = %+v, %v", snap, err)
	}

	// A stop reaches the re-adopted process like any other.
	h.publish(bus.SubjectDEAStop, &messages.StopInstances{AppGUID: "app-keep"})
	if ex := h.exited(keep.InstanceGUID); ex.Reason != messages.ReasonStopped {
		t.Errorf("droplet.exited = %+v", ex)
	}
	eventually(t, "the re-adopted process stopped", func() bool { return !alive(keepPid, starts[keepPid]) })
}

package dea

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

func TestRestartDiscardsLeftovers(t *testing.T) {
	t.Parallel()
	const deaID = "dea-before-restart"
	var leftover backend.Process
	var orphan backend.Process
	h := newHarness(t, harnessOpts{
		mod: func(c *Config) { c.AdvertiseInterval = time.Hour },
		before: func(h *harness) {
			// What a DEA that died left behind: a running container it
			// recorded, one it had not recorded yet, and its snapshot.
			ctx := context.Background()
			start := messages.StartInstance{AppGUID: "app-left", Version: "v1", Index: 1, InstanceGUID: "inst-left",
				MemoryMB: 64, DiskMB: 64, DropletURI: "http://x", URIs: []string{"left.ingot.test"}}
			run := func(handle string, props map[string]string) backend.Process {
				c, err := h.backend.Create(ctx, backend.ContainerSpec{Handle: handle, Properties: props})
				if err != nil {
					t.Fatal(err)
				}
				p, err := c.Run(ctx, backend.ProcessSpec{Path: "sleep", Args: []string{"600"}}, backend.ProcessIO{})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			leftover = run("inst-left", containerProperties(deaID, &start))
			orphanStart := start
			orphanStart.InstanceGUID, orphanStart.Index = "inst-orphan", 2
			orphan = run("inst-orphan", containerProperties(deaID, &orphanStart))
			if _, err := h.backend.Create(ctx, backend.ContainerSpec{Handle: "not-ours", Properties: map[string]string{"owner": "stager"}}); err != nil {
				t.Fatal(err)
			}
			snap := &snapshot{ID: deaID, Instances: []snapshotInstance{{Start: start, State: messages.StateRunning, Port: 61234, URIs: start.URIs, Container: "inst-left"}}}
			if err := writeSnapshot(h.dataDir, snap); err != nil {
				t.Fatal(err)
			}
		},
	})
	if h.dea.ID() != deaID {
		t.Errorf("ID = %q, want the snapshot's %q", h.dea.ID(), deaID)
	}
	for _, guid := range []string{"inst-left", "inst-orphan"} {
		ex := h.exited(guid)
		if ex.Reason != messages.ReasonCrashed || ex.ExitDescription != notAdopted || ex.AppGUID != "app-left" {
			t.Errorf("droplet.exited = %+v", ex)
		}
	}
	un := decode[messages.RouterRegister](t, h.waitMsg(bus.SubjectRouterUnregister, routeFor("inst-left")))
	if un.Port != 61234 || !slices.Equal(un.URIs, []string{"left.ingot.test"}) {
		t.Errorf("router.unregister = %+v", un)
	}
	for _, p := range []backend.Process{leftover, orphan} {
		if code, _ := p.Wait(); code == 0 {
			t.Errorf("leftover process exited 0, want killed")
		}
	}
	cs, _ := h.backend.List(context.Background())
	if len(cs) != 1 || cs[0].Handle() != "not-ours" {
		t.Errorf("containers after recovery: %d (want only not-ours)", len(cs))
	}
	snap, err := readSnapshot(h.dataDir)
	if err != nil || len(snap.Instances) != 0 || snap.ID != deaID {
		t.Errorf("snapshot after recovery = %+v, %v", snap, err)
	}
	// dea.locate: an advertisement at once (the interval is an hour).
	n := len(h.rec.find(bus.SubjectDEAAdvertise, nil))
	h.publish(bus.SubjectDEALocate, struct{}{})
	eventually(t, "advertise after dea.locate", func() bool { return len(h.rec.find(bus.SubjectDEAAdvertise, nil)) > n })
}

func TestSnapshotAndReRegistration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{mod: func(c *Config) { c.RegisterInterval = time.Hour }})
	d := webApp(t)
	msg := startMsg(d, "app-snap", 0)
	msg.HealthCheck = messages.HealthCheck{Type: messages.HealthCheckHTTP, Endpoint: "health"}
	if r := h.start(msg); !r.Accepted {
		t.Fatalf("start refused: %+v", r)
	}
	h.running(msg.InstanceGUID)
	h.waitMsg(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID))
	// A router asking for a shorter register interval is obeyed, and
	// routes are re-registered at that interval.
	h.publish(bus.SubjectRouterStart, json.RawMessage(`{"minimumRegisterIntervalInSeconds":"bad"}`))
	h.publish(bus.SubjectRouterStart, &messages.RouterStart{ID: "r", MinimumRegisterIntervalInSeconds: 1})
	eventually(t, "register interval adopted", func() bool { return h.dea.registerInterval() == time.Second })
	eventually(t, "periodic re-registration", func() bool {
		return len(h.rec.find(bus.SubjectRouterRegister, routeFor(msg.InstanceGUID))) >= 4
	})
	snap, err := readSnapshot(h.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Instances) != 1 || snap.Instances[0].Start.InstanceGUID != msg.InstanceGUID ||
		snap.Instances[0].State != messages.StateRunning || snap.Instances[0].Port == 0 || snap.Instances[0].Container != msg.InstanceGUID {
		t.Errorf("snapshot = %+v", snap)
	}
	if fi, err := os.Stat(filepath.Join(h.dataDir, snapshotFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file mode: %v, %v", fi, err)
	}
	// Failing the health check after healthy crashes the instance.
	c, err := h.backend.Lookup(msg.InstanceGUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(c.HomeDir(), "app", "health")); err != nil {
		t.Fatal(err)
	}
	ex := h.exited(msg.InstanceGUID)
	if ex.Reason != messages.ReasonCrashed || !strings.HasPrefix(ex.ExitDescription, "Instance became unhealthy: Failed to make HTTP request to '/health'") {
		t.Errorf("droplet.exited = %+v", ex)
	}
	h.waitMsg(bus.SubjectRouterUnregister, routeFor(msg.InstanceGUID))
	h.waitLog("app-snap", messages.SourceCell, "Container became unhealthy")
	eventually(t, "snapshot emptied", func() bool {
		s, err := readSnapshot(h.dataDir)
		return err == nil && len(s.Instances) == 0
	})
}

func TestParseStagingInfo(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"detected_buildpack: go\nstart_command: ./bin/app\n", "./bin/app", true},
		{"---\nstart_command: \"python app.py --port $PORT\"\n", "python app.py --port $PORT", true},
		{"detected_buildpack: x\n", "", true},
		{"", "", true},
		{"start_command: [unclosed", "", false},
	} {
		got, err := parseStagingInfo([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseStagingInfo(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func FuzzParseStagingInfo(f *testing.F) {
	f.Add([]byte("start_command: ./run\n"))
	f.Add([]byte("staging_error: {type: x, message: y}\n"))
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = parseStagingInfo(data) })
}

func TestStartScriptQuoting(t *testing.T) {
	s := startScript(`echo 'it''s' "$PORT"`)
	if !strings.HasSuffix(s, `exec bash -c 'echo '\''it'\'''\''s'\'' "$PORT"'`+"\n") {
		t.Errorf("start script ends %q", s[strings.LastIndex(s, "exec"):])
	}
}

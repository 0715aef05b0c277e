package controller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// fakeDEA answers start and staging requests over the bus the way a DEA
// does, advertises and heartbeats on a short timer, and records what it
// was asked.
type fakeDEA struct {
	t    *testing.T
	id   string
	zone string
	b    bus.Bus

	mu        sync.Mutex
	memoryMB  int64
	instances map[string]messages.InstanceHeartbeat
	starts    []messages.StartInstance
	stops     []messages.StopInstances
	staged    []messages.StagingRequest
	refuse    bool
	// stageError makes staging fail with this message.
	stageError string
	// crashOnStart makes new instances exit as CRASHED right away.
	crashOnStart bool
	// stopDelay makes stops take effect late, like a graceful stop.
	stopDelay time.Duration
}

func newFakeDEA(t *testing.T, h *harness, id string) *fakeDEA {
	t.Helper()
	b, err := bus.Connect(bus.Options{URL: h.nats.URL(), Name: "fake-dea-" + id}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	d := &fakeDEA{t: t, id: id, b: b, memoryMB: 8192, instances: map[string]messages.InstanceHeartbeat{}}
	subs := []struct {
		subj string
		f    bus.Handler
	}{
		{bus.DEAStartSubject(id), d.onStart},
		{bus.SubjectDEAStop, d.onStop},
		{bus.StagingStartSubject(id), func(m *bus.Msg) { go d.onStage(m) }},
	}
	for _, s := range subs {
		sub, err := b.Subscribe(s.subj, "", s.f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			d.advertise()
			d.heartbeat()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	flush(t, b)
	eventually(t, 5*time.Second, "advertisement of "+id, func() bool {
		for _, c := range h.c.rt.candidates("") {
			if c.ID == id {
				return true
			}
		}
		return false
	})
	return d
}

func (d *fakeDEA) advertise() {
	d.mu.Lock()
	counts := map[string]int{}
	for _, in := range d.instances {
		counts[in.AppGUID]++
	}
	ad := messages.DEAAdvertise{ID: d.id, Stacks: []string{"host"}, Zone: d.zone, AvailableMemoryMB: d.memoryMB, AvailableDiskMB: 100000, AppIDToCount: counts}
	d.mu.Unlock()
	_ = d.b.PublishJSON(bus.SubjectDEAAdvertise, &ad)
}

func (d *fakeDEA) heartbeat() {
	d.mu.Lock()
	hb := messages.Heartbeat{DEA: d.id}
	for _, in := range d.instances {
		hb.Instances = append(hb.Instances, in)
	}
	d.mu.Unlock()
	_ = d.b.PublishJSON(bus.SubjectDEAHeartbeat, &hb)
}

func (d *fakeDEA) onStart(m *bus.Msg) {
	var req messages.StartInstance
	if err := messages.Decode(m.Data, &req); err != nil {
		d.t.Errorf("fake dea %s: bad start: %v", d.id, err)
		return
	}
	d.mu.Lock()
	d.starts = append(d.starts, req)
	refuse, crash := d.refuse, d.crashOnStart
	// Like the real DEA: a start of an app, version and index that still
	// runs here is a duplicate, accepted without a new instance.
	dup := false
	for _, in := range d.instances {
		if in.AppGUID == req.AppGUID && in.Version == req.Version && in.Index == req.Index && in.ProcessType == req.ProcessType {
			dup = true
		}
	}
	d.mu.Unlock()
	if dup && !refuse {
		data, _ := json.Marshal(messages.StartReply{Accepted: true})
		_ = d.b.Respond(m, data)
		return
	}
	if refuse {
		data, _ := json.Marshal(messages.StartReply{Accepted: false, Error: "no room"})
		_ = d.b.Respond(m, data)
		return
	}
	data, _ := json.Marshal(messages.StartReply{Accepted: true})
	_ = d.b.Respond(m, data)
	if crash {
		_ = d.b.PublishJSON(bus.SubjectDropletExited, &messages.DropletExited{
			DEA: d.id, AppGUID: req.AppGUID, ProcessType: req.ProcessType, Version: req.Version, InstanceGUID: req.InstanceGUID,
			Index: req.Index, Reason: messages.ReasonCrashed, ExitStatus: 1, ExitDescription: "APP/PROC/WEB: Exited with status 1",
		})
		return
	}
	in := messages.InstanceHeartbeat{
		AppGUID: req.AppGUID, ProcessType: req.ProcessType, Version: req.Version, InstanceGUID: req.InstanceGUID,
		Index: req.Index, State: messages.StateRunning, Host: "127.0.0.1", Port: 61000 + req.Index,
		MemQuota: uint64(req.MemoryMB) << 20, DiskQuota: uint64(req.DiskMB) << 20, FDSQuota: uint64(req.FileDescriptors),
		StartedAt: time.Now().Add(-2 * time.Second), Usage: messages.InstanceUsage{CPU: 0.01, MemoryBytes: 10 << 20, DiskBytes: 1 << 20, Time: time.Now()},
	}
	d.mu.Lock()
	d.instances[req.InstanceGUID] = in
	d.mu.Unlock()
	_ = d.b.PublishJSON(bus.SubjectDEAHeartbeat, &messages.Heartbeat{DEA: d.id, Partial: true, Instances: []messages.InstanceHeartbeat{in}})
}

func (d *fakeDEA) onStop(m *bus.Msg) {
	var req messages.StopInstances
	if err := messages.Decode(m.Data, &req); err != nil {
		return
	}
	d.mu.Lock()
	d.stops = append(d.stops, req)
	delay := d.stopDelay
	d.mu.Unlock()
	if delay > 0 {
		time.AfterFunc(delay, func() { d.stop(req) })
		return
	}
	d.stop(req)
}

func (d *fakeDEA) stop(req messages.StopInstances) {
	d.mu.Lock()
	var exited []messages.InstanceHeartbeat
	for g, in := range d.instances {
		if in.AppGUID != req.AppGUID {
			continue
		}
		if len(req.InstanceGUIDs) > 0 && !slices.Contains(req.InstanceGUIDs, g) {
			continue
		}
		if len(req.Indices) > 0 && !slices.Contains(req.Indices, in.Index) {
			continue
		}
		if req.Version != "" && req.Version != in.Version {
			continue
		}
		delete(d.instances, g)
		exited = append(exited, in)
	}
	d.mu.Unlock()
	for _, in := range exited {
		_ = d.b.PublishJSON(bus.SubjectDropletExited, &messages.DropletExited{
			DEA: d.id, AppGUID: in.AppGUID, ProcessType: in.ProcessType, Version: in.Version,
			InstanceGUID: in.InstanceGUID, Index: in.Index, Reason: messages.ReasonStopped,
		})
	}
}

// dropletBytes is what the fake stager uploads.
var dropletBytes = []byte("fake droplet tgz")

func (d *fakeDEA) onStage(m *bus.Msg) {
	var req messages.StagingRequest
	if err := messages.Decode(m.Data, &req); err != nil {
		d.t.Errorf("fake stager: bad request: %v", err)
		return
	}
	d.mu.Lock()
	d.staged = append(d.staged, req)
	stageErr := d.stageError
	d.mu.Unlock()
	reply := func(r messages.StagingResult) {
		data, _ := json.Marshal(r)
		_ = d.b.Respond(m, data)
	}
	if stageErr != "" {
		reply(messages.StagingResult{BuildGUID: req.BuildGUID, Error: stageErr})
		return
	}
	// Fetch the package like a stager does.
	resp, err := http.Get(req.PackageURI)
	if err != nil {
		reply(messages.StagingResult{BuildGUID: req.BuildGUID, Error: "download package: " + err.Error()})
		return
	}
	pkg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(pkg) == 0 {
		reply(messages.StagingResult{BuildGUID: req.BuildGUID, Error: fmt.Sprintf("download package: status %d", resp.StatusCode)})
		return
	}
	put, _ := http.NewRequest("PUT", req.DropletUploadURI, bytes.NewReader(dropletBytes))
	resp, err = http.DefaultClient.Do(put)
	if err != nil || resp.StatusCode != http.StatusCreated {
		reply(messages.StagingResult{BuildGUID: req.BuildGUID, Error: "upload droplet failed"})
		return
	}
	resp.Body.Close()
	sum := sha256.Sum256(dropletBytes)
	reply(messages.StagingResult{
		BuildGUID: req.BuildGUID, DetectedBuildpack: "binary", BuildpackName: "binary_buildpack",
		StartCommand: "./run", ProcessTypes: map[string]string{"web": "./run", "worker": "./work"},
		DropletDigest: hex.EncodeToString(sum[:]), DropletSize: int64(len(dropletBytes)),
	})
}

func (d *fakeDEA) startsFor(appGUID string) []messages.StartInstance {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []messages.StartInstance
	for _, s := range d.starts {
		if s.AppGUID == appGUID {
			out = append(out, s)
		}
	}
	return out
}

func (d *fakeDEA) running(appGUID string) []messages.InstanceHeartbeat {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []messages.InstanceHeartbeat
	for _, in := range d.instances {
		if in.AppGUID == appGUID {
			out = append(out, in)
		}
	}
	return out
}

func (d *fakeDEA) set(f func(d *fakeDEA)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

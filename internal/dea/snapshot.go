package dea

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

const snapshotFile = "snapshot.json"

// snapshot is what DataDir/snapshot.json holds: enough to find, report and
// re-adopt every instance after a restart.
type snapshot struct {
	ID        string             `json:"id"`
	WrittenAt time.Time          `json:"written_at"`
	Instances []snapshotInstance `json:"instances"`
}

type snapshotInstance struct {
	Start     messages.StartInstance `json:"start"`
	State     string                 `json:"state"`
	Port      uint32                 `json:"port"`
	URIs      []string               `json:"uris"`
	StartedAt time.Time              `json:"started_at"`
	Container string                 `json:"container"`
	// ProcessID is the app's process in the container, to attach to.
	ProcessID string `json:"process_id,omitempty"`
}

func readSnapshot(dir string) (*snapshot, error) {
	data, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if err != nil {
		return nil, err
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse snapshot: %w", err)
	}
	return &s, nil
}

// saveSnapshot writes the instances atomically. The file holds the apps'
// environment (credentials), so only the DEA's user can read it.
func (d *DEA) saveSnapshot() {
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	s := snapshot{ID: d.id, WrittenAt: time.Now().UTC(), Instances: []snapshotInstance{}}
	d.mu.Lock()
	for _, in := range d.instances {
		if in.state != messages.StateStarting && in.state != messages.StateRunning {
			continue
		}
		si := snapshotInstance{Start: in.msg, State: in.state, Port: in.port, URIs: in.uris, StartedAt: in.startedAt, ProcessID: in.processID}
		if in.container != nil {
			si.Container = in.container.Handle()
		}
		s.Instances = append(s.Instances, si)
	}
	d.mu.Unlock()
	if err := writeSnapshot(d.cfg.DataDir, &s); err != nil {
		d.log.Error("snapshot-write-failed", "error", err)
	}
}

func writeSnapshot(dir string, s *snapshot) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	tmp := filepath.Join(dir, snapshotFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, snapshotFile)); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// leftover is an instance of a previous run of this DEA.
type leftover struct {
	appGUID, version, instanceGUID, processType string
	index                                       int
	host                                        string
	port                                        uint32
	uris                                        []string
	container                                   backend.Container
	// snap is the snapshot's record of it (nil: the container alone).
	snap *snapshotInstance
}

// notAdopted is the exit description of a leftover that could not be
// re-adopted.
const notAdopted = "DEA restarted; instance could not be re-adopted"

// recover deals with the instances of a previous run (the DEA crashed or
// was killed, its apps kept running). Each instance of the snapshot whose
// app process still runs is re-adopted (see adopt). Every other leftover
// is discarded: its routes are withdrawn, its container killed and
// destroyed, and droplet.exited CRASHED (notAdopted) lets the health
// manager start it again.
func (d *DEA) recover(ctx context.Context) {
	left := map[string]*leftover{}
	snap, err := readSnapshot(d.cfg.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		d.log.Warn("snapshot-unreadable", "error", err)
	default:
		for _, si := range snap.Instances {
			if si.Start.InstanceGUID == "" || si.Start.AppGUID == "" {
				continue
			}
			left[si.Start.InstanceGUID] = &leftover{
				appGUID: si.Start.AppGUID, version: si.Start.Version, instanceGUID: si.Start.InstanceGUID,
				processType: procType(&si.Start), index: si.Start.Index, host: d.cfg.Host, port: si.Port, uris: si.URIs,
				snap: &si,
			}
		}
	}
	containers, err := d.deps.Backend.List(ctx)
	if err != nil {
		d.log.Warn("container-list-failed", "error", err)
	}
	for _, c := range containers {
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		p := info.Properties
		if p["owner"] != "dea" || (p["dea_id"] != d.id && left[c.Handle()] == nil) {
			continue // not one of this DEA's instances
		}
		l := left[c.Handle()]
		if l == nil {
			idx, _ := strconv.Atoi(p["instance_index"])
			l = &leftover{appGUID: p["app_guid"], version: p["version"], instanceGUID: p["instance_guid"],
				processType: p["process_type"], index: idx}
			left[c.Handle()] = l
		}
		l.container = c
	}
	adopted := 0
	for _, l := range left {
		if d.adopt(ctx, l) {
			adopted++
			continue
		}
		d.discard(ctx, l)
	}
	if len(left) > 0 {
		d.log.Info("dea-recovered", "readopted", adopted, "discarded", len(left)-adopted)
	}
	if len(left) > 0 || snap != nil {
		d.saveSnapshot()
	}
}

func (d *DEA) discard(ctx context.Context, l *leftover) {
	d.log.Warn("instance-discarded-after-restart", "app_guid", l.appGUID, "instance_guid", l.instanceGUID, "instance_index", l.index)
	if len(l.uris) > 0 && l.port != 0 {
		d.publish(bus.SubjectRouterUnregister, &messages.RouterRegister{
			Host: l.host, Port: uint16(l.port), URIs: l.uris, App: l.appGUID,
			PrivateInstanceID: l.instanceGUID, PrivateInstanceIndex: strconv.Itoa(l.index),
			Tags: map[string]string{"component": "dea-" + d.id},
		})
	}
	if l.container != nil {
		dctx, cancel := context.WithTimeout(ctx, d.cfg.StopTimeout)
		if err := d.deps.Backend.Destroy(dctx, l.container.Handle()); err != nil && !errors.Is(err, backend.ErrNotFound) {
			d.log.Warn("container-destroy-failed", "handle", l.container.Handle(), "error", err)
		}
		cancel()
	}
	if l.appGUID == "" || l.instanceGUID == "" {
		return
	}
	d.deps.Logs.Emit(l.appGUID, messages.SourceCell, strconv.Itoa(l.index), "OUT",
		fmt.Sprintf("Cell %s restarted; instance %s could not be re-adopted and was stopped", d.id, l.instanceGUID))
	pt := l.processType
	if pt == "" {
		pt = "web"
	}
	d.publish(bus.SubjectDropletExited, &messages.DropletExited{
		DEA: d.id, AppGUID: l.appGUID, ProcessType: pt, Version: l.version, InstanceGUID: l.instanceGUID,
		Index: l.index, Reason: messages.ReasonCrashed, ExitStatus: exitNeverRan,
		ExitDescription: notAdopted, CrashTimestamp: float64(time.Now().UnixNano()) / 1e9,
	})
}

package host

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/backend"
)

func TestRecord(t *testing.T) {
	props := map[string]string{"k": "v"}
	env := []string{"A=1"}
	r := NewRecord(backend.ContainerSpec{Handle: "h", MemoryLimitBytes: 1, DiskLimitBytes: 2, CPUShares: 3, MaxPids: 4, Env: env, Properties: props})
	props["k"], env[0] = "changed", "changed"
	if r.Handle != "h" || r.MemoryLimitBytes != 1 || r.DiskLimitBytes != 2 || r.CPUShares != 3 || r.MaxPids != 4 ||
		r.Env[0] != "A=1" || r.Properties["k"] != "v" || r.State != StateActive || time.Since(r.CreatedAt) > time.Hour {
		t.Errorf("NewRecord = %+v", r)
	}
	m := backend.PortMapping{HostPort: 61001, ContainerPort: 61001}
	if r.HasPort(m) {
		t.Error("HasPort of a port not recorded")
	}
	r.Ports = append(r.Ports, m)
	r.Events = append(r.Events, backend.EventOutOfMemory)
	if !r.HasPort(m) {
		t.Error("HasPort of a recorded port is false")
	}
	info := r.Info(backend.Usage{MemoryBytes: 9})
	info.Properties["k"], info.Ports[0].HostPort, info.Events[0] = "x", 1, "x"
	if r.Properties["k"] != "v" || r.Ports[0] != m || r.Events[0] != backend.EventOutOfMemory {
		t.Error("Info shares the record's maps or slices")
	}
	if info.Handle != "h" || info.State != StateActive || info.Usage.MemoryBytes != 9 || info.HostIP != "127.0.0.1" {
		t.Errorf("Info = %+v", info)
	}

	// A backend's record embeds Record: its fields stay at the top level.
	type backendRecord struct {
		Record
		UID uint32 `json:"uid"`
	}
	data, err := json.Marshal(backendRecord{Record: r, UID: 7})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"handle":"h"`) || !strings.Contains(string(data), `"uid":7`) {
		t.Errorf("JSON = %s", data)
	}
	var back backendRecord
	if err := json.Unmarshal([]byte(`{"handle":"old","state":"weird","uid":3}`), &back); err != nil {
		t.Fatal(err)
	}
	back.Normalize()
	if back.Handle != "old" || back.UID != 3 || back.State != StateActive || back.Properties == nil {
		t.Errorf("loaded %+v", back)
	}
	stopped := Record{State: StateStopped}
	stopped.Normalize()
	if stopped.State != StateStopped {
		t.Errorf("Normalize changed stopped to %q", stopped.State)
	}
}

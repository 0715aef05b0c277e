package messages

import (
	"encoding/json"
	"errors"
	"testing"
)

func validStart() *StartInstance {
	return &StartInstance{AppGUID: "a", Version: "d", DropletURI: "http://x/d", InstanceGUID: "i", MemoryMB: 64, DiskMB: 128}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		msg  interface{ Validate() error }
		ok   bool
	}{
		{"start ok", validStart(), true},
		{"start without app", func() *StartInstance { m := validStart(); m.AppGUID = ""; return m }(), false},
		{"start negative index", func() *StartInstance { m := validStart(); m.Index = -1; return m }(), false},
		{"start zero memory", func() *StartInstance { m := validStart(); m.MemoryMB = 0; return m }(), false},
		{"start bad health check", func() *StartInstance { m := validStart(); m.HealthCheck.Type = "ping"; return m }(), false},
		{"stop needs app", &StopInstances{}, false},
		{"heartbeat ok", &Heartbeat{DEA: "d", Instances: []InstanceHeartbeat{{AppGUID: "a", InstanceGUID: "i"}}}, true},
		{"heartbeat without dea", &Heartbeat{}, false},
		{"heartbeat bad instance", &Heartbeat{DEA: "d", Instances: []InstanceHeartbeat{{AppGUID: "a"}}}, false},
		{"exited ok", &DropletExited{AppGUID: "a", InstanceGUID: "i", Reason: ReasonCrashed}, true},
		{"exited unknown reason", &DropletExited{AppGUID: "a", InstanceGUID: "i", Reason: "BORED"}, false},
		{"hm start without indices", &HMRequest{Op: OpStart, AppGUID: "a"}, false},
		{"hm stop ok", &HMRequest{Op: OpStop, AppGUID: "a", InstanceGUIDs: []string{"i"}}, true},
		{"hm unknown op", &HMRequest{Op: "PAUSE", AppGUID: "a"}, false},
		{"staging result needs digest", &StagingResult{BuildGUID: "b"}, false},
		{"staging result error ok", &StagingResult{BuildGUID: "b", Error: "boom"}, true},
		{"router register ok", &RouterRegister{Host: "127.0.0.1", Port: 80, URIs: []string{"a.b"}}, true},
		{"router register without uris", &RouterRegister{Host: "127.0.0.1", Port: 80}, false},
		{"log bad stream", &LogLine{AppGUID: "a", Stream: "SIDEWAYS"}, false},
		{"desired negative instances", &DesiredStateReply{Apps: []DesiredApp{{AppGUID: "a", Instances: -1}}}, false},
		{"advertise negative memory", &DEAAdvertise{ID: "d", AvailableMemoryMB: -1}, false},
	}
	for _, c := range cases {
		err := c.msg.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", c.name, err)
		}
	}
}

func TestDecodeRejectsMalformedJSON(t *testing.T) {
	var m Heartbeat
	if err := Decode([]byte(`{"dea":`), &m); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Decode of truncated JSON = %v, want ErrInvalid", err)
	}
	if err := Decode([]byte(`{"dea":"d","droplets":[{"app_guid":"a","instance_guid":"i","index":0}]}`), &m); err != nil {
		t.Fatalf("Decode of a valid heartbeat = %v", err)
	}
}

// FuzzDecode feeds arbitrary bus payloads to every message type: decoding
// must fail cleanly or produce a message that validates, never panic.
func FuzzDecode(f *testing.F) {
	seeds := []any{validStart(), &Heartbeat{DEA: "d"}, &RouterRegister{Host: "h", Port: 1, URIs: []string{"u"}},
		&HMRequest{Op: OpStart, AppGUID: "a", Indices: []int{0}}, &StagingRequest{AppGUID: "a", BuildGUID: "b"},
		&LeaseRequest{Op: LeaseAcquire, Name: "healthmanager", Holder: "hm-1", TTLMillis: 4000}}
	for _, s := range seeds {
		data, _ := json.Marshal(s)
		f.Add(data)
	}
	f.Add([]byte(`{"droplets":[{"index":-5}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		targets := []interface{ Validate() error }{
			&DEAAdvertise{}, &DEAShutdown{}, &StartInstance{}, &StartReply{}, &StopInstances{}, &UpdateRoutes{},
			&Heartbeat{}, &DropletExited{}, &StagingRequest{}, &StagingResult{}, &HMRequest{},
			&DesiredStateRequest{}, &DesiredStateReply{}, &LogLine{}, &RouterRegister{}, &RouterStart{},
			&LeaseRequest{}, &LeaseReply{},
		}
		for _, m := range targets {
			if err := Decode(data, m); err == nil {
				if err := m.Validate(); err != nil {
					t.Fatalf("%T decoded but does not validate: %v", m, err)
				}
			}
		}
	})
}

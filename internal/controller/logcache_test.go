package controller

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// The exact protojson shapes the cf CLI's log-cache client accepts.
type strictLog struct {
	Payload string `json:"payload"`
	Type    string `json:"type"`
}

type strictEnvelope struct {
	Timestamp  string            `json:"timestamp"`
	SourceID   string            `json:"source_id"`
	InstanceID string            `json:"instance_id"`
	Tags       map[string]string `json:"tags"`
	Log        strictLog         `json:"log"`
}

type strictRead struct {
	Envelopes struct {
		Batch []strictEnvelope `json:"batch"`
	} `json:"envelopes"`
}

func strictDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("strict decode of %s: %v", data, err)
	}
}

func TestLogCacheRead(t *testing.T) {
	h := newHarness(t)
	const app = "11111111-2222-3333-4444-555555555555"
	base := time.Now().Add(-time.Minute).UnixNano()
	lines := []messages.LogLine{
		{AppGUID: app, SourceType: "STG", InstanceID: "0", Message: "Staging app", Stream: "OUT", Timestamp: base},
		{AppGUID: app, SourceType: "APP/PROC/WEB", InstanceID: "0", Message: "hello", Stream: "OUT", Timestamp: base + 1000},
		{AppGUID: app, SourceType: "APP/PROC/WEB", InstanceID: "1", Message: "oops", Stream: "ERR", Timestamp: base + 2000},
	}
	for _, l := range lines {
		h.logs.Append(l)
	}

	// Empty source.
	status, _, body := h.raw("GET", "/api/v1/read/nobody?descending=true&limit=1&start_time=-6795364578871345152", "", nil, true)
	var r strictRead
	strictDecode(t, body, &r)
	if status != 200 || string(body) != `{"envelopes":{"batch":[]}}` {
		t.Fatalf("empty read: %d %s", status, body)
	}

	// The CLI's first probe: newest line.
	_, _, body = h.raw("GET", "/api/v1/read/"+app+"?descending=true&limit=1&start_time=-6795364578871345152", "", nil, true)
	strictDecode(t, body, &r)
	if len(r.Envelopes.Batch) != 1 || r.Envelopes.Batch[0].Log.Type != "ERR" {
		t.Fatalf("newest: %s", body)
	}
	e := r.Envelopes.Batch[0]
	msg, _ := base64.StdEncoding.DecodeString(e.Log.Payload)
	if string(msg) != "oops" || e.SourceID != app || e.InstanceID != "1" || e.Tags["source_type"] != "APP/PROC/WEB" || e.Timestamp != strconv.FormatInt(base+2000, 10) {
		t.Fatalf("envelope: %+v", e)
	}

	// --recent: all LOG envelopes, descending.
	r = strictRead{}
	_, _, body = h.raw("GET", "/api/v1/read/"+app+"?descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152", "", nil, true)
	strictDecode(t, body, &r)
	if len(r.Envelopes.Batch) != 3 || r.Envelopes.Batch[2].Tags["source_type"] != "STG" {
		t.Fatalf("recent: %s", body)
	}

	// Streaming walk: start_time forward, ascending.
	r = strictRead{}
	_, _, body = h.raw("GET", "/api/v1/read/"+app+"?envelope_types=LOG&start_time="+strconv.FormatInt(base+1000, 10), "", nil, true)
	strictDecode(t, body, &r)
	if len(r.Envelopes.Batch) != 2 || r.Envelopes.Batch[0].Timestamp != strconv.FormatInt(base+1000, 10) {
		t.Fatalf("walk: %s", body)
	}
	// end_time is inclusive.
	r = strictRead{}
	_, _, body = h.raw("GET", "/api/v1/read/"+app+"?start_time="+strconv.FormatInt(base, 10)+"&end_time="+strconv.FormatInt(base+1000, 10), "", nil, true)
	strictDecode(t, body, &r)
	if len(r.Envelopes.Batch) != 2 {
		t.Fatalf("end_time: %s", body)
	}
	// Other envelope types have no entries.
	_, _, body = h.raw("GET", "/api/v1/read/"+app+"?envelope_types=GAUGE", "", nil, true)
	if string(body) != `{"envelopes":{"batch":[]}}` {
		t.Fatalf("gauge: %s", body)
	}
	if status, _, _ := h.raw("GET", "/api/v1/read/"+app+"?start_time=yesterday", "", nil, true); status != 400 {
		t.Fatalf("bad start_time: %d", status)
	}

	var info map[string]string
	_, _, body = h.raw("GET", "/api/v1/info", "", nil, true)
	if err := json.Unmarshal(body, &info); err != nil || info["version"] != "3.0.0" || info["vm_uptime"] == "" {
		t.Fatalf("info: %s", body)
	}
}

package dea

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/backend/process"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/messages"
)

const waitFor = 30 * time.Second

// portBlock gives each test's backend its own port range, so parallel
// tests never hand out the same port.
var portBlock atomic.Uint32

// testBackendConfig is the process backend of a test DEA, with the 40
// ports from start.
func testBackendConfig(root string, start uint32) process.Config {
	return process.Config{
		RootDir:           root,
		PortRangeStart:    start,
		PortRangeEnd:      start + 39,
		MonitorInterval:   50 * time.Millisecond,
		DiskCheckInterval: 500 * time.Millisecond,
		StopGrace:         time.Second,
	}
}

// testConfig is a test DEA's configuration: fast timers.
func testConfig(dataDir string) Config {
	return Config{
		DataDir:              dataDir,
		MemoryMB:             4096,
		DiskMB:               8192,
		AdvertiseInterval:    200 * time.Millisecond,
		HeartbeatInterval:    200 * time.Millisecond,
		RegisterInterval:     300 * time.Millisecond,
		HealthCheckInterval:  50 * time.Millisecond,
		HealthyCheckInterval: 200 * time.Millisecond,
		DefaultStartTimeout:  20 * time.Second,
		StopTimeout:          20 * time.Second,
	}
}

// newPortBlock is the first of 40 ports no other test uses.
func newPortBlock() uint32 { return 40000 + portBlock.Add(1)*40 }

// recorder keeps every message seen on the subjects it watches.
type recorder struct {
	mu   sync.Mutex
	msgs []*bus.Msg
}

func (r *recorder) add(m *bus.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, &bus.Msg{Subject: m.Subject, Data: append([]byte(nil), m.Data...)})
}

// find returns the payloads on subject matching pred.
func (r *recorder) find(subject string, pred func([]byte) bool) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, m := range r.msgs {
		if m.Subject == subject && (pred == nil || pred(m.Data)) {
			out = append(out, m.Data)
		}
	}
	return out
}

type harness struct {
	t       *testing.T
	bus     *bus.NATS
	backend *process.Backend
	dea     *DEA
	rec     *recorder
	cancel  context.CancelFunc
	done    chan error
	dataDir string
}

type harnessOpts struct {
	mod    func(*Config)
	stager Stager
	// before runs after the backend is made and before the DEA starts.
	before func(h *harness)
	// natsURL is a NATS server to use (default: an embedded one of the
	// test's own).
	natsURL string
	// backendRoot is the process backend's root dir (default: a temp dir).
	backendRoot string
	// dataDir is the DEA's data dir (default: a temp dir).
	dataDir string
	// ports is the first of the backend's 40 ports (default: a block of
	// the test's own).
	ports uint32
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	url := o.natsURL
	if url == "" {
		e, err := bus.StartEmbedded("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		url = e.URL()
	}
	b, err := bus.Connect(bus.Options{URL: url, Name: t.Name()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	start := o.ports
	if start == 0 {
		start = newPortBlock()
	}
	root := o.backendRoot
	if root == "" {
		root = t.TempDir()
	}
	be, err := process.New(testBackendConfig(root, start), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = be.Close() })
	h := &harness{t: t, bus: b, backend: be, rec: &recorder{}, done: make(chan error, 1), dataDir: o.dataDir}
	if h.dataDir == "" {
		h.dataDir = t.TempDir()
	}
	for _, subj := range []string{"dea.>", "router.>", "droplet.>", "logs.>", "staging.>"} {
		if _, err := b.Subscribe(subj, "", h.rec.add); err != nil {
			t.Fatal(err)
		}
	}
	if o.before != nil {
		o.before(h)
	}
	cfg := testConfig(h.dataDir)
	if o.mod != nil {
		o.mod(&cfg)
	}
	d, err := New(cfg, Deps{Bus: b, Backend: be, Stager: o.stager, Logs: logs.NewEmitter(b, log)}, log)
	if err != nil {
		t.Fatal(err)
	}
	h.dea = d
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- d.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	// Run is up once it advertises.
	h.waitMsg(bus.SubjectDEAAdvertise, nil)
	return h
}

// stop shuts the DEA down (once) and returns Run's error.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok {
			close(h.done)
		}
		return err
	case <-time.After(waitFor):
		h.t.Fatal("dea Run did not return")
		return nil
	}
}

// waitMsg waits for a message on subject matching pred.
func (h *harness) waitMsg(subject string, pred func([]byte) bool) []byte {
	h.t.Helper()
	var got []byte
	eventually(h.t, "message on "+subject, func() bool {
		if ms := h.rec.find(subject, pred); len(ms) > 0 {
			got = ms[len(ms)-1]
			return true
		}
		return false
	})
	return got
}

func (h *harness) start(msg *messages.StartInstance) messages.StartReply {
	h.t.Helper()
	data, _ := json.Marshal(msg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := h.bus.Request(ctx, bus.DEAStartSubject(h.dea.ID()), data)
	if err != nil {
		h.t.Fatalf("start request: %v", err)
	}
	var r messages.StartReply
	if err := json.Unmarshal(raw, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) publish(subject string, v any) {
	h.t.Helper()
	if err := h.bus.PublishJSON(subject, v); err != nil {
		h.t.Fatal(err)
	}
}

// exited waits for droplet.exited of an instance.
func (h *harness) exited(instanceGUID string) messages.DropletExited {
	h.t.Helper()
	var ex messages.DropletExited
	data := h.waitMsg(bus.SubjectDropletExited, func(b []byte) bool {
		var e messages.DropletExited
		return json.Unmarshal(b, &e) == nil && e.InstanceGUID == instanceGUID
	})
	_ = json.Unmarshal(data, &ex)
	return ex
}

// running waits for a heartbeat showing the instance RUNNING.
func (h *harness) running(instanceGUID string) messages.InstanceHeartbeat {
	h.t.Helper()
	var found messages.InstanceHeartbeat
	h.waitMsg(bus.SubjectDEAHeartbeat, func(b []byte) bool {
		var hb messages.Heartbeat
		if json.Unmarshal(b, &hb) != nil {
			return false
		}
		for _, in := range hb.Instances {
			if in.InstanceGUID == instanceGUID && in.State == messages.StateRunning {
				found = in
				return true
			}
		}
		return false
	})
	return found
}

// logLines returns the app's log lines of a source type.
func (h *harness) logLines(appGUID, source string) []messages.LogLine {
	var out []messages.LogLine
	for _, data := range h.rec.find(bus.LogSubject(appGUID), nil) {
		var l messages.LogLine
		if json.Unmarshal(data, &l) == nil && (source == "" || l.SourceType == source) {
			out = append(out, l)
		}
	}
	return out
}

func (h *harness) waitLog(appGUID, source, contains string) messages.LogLine {
	h.t.Helper()
	var got messages.LogLine
	eventually(h.t, "log line "+contains, func() bool {
		for _, l := range h.logLines(appGUID, source) {
			if strings.Contains(l.Message, contains) {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// droplet is a droplet tgz served over HTTP.
type droplet struct {
	url    string
	digest string
	gets   atomic.Int32
}

// serveDroplet builds a droplet from files (path → content; scripts are
// made executable) and serves it.
func serveDroplet(t *testing.T, files map[string]string) *droplet {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, dir := range []string{"app/", "tmp/", "logs/"} {
		_ = tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for name, body := range files {
		mode := int64(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	d := &droplet{digest: hex.EncodeToString(sum[:])}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.gets.Add(1)
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	d.url = srv.URL + "/droplet.tgz"
	return d
}

// webApp is a droplet whose app prints its environment and serves app/ on
// $PORT; its start command is in staging_info.yml.
func webApp(t *testing.T) *droplet {
	return serveDroplet(t, map[string]string{
		"staging_info.yml":        "detected_buildpack: test\nstart_command: ./run.sh\n",
		"app/run.sh":              "#!/bin/bash\nenv | sort\necho \"profile=$FROM_PROFILE\"\nexec python3 -m http.server \"$PORT\" --bind 0.0.0.0\n",
		"app/health":              "ok\n",
		"app/.profile.d/setup.sh": "export FROM_PROFILE=sourced\n",
		"app/index.html":          "hello from ingot\n",
	})
}

func newGUID(prefix string) string { return prefix + "-" + uuid.NewString() }

func startMsg(d *droplet, appGUID string, index int) *messages.StartInstance {
	return &messages.StartInstance{
		AppGUID:         appGUID,
		AppName:         "myapp",
		ProcessType:     "web",
		SpaceGUID:       "space-1",
		SpaceName:       "dev",
		OrgGUID:         "org-1",
		OrgName:         "acme",
		Version:         "droplet-1",
		DropletURI:      d.url,
		DropletDigest:   d.digest,
		Index:           index,
		InstanceGUID:    newGUID("inst"),
		MemoryMB:        256,
		DiskMB:          512,
		FileDescriptors: 16384,
		Env:             map[string]string{"USER_VAR": "user value", "PORT_HINT": "x"},
		VCAPApplication: map[string]any{"application_id": appGUID, "application_name": "myapp", "cf_api": "http://api.test"},
		URIs:            []string{"myapp.ingot.test"},
	}
}

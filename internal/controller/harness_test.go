package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/blobstore"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/store"
	"github.com/ingot-paas/ingot/internal/store/sqlstore"
)

const adminPassword = "s3cret-admin"

// One RSA key for the whole test binary: generating one per test is slow.
var (
	keyOnce sync.Once
	keyPEM  []byte
	keyErr  error
)

func seedKey(t *testing.T, dir string) {
	t.Helper()
	keyOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "ingot-key-")
		if err != nil {
			keyErr = err
			return
		}
		defer os.RemoveAll(tmp)
		if _, keyErr = auth.LoadOrCreateKey(tmp); keyErr == nil {
			keyPEM, keyErr = os.ReadFile(filepath.Join(tmp, auth.KeyFile))
		}
	})
	if keyErr != nil {
		t.Fatalf("signing key: %v", keyErr)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, auth.KeyFile), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

type harness struct {
	t      *testing.T
	c      *Controller
	bus    *bus.NATS
	nats   *bus.Embedded
	store  *sqlstore.Store
	blobs  *blobstore.Local
	logs   *logs.Store
	token  string
	url    string
	cfg    Config
	stopFn func()
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	e, err := bus.StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(e.Shutdown)
	h := &harness{t: t, nats: e}
	h.start(t.TempDir(), opts...)
	return h
}

// start boots a controller on dataDir (reused by restart tests).
func (h *harness) start(dataDir string, opts ...harnessOpt) {
	t := h.t
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := bus.Connect(bus.Options{URL: h.nats.URL(), Name: "controller-test"}, log)
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dataDir, "cc.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	blobs, err := blobstore.NewLocal(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatalf("blobstore: %v", err)
	}
	ls := logs.NewStore(logs.Config{})
	col, err := logs.Collect(b, ls, log)
	if err != nil {
		t.Fatalf("collect logs: %v", err)
	}
	seedKey(t, filepath.Join(dataDir, "cc"))
	cfg := Config{
		ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dataDir, "cc"), AdminPassword: adminPassword,
		HeartbeatTTL: 3 * time.Second, AdvertisementTTL: 3 * time.Second, StagingTimeout: 20 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg, Deps{Bus: b, Store: st, Blobs: blobs, Logs: ls}, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
			col.Stop()
			b.Close()
			st.Close()
		})
	}
	t.Cleanup(stop)
	*h = harness{t: t, c: c, bus: b, nats: h.nats, store: st, blobs: blobs, logs: ls, url: c.URL(), cfg: c.cfg, stopFn: stop}
	h.token = h.login("admin", adminPassword)
}

// restart stops the controller and starts a new one on dataDir.
func (h *harness) restart(dataDir string) {
	h.t.Helper()
	h.stopFn()
	h.start(dataDir)
}

func (h *harness) login(user, pw string) string {
	h.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	req, _ := http.NewRequest("POST", h.url+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cf", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var tr auth.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 {
		h.t.Fatalf("login: status %d, %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// raw sends a request with the admin token (if auth) and returns status,
// headers and body.
func (h *harness) raw(method, path, ctype string, body io.Reader, withAuth bool) (int, http.Header, []byte) {
	h.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = h.url + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if withAuth {
		req.Header.Set("Authorization", "bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// do sends JSON (body may be nil) and decodes the response into out,
// failing unless the status is want.
func (h *harness) do(method, path string, body any, want int, out any) http.Header {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			data, _ := json.Marshal(body)
			r = bytes.NewReader(data)
		}
	}
	status, hdr, data := h.raw(method, path, "application/json", r, true)
	if status != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return hdr
}

type cfError struct {
	Errors []struct {
		Code   int    `json:"code"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// fail sends a request expecting a CF error and returns it.
func (h *harness) fail(method, path string, body any, want int) (int, string, string) {
	h.t.Helper()
	var e cfError
	h.do(method, path, body, want, &e)
	if len(e.Errors) != 1 {
		h.t.Fatalf("%s %s: want one error, got %+v", method, path, e)
	}
	return e.Errors[0].Code, e.Errors[0].Title, e.Errors[0].Detail
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type ref struct {
	GUID string `json:"guid"`
	Name string `json:"name"`
}

type list[T any] struct {
	Pagination struct {
		TotalResults int `json:"total_results"`
		TotalPages   int `json:"total_pages"`
		Next         *struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"pagination"`
	Resources []T `json:"resources"`
}

// defaultSpace returns the seeded space's guid.
func (h *harness) defaultSpace() string {
	h.t.Helper()
	var l list[ref]
	h.do("GET", "/v3/spaces?names=dev", nil, 200, &l)
	if len(l.Resources) != 1 {
		h.t.Fatalf("default space: %+v", l)
	}
	return l.Resources[0].GUID
}

// createApp makes an app in the default space.
func (h *harness) createApp(name string) string {
	h.t.Helper()
	var a ref
	h.do("POST", "/v3/apps", map[string]any{
		"name":          name,
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": h.defaultSpace()}}},
	}, 201, &a)
	return a.GUID
}

// stagedDroplet puts a STAGED droplet for the app straight into the store
// and blobstore, and makes it current.
func (h *harness) stagedDroplet(appGUID string, processTypes map[string]string) string {
	h.t.Helper()
	ctx := context.Background()
	content := []byte("droplet-" + appGUID)
	guid := newGUID()
	if _, err := h.blobs.Put(ctx, "droplets/"+guid, bytes.NewReader(content)); err != nil {
		h.t.Fatal(err)
	}
	if processTypes == nil {
		processTypes = map[string]string{"web": "./run"}
	}
	d := &store.Droplet{Meta: store.Meta{GUID: guid}, AppGUID: appGUID, State: store.DropletStaged,
		Digest: "abc", Size: int64(len(content)), StartCommand: processTypes["web"], ProcessTypes: processTypes, Stack: "host",
		DetectedBuildpack: "binary"}
	if err := h.store.Droplets().Create(ctx, d); err != nil {
		h.t.Fatal(err)
	}
	h.do("PATCH", "/v3/apps/"+appGUID+"/relationships/current_droplet", map[string]any{"data": map[string]string{"guid": guid}}, 200, nil)
	return guid
}

// webProcess returns the app's web process guid.
func (h *harness) webProcess(appGUID string) string {
	h.t.Helper()
	var p ref
	h.do("GET", "/v3/apps/"+appGUID+"/processes/web", nil, 200, &p)
	return p.GUID
}

// record collects bus messages on a subject.
type recorder struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (h *harness) record(subject string) *recorder {
	h.t.Helper()
	rec := &recorder{}
	sub, err := h.bus.Subscribe(subject, "", func(m *bus.Msg) {
		rec.mu.Lock()
		rec.msgs = append(rec.msgs, append([]byte(nil), m.Data...))
		rec.mu.Unlock()
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = sub.Unsubscribe() })
	flush(h.t, h.bus)
	return rec
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs...)
}

func logsQueryAll() logs.Query { return logs.Query{Limit: 1000} }

func t0() context.Context { return context.Background() }

func flush(t *testing.T, b bus.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

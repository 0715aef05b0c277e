// Package platform wires ingot's components together. `ingot up` runs all
// of them in one process on embedded defaults; the e2e harness uses the
// same code on random ports; `ingot controller|dea|router|healthmgr` run
// one component each against an external NATS.
//
// A DEA runs its instances and stagings on one of two backends (see
// newBackend): runc (internal/backend/runc: a container per instance with
// hard limits; Linux, root) or process (plain host processes, no
// isolation). `ingot up` and `ingot dea` default to auto, which takes runc
// when it is installed and a trial container runs, else process, and say
// which and why; Options.Backend "" (the e2e harness's default) is
// process.
package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
)

// Options configures a whole platform in one process.
type Options struct {
	// DataDir holds the database, blobs, DEA state and keys.
	DataDir string
	// APIAddr and RouterAddr are listen addresses ("127.0.0.1:0" = random).
	APIAddr    string
	RouterAddr string
	// Domain is the shared apps domain.
	Domain string
	// NATSURL points at an external NATS; empty runs an embedded server on
	// NATSAddr.
	NATSURL  string
	NATSAddr string
	// MaxPackageBytes and MaxPackageFiles bound uploads (0 = defaults).
	MaxPackageBytes int64
	MaxPackageFiles int
	// DropletsKept is how many droplets per app are kept for rollback
	// (0 = 5).
	DropletsKept int
	// Services maps a built-in broker (postgres, mysql, redis) to the admin
	// URL of the server it provisions on; each runs in-process and is
	// registered with the controller.
	Services map[string]string
	// DEAs is how many DEAs to run (default 1).
	DEAs int
	// Backend is the DEAs' container backend: auto (runc when it can
	// create a container here, else process), runc or process. "" is
	// process.
	Backend string
	// RuncPath is the runc binary ("" = runc from PATH).
	RuncPath string
	// Log receives every component's logs.
	Log *slog.Logger
}

func (o *Options) defaults() error {
	if o.DataDir == "" {
		return errors.New("platform: data dir is required")
	}
	if o.APIAddr == "" {
		o.APIAddr = DefaultAPIAddr
	}
	if o.RouterAddr == "" {
		o.RouterAddr = DefaultRouterAddr
	}
	if o.Domain == "" {
		o.Domain = DefaultDomain
	}
	if o.NATSURL == "" && o.NATSAddr == "" {
		o.NATSAddr = fmt.Sprintf("127.0.0.1:%d", bus.DefaultEmbeddedPort)
	}
	if o.DEAs <= 0 {
		o.DEAs = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Defaults for `ingot up`; none collides with the standard ports of
// PostgreSQL, MySQL, Redis, RabbitMQ, MQTT or NATS.
const (
	DefaultAPIAddr    = "127.0.0.1:9022"
	DefaultRouterAddr = "127.0.0.1:8080"
	DefaultDomain     = "apps.localhost"
	AdminUsername     = "admin"
)

// Platform is a running set of components.
type Platform struct {
	APIURL    string
	RouterURL string
	NATSURL   string
	Domain    string
	Admin     Credentials
	// Services lists the built-in brokers running and registered.
	Services []string
	// FirstStart is true when the data dir was new.
	FirstStart bool
	// Backends is the backend each DEA started with, in start order.
	Backends []BackendChoice

	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errMu   sync.Mutex
	errs    []error
	closers []func()

	stopOnce sync.Once
	stopErr  error
}

// Credentials of the admin user.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// loadOrCreateAdmin reads DataDir/admin.json, creating it with a random
// password at first start.
func loadOrCreateAdmin(dataDir string) (Credentials, bool, error) {
	path := filepath.Join(dataDir, "admin.json")
	data, err := os.ReadFile(path)
	if err == nil {
		var c Credentials
		if err := json.Unmarshal(data, &c); err != nil || c.Username == "" || c.Password == "" {
			return Credentials{}, false, fmt.Errorf("read admin credentials %s: invalid file", path)
		}
		return c, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Credentials{}, false, fmt.Errorf("read admin credentials: %w", err)
	}
	buf := make([]byte, 12)
	if _, err := rand.Read(buf); err != nil {
		return Credentials{}, false, err
	}
	c := Credentials{Username: AdminUsername, Password: hex.EncodeToString(buf)}
	data, _ = json.Marshal(c)
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return Credentials{}, false, fmt.Errorf("write admin credentials: %w", err)
	}
	return c, true, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// run starts f in a goroutine tracked by the platform; an error other than
// a clean stop is recorded and stops the platform.
func (p *Platform) run(name string, f func(ctx context.Context) error, ctx context.Context) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.log.Error("component-failed", "component", name, "error", err)
			p.errMu.Lock()
			p.errs = append(p.errs, fmt.Errorf("%s: %w", name, err))
			p.errMu.Unlock()
			p.cancel()
		}
	}()
}

// Stop stops every component (apps first: DEAs stop their instances) and
// waits for them. It is safe to call more than once.
func (p *Platform) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Platform) stop() error {
	p.cancel()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		p.log.Error("platform-stop-timeout")
	}
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return errors.Join(p.errs...)
}

// Wait blocks until the platform stops on its own (a component failed) or
// ctx is done.
func (p *Platform) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
	}
}

func httpURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

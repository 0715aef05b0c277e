package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/blobstore"
	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/logs"
	"github.com/ingot-paas/ingot/internal/store"
)

// Config configures the Cloud Controller.
type Config struct {
	// ListenAddr is where the API listens (default 127.0.0.1:9022; tests
	// use 127.0.0.1:0).
	ListenAddr string
	// ExternalURL is the API base URL put in links and blob URLs; "" means
	// http://<bound addr>.
	ExternalURL string
	// Domain is the shared domain created at first start (default
	// apps.localhost).
	Domain string
	// DataDir holds the JWT signing key and the blob-URL signing secret,
	// and scratch space for uploads.
	DataDir string
	// AdminUsername (default admin) is created at first start, with the
	// admin role, when no such user exists and AdminPassword is set.
	AdminUsername string
	AdminPassword string
	// DefaultOrg and DefaultSpace are created at first start (ingot, dev).
	DefaultOrg   string
	DefaultSpace string
	// MaxPackageBytes bounds a package's unpacked size (default 1 GiB).
	MaxPackageBytes int64
	// MaxPackageFiles bounds a package's entries (default 100000).
	MaxPackageFiles int
	// MaxUploadBytes bounds an upload request body (default 1 GiB).
	MaxUploadBytes int64
	// MaxDropletBytes bounds a droplet or buildpack cache a stager
	// uploads (default 2 GiB).
	MaxDropletBytes int64
	// AccessTokenTTL (10m) and RefreshTokenTTL (7 days).
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// AdvertisementTTL is how long a DEA advertisement holds (10s).
	AdvertisementTTL time.Duration
	// HeartbeatTTL is how long a DEA's heartbeat holds before its
	// instances count as lost (6s: three 2 s heartbeats).
	HeartbeatTTL time.Duration
	// StagingTimeout bounds one staging (15m).
	StagingTimeout time.Duration
	// DefaultMemoryMB (256) and DefaultDiskMB (1024) for new processes.
	DefaultMemoryMB int64
	DefaultDiskMB   int64
	// RouterURL is informational (where apps are reachable); optional.
	RouterURL string
	// BrokerTimeout bounds each request to a service broker (60s).
	BrokerTimeout time.Duration
	// BrokerPollInterval is the first pause between last_operation polls
	// of an asynchronous broker operation (2s; it grows up to 30s).
	BrokerPollInterval time.Duration
	// BrokerMaxPollDuration bounds the polling of one operation (24h).
	BrokerMaxPollDuration time.Duration
	// DropletsKept is how many staged droplets per app are kept for
	// rollback (default 5); older ones are deleted with their blobs, never
	// the current one or one a deployment is rolling back to.
	DropletsKept int
	// UAA tunes the token endpoints: login rate limits and lockout,
	// trusted proxies, revocation caching.
	UAA auth.ServerConfig
}

// DefaultListenAddr is the API's default address.
const DefaultListenAddr = "127.0.0.1:9022"

func (c *Config) defaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.Domain == "" {
		c.Domain = "apps.localhost"
	}
	if c.DropletsKept <= 0 {
		c.DropletsKept = 5
	}
	if c.AdminUsername == "" {
		c.AdminUsername = "admin"
	}
	if c.DefaultOrg == "" {
		c.DefaultOrg = "ingot"
	}
	if c.DefaultSpace == "" {
		c.DefaultSpace = "dev"
	}
	if c.MaxPackageBytes <= 0 {
		c.MaxPackageBytes = 1 << 30
	}
	if c.MaxPackageFiles <= 0 {
		c.MaxPackageFiles = 100000
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 1 << 30
	}
	if c.MaxDropletBytes <= 0 {
		c.MaxDropletBytes = 2 << 30
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = 10 * time.Minute
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = 7 * 24 * time.Hour
	}
	if c.AdvertisementTTL <= 0 {
		c.AdvertisementTTL = 10 * time.Second
	}
	if c.HeartbeatTTL <= 0 {
		c.HeartbeatTTL = 6 * time.Second
	}
	if c.StagingTimeout <= 0 {
		c.StagingTimeout = 15 * time.Minute
	}
	if c.DefaultMemoryMB <= 0 {
		c.DefaultMemoryMB = 256
	}
	if c.DefaultDiskMB <= 0 {
		c.DefaultDiskMB = 1024
	}
	if c.BrokerTimeout <= 0 {
		c.BrokerTimeout = 60 * time.Second
	}
	if c.BrokerPollInterval <= 0 {
		c.BrokerPollInterval = 2 * time.Second
	}
	if c.BrokerMaxPollDuration <= 0 {
		c.BrokerMaxPollDuration = 24 * time.Hour
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
}

// Validate checks the configuration (after defaults).
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("controller: data dir is required")
	}
	if c.ExternalURL != "" {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("controller: external url %q must be an absolute http(s) URL", c.ExternalURL)
		}
	}
	if err := validateDomainName(c.Domain); err != nil {
		return fmt.Errorf("controller: domain %q: %w", c.Domain, err)
	}
	if c.AccessTokenTTL < 2*time.Minute {
		// The cf CLI refreshes before every request when exp is < 1 min away.
		return errors.New("controller: access token ttl must be at least 2m")
	}
	return nil
}

// Deps are the controller's collaborators.
type Deps struct {
	Bus     bus.Bus
	Store   store.Store
	Blobs   blobstore.Store
	Logs    *logs.Store
	Emitter *logs.Emitter
}

func (d Deps) validate() error {
	switch {
	case d.Bus == nil:
		return errors.New("controller: bus is required")
	case d.Store == nil:
		return errors.New("controller: store is required")
	case d.Blobs == nil:
		return errors.New("controller: blobstore is required")
	case d.Logs == nil:
		return errors.New("controller: log store is required")
	}
	return nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

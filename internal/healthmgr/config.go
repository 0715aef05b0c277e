package healthmgr

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("healthmgr: invalid config")

// Config holds the health manager's timers. Zero values take the defaults
// below (see WithDefaults), most of them multiples of HeartbeatInterval as
// in HM9000.
type Config struct {
	// HeartbeatInterval is the DEAs' heartbeat period (default 2 s).
	HeartbeatInterval time.Duration
	// AnalyzeInterval is the period of the full convergence pass (default 2 s).
	AnalyzeInterval time.Duration
	// DesiredRefreshInterval is how often desired state is requested from
	// the controller (default 2 s).
	DesiredRefreshInterval time.Duration
	// DesiredRequestTimeout bounds one desired-state request (default 5 s).
	DesiredRequestTimeout time.Duration
	// ActionKeepAlive: an action with the same Key is not re-sent within
	// this window (default 10 s).
	ActionKeepAlive time.Duration

	// ActualFreshAfter: actual state is trusted only after the HM has
	// listened to heartbeats this long (default 3 heartbeat intervals).
	ActualFreshAfter time.Duration
	// InstanceTTL: instances of a DEA that has not heartbeated for this
	// long count as gone (default 3 heartbeat intervals).
	InstanceTTL time.Duration
	// DesiredStaleAfter: desired state older than this is not acted on
	// (default 5 desired refresh intervals).
	DesiredStaleAfter time.Duration
	// UnknownAppGrace: instances of apps missing from desired state are
	// stopped only once the HM has been up this long (default 10 heartbeat
	// intervals), so a controller blip right after start kills nothing.
	UnknownAppGrace time.Duration
	// MissingGrace delays the start of a missing (never crashed) index
	// until the app's desired state is this old, so the controller's own
	// starts of a just-scaled or just-started app are not doubled (default
	// 2 heartbeat intervals).
	MissingGrace time.Duration

	// CrashesBeforeBackoff: this many crashes restart at once (default 3).
	CrashesBeforeBackoff int
	// BackoffInitial is the delay after the first crash beyond
	// CrashesBeforeBackoff; each further crash doubles it (default 2 s).
	BackoffInitial time.Duration
	// BackoffMax caps the delay (default 5 min).
	BackoffMax time.Duration
	// CrashResetAfter: the crash count of an index resets once it has gone
	// this long without a crash, counted from when its restart was allowed
	// (default 5 min).
	CrashResetAfter time.Duration

	// MaxActionsPerPass bounds the requests sent in one pass (default 100).
	MaxActionsPerPass int
	// ID names this HM as a lease holder (default: a random id).
	ID string
	// LeaseTTL is the acting lease's life; it is renewed every LeaseTTL/4,
	// so a standby takes over within LeaseTTL of the holder's death
	// (default 4s).
	LeaseTTL time.Duration
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, 2*time.Second)
	def(&c.AnalyzeInterval, 2*time.Second)
	def(&c.DesiredRefreshInterval, 2*time.Second)
	def(&c.DesiredRequestTimeout, 5*time.Second)
	def(&c.ActionKeepAlive, 10*time.Second)
	def(&c.ActualFreshAfter, 3*c.HeartbeatInterval)
	def(&c.InstanceTTL, 3*c.HeartbeatInterval)
	def(&c.DesiredStaleAfter, 5*c.DesiredRefreshInterval)
	def(&c.UnknownAppGrace, 10*c.HeartbeatInterval)
	def(&c.MissingGrace, 2*c.HeartbeatInterval)
	def(&c.BackoffInitial, 2*time.Second)
	def(&c.BackoffMax, 5*time.Minute)
	def(&c.CrashResetAfter, 5*time.Minute)
	def(&c.LeaseTTL, 4*time.Second)
	if c.ID == "" {
		c.ID = "hm-" + uuid.NewString()[:8]
	}
	if c.CrashesBeforeBackoff == 0 {
		c.CrashesBeforeBackoff = 3
	}
	if c.MaxActionsPerPass == 0 {
		c.MaxActionsPerPass = 100
	}
	return c
}

// Validate checks a config (after WithDefaults).
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat interval", c.HeartbeatInterval},
		{"analyze interval", c.AnalyzeInterval},
		{"desired refresh interval", c.DesiredRefreshInterval},
		{"desired request timeout", c.DesiredRequestTimeout},
		{"action keep-alive", c.ActionKeepAlive},
		{"actual fresh after", c.ActualFreshAfter},
		{"instance ttl", c.InstanceTTL},
		{"desired stale after", c.DesiredStaleAfter},
		{"unknown app grace", c.UnknownAppGrace},
		{"missing grace", c.MissingGrace},
		{"backoff initial", c.BackoffInitial},
		{"backoff max", c.BackoffMax},
		{"crash reset after", c.CrashResetAfter},
		{"lease ttl", c.LeaseTTL},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s must not be negative", ErrConfig, d.name)
		}
	}
	switch {
	case c.BackoffMax < c.BackoffInitial:
		return fmt.Errorf("%w: backoff max %s is below backoff initial %s", ErrConfig, c.BackoffMax, c.BackoffInitial)
	case c.CrashesBeforeBackoff < 0:
		return fmt.Errorf("%w: crashes before backoff must not be negative", ErrConfig)
	case c.MaxActionsPerPass < 0:
		return fmt.Errorf("%w: max actions per pass must not be negative", ErrConfig)
	}
	return nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// ErrRevoked: the token was revoked (by jti, by a password change or a
// revoke-all of its user or client), or its user or client is gone.
var ErrRevoked = errors.New("auth: token revoked")

// ErrTooManyRevocations: the revoked-jti set is full; revoke the user's
// or client's tokens instead.
var ErrTooManyRevocations = errors.New("auth: too many revoked tokens; revoke all tokens of the user instead")

// RevocationConfig tunes revocation checking. Zero fields take defaults.
type RevocationConfig struct {
	// EpochTTL is how long a user's or client's revocation epoch is
	// trusted from memory (default 5s). A change made through this
	// controller applies at once; one made through another controller
	// sharing the database applies within EpochTTL.
	EpochTTL time.Duration
	// SyncInterval is how often revoked jtis are read from the store
	// (default 2s), for revocations made through other controllers.
	SyncInterval time.Duration
	// MaxEpochs bounds the epoch cache (default 10000).
	MaxEpochs int
	// MaxRevokedJTIs bounds the revoked-jti set (default 100000).
	MaxRevokedJTIs int
}

func (c *RevocationConfig) defaults() {
	if c.EpochTTL <= 0 {
		c.EpochTTL = 5 * time.Second
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 2 * time.Second
	}
	if c.MaxEpochs <= 0 {
		c.MaxEpochs = 10000
	}
	if c.MaxRevokedJTIs <= 0 {
		c.MaxRevokedJTIs = 100000
	}
}

type epochEntry struct {
	exists bool
	epoch  int64
	loaded time.Time
}

// revocations answers "is this token revoked?" from memory: a set of
// revoked jtis (kept in step with the store) and a cache of user and
// client revocation epochs.
type revocations struct {
	cfg RevocationConfig
	st  store.Store
	now func() time.Time
	log *slog.Logger

	mu       sync.RWMutex
	jtis     map[string]time.Time // jti → token expiry
	epochs   map[string]epochEntry
	lastSync time.Time // newest RevokedAt seen
	loaded   bool
}

func newRevocations(cfg RevocationConfig, st store.Store, now func() time.Time, log *slog.Logger) *revocations {
	cfg.defaults()
	return &revocations{cfg: cfg, st: st, now: now, log: log, jtis: map[string]time.Time{}, epochs: map[string]epochEntry{}}
}

func userKey(id string) string   { return "u:" + id }
func clientKey(id string) string { return "c:" + id }

// check returns ErrRevoked when c is revoked.
func (r *revocations) check(ctx context.Context, c *Claims) error {
	if err := r.ensureLoaded(ctx); err != nil {
		return err
	}
	r.mu.RLock()
	_, revoked := r.jtis[c.ID]
	r.mu.RUnlock()
	if revoked {
		return fmt.Errorf("%w: jti %s", ErrRevoked, c.ID)
	}
	if c.UserID != "" {
		e, err := r.epoch(ctx, userKey(c.UserID))
		if err != nil {
			return err
		}
		if !e.exists || c.Epoch < e.epoch {
			return fmt.Errorf("%w: user %s", ErrRevoked, c.UserID)
		}
	}
	if c.ClientID != "" && c.ClientID != ClientID {
		e, err := r.epoch(ctx, clientKey(c.ClientID))
		if err != nil {
			return err
		}
		if !e.exists || c.ClientEpoch < e.epoch {
			return fmt.Errorf("%w: client %s", ErrRevoked, c.ClientID)
		}
	}
	return nil
}

// epoch returns the cached epoch of key, loading it when absent or stale.
func (r *revocations) epoch(ctx context.Context, key string) (epochEntry, error) {
	now := r.now()
	r.mu.RLock()
	e, ok := r.epochs[key]
	r.mu.RUnlock()
	if ok && now.Sub(e.loaded) < r.cfg.EpochTTL {
		return e, nil
	}
	e = epochEntry{loaded: now}
	id := key[2:]
	var err error
	if key[0] == 'u' {
		var u *store.User
		if u, err = r.st.Users().Get(ctx, id); err == nil {
			e.exists, e.epoch = true, u.RevocationEpoch
		}
	} else {
		var c *store.OAuthClient
		if c, err = r.st.OAuthClients().GetByClientID(ctx, id); err == nil {
			e.exists, e.epoch = true, c.RevocationEpoch
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return e, fmt.Errorf("load revocation epoch: %w", err)
	}
	r.mu.Lock()
	if len(r.epochs) >= r.cfg.MaxEpochs {
		for k, old := range r.epochs {
			if now.Sub(old.loaded) >= r.cfg.EpochTTL || len(r.epochs) >= r.cfg.MaxEpochs {
				delete(r.epochs, k)
			}
		}
	}
	r.epochs[key] = e
	r.mu.Unlock()
	return e, nil
}

// forget drops a cached epoch after a change made here.
func (r *revocations) forget(key string) {
	r.mu.Lock()
	delete(r.epochs, key)
	r.mu.Unlock()
}

// revoke records the revocation of jti (a token expiring at exp).
func (r *revocations) revoke(ctx context.Context, jti string, exp time.Time) error {
	r.mu.RLock()
	n := len(r.jtis)
	_, dup := r.jtis[jti]
	r.mu.RUnlock()
	if dup {
		return nil
	}
	if n >= r.cfg.MaxRevokedJTIs {
		r.prune()
		r.mu.RLock()
		n = len(r.jtis)
		r.mu.RUnlock()
		if n >= r.cfg.MaxRevokedJTIs {
			return ErrTooManyRevocations
		}
	}
	if err := r.st.RevokedTokens().Add(ctx, &store.RevokedToken{JTI: jti, ExpiresAt: exp}); err != nil {
		return err
	}
	r.mu.Lock()
	r.jtis[jti] = exp
	r.mu.Unlock()
	return nil
}

// prune forgets revocations of expired tokens.
func (r *revocations) prune() {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for jti, exp := range r.jtis {
		if !now.Before(exp) {
			delete(r.jtis, jti)
		}
	}
}

func (r *revocations) ensureLoaded(ctx context.Context) error {
	r.mu.RLock()
	loaded := r.loaded
	r.mu.RUnlock()
	if loaded {
		return nil
	}
	return r.sync(ctx)
}

// sync reads the revocations made since the last sync (with a margin for
// clock skew and concurrent writers).
func (r *revocations) sync(ctx context.Context) error {
	r.mu.RLock()
	since := r.lastSync
	r.mu.RUnlock()
	if !since.IsZero() {
		since = since.Add(-time.Minute)
	}
	rs, err := r.st.RevokedTokens().ListRevokedSince(ctx, since, r.now())
	if err != nil {
		return fmt.Errorf("load revoked tokens: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range rs {
		if len(r.jtis) >= r.cfg.MaxRevokedJTIs {
			r.log.Warn("revoked-tokens-full", "max", r.cfg.MaxRevokedJTIs)
			break
		}
		r.jtis[t.JTI] = t.ExpiresAt
		if t.RevokedAt.After(r.lastSync) {
			r.lastSync = t.RevokedAt
		}
	}
	r.loaded = true
	return nil
}

// run keeps the jti set in step with the store and prunes expired
// revocations, until ctx ends.
func (r *revocations) run(ctx context.Context) {
	t := time.NewTicker(r.cfg.SyncInterval)
	defer t.Stop()
	lastPrune := r.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := r.sync(sctx); err != nil && ctx.Err() == nil {
			r.log.Warn("revoked-tokens-sync-failed", "error", err)
		}
		if r.now().Sub(lastPrune) > time.Hour {
			lastPrune = r.now()
			r.prune()
			if n, err := r.st.RevokedTokens().DeleteExpired(sctx, r.now()); err != nil {
				r.log.Warn("revoked-tokens-prune-failed", "error", err)
			} else if n > 0 {
				r.log.Info("revoked-tokens-pruned", "count", n)
			}
		}
		cancel()
	}
}

package auth

import (
	"container/list"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// LimitConfig bounds login attempts on /oauth/token. Zero fields take the
// defaults.
type LimitConfig struct {
	// PerIPBurst attempts from one client address, refilled at PerIPRate
	// per second (defaults 20 and 1).
	PerIPBurst int
	PerIPRate  float64
	// PerUserBurst password attempts for one username (or client id),
	// refilled at PerUserRate per second (defaults 10 and 0.2).
	PerUserBurst int
	PerUserRate  float64
	// LockoutAfter consecutive failures lock the account (default 5) for
	// LockoutPeriod (default 5m).
	LockoutAfter  int
	LockoutPeriod time.Duration
	// MaxEntries bounds the tracked addresses and names (default 10000);
	// the least recently used unlocked entry is evicted first.
	MaxEntries int
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// without them the TCP peer address is the client.
	TrustedProxies []netip.Prefix
}

func (c *LimitConfig) defaults() {
	if c.PerIPBurst <= 0 {
		c.PerIPBurst = 20
	}
	if c.PerIPRate <= 0 {
		c.PerIPRate = 1
	}
	if c.PerUserBurst <= 0 {
		c.PerUserBurst = 10
	}
	if c.PerUserRate <= 0 {
		c.PerUserRate = 0.2
	}
	if c.LockoutAfter <= 0 {
		c.LockoutAfter = 5
	}
	if c.LockoutPeriod <= 0 {
		c.LockoutPeriod = 5 * time.Minute
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 10000
	}
}

// limitEntry is one address's or name's token bucket and failure count.
type limitEntry struct {
	key         string
	tokens      float64
	last        time.Time
	failures    int
	lockedUntil time.Time
	elem        *list.Element
}

// limiter is a bounded LRU of token buckets with lockout.
type limiter struct {
	cfg LimitConfig
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*limitEntry
	lru     *list.List // front = most recent
}

func newLimiter(cfg LimitConfig, now func() time.Time) *limiter {
	cfg.defaults()
	return &limiter{cfg: cfg, now: now, entries: map[string]*limitEntry{}, lru: list.New()}
}

// entry finds or makes the entry of key (mu held).
func (l *limiter) entry(key string, burst int, now time.Time) *limitEntry {
	if e, ok := l.entries[key]; ok {
		l.lru.MoveToFront(e.elem)
		return e
	}
	if len(l.entries) >= l.cfg.MaxEntries {
		l.evict(now)
	}
	e := &limitEntry{key: key, tokens: float64(burst), last: now}
	e.elem = l.lru.PushFront(e)
	l.entries[key] = e
	return e
}

// evict drops the least recently used entry that is not locked, looking
// at a bounded number of candidates; if all are locked it drops the
// oldest anyway.
func (l *limiter) evict(now time.Time) {
	victim := l.lru.Back()
	for el, n := l.lru.Back(), 0; el != nil && n < 64; el, n = el.Prev(), n+1 {
		if e := el.Value.(*limitEntry); !now.Before(e.lockedUntil) {
			victim = el
			break
		}
	}
	if victim == nil {
		return
	}
	e := victim.Value.(*limitEntry)
	l.lru.Remove(victim)
	delete(l.entries, e.key)
}

// take spends one token of key's bucket; it reports how long to wait
// when the bucket is empty.
func (l *limiter) take(key string, burst int, rate float64) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entry(key, burst, now)
	e.tokens = min(float64(burst), e.tokens+now.Sub(e.last).Seconds()*rate)
	e.last = now
	if e.tokens >= 1 {
		e.tokens--
		return true, 0
	}
	return false, time.Duration((1 - e.tokens) / rate * float64(time.Second))
}

// lockedFor reports how long key stays locked out.
func (l *limiter) lockedFor(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return 0
	}
	if d := e.lockedUntil.Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

// fail counts a failed attempt for key and locks it after LockoutAfter
// consecutive failures.
func (l *limiter) fail(key string) (locked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entry(key, l.cfg.PerUserBurst, now)
	if !e.lockedUntil.IsZero() && !now.Before(e.lockedUntil) {
		e.failures, e.lockedUntil = 0, time.Time{}
	}
	e.failures++
	if e.failures >= l.cfg.LockoutAfter {
		e.lockedUntil = now.Add(l.cfg.LockoutPeriod)
		return true
	}
	return false
}

// succeed resets key's consecutive failures.
func (l *limiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		e.failures, e.lockedUntil = 0, time.Time{}
	}
}

// size is the number of tracked entries (tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// clientAddr is the address that limits apply to: the TCP peer, or, when
// the peer is a trusted proxy, the right-most address of X-Forwarded-For
// that is not itself a trusted proxy.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

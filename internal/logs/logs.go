// Package logs keeps a bounded ring of recent log lines per app (APP, STG,
// RTR, API, CELL), fed from the bus, and serves reads in the shapes the
// log-cache API needs. Emitter is how components write an app's log.
package logs

import (
	"sort"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// Config bounds the store.
type Config struct {
	// LinesPerApp is the ring size of each app (default 1000).
	LinesPerApp int
	// MaxApps bounds how many apps have rings; the least recently written
	// app's ring is dropped beyond it (default 10000).
	MaxApps int
}

func (c *Config) defaults() {
	if c.LinesPerApp <= 0 {
		c.LinesPerApp = 1000
	}
	if c.MaxApps <= 0 {
		c.MaxApps = 10000
	}
}

type ring struct {
	lines   []messages.LogLine
	next    int
	full    bool
	written time.Time
	lastTS  int64
}

func (r *ring) add(l messages.LogLine) {
	if l.Timestamp <= r.lastTS {
		// Keep timestamps strictly increasing per app, so readers that
		// page by start_time never skip or repeat a line.
		l.Timestamp = r.lastTS + 1
	}
	r.lastTS = l.Timestamp
	r.lines[r.next] = l
	r.next++
	if r.next == len(r.lines) {
		r.next = 0
		r.full = true
	}
}

// ordered returns the ring's lines, oldest first.
func (r *ring) ordered() []messages.LogLine {
	if !r.full {
		return append([]messages.LogLine(nil), r.lines[:r.next]...)
	}
	out := make([]messages.LogLine, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}

// Store holds the rings.
type Store struct {
	cfg   Config
	mu    sync.RWMutex
	rings map[string]*ring
	now   func() time.Time
}

// NewStore makes an empty store.
func NewStore(cfg Config) *Store {
	cfg.defaults()
	return &Store{cfg: cfg, rings: make(map[string]*ring), now: time.Now}
}

// Append adds a line to its app's ring.
func (s *Store) Append(l messages.LogLine) {
	if l.AppGUID == "" {
		return
	}
	if l.Timestamp == 0 {
		l.Timestamp = s.now().UnixNano()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rings[l.AppGUID]
	if r == nil {
		if len(s.rings) >= s.cfg.MaxApps {
			s.evictOldestLocked()
		}
		r = &ring{lines: make([]messages.LogLine, s.cfg.LinesPerApp)}
		s.rings[l.AppGUID] = r
	}
	r.written = s.now()
	r.add(l)
}

func (s *Store) evictOldestLocked() {
	var oldest string
	var t time.Time
	for k, r := range s.rings {
		if oldest == "" || r.written.Before(t) {
			oldest, t = k, r.written
		}
	}
	delete(s.rings, oldest)
}

// Forget drops an app's ring (after the app is deleted).
func (s *Store) Forget(appGUID string) {
	s.mu.Lock()
	delete(s.rings, appGUID)
	s.mu.Unlock()
}

// Query selects lines from one app's ring.
type Query struct {
	// StartTime and EndTime bound timestamps (unix ns), inclusive start,
	// exclusive end; EndTime 0 = no bound.
	StartTime int64
	EndTime   int64
	// Limit caps the number of lines (0 = 100, max 1000).
	Limit int
	// Descending returns the newest lines first (and the limit keeps the
	// newest); otherwise oldest first.
	Descending bool
}

// Read returns the app's lines matching q.
func (s *Store) Read(appGUID string, q Query) []messages.LogLine {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 1000 {
		q.Limit = 1000
	}
	s.mu.RLock()
	r := s.rings[appGUID]
	var all []messages.LogLine
	if r != nil {
		all = r.ordered()
	}
	s.mu.RUnlock()
	lo := sort.Search(len(all), func(i int) bool { return all[i].Timestamp >= q.StartTime })
	hi := len(all)
	if q.EndTime > 0 {
		hi = sort.Search(len(all), func(i int) bool { return all[i].Timestamp >= q.EndTime })
	}
	if hi < lo {
		hi = lo
	}
	sel := all[lo:hi]
	if q.Descending {
		if len(sel) > q.Limit {
			sel = sel[len(sel)-q.Limit:]
		}
		out := make([]messages.LogLine, len(sel))
		for i := range sel {
			out[i] = sel[len(sel)-1-i]
		}
		return out
	}
	if len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	return append([]messages.LogLine(nil), sel...)
}

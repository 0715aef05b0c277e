package router

import (
	"maps"
	"sync/atomic"
	"time"
)

// endpoint is one registered backend of one route. Its identity and
// metadata are immutable; only its passive-health counters change, and
// those are atomics so the hot path never locks.
type endpoint struct {
	addr          string // host:port
	app           string // app guid
	instanceID    string // private_instance_id
	index         string // private_instance_index
	xcfInstanceID string // instanceID, or addr when empty
	tags          map[string]string
	// Ready-made header values for X-CF-ApplicationID, X-CF-InstanceID and
	// X-CF-InstanceIndex, shared read-only by every request (nil: omit).
	hdrApp, hdrInstance, hdrIndex []string

	// failures counts consecutive connect failures.
	failures atomic.Int32
	// ejectedUntil is a unix-nano deadline; 0 when never ejected.
	ejectedUntil atomic.Int64
	// active counts requests in flight to it, for least-connection.
	active atomic.Int64
	// idle holds its keep-alive connections for the fast path.
	idle idlePool
}

func newEndpoint(addr, app, instanceID, index string, tags map[string]string) *endpoint {
	e := &endpoint{addr: addr, app: app, instanceID: instanceID, index: index, tags: tags}
	e.xcfInstanceID = instanceID
	if e.xcfInstanceID == "" {
		e.xcfInstanceID = addr
	}
	e.hdrInstance = []string{e.xcfInstanceID}
	if app != "" {
		e.hdrApp = []string{app}
	}
	if index != "" {
		e.hdrIndex = []string{index}
	}
	return e
}

// sameAs tells whether a registration describes this very endpoint, so a
// refresh keeps the existing object (and its ejection state).
func (e *endpoint) sameAs(app, instanceID, index string, tags map[string]string) bool {
	return e.app == app && e.instanceID == instanceID && e.index == index && maps.Equal(e.tags, tags)
}

func (e *endpoint) ejected(nowNano int64) bool {
	until := e.ejectedUntil.Load()
	return until != 0 && nowNano < until
}

// connectFailed records a failed dial and ejects the endpoint for ejectFor
// once it has failed `after` times in a row. After an ejection expires one
// more failure ejects it again at once (half-open).
func (e *endpoint) connectFailed(nowNano int64, after int, ejectFor time.Duration) bool {
	n := e.failures.Add(1)
	if int(n) < after {
		return false
	}
	e.ejectedUntil.Store(nowNano + int64(ejectFor))
	e.failures.Store(int32(after - 1))
	return true
}

// succeeded clears the failure count; it only writes when needed so healthy
// endpoints keep their cache line shared.
func (e *endpoint) succeeded() {
	if e.failures.Load() != 0 {
		e.failures.Store(0)
	}
	if e.ejectedUntil.Load() != 0 {
		e.ejectedUntil.Store(0)
	}
}

// pool is an immutable snapshot of one route's endpoints, plus its
// round-robin cursor.
type pool struct {
	uri        string // registry key, for logs
	host       string
	path       string // context path, "" for none
	cookiePath string // path of the __VCAP_ID__ cookie
	eps        []*endpoint
	next       atomic.Uint32
	// leastConn picks the endpoint with the fewest requests in flight
	// instead of the next one in turn.
	leastConn bool
}

// pick chooses the endpoint for one attempt: the sticky instance if it is
// registered and not ejected, else round-robin over endpoints not yet tried
// and not ejected; if every untried endpoint is ejected, still one of them
// rather than failing.
func (p *pool) pick(sticky string, tried []*endpoint, nowNano int64) *endpoint {
	n := len(p.eps)
	if n == 0 {
		return nil
	}
	if sticky != "" && len(tried) == 0 {
		for _, e := range p.eps {
			if e.instanceID == sticky && !e.ejected(nowNano) {
				return e
			}
		}
	}
	start := int(p.next.Add(1) % uint32(n))
	if p.leastConn {
		return p.pickLeast(start, tried, nowNano)
	}
	var fallback *endpoint
	for i := 0; i < n; i++ {
		e := p.eps[(start+i)%n]
		if wasTried(tried, e) {
			continue
		}
		if !e.ejected(nowNano) {
			return e
		}
		if fallback == nil {
			fallback = e
		}
	}
	return fallback
}

func wasTried(tried []*endpoint, e *endpoint) bool {
	for _, t := range tried {
		if t == e {
			return true
		}
	}
	return false
}

// findInstance returns the endpoint of app guid and instance index, for
// X-CF-APP-INSTANCE.
func (p *pool) findInstance(app, index string) *endpoint {
	for _, e := range p.eps {
		if e.app == app && e.index == index {
			return e
		}
	}
	return nil
}

// pickLeast returns the untried, non-ejected endpoint with the fewest
// requests in flight; ties go to the first from start, so equal endpoints
// still share the load in turn.
func (p *pool) pickLeast(start int, tried []*endpoint, nowNano int64) *endpoint {
	n := len(p.eps)
	var best, fallback *endpoint
	var bestActive int64
	for i := 0; i < n; i++ {
		e := p.eps[(start+i)%n]
		if wasTried(tried, e) {
			continue
		}
		if e.ejected(nowNano) {
			if fallback == nil {
				fallback = e
			}
			continue
		}
		if a := e.active.Load(); best == nil || a < bestActive {
			best, bestActive = e, a
		}
	}
	if best != nil {
		return best
	}
	return fallback
}

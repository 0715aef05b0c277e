package router

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// ErrUnsupportedRegistration is returned for registrations ingot's router
// cannot honour safely (TLS-only backends, route services).
var ErrUnsupportedRegistration = errors.New("unsupported route registration")

// ErrInvalidLBAlgo is returned for an unknown options.lb_algo; the
// endpoint is still registered.
var ErrInvalidLBAlgo = errors.New("unknown load balancing algorithm")

// Load balancing algorithms, as gorouter names them (balancing_algorithm
// and a route's options.lb_algo).
const (
	LBRoundRobin      = "round-robin"
	LBLeastConnection = "least-connection"
)

func validLBAlgo(a string) bool { return a == LBRoundRobin || a == LBLeastConnection }

// EndpointInfo describes one registered endpoint in a Routes snapshot.
type EndpointInfo struct {
	Address              string            `json:"address"`
	App                  string            `json:"app,omitempty"`
	PrivateInstanceID    string            `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex string            `json:"private_instance_index,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
	StaleThreshold       time.Duration     `json:"stale_threshold"`
	UpdatedAt            time.Time         `json:"updated_at"`
	Ejected              bool              `json:"ejected"`
}

// registry is the mutable route state fed by NATS. Changes are made under
// mu; readers on the request path only see the immutable table published
// through tbl.
type registry struct {
	log         *slog.Logger
	now         func() time.Time
	staleGlobal time.Duration
	// defaultAlgo balances routes whose registrations name none.
	defaultAlgo string

	mu     sync.Mutex
	routes map[string]*routeEntry

	tbl atomic.Pointer[table]
	// kick asks the publisher to rebuild the table; capacity 1 so bursts of
	// registrations coalesce into one rebuild.
	kick chan struct{}
}

type routeEntry struct {
	uri routeURI
	// algo is the route's balancing algorithm from options.lb_algo; ""
	// means the router's default.
	algo string
	eps  map[string]*regEndpoint // by address
	// emptySince is when the last endpoint went away; the route answers
	// 503 no_endpoints until it has been empty for the stale threshold.
	emptySince time.Time
	// snap is the published pool; nil when the entry changed since.
	snap *pool
}

type regEndpoint struct {
	ep      *endpoint
	updated time.Time
	stale   time.Duration
}

func newRegistry(staleGlobal time.Duration, log *slog.Logger) *registry {
	r := &registry{
		log:         log,
		now:         time.Now,
		staleGlobal: staleGlobal,
		routes:      make(map[string]*routeEntry),
		kick:        make(chan struct{}, 1),
		defaultAlgo: LBRoundRobin,
	}
	r.tbl.Store(buildTable(nil, nil))
	return r
}

func (r *registry) table() *table { return r.tbl.Load() }

func (r *registry) changed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func endpointAddr(m *messages.RouterRegister) (string, error) {
	if m.Port == 0 {
		return "", errors.Join(ErrUnsupportedRegistration, errors.New("tls_port without port: TLS to backends is not supported"))
	}
	if m.RouteServiceURL != "" {
		return "", errors.Join(ErrUnsupportedRegistration, errors.New("route services are not supported"))
	}
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))), nil
}

// register adds or refreshes the endpoint for each of the message's uris.
func (r *registry) register(m *messages.RouterRegister) error {
	addr, err := endpointAddr(m)
	if err != nil {
		return err
	}
	stale := time.Duration(m.StaleThresholdInSeconds) * time.Second
	if stale <= 0 || stale > r.staleGlobal {
		stale = r.staleGlobal
	}
	now := r.now()
	var errs []error
	algo := m.Options["lb_algo"]
	if algo != "" && !validLBAlgo(algo) {
		errs = append(errs, fmt.Errorf("%w: %q (want %s or %s); using the route's current algorithm",
			ErrInvalidLBAlgo, algo, LBRoundRobin, LBLeastConnection))
		algo = ""
	}
	changed := false
	r.mu.Lock()
	for _, raw := range m.URIs {
		u, err := normalizeURI(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := u.key()
		re := r.routes[key]
		if re == nil {
			re = &routeEntry{uri: u, eps: make(map[string]*regEndpoint, 1)}
			r.routes[key] = re
		}
		if algo != "" && re.algo != algo {
			re.algo = algo
			re.snap = nil
			changed = true
		}
		cur := re.eps[addr]
		if cur != nil && cur.ep.sameAs(m.App, m.PrivateInstanceID, m.PrivateInstanceIndex, m.Tags) {
			cur.updated, cur.stale = now, stale
			continue
		}
		if cur != nil {
			cur.ep.idle.close()
		}
		re.eps[addr] = &regEndpoint{
			ep:      newEndpoint(addr, m.App, m.PrivateInstanceID, m.PrivateInstanceIndex, maps.Clone(m.Tags)),
			updated: now,
			stale:   stale,
		}
		re.emptySince = time.Time{}
		re.snap = nil
		changed = true
		r.log.Info("endpoint-registered", "uri", key, "address", addr,
			"app_guid", m.App, "instance_id", m.PrivateInstanceID, "instance_index", m.PrivateInstanceIndex)
	}
	r.mu.Unlock()
	if changed {
		r.changed()
	}
	return errors.Join(errs...)
}

// unregister removes the endpoint from each of the message's uris. When the
// message names a private_instance_id, only an endpoint with that id is
// removed, so a late unregister cannot remove a new instance on a reused port.
func (r *registry) unregister(m *messages.RouterRegister) error {
	if m.Port == 0 {
		return errors.Join(ErrUnsupportedRegistration, errors.New("unregister without port"))
	}
	addr := net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
	var errs []error
	changed := false
	r.mu.Lock()
	for _, raw := range m.URIs {
		u, err := normalizeURI(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := u.key()
		re := r.routes[key]
		if re == nil {
			continue
		}
		cur := re.eps[addr]
		if cur == nil || (m.PrivateInstanceID != "" && cur.ep.instanceID != m.PrivateInstanceID) {
			continue
		}
		delete(re.eps, addr)
		cur.ep.idle.close()
		re.snap = nil
		if len(re.eps) == 0 {
			// An explicit unregister of the last endpoint removes the
			// route (as gorouter does): a stopped app answers 404
			// unknown_route at once. Only a route emptied by pruning
			// answers 503 no_endpoints for a while.
			delete(r.routes, key)
		}
		changed = true
		r.log.Info("endpoint-unregistered", "uri", key, "address", addr, "app_guid", cur.ep.app,
			"instance_id", cur.ep.instanceID)
	}
	r.mu.Unlock()
	if changed {
		r.changed()
	}
	return errors.Join(errs...)
}

// prune removes endpoints not refreshed within their threshold, and routes
// that have had no endpoints for the global threshold.
func (r *registry) prune() (endpoints, routes int) {
	now := r.now()
	r.mu.Lock()
	for key, re := range r.routes {
		for addr, e := range re.eps {
			if now.Sub(e.updated) <= e.stale {
				continue
			}
			delete(re.eps, addr)
			e.ep.idle.close()
			re.snap = nil
			endpoints++
			r.log.Info("pruned-endpoint", "uri", key, "address", addr, "app_guid", e.ep.app,
				"instance_id", e.ep.instanceID, "stale_for", now.Sub(e.updated).String())
			if len(re.eps) == 0 {
				re.emptySince = now
			}
		}
		if len(re.eps) == 0 && now.Sub(re.emptySince) >= r.staleGlobal {
			delete(r.routes, key)
			routes++
			r.log.Info("pruned-route", "uri", key)
		}
	}
	r.mu.Unlock()
	if endpoints > 0 || routes > 0 {
		r.changed()
	}
	return endpoints, routes
}

// freshen marks every endpoint as just refreshed. It runs instead of a
// prune pass while the bus is down (as gorouter does), so when the bus comes
// back registrars get a whole threshold to re-register before anything is
// pruned.
func (r *registry) freshen() {
	now := r.now()
	r.mu.Lock()
	for _, re := range r.routes {
		for _, e := range re.eps {
			e.updated = now
		}
	}
	r.mu.Unlock()
}

// publish builds a table from the current routes and swaps it in. Pools of
// unchanged routes are reused, so their round-robin cursors carry on.
func (r *registry) publish() {
	r.mu.Lock()
	pools := make([]*pool, 0, len(r.routes))
	wild := make([]bool, 0, len(r.routes))
	for _, re := range r.routes {
		if re.snap == nil {
			re.snap = re.buildPool(r.defaultAlgo)
		}
		pools = append(pools, re.snap)
		wild = append(wild, re.uri.wildcard)
	}
	r.mu.Unlock()
	r.tbl.Store(buildTable(pools, wild))
}

func (re *routeEntry) buildPool(defaultAlgo string) *pool {
	algo := re.algo
	if algo == "" {
		algo = defaultAlgo
	}
	p := &pool{
		leastConn:  algo == LBLeastConnection,
		uri:        re.uri.key(),
		host:       re.uri.host,
		path:       re.uri.path,
		cookiePath: re.uri.path,
		eps:        make([]*endpoint, 0, len(re.eps)),
	}
	if p.cookiePath == "" {
		p.cookiePath = "/"
	}
	for _, e := range re.eps {
		p.eps = append(p.eps, e.ep)
	}
	slices.SortFunc(p.eps, func(a, b *endpoint) int { return cmp.Compare(a.addr, b.addr) })
	return p
}

// snapshot lists every route (including ones with no endpoints left).
func (r *registry) snapshot() map[string][]EndpointInfo {
	nowNano := r.now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]EndpointInfo, len(r.routes))
	for key, re := range r.routes {
		list := make([]EndpointInfo, 0, len(re.eps))
		for _, e := range re.eps {
			list = append(list, EndpointInfo{
				Address:              e.ep.addr,
				App:                  e.ep.app,
				PrivateInstanceID:    e.ep.instanceID,
				PrivateInstanceIndex: e.ep.index,
				Tags:                 maps.Clone(e.ep.tags),
				StaleThreshold:       e.stale,
				UpdatedAt:            e.updated,
				Ejected:              e.ep.ejected(nowNano),
			})
		}
		slices.SortFunc(list, func(a, b EndpointInfo) int { return cmp.Compare(a.Address, b.Address) })
		out[key] = list
	}
	return out
}

// sweepIdle closes backend connections idle for longer than maxIdle.
func (r *registry) sweepIdle(maxIdle time.Duration) {
	nowNano := r.now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, re := range r.routes {
		for _, e := range re.eps {
			e.ep.idle.sweep(nowNano, maxIdle)
		}
	}
}

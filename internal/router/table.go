package router

import (
	"sort"
	"strings"
)

// table is an immutable routing table. The registry builds a new one on
// every change and swaps it in atomically, so a lookup takes no lock and
// allocates nothing.
type table struct {
	exact map[string]*hostRoutes
	// wild is keyed by the domain after "*.": "*.example.com" → "example.com".
	wild map[string]*hostRoutes
}

// hostRoutes holds the pools of one host, longest context path first; the
// host route itself (path "") comes last.
type hostRoutes struct {
	pools []*pool
}

func (h *hostRoutes) match(reqPath string) *pool {
	for _, p := range h.pools {
		if pathMatches(reqPath, p.path) {
			return p
		}
	}
	return nil
}

// lookup finds the pool for a host (already normalised by requestHost) and
// request path: an exact host beats a wildcard, a longer context path beats
// a shorter one, and a deeper wildcard beats a shallower one.
func (t *table) lookup(host, reqPath string) *pool {
	if h := t.exact[host]; h != nil {
		if p := h.match(reqPath); p != nil {
			return p
		}
	}
	if len(t.wild) == 0 {
		return nil
	}
	for rest := host; ; {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
		if h := t.wild[rest]; h != nil {
			if p := h.match(reqPath); p != nil {
				return p
			}
		}
	}
}

// buildTable groups pools by host and orders each host's pools.
func buildTable(pools []*pool, wildcard []bool) *table {
	t := &table{
		exact: make(map[string]*hostRoutes, len(pools)),
		wild:  make(map[string]*hostRoutes),
	}
	for i, p := range pools {
		m := t.exact
		if wildcard[i] {
			m = t.wild
		}
		h := m[p.host]
		if h == nil {
			h = &hostRoutes{}
			m[p.host] = h
		}
		h.pools = append(h.pools, p)
	}
	for _, m := range []map[string]*hostRoutes{t.exact, t.wild} {
		for _, h := range m {
			if len(h.pools) > 1 {
				sort.Slice(h.pools, func(a, b int) bool {
					return len(h.pools[a].path) > len(h.pools[b].path)
				})
			}
		}
	}
	return t
}

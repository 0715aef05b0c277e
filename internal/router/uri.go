package router

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidURI is wrapped by every route-URI normalisation failure.
var ErrInvalidURI = errors.New("invalid route uri")

const (
	maxURILen  = 2048
	maxHostLen = 253
)

// routeURI is a normalised route: a host (or a wildcard domain) and an
// optional context path.
type routeURI struct {
	// host is lowercased, without port. For a wildcard route it is the part
	// after "*." (so "*.example.com" has host "example.com").
	host string
	// path is "" for a host route, else "/seg[/seg…]" without a trailing slash.
	path     string
	wildcard bool
}

// key is the canonical form used as the registry key and in Routes().
func (u routeURI) key() string {
	h := u.host
	if u.wildcard {
		h = "*." + h
	}
	return h + u.path
}

// normalizeURI applies gorouter's rules to a registered uri: lowercase,
// "?…" cut, trailing "/" trimmed; "host/path" is a context-path route and
// "*.domain" a wildcard. A port on the host part is dropped, since lookups
// ignore the port of the Host header.
func normalizeURI(raw string) (routeURI, error) {
	if len(raw) > maxURILen {
		return routeURI{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidURI, maxURILen)
	}
	s := raw
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(strings.Trim(s, " \t\r\n"))
	s = strings.TrimRight(s, "/")
	host, path := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		host, path = s[:i], s[i:]
	}
	var u routeURI
	if strings.HasPrefix(host, "*.") {
		u.wildcard = true
		host = host[2:]
	}
	host = stripPort(host)
	host = strings.TrimSuffix(host, ".")
	if err := validHost(host); err != nil {
		return routeURI{}, fmt.Errorf("%w: %q: %v", ErrInvalidURI, raw, err)
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= ' ' || c == 0x7f || c == '#' {
			return routeURI{}, fmt.Errorf("%w: %q: bad character in path", ErrInvalidURI, raw)
		}
	}
	u.host, u.path = host, path
	return u, nil
}

// validHost accepts DNS-ish names: labels of letters, digits, '-' and '_',
// separated by single dots. IP literals in brackets are not routes.
func validHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if len(h) > maxHostLen {
		return errors.New("host too long")
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			label++
		case c == '.':
			if label == 0 {
				return errors.New("empty label")
			}
			label = 0
		default:
			return fmt.Errorf("bad character %q in host", c)
		}
	}
	if label == 0 {
		return errors.New("empty label")
	}
	return nil
}

// stripPort removes a ":port" suffix (and the brackets of an IPv6 literal).
func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// requestHost turns a Host header into a lookup key: the port dropped, one
// trailing dot dropped and ASCII lowercased (route hosts are ASCII). It only
// allocates when the header has upper-case letters.
func requestHost(h string) string {
	h = stripPort(h)
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			b := []byte(h)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return h
}

// parseAppInstance parses an X-CF-APP-INSTANCE value "<app-guid>:<index>".
// The guid must be a lowercase UUID and the index decimal digits, exactly as
// gorouter's ^[\da-f]{8}-([\da-f]{4}-){3}[\da-f]{12}:\d+$.
func parseAppInstance(v string) (guid, index string, ok bool) {
	const guidLen = 36
	if len(v) < guidLen+2 || v[guidLen] != ':' {
		return "", "", false
	}
	for i := 0; i < guidLen; i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", "", false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return "", "", false
			}
		}
	}
	idx := v[guidLen+1:]
	for i := 0; i < len(idx); i++ {
		if c := idx[i]; c < '0' || c > '9' {
			return "", "", false
		}
	}
	return v[:guidLen], idx, true
}

// pathMatches reports whether the request path falls under the context path
// prefix on a path-segment boundary, ignoring ASCII case. An empty prefix
// matches everything.
func pathMatches(reqPath, prefix string) bool {
	if prefix == "" {
		return true
	}
	if len(reqPath) < len(prefix) || !strings.EqualFold(reqPath[:len(prefix)], prefix) {
		return false
	}
	return len(reqPath) == len(prefix) || reqPath[len(prefix)] == '/'
}

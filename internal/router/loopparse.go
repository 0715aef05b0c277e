package router

import (
	"net/url"
	"strconv"
	"strings"
	"unsafe"
)

// The server loop (loop.go) parses request heads itself. The parser is
// deliberately narrow: it accepts the plain HTTP/1.1 requests that make up
// almost all traffic (origin-form target, well-formed header lines, a body
// of known small length or none) and reports everything else as not
// handled, so that net/http — with its own validation, error answers and
// support for upgrades, HTTP/2, chunked uploads and Expect — takes the
// connection over. It never allocates: every field is a substring of the
// head, which the loop converts to a string once per request.

// span is a [start, end) range of a head string.
type span struct{ start, end int32 }

// rawRequest is one parsed request head. Its strings share the head.
type rawRequest struct {
	head   string // the whole head, request line to the empty line
	method string
	uri    string // origin-form request target, as sent
	path   string // the target's path, unescaped as net/http's URL.Path
	host   string // Host header value, trimmed
	clen   int64  // request body length; 0 for none
	close  bool   // Connection: close

	xff         string // X-Forwarded-For values joined with ", "
	xffN        int
	xfp         string // first X-Forwarded-Proto
	appInstance string // first X-Cf-App-Instance
	referer     string
	userAgent   string
	hasStart    bool // X-Request-Start present
	cookies     []string

	// fwd are the header lines forwarded to the backend as sent.
	fwd []span
}

func (r *rawRequest) reset() {
	fwd, cookies := r.fwd[:0], r.cookies[:0]
	*r = rawRequest{fwd: fwd, cookies: cookies}
}

// maxLoopHeaders bounds the header lines of a request the loop handles.
const maxLoopHeaders = 128

// headEnd returns the length of the request head in b (through the empty
// line that ends it), or -1 when b does not hold a complete head yet.
func headEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseRequest parses head (a complete head as found by headEnd) into r.
// It reports false for anything the loop leaves to net/http.
func parseRequest(head string, r *rawRequest) bool {
	r.reset()
	r.head = head
	line, rest, ok := cutLine(head, 0)
	if !ok {
		return false
	}
	l := head[line.start:line.end]
	sp := strings.IndexByte(l, ' ')
	if sp <= 0 || !isToken(l[:sp]) {
		return false
	}
	r.method = l[:sp]
	l = l[sp+1:]
	sp = strings.IndexByte(l, ' ')
	if sp <= 0 || l[sp+1:] != "HTTP/1.1" {
		return false
	}
	r.uri = l[:sp]
	if r.method == "CONNECT" || !parseTarget(r) {
		return false
	}
	hosts, clens := 0, 0
	for n := 0; ; n++ {
		if n > maxLoopHeaders {
			return false
		}
		line, rest, ok = cutLine(head, rest)
		if !ok {
			return false
		}
		if line.start == line.end {
			break // the empty line
		}
		l := head[line.start:line.end]
		colon := strings.IndexByte(l, ':')
		if colon <= 0 || !isToken(l[:colon]) {
			return false // also obsolete line folding: a leading space
		}
		name, value := l[:colon], trimOWS(l[colon+1:])
		if !validFieldValue(value) {
			return false
		}
		// The fields the router reads or replaces; every other one is
		// forwarded as sent. fold compares lengths first, so a name costs
		// a few integer comparisons.
		forward := false
		switch {
		case fold(name, "host"):
			hosts++
			r.host = value
		case fold(name, "content-length"):
			clens++
			n, ok := parseContentLength(value)
			if !ok || clens > 1 || n > maxFastBody {
				return false
			}
			r.clen = n
		case fold(name, "connection"):
			if !connectionValue(value, r) {
				return false
			}
		case fold(name, "expect"), fold(name, "upgrade"), fold(name, "transfer-encoding"):
			return false
		case fold(name, hdrForwardedFor):
			if r.xffN == 0 {
				r.xff = value
			} else {
				r.xff += ", " + value
			}
			r.xffN++
		case fold(name, hdrForwardedProto):
			if r.xfp == "" {
				r.xfp = value
			}
		case fold(name, hdrAppInstance):
			if r.appInstance == "" {
				r.appInstance = value
			}
		case fold(name, "te"), fold(name, "trailer"), fold(name, "keep-alive"), fold(name, "proxy-connection"),
			fold(name, "proxy-authorization"), fold(name, "proxy-authenticate"),
			fold(name, hdrVcapRequestID), fold(name, hdrAppID), fold(name, hdrInstanceID), fold(name, hdrInstanceIndex):
		default:
			forward = true
			switch {
			case fold(name, "cookie"):
				r.cookies = append(r.cookies, value)
			case fold(name, "referer"):
				if r.referer == "" {
					r.referer = value
				}
			case fold(name, "user-agent"):
				if r.userAgent == "" {
					r.userAgent = value
				}
			case fold(name, hdrRequestStart):
				r.hasStart = true
			}
		}
		if forward {
			r.fwd = append(r.fwd, span{line.start, line.end + 2})
		}
	}
	if rest != len(head) {
		return false
	}
	return hosts == 1 && validHostValue(r.host)
}

// cutLine returns the line starting at off (without its CRLF) and the
// offset after it. A line not ended by CRLF (a bare LF) is not handled.
func cutLine(s string, off int) (span, int, bool) {
	i := strings.IndexByte(s[off:], '\n')
	if i < 1 || s[off+i-1] != '\r' {
		return span{}, 0, false
	}
	end := off + i - 1
	return span{int32(off), int32(end)}, off + i + 1, true
}

// parseTarget checks the origin-form target and sets r.path the way
// url.ParseRequestURI does (the query cut, the path unescaped).
func parseTarget(r *rawRequest) bool {
	u := r.uri
	if u == "" || u[0] != '/' {
		return false // absolute-form, asterisk-form: net/http's
	}
	escaped := false
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		if c == '%' {
			escaped = true
		}
	}
	path := u
	if i := strings.IndexByte(u, '?'); i >= 0 {
		path = u[:i]
	}
	if escaped {
		pu, err := url.ParseRequestURI(u)
		if err != nil {
			return false
		}
		path = pu.Path
	}
	r.path = path
	return true
}

// connectionValue reads a Connection header: close and keep-alive are
// understood; any other token nominates a header as hop-by-hop, which the
// loop leaves to net/http and the reverse proxy.
func connectionValue(v string, r *rawRequest) bool {
	for f := range strings.SplitSeq(v, ",") {
		f = trimOWS(f)
		switch {
		case f == "":
		case fold(f, "close"):
			r.close = true
		case fold(f, "keep-alive"):
		default:
			return false
		}
	}
	return true
}

func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// fold compares an ASCII name with a lower- or mixed-case constant,
// ignoring case.
func fold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validFieldValue rejects control characters other than tab.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validHostValue accepts the Host values the loop handles: names, IPv4 and
// bracketed IPv6 literals with an optional port; anything else (and an
// absent Host) is net/http's to judge.
func validHostValue(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(tokenChar[c] && c != '*' && c != '|' && c != '^' && c != '`' && c != '#' && c != '%' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// rawResponse is a parsed backend response head; its spans index the
// connection's head buffer.
type rawResponse struct {
	status     int
	http10     bool
	clen       int64 // -1 when absent
	chunked    bool
	close      bool // the backend closes after this response
	keepAlive  bool // Connection: keep-alive (for HTTP/1.0)
	hasReqID   bool
	hasDate    bool
	hasType    bool // Content-Type present
	stream     bool // Content-Type text/event-stream
	setCookies int
	fields     []respField
	conn       []span // Connection tokens (other than close/keep-alive)
}

// respField is one header line: the name, the value and the whole line.
type respField struct {
	name, value span
	line        span // including CRLF
	drop        bool
}

func (r *rawResponse) reset() {
	f, c := r.fields[:0], r.conn[:0]
	*r = rawResponse{fields: f, conn: c, clen: -1}
}

// parseResponse parses a backend response head held in b. It reports
// false for heads net/http would refuse as well.
func parseResponse(b []byte, r *rawResponse) bool {
	r.reset()
	s := unsafeString(b)
	line, rest, ok := cutLine(s, 0)
	if !ok {
		return false
	}
	l := s[line.start:line.end]
	switch {
	case strings.HasPrefix(l, "HTTP/1.1 "):
	case strings.HasPrefix(l, "HTTP/1.0 "):
		r.http10 = true
	default:
		return false
	}
	if len(l) < 12 || len(l) > 12 && l[12] != ' ' {
		return false
	}
	code, err := strconv.Atoi(l[9:12])
	if err != nil || code < 100 || l[9] == '+' || l[9] == '-' {
		return false
	}
	r.status = code
	for {
		line, rest, ok = cutLine(s, rest)
		if !ok {
			return false
		}
		if line.start == line.end {
			break
		}
		l := s[line.start:line.end]
		colon := strings.IndexByte(l, ':')
		if colon <= 0 || !isToken(l[:colon]) {
			return false
		}
		name := l[:colon]
		vs := int(line.start) + colon + 1
		v := trimOWS(l[colon+1:])
		if !validFieldValue(v) {
			return false
		}
		off := strings.Index(s[vs:line.end], v) + vs
		f := respField{
			name:  span{line.start, line.start + int32(colon)},
			value: span{int32(off), int32(off + len(v))},
			line:  span{line.start, line.end + 2},
		}
		switch {
		case fold(name, "content-length"):
			n, ok := parseContentLength(v)
			if !ok || r.clen >= 0 && r.clen != n {
				return false
			}
			r.clen = n
		case fold(name, "transfer-encoding"):
			if !fold(v, "chunked") || r.chunked {
				return false
			}
			r.chunked = true
			f.drop = true
		case fold(name, "connection"):
			f.drop = true
			for t := range strings.SplitSeq(v, ",") {
				t = trimOWS(t)
				switch {
				case t == "":
				case fold(t, "close"):
					r.close = true
				case fold(t, "keep-alive"):
					r.keepAlive = true
				default:
					ts := strings.Index(s[off:line.end], t) + off
					r.conn = append(r.conn, span{int32(ts), int32(ts + len(t))})
				}
			}
		case fold(name, "keep-alive"), fold(name, "proxy-connection"), fold(name, "proxy-authenticate"),
			fold(name, "proxy-authorization"), fold(name, "te"), fold(name, "upgrade"):
			f.drop = true
		case fold(name, hdrVcapRequestID):
			r.hasReqID = true
		case fold(name, "date"):
			r.hasDate = true
		case fold(name, "set-cookie"):
			r.setCookies++
		case fold(name, "content-type"):
			r.hasType = true
			r.stream = strings.HasPrefix(v, "text/event-stream")
		}
		r.fields = append(r.fields, f)
	}
	if rest != len(s) {
		return false
	}
	if r.chunked {
		r.clen = -1 // Transfer-Encoding wins; the length is not forwarded
		for i := range r.fields {
			if fold(s[r.fields[i].name.start:r.fields[i].name.end], "content-length") {
				r.fields[i].drop = true
			}
		}
	}
	if r.http10 && !r.keepAlive {
		r.close = true
	}
	for i := range r.fields {
		f := &r.fields[i]
		for _, t := range r.conn {
			if fold(s[f.name.start:f.name.end], s[t.start:t.end]) {
				f.drop = true
			}
		}
	}
	return true
}

// unsafeString views b as a string for the duration of a parse; b must not
// change while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

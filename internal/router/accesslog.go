package router

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ingot-paas/ingot/internal/logs"
)

// accessLog hands finished requests to one goroutine that formats them and
// emits them into the app's log. Requests never wait for it: when the queue
// is full the line is dropped and counted.
type accessLog struct {
	em      *logs.Emitter
	index   string
	ch      chan *reqState
	dropped atomic.Int64
	log     *slog.Logger
}

func newAccessLog(em *logs.Emitter, index string, queue int, log *slog.Logger) *accessLog {
	return &accessLog{em: em, index: index, ch: make(chan *reqState, queue), log: log}
}

func (a *accessLog) enqueue(st *reqState) {
	if a.em == nil {
		return
	}
	select {
	case a.ch <- st:
	default:
		if a.dropped.Add(1)%1000 == 1 {
			a.log.Warn("access-log-dropped", "dropped_total", a.dropped.Load())
		}
	}
}

// accessLogBatch is how long the access log waits after a line before it
// emits what has queued: the NATS client then writes a batch of lines to
// its socket at once instead of one write (and one wake-up of the server)
// per request.
const accessLogBatch = 10 * time.Millisecond

// run emits queued lines until ctx is done, then flushes what is queued.
func (a *accessLog) run(ctx context.Context) {
	var b strings.Builder
	t := time.NewTimer(time.Hour)
	t.Stop()
	drain := func() {
		for n := len(a.ch); n > 0; n-- {
			a.emit(&b, <-a.ch)
		}
	}
	for {
		select {
		case st := <-a.ch:
			t.Reset(accessLogBatch)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			a.emit(&b, st)
			drain()
		case <-ctx.Done():
			drain()
			return
		}
	}
}

func (a *accessLog) emit(b *strings.Builder, st *reqState) {
	b.Reset()
	formatAccessLine(b, st)
	a.em.Emit(st.ep.app, "RTR", a.index, "OUT", b.String())
}

// formatAccessLine writes gorouter's access log format:
//
//	host - [time] "METHOD /path HTTP/1.1" status bytes_received bytes_sent "referer" "user-agent" "client:port" "backend:port" x_forwarded_for:"…" x_forwarded_proto:"…" vcap_request_id:"…" response_time:… gorouter_time:… app_id:"…" app_index:"…" instance_id:"…" x_cf_routererror:"…"
func formatAccessLine(b *strings.Builder, st *reqState) {
	b.Grow(512)
	b.WriteString(orDash(st.rawHost))
	b.WriteString(" - [")
	b.WriteString(st.start.UTC().Format("2006-01-02T15:04:05.000000000Z"))
	b.WriteString("] ")
	writeQuoted(b, st.method+" "+st.uri+" "+st.proto)
	status := st.rw.status
	if status == 0 {
		status = st.status
	}
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(st.body.n.Load(), 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(st.rw.bytes, 10))
	b.WriteByte(' ')
	writeQuoted(b, st.referer)
	b.WriteByte(' ')
	writeQuoted(b, st.userAgent)
	b.WriteByte(' ')
	writeQuoted(b, st.remoteAddr)
	b.WriteByte(' ')
	backend, app, index, instance := "", "", "", ""
	if st.ep != nil {
		backend, app, index, instance = st.ep.addr, st.ep.app, st.ep.index, st.ep.instanceID
	}
	writeQuoted(b, backend)
	field(b, "x_forwarded_for", st.xff)
	field(b, "x_forwarded_proto", st.xfp)
	field(b, "vcap_request_id", st.requestID)
	total := st.end.Sub(st.start)
	own := total
	if !st.appStart.IsZero() {
		own = st.appStart.Sub(st.start)
	}
	b.WriteString(" response_time:")
	b.WriteString(seconds(total))
	b.WriteString(" gorouter_time:")
	b.WriteString(seconds(own))
	field(b, "app_id", app)
	field(b, "app_index", index)
	field(b, "instance_id", instance)
	field(b, "x_cf_routererror", st.routerErr)
}

func field(b *strings.Builder, name, v string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteByte(':')
	writeQuoted(b, v)
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeQuoted writes "s" ("-" when empty), escaping quotes, backslashes
// and control characters so a client cannot forge log fields or lines.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	if s == "" {
		b.WriteByte('-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

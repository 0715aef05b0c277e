package router

import (
	"context"
	"log/slog"
	"strconv"
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
	buf := make([]byte, 0, 1024)
	t := time.NewTimer(time.Hour)
	t.Stop()
	drain := func() {
		for n := len(a.ch); n > 0; n-- {
			buf = a.emit(buf, <-a.ch)
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
			buf = a.emit(buf, st)
			drain()
		case <-ctx.Done():
			drain()
			return
		}
	}
}

func (a *accessLog) emit(buf []byte, st *reqState) []byte {
	buf = appendAccessLine(buf[:0], st)
	a.em.Emit(st.ep.app, "RTR", a.index, "OUT", string(buf))
	return buf
}

// appendAccessLine appends gorouter's access log format:
//
//	host - [time] "METHOD /path HTTP/1.1" status bytes_received bytes_sent "referer" "user-agent" "client:port" "backend:port" x_forwarded_for:"…" x_forwarded_proto:"…" vcap_request_id:"…" response_time:… gorouter_time:… app_id:"…" app_index:"…" instance_id:"…" x_cf_routererror:"…"
func appendAccessLine(b []byte, st *reqState) []byte {
	b = append(b, orDash(st.rawHost)...)
	b = append(b, " - ["...)
	b = st.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
	b = append(b, "] \""...)
	b = appendEscaped(b, st.method)
	b = append(b, ' ')
	b = appendEscaped(b, st.uri)
	b = append(b, ' ')
	b = appendEscaped(b, st.proto)
	b = append(b, '"')
	status := st.rw.status
	if status == 0 {
		status = st.status
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, st.body.n.Load(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, st.rw.bytes, 10)
	b = append(b, ' ')
	b = appendQuoted(b, st.referer)
	b = append(b, ' ')
	b = appendQuoted(b, st.userAgent)
	b = append(b, ' ')
	b = appendQuoted(b, st.remoteAddr)
	b = append(b, ' ')
	backend, app, index, instance := "", "", "", ""
	if st.ep != nil {
		backend, app, index, instance = st.ep.addr, st.ep.app, st.ep.index, st.ep.instanceID
	}
	b = appendQuoted(b, backend)
	b = appendField(b, "x_forwarded_for", st.xff)
	b = appendField(b, "x_forwarded_proto", st.xfp)
	b = appendField(b, "vcap_request_id", st.requestID)
	total := st.end.Sub(st.start)
	own := total
	if !st.appStart.IsZero() {
		own = st.appStart.Sub(st.start)
	}
	b = append(b, " response_time:"...)
	b = strconv.AppendFloat(b, total.Seconds(), 'f', 6, 64)
	b = append(b, " gorouter_time:"...)
	b = strconv.AppendFloat(b, own.Seconds(), 'f', 6, 64)
	b = appendField(b, "app_id", app)
	b = appendField(b, "app_index", index)
	b = appendField(b, "instance_id", instance)
	b = appendField(b, "x_cf_routererror", st.routerErr)
	return b
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, ':')
	return appendQuoted(b, v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendQuoted appends "s" ("-" when empty), escaping quotes, backslashes
// and control characters so a client cannot forge log fields or lines.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	if s == "" {
		b = append(b, '-')
	}
	b = appendEscaped(b, s)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

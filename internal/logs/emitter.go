package logs

import (
	"bufio"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// Publisher is the part of the bus an Emitter needs. Publish must be done
// with data when it returns (the NATS client copies it into its buffer).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Emitter writes lines into apps' logs over the bus. It never blocks the
// caller on a slow log pipeline: NATS publishes are buffered and bounded.
type Emitter struct {
	pub Publisher
	log *slog.Logger
	now func() time.Time
	// bufs recycles the buffers lines are encoded into: every routed
	// request emits one.
	bufs sync.Pool
}

// NewEmitter makes an emitter publishing on pub.
func NewEmitter(pub Publisher, log *slog.Logger) *Emitter {
	e := &Emitter{pub: pub, log: log, now: time.Now}
	e.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return e
}

// Emit publishes one line. Long lines are cut at 64 KiB.
func (e *Emitter) Emit(appGUID, sourceType, instanceID, stream, msg string) {
	if e == nil || appGUID == "" {
		return
	}
	if len(msg) > 64<<10 {
		msg = msg[:64<<10]
	}
	l := messages.LogLine{
		AppGUID:    appGUID,
		SourceType: sourceType,
		InstanceID: instanceID,
		Message:    msg,
		Stream:     stream,
		Timestamp:  e.now().UnixNano(),
	}
	bp := e.bufs.Get().(*[]byte)
	*bp = l.AppendJSON((*bp)[:0])
	err := e.pub.Publish(bus.LogSubject(appGUID), *bp)
	if cap(*bp) <= 64<<10+1024 {
		e.bufs.Put(bp)
	}
	if err != nil {
		e.log.Debug("log-emit-failed", "app_guid", appGUID, "error", err)
	}
}

// Writer returns an io.WriteCloser that emits each line written to it.
// Partial lines are held until a newline or Close; a line over 64 KiB is
// emitted in pieces.
func (e *Emitter) Writer(appGUID, sourceType, instanceID, stream string) io.WriteCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		sc.Split(scanLinesOrFull)
		for sc.Scan() {
			e.Emit(appGUID, sourceType, instanceID, stream, strings.TrimRight(sc.Text(), "\r"))
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return &lineWriter{pw: pw, done: done}
}

type lineWriter struct {
	pw   *io.PipeWriter
	done chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *lineWriter) Close() error {
	err := w.pw.Close()
	<-w.done
	return err
}

// scanLinesOrFull is bufio.ScanLines that also emits a full buffer as a
// line instead of failing on a very long line.
func scanLinesOrFull(data []byte, atEOF bool) (int, []byte, error) {
	adv, tok, err := bufio.ScanLines(data, atEOF)
	if tok == nil && err == nil && len(data) >= 64<<10 {
		return len(data), data, nil
	}
	return adv, tok, err
}

// Collector feeds a Store from the bus.
type Collector struct {
	store *Store
	sub   bus.Subscription
}

// Subscriber is the part of the bus a Collector needs.
type Subscriber interface {
	Subscribe(subject, queue string, h bus.Handler) (bus.Subscription, error)
}

// Collect subscribes to every app's log and appends valid lines to store.
func Collect(b Subscriber, store *Store, log *slog.Logger) (*Collector, error) {
	sub, err := b.Subscribe(bus.LogSubjectAll, "", func(m *bus.Msg) {
		var l messages.LogLine
		if err := messages.Decode(m.Data, &l); err != nil {
			log.Debug("log-line-rejected", "error", err)
			return
		}
		store.Append(l)
	})
	if err != nil {
		return nil, err
	}
	return &Collector{store: store, sub: sub}, nil
}

// Stop unsubscribes.
func (c *Collector) Stop() { _ = c.sub.Unsubscribe() }

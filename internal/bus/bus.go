// Package bus is ingot's message bus: a thin wrapper over NATS, plus an
// embedded nats-server for single-machine use. NATS only routes subjects;
// every policy lives in the components.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrTimeout is returned by Request when no reply arrived in time. Callers
// treat silence as an answer.
var ErrTimeout = errors.New("bus: request timed out")

// ErrNoResponders is returned by Request when nobody listens on the subject.
var ErrNoResponders = errors.New("bus: no responders")

// Msg is a received message.
type Msg struct {
	Subject string
	Reply   string
	Data    []byte
}

// Handler handles one message. It runs on the subscription's goroutine, so
// slow work must be handed off.
type Handler func(m *Msg)

// Subscription can be cancelled.
type Subscription interface {
	Unsubscribe() error
}

// Bus is what components need from the message bus.
type Bus interface {
	// Publish sends data on subject; it never blocks on subscribers.
	Publish(subject string, data []byte) error
	// PublishJSON marshals v and publishes it.
	PublishJSON(subject string, v any) error
	// Request sends data and waits for the first reply until ctx is done
	// (ErrTimeout) or nobody listens (ErrNoResponders).
	Request(ctx context.Context, subject string, data []byte) ([]byte, error)
	// Subscribe calls h for each message on subject (wildcards allowed).
	// A non-empty queue joins a queue group: one member gets each message.
	Subscribe(subject, queue string, h Handler) (Subscription, error)
	// Respond answers a request message.
	Respond(m *Msg, data []byte) error
	// Flush waits until the server has processed everything sent so far.
	Flush(ctx context.Context) error
	// Connected tells whether the connection is up now.
	Connected() bool
	// OnReconnect registers f to run after every reconnect.
	OnReconnect(f func())
	// Close drains and closes the connection.
	Close()
}

// Options configures Connect.
type Options struct {
	// URL of the NATS server(s), comma separated.
	URL string
	// Name identifies this connection in the server's monitoring.
	Name string
}

// NATS is a Bus over a nats.go connection.
type NATS struct {
	nc  *nats.Conn
	log *slog.Logger

	mu    sync.Mutex
	hooks []func()
}

// Connect dials NATS and keeps reconnecting forever after the first
// successful connect.
func Connect(opts Options, log *slog.Logger) (*NATS, error) {
	if opts.URL == "" {
		return nil, errors.New("bus: nats url is required")
	}
	b := &NATS{log: log}
	nc, err := nats.Connect(opts.URL,
		nats.Name(opts.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.PingInterval(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus-disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(_ *nats.Conn) {
			log.Info("bus-reconnected")
			b.mu.Lock()
			hooks := append([]func(){}, b.hooks...)
			b.mu.Unlock()
			for _, f := range hooks {
				go f()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("bus-error", "subject", subj, "error", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", opts.URL, err)
	}
	b.nc = nc
	return b, nil
}

func (b *NATS) Publish(subject string, data []byte) error {
	return b.nc.Publish(subject, data)
}

func (b *NATS) PublishJSON(subject string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal %s payload: %w", subject, err)
	}
	return b.nc.Publish(subject, data)
}

func (b *NATS) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	m, err := b.nc.RequestWithContext(ctx, subject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%s: %w", subject, ErrNoResponders)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("%s: %w", subject, ErrTimeout)
	case err != nil:
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	return m.Data, nil
}

type natsSub struct{ s *nats.Subscription }

func (s natsSub) Unsubscribe() error { return s.s.Unsubscribe() }

func (b *NATS) Subscribe(subject, queue string, h Handler) (Subscription, error) {
	cb := func(m *nats.Msg) { h(&Msg{Subject: m.Subject, Reply: m.Reply, Data: m.Data}) }
	var (
		s   *nats.Subscription
		err error
	)
	if queue != "" {
		s, err = b.nc.QueueSubscribe(subject, queue, cb)
	} else {
		s, err = b.nc.Subscribe(subject, cb)
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, err)
	}
	// Bounded: a slow consumer is dropped, never waited for.
	_ = s.SetPendingLimits(65536, 64<<20)
	return natsSub{s}, nil
}

func (b *NATS) Respond(m *Msg, data []byte) error {
	if m.Reply == "" {
		return errors.New("bus: message has no reply subject")
	}
	return b.nc.Publish(m.Reply, data)
}

func (b *NATS) Flush(ctx context.Context) error { return b.nc.FlushWithContext(ctx) }

func (b *NATS) Connected() bool { return b.nc.IsConnected() }

func (b *NATS) OnReconnect(f func()) {
	b.mu.Lock()
	b.hooks = append(b.hooks, f)
	b.mu.Unlock()
}

func (b *NATS) Close() {
	_ = b.nc.Drain()
	for i := 0; i < 50 && !b.nc.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	b.nc.Close()
}

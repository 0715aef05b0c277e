package osbclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Task kinds.
const (
	TaskDeprovision = "deprovision"
	TaskUnbind      = "unbind"
)

// Task is one orphan mitigation: a deprovision (BindingID empty) or an
// unbind, repeated until the broker confirms.
type Task struct {
	Kind       string
	Client     *Client
	InstanceID string
	BindingID  string
	ServiceID  string
	PlanID     string
}

func (t Task) key() string {
	return t.Client.URL() + "|" + t.Kind + "|" + t.InstanceID + "|" + t.BindingID
}

// MitigatorConfig paces a Mitigator.
type MitigatorConfig struct {
	// MaxPending bounds the tasks queued or running (default 1024); more
	// are dropped with an error log.
	MaxPending int
	// InitialBackoff is the pause after a failed attempt (default 1 s),
	// doubled up to MaxBackoff (default 5 min).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Poll paces the polling of an asynchronous deprovision or unbind.
	Poll PollOptions
	// OnDone, if set, is called when a task is confirmed (err nil) or
	// abandoned because the Mitigator stopped (err is the context's).
	OnDone func(t Task, err error)
}

// Mitigator runs orphan mitigations in the background: each task is tried
// until the broker confirms the resource is gone (200, 410, or a
// succeeded asynchronous operation), with exponential backoff between
// attempts. Tasks enqueued before Run start when Run does. Mitigations are
// kept in memory: a controller restart forgets them (the broker still has
// the orphan, which an operator can purge).
type Mitigator struct {
	cfg MitigatorConfig
	log *slog.Logger

	queue chan Task

	mu      sync.Mutex
	pending map[string]bool
}

// NewMitigator returns a Mitigator; call Run to start it.
func NewMitigator(cfg MitigatorConfig, log *slog.Logger) *Mitigator {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1024
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mitigator{cfg: cfg, log: log, queue: make(chan Task, cfg.MaxPending), pending: map[string]bool{}}
}

// Enqueue adds a task; it reports false when the same task is already
// pending or the Mitigator is full.
func (m *Mitigator) Enqueue(t Task) bool {
	if t.Client == nil {
		return false
	}
	k := t.key()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending[k] {
		return false
	}
	if len(m.pending) >= m.cfg.MaxPending {
		m.log.Error("orphan-mitigation-dropped", "kind", t.Kind, "instance_id", t.InstanceID,
			"binding_id", t.BindingID, "broker_url", t.Client.URL(), "max_pending", m.cfg.MaxPending)
		return false
	}
	m.pending[k] = true
	m.queue <- t // cannot block: the channel holds MaxPending tasks
	m.log.Info("orphan-mitigation-queued", "kind", t.Kind, "instance_id", t.InstanceID, "binding_id", t.BindingID)
	return true
}

// Pending is the number of tasks queued or running.
func (m *Mitigator) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// Run works on tasks until ctx is done, then waits for running tasks to
// stop.
func (m *Mitigator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-m.queue:
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := m.work(ctx, t)
				m.mu.Lock()
				delete(m.pending, t.key())
				m.mu.Unlock()
				if m.cfg.OnDone != nil {
					m.cfg.OnDone(t, err)
				}
			}()
		}
	}
}

// work repeats t until the broker confirms or ctx ends.
func (m *Mitigator) work(ctx context.Context, t Task) error {
	backoff := m.cfg.InitialBackoff
	for attempt := 1; ; attempt++ {
		err := m.attempt(ctx, t)
		if err == nil {
			m.log.Info("orphan-mitigated", "kind", t.Kind, "instance_id", t.InstanceID,
				"binding_id", t.BindingID, "attempts", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.log.Warn("orphan-mitigation-failed", "kind", t.Kind, "instance_id", t.InstanceID,
			"binding_id", t.BindingID, "attempt", attempt, "retry_in", backoff.String(), "error", err.Error())
		tm := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		}
		backoff = min(backoff*2, m.cfg.MaxBackoff)
	}
}

// attempt sends the delete once (and polls it if asynchronous); nil means
// the broker confirmed.
func (m *Mitigator) attempt(ctx context.Context, t Task) error {
	var (
		res Result
		err error
	)
	if t.Kind == TaskUnbind {
		res, err = t.Client.Unbind(ctx, t.InstanceID, t.BindingID, t.ServiceID, t.PlanID)
	} else {
		res, err = t.Client.Deprovision(ctx, t.InstanceID, t.ServiceID, t.PlanID)
	}
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if !res.Async {
		return nil
	}
	lo, err := Poll(ctx, m.cfg.Poll, func(ctx context.Context) (LastOperation, error) {
		if t.Kind == TaskUnbind {
			return t.Client.BindingLastOperation(ctx, t.InstanceID, t.BindingID, t.ServiceID, t.PlanID, res.Operation)
		}
		return t.Client.InstanceLastOperation(ctx, t.InstanceID, t.ServiceID, t.PlanID, res.Operation)
	})
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if lo.State != osb.StateSucceeded {
		return fmt.Errorf("%s %s: broker reports %s: %s", t.Kind, t.InstanceID, lo.State, lo.Description)
	}
	return nil
}

package healthmgr

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// LeaseName is the lease health managers compete for: its holder acts, the
// others only listen, ready to take over.
const LeaseName = "healthmanager"

// Leaser grants the acting lease. Acquire grants or renews it for ttl and
// reports whether holder has it (and who does); Release gives it up.
type Leaser interface {
	Acquire(ctx context.Context, holder string, ttl time.Duration) (granted bool, current string, err error)
	Release(ctx context.Context, holder string) error
}

// BusLeaser asks the controller for the lease over the bus; the controller
// keeps it in its store, so every health manager on the bus competes for
// the same lease.
type BusLeaser struct {
	Bus bus.Bus
}

// Acquire implements Leaser.
func (l BusLeaser) Acquire(ctx context.Context, holder string, ttl time.Duration) (bool, string, error) {
	rep, err := l.ask(ctx, &messages.LeaseRequest{Op: messages.LeaseAcquire, Name: LeaseName, Holder: holder, TTLMillis: ttl.Milliseconds()})
	if err != nil {
		return false, "", err
	}
	return rep.Granted, rep.Holder, nil
}

// Release implements Leaser.
func (l BusLeaser) Release(ctx context.Context, holder string) error {
	_, err := l.ask(ctx, &messages.LeaseRequest{Op: messages.LeaseRelease, Name: LeaseName, Holder: holder})
	return err
}

func (l BusLeaser) ask(ctx context.Context, req *messages.LeaseRequest) (*messages.LeaseReply, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	raw, err := l.Bus.Request(ctx, bus.SubjectLease, data)
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", req.Op, err)
	}
	var rep messages.LeaseReply
	if err := messages.Decode(raw, &rep); err != nil {
		return nil, fmt.Errorf("lease %s: %w", req.Op, err)
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("lease %s: %s", req.Op, rep.Error)
	}
	return &rep, nil
}

// leaseLoop keeps the lease (or keeps asking for it) every LeaseTTL/4 until
// ctx is done, then releases it so a standby takes over at once.
func (h *HM) leaseLoop(ctx context.Context) {
	if h.leaser == nil {
		return
	}
	for {
		h.renewLease(ctx)
		select {
		case <-ctx.Done():
			if h.IsLeader() {
				rctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if err := h.leaser.Release(rctx, h.cfg.ID); err != nil {
					h.log.Debug("hm-lease-release-failed", "error", err)
				}
				cancel()
			}
			return
		case <-h.clock.After(h.cfg.LeaseTTL / 4):
		}
	}
}

func (h *HM) renewLease(ctx context.Context) {
	askedAt := h.clock.Now()
	rctx, cancel := context.WithTimeout(ctx, h.cfg.LeaseTTL/2)
	granted, holder, err := h.leaser.Acquire(rctx, h.cfg.ID, h.cfg.LeaseTTL)
	cancel()
	h.mu.Lock()
	was := h.leaderUntil.After(askedAt)
	switch {
	case err != nil:
		// Keep what we had: the lease runs out on its own at leaderUntil,
		// and the controller's copy never outlives ours.
	case granted:
		h.leaderUntil = askedAt.Add(h.cfg.LeaseTTL)
	default:
		h.leaderUntil = time.Time{}
	}
	is := h.leaderUntil.After(h.clock.Now())
	h.mu.Unlock()
	switch {
	case err != nil && ctx.Err() == nil:
		h.log.Warn("hm-lease-unavailable", "error", err, "acting", is)
	case !was && is:
		h.log.Info("hm-lease-acquired", "holder", h.cfg.ID)
		h.kickAll()
	case was && !is:
		h.log.Info("hm-lease-lost", "holder", holder)
	}
}

// IsLeader reports whether this health manager may act now.
func (h *HM) IsLeader() bool {
	if h.leaser == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.leaderUntil.After(h.clock.Now())
}

// kickAll asks for a full pass at once.
func (h *HM) kickAll() {
	select {
	case h.full <- struct{}{}:
	default:
	}
}

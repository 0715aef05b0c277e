package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/healthmgr"
)

// dyingLeaser is a healthmgr.Leaser that can be made to stop answering,
// as when its health manager's host dies without releasing the lease.
type dyingLeaser struct {
	healthmgr.Leaser
	dead atomic.Bool
}

func (d *dyingLeaser) Acquire(ctx context.Context, holder string, ttl time.Duration) (bool, string, error) {
	if d.dead.Load() {
		return false, "", errors.New("host unreachable")
	}
	return d.Leaser.Acquire(ctx, holder, ttl)
}

func (d *dyingLeaser) Release(ctx context.Context, holder string) error {
	if d.dead.Load() {
		return errors.New("host unreachable")
	}
	return d.Leaser.Release(ctx, holder)
}

// TestHealthManagerLease: of two health managers, exactly one acts; when it
// dies without a word the other takes over once the lease runs out, and a
// clean shutdown hands over at once.
func TestHealthManagerLease(t *testing.T) {
	h := newHarness(t)
	const ttl = 400 * time.Millisecond
	type runningHM struct {
		hm     *healthmgr.HM
		leaser *dyingLeaser
		stop   func()
	}
	start := func(id string) *runningHM {
		l := &dyingLeaser{Leaser: healthmgr.BusLeaser{Bus: h.bus}}
		hm, err := healthmgr.New(healthmgr.Config{ID: id, LeaseTTL: ttl}, healthmgr.Deps{Bus: h.bus, Leaser: l}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = hm.Run(ctx); close(done) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return &runningHM{hm: hm, leaser: l, stop: stop}
	}
	a, b := start("hm-a"), start("hm-b")
	leaders := func() (n int, who *runningHM) {
		for _, x := range []*runningHM{a, b} {
			if x.hm.IsLeader() {
				n++
				who = x
			}
		}
		return n, who
	}
	eventually(t, 5*time.Second, "one health manager to hold the lease", func() bool { n, _ := leaders(); return n == 1 })
	// For a while, never two at once.
	for i := 0; i < 50; i++ {
		if n, _ := leaders(); n > 1 {
			t.Fatal("two health managers act at once")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, first := leaders()
	other := b
	if first == b {
		other = a
	}

	// The holder's host dies: it stops acting by itself and the standby
	// takes over after the lease runs out.
	first.leaser.dead.Store(true)
	died := time.Now()
	eventually(t, 5*time.Second, "the standby to take over", func() bool { return other.hm.IsLeader() })
	if took := time.Since(died); took < ttl/2 {
		t.Errorf("standby took over after %s, before the dead holder's lease (%s) could run out", took, ttl)
	}
	if first.hm.IsLeader() {
		t.Error("the dead holder still believes it acts")
	}

	// The first comes back: it stays a standby while the other holds on.
	first.leaser.dead.Store(false)
	time.Sleep(3 * ttl)
	if n, who := leaders(); n != 1 || who != other {
		t.Fatalf("after the old holder returned: %d leaders", n)
	}

	// A clean shutdown releases the lease: the standby acts well within a TTL.
	other.stop()
	stopped := time.Now()
	eventually(t, 5*time.Second, "the returned health manager to take over", func() bool { return first.hm.IsLeader() })
	t.Logf("takeover after a clean shutdown: %s", time.Since(stopped))
}

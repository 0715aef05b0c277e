package host

import (
	"sync"
	"time"
)

// Monitor is a backend's periodic check of its containers: every interval,
// while there are containers, it takes a snapshot of them with the
// backend's lock held and hands it to check without. It exits when the
// snapshot is empty (EnsureLocked starts it again) or at StopLocked.
type Monitor[C any] struct {
	lock     sync.Locker
	interval time.Duration
	snapshot func() []C
	check    func([]C)

	// on and stopped are guarded by lock.
	on, stopped bool
	quit        chan struct{}
	wg          sync.WaitGroup
}

// NewMonitor makes a monitor; lock is the backend's lock, which guards
// what snapshot reads.
func NewMonitor[C any](lock sync.Locker, interval time.Duration, snapshot func() []C, check func([]C)) *Monitor[C] {
	return &Monitor[C]{lock: lock, interval: interval, snapshot: snapshot, check: check, quit: make(chan struct{})}
}

// EnsureLocked starts the monitor goroutine if it is not running and was
// not stopped. The lock must be held.
func (m *Monitor[C]) EnsureLocked() {
	if m.on || m.stopped {
		return
	}
	m.on = true
	m.wg.Add(1)
	go m.run()
}

// StopLocked makes the goroutine exit and keeps it from starting again.
// The lock must be held; Wait (without it) waits for the exit.
func (m *Monitor[C]) StopLocked() {
	if !m.stopped {
		m.stopped = true
		close(m.quit)
	}
}

// Wait waits for the goroutine to exit after StopLocked.
func (m *Monitor[C]) Wait() { m.wg.Wait() }

func (m *Monitor[C]) run() {
	defer m.wg.Done()
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		select {
		case <-m.quit:
			m.lock.Lock()
			m.on = false
			m.lock.Unlock()
			return
		case <-tick.C:
		}
		m.lock.Lock()
		cs := m.snapshot()
		if len(cs) == 0 {
			m.on = false
			m.lock.Unlock()
			return
		}
		m.lock.Unlock()
		m.check(cs)
	}
}

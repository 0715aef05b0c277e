package host

import (
	"sync"
	"testing"
	"time"
)

func TestMonitor(t *testing.T) {
	var mu sync.Mutex
	items := []int{1, 2}
	checked := make(chan []int, 100)
	m := NewMonitor(&mu, time.Millisecond, func() []int { return append([]int(nil), items...) }, func(cs []int) { checked <- cs })
	mu.Lock()
	m.EnsureLocked()
	m.EnsureLocked() // no second goroutine
	mu.Unlock()
	if got := <-checked; len(got) != 2 {
		t.Fatalf("checked %v", got)
	}
	// With nothing to watch the loop exits, and starts again on demand.
	mu.Lock()
	items = nil
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		on := m.on
		mu.Unlock()
		if !on {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("monitor did not exit with nothing to watch")
		}
		time.Sleep(time.Millisecond)
	}
	for len(checked) > 0 {
		<-checked
	}
	mu.Lock()
	items = []int{3}
	m.EnsureLocked()
	mu.Unlock()
	if got := <-checked; len(got) != 1 || got[0] != 3 {
		t.Fatalf("checked %v after restart", got)
	}
	mu.Lock()
	m.StopLocked()
	m.StopLocked()
	mu.Unlock()
	m.Wait()
	mu.Lock()
	m.EnsureLocked() // stopped for good
	on := m.on
	mu.Unlock()
	if on {
		t.Error("monitor started again after StopLocked")
	}
}

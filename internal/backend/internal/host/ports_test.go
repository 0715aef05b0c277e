package host

import (
	"errors"
	"net"
	"strconv"
	"testing"
)

func TestPortPool(t *testing.T) {
	errUnavailable := errors.New("port unavailable")
	busy := map[uint32]bool{10002: true}
	p := NewPortPool(10001, 10004, errUnavailable)
	p.free = func(port uint32) bool { return !busy[port] }
	p.Hold(10003, "loaded")

	if port, fresh, err := p.Alloc("a", 0); port != 10001 || !fresh || err != nil {
		t.Fatalf("Alloc(a, 0) = %d, %v, %v", port, fresh, err)
	}
	// 10002 is busy on the host, 10003 held: the next free one is 10004.
	if port, fresh, err := p.Alloc("b", 0); port != 10004 || !fresh || err != nil {
		t.Fatalf("Alloc(b, 0) = %d, %v, %v", port, fresh, err)
	}
	if _, _, err := p.Alloc("c", 0); !errors.Is(err, errUnavailable) {
		t.Errorf("Alloc from a full pool = %v", err)
	}
	if port, fresh, err := p.Alloc("a", 10001); port != 10001 || fresh || err != nil {
		t.Errorf("Alloc of a port already held = %d, %v, %v", port, fresh, err)
	}
	if _, _, err := p.Alloc("c", 10001); !errors.Is(err, errUnavailable) {
		t.Errorf("Alloc of another's port = %v", err)
	}
	if _, _, err := p.Alloc("c", 10002); !errors.Is(err, errUnavailable) {
		t.Errorf("Alloc of a busy port = %v", err)
	}
	p.ReleaseAll("a")
	p.Release(10004)
	if port, _, err := p.Alloc("c", 10001); port != 10001 || err != nil {
		t.Errorf("Alloc after ReleaseAll = %d, %v", port, err)
	}
	if port, _, err := p.Alloc("c", 0); port != 10004 || err != nil {
		t.Errorf("Alloc after Release = %d, %v", port, err)
	}
}

func TestPortFree(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, ps, _ := net.SplitHostPort(l.Addr().String())
	port, _ := strconv.Atoi(ps)
	if PortFree(uint32(port)) {
		t.Errorf("PortFree(%d) while it is bound", port)
	}
}

// Two pools on one host (two DEAs, or two test platforms) never hand out
// the same port, even while the app given it has not started listening
// (regression: an app that never listened passed its port health check by
// reaching another platform's app on the same port).
func TestPortPoolsOnOneHostDoNotShare(t *testing.T) {
	errUnavailable := errors.New("unavailable")
	dir := t.TempDir()
	a := NewPortPool(45100, 45101, errUnavailable)
	b := NewPortPool(45100, 45101, errUnavailable)
	a.lockDir, b.lockDir = dir, dir
	pa, _, err := a.Alloc("a1", 0)
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := b.Alloc("b1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if pa == pb {
		t.Fatalf("both pools handed out port %d", pa)
	}
	if _, _, err := b.Alloc("b2", 0); !errors.Is(err, errUnavailable) {
		t.Fatalf("third port from a two-port range: err = %v, want unavailable", err)
	}
	if _, _, err := b.Alloc("b2", pa); !errors.Is(err, errUnavailable) {
		t.Fatalf("asking for a port another pool holds: err = %v, want unavailable", err)
	}
	a.Release(pa)
	if got, _, err := b.Alloc("b2", 0); err != nil || got != pa {
		t.Fatalf("after release: got %d, %v; want %d", got, err, pa)
	}
}

package host

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ingot-paas/ingot/internal/backend"
)

// fakeContainer is enough of a backend.Container for the table helpers.
type fakeContainer struct{ backend.Container }

func TestLookupList(t *testing.T) {
	var mu sync.Mutex
	a, b := &fakeContainer{}, &fakeContainer{}
	cs := map[string]*fakeContainer{"a": a, "b": b}
	if c, err := Lookup(&mu, cs, "a"); err != nil || c != backend.Container(a) {
		t.Errorf("Lookup(a) = %v, %v", c, err)
	}
	c, err := Lookup(&mu, cs, "x")
	if !errors.Is(err, backend.ErrNotFound) || c != nil {
		t.Errorf("Lookup(x) = %v, %v; want a nil interface and ErrNotFound", c, err)
	}
	all, err := List(context.Background(), &mu, cs)
	if err != nil || len(all) != 2 {
		t.Errorf("List = %v, %v", all, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := List(ctx, &mu, cs); !errors.Is(err, context.Canceled) {
		t.Errorf("List with an ended context = %v", err)
	}
}

func TestSamePort(t *testing.T) {
	for _, tc := range []struct {
		host, container, want uint32
		ok                    bool
	}{{0, 0, 0, true}, {5, 0, 5, true}, {0, 5, 5, true}, {5, 5, 5, true}, {5, 6, 0, false}} {
		got, ok := SamePort(tc.host, tc.container)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("SamePort(%d, %d) = %d, %v", tc.host, tc.container, got, ok)
		}
	}
}

package testutil

import (
	"fmt"
	"sync"
	"testing"
)

func TestSyncBufferAndEventually(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "%d", i%2)
		}()
	}
	Eventually(t, "ten writes", func() bool { return len(b.String()) == 10 })
	wg.Wait()
	ctx := Context(t)
	if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
		t.Errorf("Context: deadline %v, err %v", ok, ctx.Err())
	}
}

func TestRootPerTest(t *testing.T) {
	root := RootPerTest()
	first := root(t)
	if root(t) != first {
		t.Error("a second call gave another directory")
	}
	t.Run("sub", func(t *testing.T) {
		if root(t) == first {
			t.Error("a subtest got its parent's directory")
		}
	})
}

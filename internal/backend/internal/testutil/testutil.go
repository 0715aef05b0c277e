// Package testutil holds the helpers the backends' tests and the
// conformance suite share.
package testutil

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// WaitFor is how long tests wait for something that should happen.
const WaitFor = 30 * time.Second

// Eventually polls cond until it holds or WaitFor passes.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for a process writing and a test
// reading.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Context is a context that ends after twice WaitFor or with the test.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*WaitFor)
	t.Cleanup(cancel)
	return ctx
}

// RootPerTest returns a function giving each test one temporary directory,
// the same on every call, so that a backend made again in the same test
// (to check it re-adopts the containers) finds the first one's.
func RootPerTest() func(t *testing.T) string {
	var mu sync.Mutex
	roots := map[*testing.T]string{}
	return func(t *testing.T) string {
		mu.Lock()
		defer mu.Unlock()
		root, ok := roots[t]
		if !ok {
			root = t.TempDir()
			roots[t] = root
		}
		return root
	}
}

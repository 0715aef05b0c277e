// Package blobstoretest is the conformance suite every blobstore.Store
// passes. An implementation's tests call Run with a function that returns a
// fresh, empty store.
package blobstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/ingot-paas/ingot/internal/blobstore"
)

// Run runs the whole suite; open is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) blobstore.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s blobstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"ValidKeys", testValidKeys},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"EmptyBlob", testEmptyBlob},
		{"LargeBlob", testLargeBlob},
		{"PrefixKeys", testPrefixKeys},
		{"InvalidKeys", testInvalidKeys},
		{"FailedPutKeepsOld", testFailedPutKeepsOld},
		{"CanceledPut", testCanceledPut},
		{"ConcurrentPutSameKey", testConcurrentPutSameKey},
		{"ConcurrentPutAndGet", testConcurrentPutAndGet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

func put(t *testing.T, s blobstore.Store, key string, data []byte) {
	t.Helper()
	n, err := s.Put(t.Context(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("put %s wrote %d bytes, want %d", key, n, len(data))
	}
}

func get(t *testing.T, s blobstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func exists(t *testing.T, s blobstore.Store, key string) bool {
	t.Helper()
	ok, err := s.Exists(t.Context(), key)
	if err != nil {
		t.Fatalf("exists %s: %v", key, err)
	}
	return ok
}

func wantMissing(t *testing.T, s blobstore.Store, key string) {
	t.Helper()
	rc, err := s.Get(t.Context(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("get %s: found a blob, want ErrNotFound", key)
	}
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("get %s: %v, want ErrNotFound", key, err)
	}
	if exists(t, s, key) {
		t.Fatalf("exists %s = true, want false", key)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

func testRoundTrip(t *testing.T, s blobstore.Store) {
	data := []byte("hello, droplet")
	put(t, s, "packages/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab", data)
	if !exists(t, s, "packages/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab") {
		t.Fatal("exists = false after put")
	}
	if got := get(t, s, "packages/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab"); !bytes.Equal(got, data) {
		t.Fatalf("get = %q, want %q", got, data)
	}
	wantMissing(t, s, "packages/other")
}

func testValidKeys(t *testing.T, s blobstore.Store) {
	keys := []string{
		"a",
		"droplets/6f9a1b2c-0000-4000-8000-000000000001",
		"caches/6f9a1b2c-0000-4000-8000-000000000001",
		"resources/da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"x/y/z/w",
		"a.b_c-d",
		"...",
		".hidden",
		strings.Repeat("k", 150),
	}
	for i, k := range keys {
		put(t, s, k, []byte(fmt.Sprint("blob ", i)))
	}
	for i, k := range keys {
		if got, want := string(get(t, s, k)), fmt.Sprint("blob ", i); got != want {
			t.Fatalf("get %s = %q, want %q", k, got, want)
		}
	}
}

func testOverwrite(t *testing.T, s blobstore.Store) {
	put(t, s, "droplets/d", []byte("first version, longer than the second"))
	put(t, s, "droplets/d", []byte("second"))
	if got := get(t, s, "droplets/d"); string(got) != "second" {
		t.Fatalf("get after overwrite = %q, want %q", got, "second")
	}
}

func testMissing(t *testing.T, s blobstore.Store) {
	wantMissing(t, s, "nothing/here")
	wantMissing(t, s, "nothing")
	if err := s.Delete(t.Context(), "nothing/here"); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
}

func testDelete(t *testing.T, s blobstore.Store) {
	put(t, s, "caches/app", []byte("cache"))
	put(t, s, "caches/other", []byte("other"))
	if err := s.Delete(t.Context(), "caches/app"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantMissing(t, s, "caches/app")
	if err := s.Delete(t.Context(), "caches/app"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if got := get(t, s, "caches/other"); string(got) != "other" {
		t.Fatalf("neighbour after delete = %q", got)
	}
	put(t, s, "caches/app", []byte("again"))
	if got := get(t, s, "caches/app"); string(got) != "again" {
		t.Fatalf("re-put after delete = %q", got)
	}
}

func testEmptyBlob(t *testing.T, s blobstore.Store) {
	put(t, s, "empty", nil)
	if !exists(t, s, "empty") {
		t.Fatal("empty blob does not exist")
	}
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Fatalf("empty blob has %d bytes", len(got))
	}
}

func testLargeBlob(t *testing.T, s blobstore.Store) {
	data := pattern(5<<20+17, 3)
	put(t, s, "droplets/large", data)
	if got := get(t, s, "droplets/large"); !bytes.Equal(got, data) {
		t.Fatalf("large blob differs: %d bytes back, want %d", len(got), len(data))
	}
}

func testPrefixKeys(t *testing.T, s blobstore.Store) {
	// A key may also be the prefix of other keys, in either order.
	put(t, s, "a", []byte("a"))
	put(t, s, "a/b", []byte("a/b"))
	put(t, s, "c/d", []byte("c/d"))
	put(t, s, "c", []byte("c"))
	for _, k := range []string{"a", "a/b", "c", "c/d"} {
		if got := get(t, s, k); string(got) != k {
			t.Fatalf("get %s = %q", k, got)
		}
	}
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatalf("delete a: %v", err)
	}
	wantMissing(t, s, "a")
	if got := get(t, s, "a/b"); string(got) != "a/b" {
		t.Fatalf("a/b after deleting a = %q", got)
	}
}

func testInvalidKeys(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	bad := []string{
		"", "/abs", "../x", "a/../b", "..", ".", "a/./b", "a//b", "a/", "/", "Upper", "a b", `a\b`,
		"a:b", "ключ", "a\x00b", "a\nb", "x/" + strings.Repeat("k", 300), strings.Repeat("a/", 600) + "a",
	}
	for _, k := range bad {
		if _, err := s.Put(ctx, k, strings.NewReader("x")); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("put %q: %v, want ErrInvalidKey", k, err)
		}
		if rc, err := s.Get(ctx, k); !errors.Is(err, blobstore.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("get %q: %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Exists(ctx, k); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("exists %q: %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, blobstore.ErrInvalidKey) {
			t.Errorf("delete %q: %v, want ErrInvalidKey", k, err)
		}
	}
	// The invalid "../x" did not land beside a valid "x".
	wantMissing(t, s, "x")
}

// failingReader yields n bytes and then fails.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'z'
	}
	r.n -= k
	return k, nil
}

func testFailedPutKeepsOld(t *testing.T, s blobstore.Store) {
	errBroken := errors.New("upload broke")
	put(t, s, "packages/p", []byte("old"))
	if _, err := s.Put(t.Context(), "packages/p", &failingReader{n: 1 << 20, err: errBroken}); !errors.Is(err, errBroken) {
		t.Fatalf("put from a failing reader: %v, want the reader's error", err)
	}
	if got := get(t, s, "packages/p"); string(got) != "old" {
		t.Fatalf("blob after failed put = %d bytes, want the old blob", len(got))
	}
	if _, err := s.Put(t.Context(), "packages/new", &failingReader{n: 10, err: errBroken}); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	wantMissing(t, s, "packages/new")
}

func testCanceledPut(t *testing.T, s blobstore.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "packages/canceled", strings.NewReader("data")); err == nil {
		t.Fatal("put with a canceled context succeeded")
	}
	wantMissing(t, s, "packages/canceled")
}

func testConcurrentPutSameKey(t *testing.T, s blobstore.Store) {
	const writers, size = 8, 256 << 10
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(t.Context(), "droplets/contended", bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, size)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	checkWhole(t, get(t, s, "droplets/contended"), size)
}

// checkWhole fails unless b is size copies of one byte.
func checkWhole(t *testing.T, b []byte, size int) {
	t.Helper()
	if len(b) != size {
		t.Fatalf("blob has %d bytes, want %d", len(b), size)
	}
	if bytes.Count(b, b[:1]) != size {
		t.Fatalf("blob mixes writers' bytes")
	}
}

func testConcurrentPutAndGet(t *testing.T, s blobstore.Store) {
	const size = 128 << 10
	put(t, s, "droplets/hot", bytes.Repeat([]byte{'0'}, size))
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 8)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := s.Put(t.Context(), "droplets/hot", bytes.NewReader(bytes.Repeat([]byte{byte('a' + w*20 + i%20)}, size))); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := s.Get(t.Context(), "droplets/hot")
				if err != nil {
					errc <- fmt.Errorf("get during puts: %w", err)
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errc <- err
					return
				}
				if len(b) != size || bytes.Count(b, b[:1]) != size {
					errc <- fmt.Errorf("reader saw a partial or mixed blob (%d bytes)", len(b))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

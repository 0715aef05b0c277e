// Package blobstore stores packages, droplets, buildpack caches and
// resource-matched files. Local is a directory on disk (or an NFS mount);
// an S3-compatible store comes later behind the same interface.
package blobstore

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound: no blob under that key.
var ErrNotFound = errors.New("blobstore: not found")

// Keys are slash-separated paths of [a-z0-9._-] segments, for example
// "packages/<guid>", "droplets/<guid>", "caches/<app-guid>",
// "resources/<sha1>". A key with "..", an empty segment, or other characters
// is rejected with ErrInvalidKey.
var ErrInvalidKey = errors.New("blobstore: invalid key")

// Store is a flat key → bytes store.
type Store interface {
	// Put stores r under key atomically: readers see the old blob or the
	// whole new one, never a partial one. It returns the bytes written.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get opens the blob; the caller closes it. ErrNotFound if absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Exists reports whether key holds a blob.
	Exists(ctx context.Context, key string) (bool, error)
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

package dea

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrDigestMismatch: the downloaded droplet is not the one asked for.
var ErrDigestMismatch = errors.New("droplet digest mismatch")

var digestRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// dropletCache downloads droplets once per digest into dir/<digest>.tgz.
type dropletCache struct {
	dir      string
	client   *http.Client
	maxBytes int64
	timeout  time.Duration

	mu       sync.Mutex
	inflight map[string]*download
}

type download struct {
	done chan struct{}
	path string
	err  error
}

func newDropletCache(dir string, client *http.Client, maxBytes int64, timeout time.Duration) *dropletCache {
	return &dropletCache{dir: dir, client: client, maxBytes: maxBytes, timeout: timeout, inflight: map[string]*download{}}
}

// get returns the path of the cached droplet, downloading it if needed.
// Concurrent gets of one digest share a download; a get whose ctx ends
// stops waiting but does not abort the download others may share.
func (c *dropletCache) get(ctx context.Context, uri, digest string) (string, error) {
	digest = strings.ToLower(strings.TrimSpace(digest))
	if digest != "" && !digestRE.MatchString(digest) {
		return "", fmt.Errorf("droplet digest %q is not a sha256 hex digest", digest)
	}
	key := digest
	if key == "" {
		key = "uri:" + uri
	} else {
		p := filepath.Join(c.dir, digest+".tgz")
		if _, err := os.Stat(p); err == nil {
			now := time.Now()
			_ = os.Chtimes(p, now, now) // most recently used
			return p, nil
		}
	}
	c.mu.Lock()
	dl, ok := c.inflight[key]
	if !ok {
		dl = &download{done: make(chan struct{})}
		c.inflight[key] = dl
		go func() {
			dl.path, dl.err = c.fetch(uri, digest)
			c.mu.Lock()
			delete(c.inflight, key)
			c.mu.Unlock()
			close(dl.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-dl.done:
		return dl.path, dl.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fetch downloads uri, checks its sha256 and moves it into the cache.
// Without an expected digest it is cached under the digest it has.
func (c *dropletCache) fetch(uri, digest string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return "", fmt.Errorf("droplet uri: %w", err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("get droplet: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("get droplet: status %d", resp.StatusCode)
	}
	if resp.ContentLength > c.maxBytes {
		return "", fmt.Errorf("droplet is %d bytes, more than %d", resp.ContentLength, c.maxBytes)
	}
	tmp, err := os.CreateTemp(c.dir, "download-*.tmp")
	if err != nil {
		return "", fmt.Errorf("cache droplet: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, c.maxBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("download droplet: %w", err)
	}
	if n > c.maxBytes {
		return "", fmt.Errorf("droplet is more than %d bytes", c.maxBytes)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if digest != "" && got != digest {
		return "", fmt.Errorf("%w: expected sha256 %s, got %s", ErrDigestMismatch, digest, got)
	}
	final := filepath.Join(c.dir, got+".tgz")
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("cache droplet: %w", err)
	}
	c.prune(final)
	return final, nil
}

// maxCachedDroplets bounds the cache; the least recently used droplets
// go first (an instance still extracting one keeps its open file).
const maxCachedDroplets = 32

func (c *dropletCache) prune(keep string) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tgz") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			files = append(files, file{filepath.Join(c.dir, e.Name()), fi.ModTime()})
		}
	}
	if len(files) <= maxCachedDroplets {
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	for _, f := range files[:len(files)-maxCachedDroplets] {
		if f.path != keep {
			_ = os.Remove(f.path)
		}
	}
}

package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxFailures bounds the failures a load client remembers (the count goes
// on).
const maxFailures = 2000

// LoadOptions configures a load client.
type LoadOptions struct {
	// URL is the router's URL (Cluster.Load fills it in).
	URL string
	// Host is the Host header (Cluster.Load fills it in).
	Host string
	// Path is requested (default "/").
	Path string
	// Header is added to every request.
	Header http.Header
	// Want, when set, must appear in the body of a success.
	Want string
	// Workers is the number of concurrent requesters (default 2).
	Workers int
	// Interval is each worker's pause between requests (default 10ms).
	Interval time.Duration
	// Timeout bounds one request (default 2s).
	Timeout time.Duration
	// MaxRequests bounds the total (default 200000).
	MaxRequests int
	// MaxDuration bounds the run (default 5 min).
	MaxDuration time.Duration
}

// Failure is one failed request.
type Failure struct {
	// At is when the request was sent; Took how long it took to fail.
	At     time.Time
	Took   time.Duration
	Status int
	Err    string
}

func (f Failure) String() string {
	if f.Err != "" {
		return fmt.Sprintf("%s +%s: %s", f.At.Format("15:04:05.000"), f.Took.Round(time.Millisecond), f.Err)
	}
	return fmt.Sprintf("%s +%s: status %d", f.At.Format("15:04:05.000"), f.Took.Round(time.Millisecond), f.Status)
}

// LoadResult counts what a load client saw.
type LoadResult struct {
	OK, Failed       int
	Started, Stopped time.Time
	// Failures are the first maxFailures failures, in order.
	Failures []Failure
}

// FailedBetween returns the failures of requests sent in [from, to).
func (r LoadResult) FailedBetween(from, to time.Time) []Failure {
	var out []Failure
	for _, f := range r.Failures {
		if !f.At.Before(from) && f.At.Before(to) {
			out = append(out, f)
		}
	}
	return out
}

// Log reports the counts and up to 20 failures.
func (r LoadResult) Log(tb testing.TB, what string) {
	tb.Helper()
	tb.Logf("%s: %d ok, %d failed over %s", what, r.OK, r.Failed, r.Stopped.Sub(r.Started).Round(time.Millisecond))
	for i, f := range r.Failures {
		if i == 20 {
			tb.Logf("  ... %d more", len(r.Failures)-20)
			break
		}
		tb.Logf("  failed: %s", f)
	}
}

// Load is a running load client.
type Load struct {
	o      LoadOptions
	hc     *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	res LoadResult
}

// StartLoad sends GET requests in a loop until Stop (or its bounds).
func StartLoad(tb testing.TB, o LoadOptions) *Load {
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 200000
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.MaxDuration)
	l := &Load{o: o, cancel: cancel, hc: &http.Client{
		Timeout:   o.Timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers, IdleConnTimeout: 30 * time.Second},
	}}
	l.res.Started = time.Now()
	for i := 0; i < o.Workers; i++ {
		l.wg.Add(1)
		go l.worker(ctx)
	}
	tb.Cleanup(func() { l.Stop() })
	return l
}

// Load starts a load client on host.<domain> through the router.
func (c *Cluster) Load(host string, o LoadOptions) *Load {
	o.URL, o.Host = c.RouterURL, host+"."+c.Domain
	return StartLoad(c.tb, o)
}

func (l *Load) worker(ctx context.Context) {
	defer l.wg.Done()
	for ctx.Err() == nil {
		l.mu.Lock()
		if l.res.OK+l.res.Failed >= l.o.MaxRequests {
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		start := time.Now()
		status, err := l.once(ctx)
		if ctx.Err() != nil {
			return // a request cut short by Stop is not counted
		}
		l.mu.Lock()
		if err == nil && status == http.StatusOK {
			l.res.OK++
		} else {
			l.res.Failed++
			if len(l.res.Failures) < maxFailures {
				f := Failure{At: start, Took: time.Since(start), Status: status}
				if err != nil {
					f.Err = err.Error()
				}
				l.res.Failures = append(l.res.Failures, f)
			}
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(l.o.Interval):
		}
	}
}

func (l *Load) once(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.URL+l.o.Path, nil)
	if err != nil {
		return 0, err
	}
	req.Host = l.o.Host
	for k, vs := range l.o.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode == http.StatusOK && l.o.Want != "" && !strings.Contains(string(body), l.o.Want) {
		return resp.StatusCode, fmt.Errorf("body %q lacks %q", tail(string(body), 100), l.o.Want)
	}
	return resp.StatusCode, nil
}

// Snapshot returns the counts so far.
func (l *Load) Snapshot() LoadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.res
	r.Failures = append([]Failure(nil), l.res.Failures...)
	if r.Stopped.IsZero() {
		r.Stopped = time.Now()
	}
	return r
}

// Stop ends the load and returns the counts; it is safe to call twice.
func (l *Load) Stop() LoadResult {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	if l.res.Stopped.IsZero() {
		l.res.Stopped = time.Now()
	}
	l.mu.Unlock()
	l.hc.CloseIdleConnections()
	return l.Snapshot()
}

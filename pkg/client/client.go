// Package client is a typed Go client of ingot's Cloud Foundry v3 API: the
// calls the cf CLI makes (and the ingot CLI and end-to-end tests need),
// UAA-compatible login and token refresh, job polling, package uploads and
// log-cache reads.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultUploadTimeout  = 15 * time.Minute
	DefaultPollInterval   = time.Second
	// maxResponseBytes bounds every response body read.
	maxResponseBytes = 64 << 20
	// maxPages bounds how many pages a list may have.
	maxPages = 10000
	// retries is how many more times an idempotent request is tried.
	retries = 2
)

// TokenSource supplies the bearer access token of each request.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// invalidator is implemented by token sources that can drop a token the
// server rejected, so the next Token call fetches a fresh one.
type invalidator interface {
	Invalidate()
}

// Config configures a Client.
type Config struct {
	// APIURL is the Cloud Controller base URL (http://api.example.com).
	APIURL string
	// Token supplies access tokens; nil sends no Authorization header.
	Token TokenSource
	// HTTP is the client to use; nil means NewHTTPClient(false).
	HTTP *http.Client
	// UserAgent is sent with every request (default "ingot-client").
	UserAgent string
	// RequestTimeout bounds each request (default 30 s).
	RequestTimeout time.Duration
	// UploadTimeout bounds a package upload (default 15 min).
	UploadTimeout time.Duration
	// PollInterval is the pause between job, package and build polls
	// (default 1 s; the cf CLI uses 3 s).
	PollInterval time.Duration
	// OnWarning, when set, receives each X-Cf-Warnings entry.
	OnWarning func(string)
}

// Client talks to one Cloud Controller. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL

	mu   sync.Mutex
	root *Root
}

// NewHTTPClient returns an HTTP client with bounded dial, TLS and header
// timeouts; skipSSL disables certificate verification.
func NewHTTPClient(skipSSL bool) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 6 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
	}
	if skipSSL {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	return &http.Client{Transport: tr}
}

// parseBaseURL validates an API URL.
func parseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("api url is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse api url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("api url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("api url %q has no host", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// New makes a client.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	if cfg.HTTP == nil {
		cfg.HTTP = NewHTTPClient(false)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ingot-client"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	return &Client{cfg: cfg, base: base}, nil
}

// APIURL returns the normalized API base URL.
func (c *Client) APIURL() string { return c.base.String() }

// request describes one API call.
type request struct {
	method string
	// path is a path under the API URL ("/v3/apps") or an absolute URL
	// (a pagination or job link).
	path  string
	query url.Values
	// body is a replayable body; stream is a one-shot body of length
	// bytes (uploads), never retried.
	body        []byte
	stream      io.Reader
	length      int64
	contentType string
	noAuth      bool
	// raw sends path as given (an absolute URL on another service, such
	// as log-cache) instead of resolving it on the API host.
	raw     bool
	timeout time.Duration
}

// response is what callers need besides the decoded body.
type response struct {
	status int
	header http.Header
	body   []byte
}

// resolve turns a path or absolute link into a URL on the API host. An
// absolute link on another host keeps its path but is sent to the API host,
// so a controller with a wrong external URL still works.
func (c *Client) resolve(p string, q url.Values, raw bool) (string, error) {
	if raw {
		return p, nil
	}
	var u *url.URL
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		parsed, err := url.Parse(p)
		if err != nil {
			return "", fmt.Errorf("parse link %q: %w", p, err)
		}
		if parsed.Host != c.base.Host {
			parsed.Scheme, parsed.Host = c.base.Scheme, c.base.Host
		}
		u = parsed
	} else {
		ref, err := url.Parse(p)
		if err != nil {
			return "", fmt.Errorf("parse path %q: %w", p, err)
		}
		u = &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, User: c.base.User,
			Path: c.base.Path + "/" + strings.TrimLeft(ref.Path, "/"), RawQuery: ref.RawQuery}
	}
	if len(q) > 0 {
		merged := u.Query()
		for k, vs := range q {
			merged[k] = vs
		}
		u.RawQuery = merged.Encode()
	}
	return u.String(), nil
}

// do runs a request with retries and decodes a JSON body into out (when
// non-nil and the body is non-empty). Non-2xx answers become *APIError.
func (c *Client) do(ctx context.Context, req request, out any) (*response, error) {
	attempts := 1
	if req.method != http.MethodPost && req.stream == nil {
		attempts += retries
	}
	authRetried := false
	for i := 0; ; i++ {
		resp, err := c.once(ctx, req)
		if err != nil {
			var te *tokenError
			if ctx.Err() != nil || errors.As(err, &te) {
				return nil, err
			}
			if i+1 < attempts {
				if werr := sleepCtx(ctx, backoff(i)); werr != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		c.warnings(resp.header)
		switch {
		case resp.status == http.StatusBadGateway || resp.status == http.StatusServiceUnavailable ||
			resp.status == http.StatusGatewayTimeout:
			if i+1 < attempts {
				if werr := sleepCtx(ctx, backoff(i)); werr != nil {
					return nil, werr
				}
				continue
			}
		case resp.status == http.StatusUnauthorized && !authRetried && req.stream == nil && !req.noAuth:
			if inv, ok := c.cfg.Token.(invalidator); ok {
				inv.Invalidate()
				authRetried = true
				i--
				continue
			}
		}
		if resp.status < 200 || resp.status > 299 {
			return resp, decodeAPIError(resp.status, resp.body)
		}
		if out != nil && len(bytes.TrimSpace(resp.body)) > 0 {
			if err := json.Unmarshal(resp.body, out); err != nil {
				return resp, fmt.Errorf("decode %s %s response: %w", req.method, req.path, err)
			}
		}
		return resp, nil
	}
}

// tokenError is a failure to get an access token; it is not retried.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func backoff(attempt int) time.Duration { return time.Duration(attempt+1) * 250 * time.Millisecond }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// once sends the request a single time and reads the whole (bounded) body.
func (c *Client) once(ctx context.Context, req request) (*response, error) {
	timeout := req.timeout
	if timeout <= 0 {
		timeout = c.cfg.RequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target, err := c.resolve(req.path, req.query, req.raw)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	switch {
	case req.stream != nil:
		body = req.stream
	case req.body != nil:
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if req.stream != nil {
		hr.ContentLength = req.length
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	if body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if !req.noAuth && c.cfg.Token != nil {
		tok, err := c.cfg.Token.Token(ctx)
		if err != nil {
			return nil, &tokenError{err: err}
		}
		hr.Header.Set("Authorization", "bearer "+tok)
	}
	res, err := c.cfg.HTTP.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, hr.URL.Redacted(), err)
	}
	defer res.Body.Close()
	data, err := readBounded(res.Body, maxResponseBytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", req.method, hr.URL.Redacted(), err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: data}, nil
}

func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrResponseTooLarge
	}
	return data, nil
}

// warnings passes X-Cf-Warnings entries to OnWarning.
func (c *Client) warnings(h http.Header) {
	if c.cfg.OnWarning == nil {
		return
	}
	for _, v := range h.Values("X-Cf-Warnings") {
		for _, w := range strings.Split(v, ",") {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			if dec, err := url.QueryUnescape(w); err == nil {
				w = dec
			}
			c.cfg.OnWarning(w)
		}
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// get decodes GET path into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, out)
	return err
}

// send sends a JSON body with method and decodes the answer into out.
func (c *Client) send(ctx context.Context, method, path string, in, out any) (*response, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
	}
	return c.do(ctx, request{method: method, path: path, body: body}, out)
}

// page is one page of a list.
type page[T any] struct {
	Pagination Pagination `json:"pagination"`
	Resources  *[]T       `json:"resources"`
}

// listAll fetches every page of a list by following pagination.next.href.
func listAll[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	var out []T
	next, nq := path, q
	for n := 0; next != ""; n++ {
		if n >= maxPages {
			return nil, ErrTooManyPages
		}
		var p page[T]
		if err := c.get(ctx, next, nq, &p); err != nil {
			return nil, err
		}
		if p.Resources == nil {
			return nil, fmt.Errorf("list %s: response has no resources", path)
		}
		out = append(out, *p.Resources...)
		next, nq = "", nil
		if p.Pagination.Next != nil && p.Pagination.Next.Href != "" {
			next = p.Pagination.Next.Href
		}
	}
	return out, nil
}

// first returns the first item of the first page of a list, or a
// not-found error naming kind and name.
func first[T any](ctx context.Context, c *Client, path string, q url.Values, kind, name string) (*T, error) {
	var p page[T]
	if err := c.get(ctx, path, q, &p); err != nil {
		return nil, err
	}
	if p.Resources == nil {
		return nil, fmt.Errorf("list %s: response has no resources", path)
	}
	if len(*p.Resources) == 0 {
		return nil, notFound(kind, name)
	}
	return &(*p.Resources)[0], nil
}

// Root fetches GET / (unauthenticated) and remembers it.
func (c *Client) Root(ctx context.Context) (*Root, error) {
	var r Root
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/", noAuth: true}, &r); err != nil {
		return nil, fmt.Errorf("get api root: %w", err)
	}
	c.mu.Lock()
	c.root = &r
	c.mu.Unlock()
	return &r, nil
}

// cachedRoot returns the root, fetching it once.
func (c *Client) cachedRoot(ctx context.Context) (*Root, error) {
	c.mu.Lock()
	r := c.root
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	return c.Root(ctx)
}

// pathEscape escapes a guid or name used as a path segment.
func pathEscape(s string) string { return url.PathEscape(s) }

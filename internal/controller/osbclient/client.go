// Package osbclient is the Cloud Controller's client of the Open Service
// Broker API v2.17: catalog, provision, update, deprovision, bind, unbind
// and last_operation polling, with the headers the spec asks a platform to
// send (X-Broker-API-Version, X-Broker-API-Originating-Identity,
// X-Broker-API-Request-Identity), HTTP basic auth, a timeout on every
// request, bounded response bodies, retries of idempotent reads, and orphan
// mitigation (see Mitigator): a provision or bind whose outcome the platform
// could not learn (a timeout, a 5xx, a malformed 201) is deprovisioned or
// unbound in the background until the broker confirms.
package osbclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Sentinel errors. Broker answers that are errors are *Error values, which
// also match these where it applies (errors.Is).
var (
	// ErrConfig: the client's config is unusable.
	ErrConfig = errors.New("osbclient: invalid config")
	// ErrTimeout: the broker did not answer within the request timeout.
	ErrTimeout = errors.New("broker did not answer in time")
	// ErrGone: the broker says the resource does not exist (410 on a
	// delete or on a delete's last_operation).
	ErrGone = errors.New("gone")
	// ErrMalformed: the broker's answer could not be understood.
	ErrMalformed = errors.New("malformed broker response")
	// ErrBroker: the broker answered with an error status.
	ErrBroker = errors.New("broker error")
	// ErrUnreachable: the broker could not be reached.
	ErrUnreachable = errors.New("broker unreachable")
)

// Error is a broker's error answer.
type Error struct {
	Op          string // "provision", "bind", …
	Status      int
	Code        string // the OSB "error" field, e.g. "ConcurrencyError"
	Description string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "broker answered %s with status %d", e.Op, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	return b.String()
}

// Is makes every *Error match ErrBroker, and 410s match ErrGone.
func (e *Error) Is(target error) bool {
	return target == ErrBroker || (target == ErrGone && e.Status == http.StatusGone)
}

// Config configures a Client.
type Config struct {
	URL      string
	Username string
	Password string
	// Timeout bounds each request (default 60 s, CF's
	// broker_client_timeout_seconds).
	Timeout time.Duration
	// MaxBodyBytes bounds a response body (default 4 MiB).
	MaxBodyBytes int64
	// Retries is how many times a failed idempotent read (catalog,
	// last_operation, fetch binding) is retried (default 2).
	Retries int
	// RetryBackoff is the pause before the first retry, doubled each time
	// (default 200 ms).
	RetryBackoff time.Duration
	// Transport is the HTTP transport (default a clone of
	// http.DefaultTransport).
	Transport http.RoundTripper
	// Mitigator, when set, receives the orphan mitigation of provisions and
	// binds that need it.
	Mitigator *Mitigator
}

// Client talks to one broker. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
}

// New returns a client of the broker at cfg.URL.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: broker url %q must be an absolute http(s) URL", ErrConfig, cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("%w: retries must be >= 0", ErrConfig)
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{cfg: cfg, base: u, http: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// URL is the broker's base URL.
func (c *Client) URL() string { return c.base.String() }

type identityKey struct{}

// WithOriginatingIdentity returns a context whose requests carry
// X-Broker-API-Originating-Identity for userGUID, as Cloud Foundry sends it
// ("cloudfoundry " + base64 of {"user_id": …}).
func WithOriginatingIdentity(ctx context.Context, userGUID string) context.Context {
	if userGUID == "" {
		return ctx
	}
	return context.WithValue(ctx, identityKey{}, userGUID)
}

func originatingIdentity(ctx context.Context) string {
	u, _ := ctx.Value(identityKey{}).(string)
	if u == "" {
		return ""
	}
	b, _ := json.Marshal(map[string]string{"user_id": u})
	return "cloudfoundry " + base64.StdEncoding.EncodeToString(b)
}

// response is a broker answer read in full.
type response struct {
	status     int
	body       []byte
	retryAfter time.Duration
}

// do sends one request and reads the whole (bounded) answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any) (*response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set(osb.HeaderAPIVersion, osb.APIVersion)
	req.Header.Set(osb.HeaderRequestIdentity, uuid.NewString())
	if id := originatingIdentity(ctx); id != "" {
		req.Header.Set(osb.HeaderOriginatingIdentity, id)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
		if err == nil {
			if int64(len(b)) > c.cfg.MaxBodyBytes {
				return nil, fmt.Errorf("%w: body over %d bytes", ErrMalformed, c.cfg.MaxBodyBytes)
			}
			r := &response{status: resp.StatusCode, body: b}
			if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
				r.retryAfter = time.Duration(s) * time.Second
			}
			return r, nil
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%s %s: %w (%s)", method, path, ErrTimeout, c.cfg.Timeout)
	}
	return nil, fmt.Errorf("%s %s: %w: %w", method, path, ErrUnreachable, err)
}

// doRead is do with retries, for idempotent reads: transport errors,
// timeouts and 5xx answers are retried.
func (c *Client) doRead(ctx context.Context, path string, q url.Values) (*response, error) {
	backoff := c.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		r, err := c.do(ctx, http.MethodGet, path, q, nil)
		retry := (err != nil && ctx.Err() == nil) || (err == nil && r.status >= 500)
		if !retry || attempt >= c.cfg.Retries {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// brokerError builds the *Error of an error answer.
func brokerError(op string, r *response) *Error {
	e := &Error{Op: op, Status: r.status}
	var body osb.ErrorResponse
	if json.Unmarshal(r.body, &body) == nil {
		e.Code, e.Description = body.Error, body.Description
	}
	if e.Description == "" && e.Code == "" {
		e.Description = strings.TrimSpace(string(truncate(r.body, 200)))
	}
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Catalog fetches and validates the broker's catalog.
func (c *Client) Catalog(ctx context.Context) (*osb.Catalog, error) {
	r, err := c.doRead(ctx, "/v2/catalog", nil)
	if err != nil {
		return nil, fmt.Errorf("fetch catalog: %w", err)
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("fetch catalog: %w", brokerError("catalog", r))
	}
	var cat osb.Catalog
	if err := json.Unmarshal(r.body, &cat); err != nil {
		return nil, fmt.Errorf("fetch catalog: %w: %w", ErrMalformed, err)
	}
	if err := ValidateCatalog(&cat); err != nil {
		return nil, fmt.Errorf("fetch catalog: %w: %w", ErrMalformed, err)
	}
	return &cat, nil
}

// ValidateCatalog checks what a platform needs of a catalog: at least one
// service; ids, names and descriptions present; names without whitespace;
// ids unique across services and plans; service names unique, and plan
// names unique within their service. It is deliberately laxer than the
// built-in brokers' own check (third-party brokers use capitals, e.g.
// "MongoDB").
func ValidateCatalog(c *osb.Catalog) error {
	var errs []error
	if len(c.Services) == 0 {
		errs = append(errs, errors.New("no services"))
	}
	ids, names := map[string]bool{}, map[string]bool{}
	badName := func(n string) bool { return n == "" || strings.ContainsAny(n, " \t\r\n") }
	for i, s := range c.Services {
		if s.ID == "" || badName(s.Name) || s.Description == "" {
			errs = append(errs, fmt.Errorf("service %d (%q): id, a name without spaces and a description are required", i, s.Name))
		}
		if ids[s.ID] {
			errs = append(errs, fmt.Errorf("duplicate id %q", s.ID))
		}
		ids[s.ID] = true
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("duplicate service name %q", s.Name))
		}
		names[s.Name] = true
		if len(s.Plans) == 0 {
			errs = append(errs, fmt.Errorf("service %q has no plans", s.Name))
		}
		plans := map[string]bool{}
		for j, p := range s.Plans {
			if p.ID == "" || badName(p.Name) || p.Description == "" {
				errs = append(errs, fmt.Errorf("service %q plan %d (%q): id, a name without spaces and a description are required", s.Name, j, p.Name))
			}
			if ids[p.ID] {
				errs = append(errs, fmt.Errorf("duplicate id %q", p.ID))
			}
			ids[p.ID] = true
			if plans[p.Name] {
				errs = append(errs, fmt.Errorf("service %q: duplicate plan name %q", s.Name, p.Name))
			}
			plans[p.Name] = true
		}
	}
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("and %d more problems", len(errs)-10))
	}
	return errors.Join(errs...)
}

// Result is the answer to provision, update, deprovision and unbind.
type Result struct {
	// Async is true when the broker answered 202: poll last_operation
	// with Operation.
	Async     bool
	Operation string
	// DashboardURL of a provision or update, when the broker sent one.
	DashboardURL string
	// Existed is true when a provision was answered 200 (the instance
	// already existed with the same attributes).
	Existed bool
}

func asyncQuery() url.Values { return url.Values{"accepts_incomplete": {"true"}} }

func idsQuery(serviceID, planID string) url.Values {
	q := asyncQuery()
	q.Set("service_id", serviceID)
	q.Set("plan_id", planID)
	return q
}

// needsMitigation reports whether a provision or bind answered with r (or
// not at all, err) may have left something on the broker that the
// platform does not know about (OSB spec, "Orphan Mitigation").
func needsMitigation(r *response, err error, malformed bool) bool {
	if err != nil {
		return errors.Is(err, ErrTimeout)
	}
	switch {
	case r.status >= 500:
		return true
	case r.status == http.StatusCreated:
		return malformed
	case r.status >= 200 && r.status < 300:
		return r.status != http.StatusOK && r.status != http.StatusAccepted
	}
	return false
}

// Provision creates instance id. A timeout, a 5xx or a malformed 201 is
// returned as an error and, with a Mitigator, deprovisioned in the
// background.
func (c *Client) Provision(ctx context.Context, id string, req osb.ProvisionRequest) (Result, error) {
	path := "/v2/service_instances/" + url.PathEscape(id)
	r, err := c.do(ctx, http.MethodPut, path, asyncQuery(), req)
	var res Result
	malformed := false
	if err == nil && (r.status == http.StatusOK || r.status == http.StatusCreated || r.status == http.StatusAccepted) {
		var body osb.ProvisionResponse
		if len(bytes.TrimSpace(r.body)) > 0 {
			if jerr := json.Unmarshal(r.body, &body); jerr != nil {
				malformed = true
			}
		}
		res = Result{Async: r.status == http.StatusAccepted, Operation: body.Operation,
			DashboardURL: body.DashboardURL, Existed: r.status == http.StatusOK}
	}
	if needsMitigation(r, err, malformed) {
		c.mitigate(Task{Kind: TaskDeprovision, InstanceID: id, ServiceID: req.ServiceID, PlanID: req.PlanID})
	}
	switch {
	case err != nil:
		return Result{}, fmt.Errorf("provision %s: %w", id, err)
	case malformed && r.status == http.StatusCreated:
		return Result{}, fmt.Errorf("provision %s: %w: status 201 with a body that is not JSON", id, ErrMalformed)
	case r.status == http.StatusOK || r.status == http.StatusCreated || r.status == http.StatusAccepted:
		return res, nil
	}
	return Result{}, fmt.Errorf("provision %s: %w", id, brokerError("provision", r))
}

// Update changes instance id's plan or parameters.
func (c *Client) Update(ctx context.Context, id string, req osb.UpdateRequest) (Result, error) {
	path := "/v2/service_instances/" + url.PathEscape(id)
	r, err := c.do(ctx, http.MethodPatch, path, asyncQuery(), req)
	if err != nil {
		return Result{}, fmt.Errorf("update %s: %w", id, err)
	}
	switch r.status {
	case http.StatusOK, http.StatusAccepted:
		var body osb.UpdateResponse
		_ = json.Unmarshal(r.body, &body) // an update's body is optional
		return Result{Async: r.status == http.StatusAccepted, Operation: body.Operation, DashboardURL: body.DashboardURL}, nil
	}
	return Result{}, fmt.Errorf("update %s: %w", id, brokerError("update", r))
}

// Deprovision deletes instance id. A 410 is returned as ErrGone (the
// instance is gone: treat as success).
func (c *Client) Deprovision(ctx context.Context, id, serviceID, planID string) (Result, error) {
	path := "/v2/service_instances/" + url.PathEscape(id)
	r, err := c.do(ctx, http.MethodDelete, path, idsQuery(serviceID, planID), nil)
	if err != nil {
		return Result{}, fmt.Errorf("deprovision %s: %w", id, err)
	}
	return deleteResult("deprovision", id, r)
}

func deleteResult(op, id string, r *response) (Result, error) {
	switch r.status {
	case http.StatusOK:
		return Result{}, nil
	case http.StatusAccepted:
		var body osb.OperationResponse
		_ = json.Unmarshal(r.body, &body)
		return Result{Async: true, Operation: body.Operation}, nil
	case http.StatusGone:
		return Result{}, fmt.Errorf("%s %s: %w", op, id, ErrGone)
	}
	return Result{}, fmt.Errorf("%s %s: %w", op, id, brokerError(op, r))
}

// BindResult is the answer to a bind.
type BindResult struct {
	Async     bool
	Operation string
	// Binding holds the credentials of a synchronous bind.
	Binding osb.BindingResponse
}

// Bind creates binding bindingID of instance instanceID. Like Provision, a
// timeout, a 5xx or a malformed 201 is unbound in the background.
func (c *Client) Bind(ctx context.Context, instanceID, bindingID string, req osb.BindRequest) (BindResult, error) {
	path := "/v2/service_instances/" + url.PathEscape(instanceID) + "/service_bindings/" + url.PathEscape(bindingID)
	r, err := c.do(ctx, http.MethodPut, path, asyncQuery(), req)
	var res BindResult
	malformed := false
	if err == nil {
		switch r.status {
		case http.StatusOK, http.StatusCreated:
			if jerr := json.Unmarshal(r.body, &res.Binding); jerr != nil {
				malformed = true
			}
		case http.StatusAccepted:
			var body osb.OperationResponse
			_ = json.Unmarshal(r.body, &body)
			res = BindResult{Async: true, Operation: body.Operation}
		}
	}
	if needsMitigation(r, err, malformed) {
		c.mitigate(Task{Kind: TaskUnbind, InstanceID: instanceID, BindingID: bindingID,
			ServiceID: req.ServiceID, PlanID: req.PlanID})
	}
	switch {
	case err != nil:
		return BindResult{}, fmt.Errorf("bind %s: %w", bindingID, err)
	case malformed:
		return BindResult{}, fmt.Errorf("bind %s: %w: status %d with a body that is not a binding", bindingID, ErrMalformed, r.status)
	case r.status == http.StatusOK || r.status == http.StatusCreated || r.status == http.StatusAccepted:
		return res, nil
	}
	return BindResult{}, fmt.Errorf("bind %s: %w", bindingID, brokerError("bind", r))
}

// FetchBinding reads a binding (after an asynchronous bind succeeded).
func (c *Client) FetchBinding(ctx context.Context, instanceID, bindingID, serviceID, planID string) (*osb.BindingResponse, error) {
	path := "/v2/service_instances/" + url.PathEscape(instanceID) + "/service_bindings/" + url.PathEscape(bindingID)
	q := url.Values{"service_id": {serviceID}, "plan_id": {planID}}
	r, err := c.doRead(ctx, path, q)
	if err != nil {
		return nil, fmt.Errorf("fetch binding %s: %w", bindingID, err)
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("fetch binding %s: %w", bindingID, brokerError("fetch binding", r))
	}
	var b osb.BindingResponse
	if err := json.Unmarshal(r.body, &b); err != nil {
		return nil, fmt.Errorf("fetch binding %s: %w: %w", bindingID, ErrMalformed, err)
	}
	return &b, nil
}

// Unbind deletes a binding. A 410 is returned as ErrGone.
func (c *Client) Unbind(ctx context.Context, instanceID, bindingID, serviceID, planID string) (Result, error) {
	path := "/v2/service_instances/" + url.PathEscape(instanceID) + "/service_bindings/" + url.PathEscape(bindingID)
	r, err := c.do(ctx, http.MethodDelete, path, idsQuery(serviceID, planID), nil)
	if err != nil {
		return Result{}, fmt.Errorf("unbind %s: %w", bindingID, err)
	}
	return deleteResult("unbind", bindingID, r)
}

func (c *Client) mitigate(t Task) {
	if c.cfg.Mitigator != nil {
		t.Client = c
		c.cfg.Mitigator.Enqueue(t)
	}
}

// Package osbtest checks a service broker against the Open Service Broker
// API v2.17: Run is the HTTP conformance suite any broker (ingot's built-in
// ones or another) can be run against, RunStore is the conformance suite of
// osb.Store implementations, and Client is a small OSB client for tests.
package osbtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Target is the broker under test: a base URL, or a handler that is then
// served on a local test server.
type Target struct {
	URL      string
	Handler  http.Handler
	Username string
	Password string
}

// Client calls a broker's OSB API in tests.
type Client struct {
	URL      string
	Username string
	Password string
	// Version is sent as X-Broker-API-Version; "" sends none.
	Version string
	HTTP    *http.Client
}

// NewClient returns a client of target, starting a test server (closed at
// the end of the test) when target has a Handler.
func NewClient(t testing.TB, target Target) *Client {
	t.Helper()
	base := target.URL
	if target.Handler != nil {
		srv := httptest.NewServer(target.Handler)
		t.Cleanup(srv.Close)
		base = srv.URL
	}
	if base == "" {
		t.Fatal("osbtest: the target needs a URL or a Handler")
	}
	return &Client{
		URL:      strings.TrimRight(base, "/"),
		Username: target.Username,
		Password: target.Password,
		Version:  osb.APIVersion,
		HTTP:     &http.Client{Timeout: 90 * time.Second},
	}
}

// Response is a broker's answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is the decoded JSON object, nil if the body was not one.
	Body map[string]any
}

// String returns the body's value at key, "" if absent or not a string.
func (r Response) String(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// Object returns the body's object at key.
func (r Response) Object(key string) map[string]any {
	m, _ := r.Body[key].(map[string]any)
	return m
}

// Do sends one request; body (if not nil) is encoded as JSON unless it is a
// []byte, which is sent as is.
func (c *Client) Do(t testing.TB, method, path string, body any) Response {
	t.Helper()
	return c.do(t, method, path, body, c.Username, c.Password, c.Version)
}

func (c *Client) do(t testing.TB, method, path string, body any, user, pass, version string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("osbtest: encode body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		t.Fatalf("osbtest: %s %s: %v", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if version != "" {
		req.Header.Set(osb.HeaderAPIVersion, version)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set(osb.HeaderRequestIdentity, "osbtest-"+time.Now().Format("150405.000000"))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("osbtest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("osbtest: %s %s: read body: %v", method, path, err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		out.Body = obj
	}
	return out
}

// InstancePath is the path of a service instance.
func InstancePath(id string) string { return "/v2/service_instances/" + url.PathEscape(id) }

// BindingPath is the path of a service binding.
func BindingPath(instanceID, bindingID string) string {
	return InstancePath(instanceID) + "/service_bindings/" + url.PathEscape(bindingID)
}

func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// ProvisionBody builds a provision request body.
func ProvisionBody(serviceID, planID string, params map[string]any) map[string]any {
	body := map[string]any{
		"service_id":        serviceID,
		"plan_id":           planID,
		"organization_guid": "org-osbtest",
		"space_guid":        "space-osbtest",
		"context": map[string]any{
			"platform":          "cloudfoundry",
			"organization_guid": "org-osbtest",
			"space_guid":        "space-osbtest",
		},
	}
	if params != nil {
		body["parameters"] = params
	}
	return body
}

// BindBody builds a bind request body for an app.
func BindBody(serviceID, planID, appGUID string, params map[string]any) map[string]any {
	body := map[string]any{
		"service_id":    serviceID,
		"plan_id":       planID,
		"bind_resource": map[string]any{"app_guid": appGUID},
		"context":       map[string]any{"platform": "cloudfoundry"},
	}
	if params != nil {
		body["parameters"] = params
	}
	return body
}

// Provision sends a synchronous provision.
func (c *Client) Provision(t testing.TB, id, serviceID, planID string, params map[string]any) Response {
	t.Helper()
	return c.Do(t, http.MethodPut, InstancePath(id), ProvisionBody(serviceID, planID, params))
}

// ProvisionAsync sends a provision with accepts_incomplete=true.
func (c *Client) ProvisionAsync(t testing.TB, id, serviceID, planID string, params map[string]any) Response {
	t.Helper()
	return c.Do(t, http.MethodPut, InstancePath(id)+"?accepts_incomplete=true", ProvisionBody(serviceID, planID, params))
}

// Update sends a synchronous plan change.
func (c *Client) Update(t testing.TB, id, serviceID, planID string, params map[string]any) Response {
	t.Helper()
	body := map[string]any{"service_id": serviceID, "plan_id": planID}
	if params != nil {
		body["parameters"] = params
	}
	return c.Do(t, http.MethodPatch, InstancePath(id), body)
}

// Deprovision sends a synchronous deprovision.
func (c *Client) Deprovision(t testing.TB, id, serviceID, planID string) Response {
	t.Helper()
	return c.Do(t, http.MethodDelete, InstancePath(id)+query("service_id", serviceID, "plan_id", planID), nil)
}

// Bind sends a bind for appGUID.
func (c *Client) Bind(t testing.TB, instanceID, bindingID, serviceID, planID, appGUID string, params map[string]any) Response {
	t.Helper()
	return c.Do(t, http.MethodPut, BindingPath(instanceID, bindingID), BindBody(serviceID, planID, appGUID, params))
}

// Unbind sends an unbind.
func (c *Client) Unbind(t testing.TB, instanceID, bindingID, serviceID, planID string) Response {
	t.Helper()
	return c.Do(t, http.MethodDelete, BindingPath(instanceID, bindingID)+query("service_id", serviceID, "plan_id", planID), nil)
}

// LastOperation polls an instance's last operation once.
func (c *Client) LastOperation(t testing.TB, id, operation string) Response {
	t.Helper()
	path := InstancePath(id) + "/last_operation"
	if operation != "" {
		path += query("operation", operation)
	}
	return c.Do(t, http.MethodGet, path, nil)
}

// WaitLastOperation polls an instance's last operation until it is no
// longer "in progress" (or is gone, 410) and returns the final answer.
func (c *Client) WaitLastOperation(t testing.TB, id, operation string, timeout time.Duration) Response {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp := c.LastOperation(t, id, operation)
		if resp.Status != http.StatusOK || resp.String("state") != osb.StateInProgress {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("osbtest: operation %s on %s still in progress after %s", operation, id, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Catalog fetches and decodes the catalog.
func (c *Client) Catalog(t testing.TB) osb.Catalog {
	t.Helper()
	resp := c.Do(t, http.MethodGet, "/v2/catalog", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("osbtest: GET /v2/catalog: %d %s", resp.Status, resp.Raw)
	}
	var cat osb.Catalog
	if err := json.Unmarshal(resp.Raw, &cat); err != nil {
		t.Fatalf("osbtest: decode catalog: %v", err)
	}
	return cat
}

package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
)

func strp(s string) *string { return &s }

// TestRequestShapes checks the method, path and JSON body of calls against
// the shapes the cf CLI sends.
func TestRequestShapes(t *testing.T) {
	three, mem := 3, int64(512)
	tests := []struct {
		name   string
		call   func(context.Context, *Client) error
		method string
		path   string
		body   string // JSON; "" = no body
	}{
		{"create package", func(ctx context.Context, c *Client) error { _, err := c.CreatePackage(ctx, "a1"); return err },
			"POST", "/v3/packages", `{"type":"bits","relationships":{"app":{"data":{"guid":"a1"}}}}`},
		{"create build", func(ctx context.Context, c *Client) error { _, err := c.CreateBuild(ctx, "p1"); return err },
			"POST", "/v3/builds", `{"package":{"guid":"p1"}}`},
		{"scale", func(ctx context.Context, c *Client) error {
			_, err := c.ScaleProcess(ctx, "a1", "web", &three, &mem, nil)
			return err
		}, "POST", "/v3/apps/a1/processes/web/actions/scale", `{"instances":3,"memory_in_mb":512}`},
		{"scale to zero", func(ctx context.Context, c *Client) error {
			zero := 0
			_, err := c.ScaleProcess(ctx, "a1", "web", &zero, nil, nil)
			return err
		}, "POST", "/v3/apps/a1/processes/web/actions/scale", `{"instances":0}`},
		{"set droplet", func(ctx context.Context, c *Client) error { return c.SetCurrentDroplet(ctx, "a1", "d1") },
			"PATCH", "/v3/apps/a1/relationships/current_droplet", `{"data":{"guid":"d1"}}`},
		{"env vars", func(ctx context.Context, c *Client) error {
			_, err := c.UpdateEnvVars(ctx, "a1", map[string]*string{"K": strp("V"), "GONE": nil})
			return err
		}, "PATCH", "/v3/apps/a1/environment_variables", `{"var":{"K":"V","GONE":null}}`},
		{"create app", func(ctx context.Context, c *Client) error {
			_, err := c.CreateApp(ctx, CreateAppRequest{Name: "web", SpaceGUID: "s1", Buildpacks: []string{"go"}})
			return err
		}, "POST", "/v3/apps", `{"name":"web","relationships":{"space":{"data":{"guid":"s1"}}},"lifecycle":{"type":"buildpack","data":{"buildpacks":["go"]}}}`},
		{"create route", func(ctx context.Context, c *Client) error {
			_, err := c.CreateRoute(ctx, CreateRouteRequest{SpaceGUID: "s1", DomainGUID: "d1", Host: "web", Path: "/x"})
			return err
		}, "POST", "/v3/routes", `{"host":"web","path":"/x","relationships":{"space":{"data":{"guid":"s1"}},"domain":{"data":{"guid":"d1"}}}}`},
		{"map route", func(ctx context.Context, c *Client) error { return c.MapRoute(ctx, "r1", "a1") },
			"POST", "/v3/routes/r1/destinations", `{"destinations":[{"app":{"guid":"a1"}}]}`},
		{"unmap route", func(ctx context.Context, c *Client) error { return c.UnmapRoute(ctx, "r1", "dest1") },
			"DELETE", "/v3/routes/r1/destinations/dest1", ""},
		{"restart", func(ctx context.Context, c *Client) error { _, err := c.RestartApp(ctx, "a1"); return err },
			"POST", "/v3/apps/a1/actions/restart", ""},
		{"default domain", func(ctx context.Context, c *Client) error { _, err := c.GetDefaultDomain(ctx, "o1"); return err },
			"GET", "/v3/organizations/o1/domains/default", ""},
		{"current droplet", func(ctx context.Context, c *Client) error { _, err := c.GetCurrentDroplet(ctx, "a1"); return err },
			"GET", "/v3/apps/a1/droplets/current", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != tt.method || r.URL.Path != tt.path {
					t.Errorf("got %s %s, want %s %s", r.Method, r.URL.Path, tt.method, tt.path)
				}
				body, _ := io.ReadAll(r.Body)
				if tt.body == "" {
					if len(body) != 0 {
						t.Errorf("unexpected body %s", body)
					}
				} else {
					var got, want any
					if err := json.Unmarshal(body, &got); err != nil {
						t.Fatalf("body %q: %v", body, err)
					}
					_ = json.Unmarshal([]byte(tt.body), &want)
					if !reflect.DeepEqual(got, want) {
						t.Errorf("body = %s\nwant   %s", body, tt.body)
					}
					if ct := r.Header.Get("Content-Type"); ct != "application/json" {
						t.Errorf("content type %q", ct)
					}
				}
				writeJSON(w, 200, map[string]any{"guid": "x", "var": map[string]any{}})
			}))
			if err := tt.call(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestResourceMatchesChunks(t *testing.T) {
	var calls atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct {
			Resources []Resource `json:"resources"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Resources) > resourceMatchChunk {
			t.Errorf("chunk of %d (%v)", len(in.Resources), err)
		}
		// The server has the first file of every chunk.
		writeJSON(w, 201, map[string]any{"resources": in.Resources[:1]})
	}))
	res := make([]Resource, 2500)
	for i := range res {
		res[i] = Resource{Path: "f", Mode: "644", Checksum: ResourceChecksum{Value: "x"}, SizeInBytes: 1}
	}
	got, err := c.ResourceMatches(context.Background(), res)
	if err != nil || len(got) != 3 || calls.Load() != 3 {
		t.Fatalf("got %d matches in %d calls: %v", len(got), calls.Load(), err)
	}
}

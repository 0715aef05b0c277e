package controller

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/logs"
)

type linkMeta struct {
	Href string            `json:"href"`
	Meta map[string]string `json:"meta,omitempty"`
}

// getRoot serves GET /: the links the cf CLI stores at `cf api`.
func (c *Controller) getRoot(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"links": map[string]any{
			"self":                linkMeta{Href: c.url},
			"cloud_controller_v3": linkMeta{Href: c.url + "/v3", Meta: map[string]string{"version": APIVersion}},
			"login":               linkMeta{Href: c.url},
			"uaa":                 linkMeta{Href: c.url},
			"log_cache":           linkMeta{Href: c.url},
		},
	})
}

// getV3Root serves GET /v3.
func (c *Controller) getV3Root(w http.ResponseWriter, r *http.Request) error {
	links := presenters.Links{"self": {Href: c.url + "/v3"}}
	for _, name := range []string{"apps", "builds", "domains", "droplets", "jobs", "organizations", "packages", "processes", "resource_matches", "roles", "routes", "spaces"} {
		links[name] = presenters.Link{Href: c.url + "/v3/" + name}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"links": links})
}

// getInfo serves GET /v3/info.
func (c *Controller) getInfo(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"build":       "",
		"cli_version": map[string]any{"minimum": nil, "recommended": nil},
		"custom":      map[string]any{"router_url": c.cfg.RouterURL, "apps_domain": c.cfg.Domain},
		"description": "ingot, a self-hosted platform as a service",
		"name":        "ingot",
		"version":     0,
		"links": map[string]any{
			"self":    presenters.Link{Href: c.url + "/v3/info"},
			"support": presenters.Link{Href: c.url},
		},
	})
}

// getLogCacheInfo serves log-cache's GET /api/v1/info.
func (c *Controller) getLogCacheInfo(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{
		"version":   "3.0.0",
		"vm_uptime": strconv.FormatInt(int64(time.Since(c.started)/time.Second), 10),
	})
}

// Log-cache envelopes, exactly the fields protojson accepts.
type lcLog struct {
	Payload string `json:"payload"`
	Type    string `json:"type"`
}

type lcEnvelope struct {
	Timestamp  string            `json:"timestamp"`
	SourceID   string            `json:"source_id"`
	InstanceID string            `json:"instance_id"`
	Tags       map[string]string `json:"tags"`
	Log        lcLog             `json:"log"`
}

type lcBatch struct {
	Batch []lcEnvelope `json:"batch"`
}

type lcReadResponse struct {
	Envelopes lcBatch `json:"envelopes"`
}

// readLogCache serves log-cache's GET /api/v1/read/{source_id}.
func (c *Controller) readLogCache(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	src := r.PathValue("source_id")
	var lq logs.Query
	if v := q.Get("start_time"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return apierr.InvalidRequest("start_time must be an integer (unix nanoseconds)")
		}
		lq.StartTime = n
	}
	if v := q.Get("end_time"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return apierr.InvalidRequest("end_time must be an integer (unix nanoseconds)")
		}
		// log-cache's end_time is inclusive; the store's is exclusive.
		if n < 1<<62 {
			n++
		}
		lq.EndTime = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return apierr.InvalidRequest("limit must be a non-negative integer")
		}
		lq.Limit = min(n, 1000)
	}
	if v := q.Get("descending"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apierr.InvalidRequest("descending must be true or false")
		}
		lq.Descending = b
	}
	resp := lcReadResponse{Envelopes: lcBatch{Batch: []lcEnvelope{}}}
	if wantsLogs(q["envelope_types"]) {
		for _, l := range c.deps.Logs.Read(src, lq) {
			typ := "OUT"
			if l.Stream == "ERR" {
				typ = "ERR"
			}
			resp.Envelopes.Batch = append(resp.Envelopes.Batch, lcEnvelope{
				Timestamp:  strconv.FormatInt(l.Timestamp, 10),
				SourceID:   l.AppGUID,
				InstanceID: l.InstanceID,
				Tags:       map[string]string{"source_type": l.SourceType},
				Log:        lcLog{Payload: base64.StdEncoding.EncodeToString([]byte(l.Message)), Type: typ},
			})
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// wantsLogs reports whether envelope_types (absent = all) includes LOG.
func wantsLogs(types []string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		for _, s := range strings.Split(t, ",") {
			if strings.EqualFold(strings.TrimSpace(s), "LOG") || strings.EqualFold(strings.TrimSpace(s), "ANY") {
				return true
			}
		}
	}
	return false
}

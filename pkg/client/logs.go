package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MinStartTime is the start_time the cf CLI sends to read from the
// beginning (time.Time{}.UnixNano()).
const MinStartTime int64 = -6795364578871345152

// LogEnvelope is one log line from log-cache.
type LogEnvelope struct {
	// Timestamp is unix nanoseconds.
	Timestamp  int64
	SourceID   string
	InstanceID string
	// SourceType is e.g. "APP/PROC/WEB", "STG", "RTR", "API", "CELL".
	SourceType string
	// Type is OUT or ERR.
	Type    string
	Message string
}

// ReadLogsOptions narrows ReadLogs.
type ReadLogsOptions struct {
	// Limit caps the number of envelopes (0 = server default).
	Limit int
	// Descending returns the newest envelopes first.
	Descending bool
	// EndTime, when non-zero, is an exclusive upper bound (unix ns).
	EndTime int64
}

// wireEnvelope is a log-cache envelope as protojson renders it.
type wireEnvelope struct {
	Timestamp  json.RawMessage   `json:"timestamp"`
	SourceID   string            `json:"source_id"`
	InstanceID string            `json:"instance_id"`
	Tags       map[string]string `json:"tags"`
	Log        *struct {
		Payload string `json:"payload"`
		Type    string `json:"type"`
	} `json:"log"`
}

type readResponse struct {
	Envelopes struct {
		Batch []wireEnvelope `json:"batch"`
	} `json:"envelopes"`
}

// logCacheBase returns the scheme and host of links.log_cache.href, or the
// API URL when the root has none.
func (c *Client) logCacheBase(ctx context.Context) (string, error) {
	root, err := c.cachedRoot(ctx)
	if err != nil {
		return "", err
	}
	if root.Links.LogCache == nil || root.Links.LogCache.Href == "" {
		return c.base.Scheme + "://" + c.base.Host, nil
	}
	u, err := url.Parse(root.Links.LogCache.Href)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad log_cache link %q", root.Links.LogCache.Href)
	}
	return u.Scheme + "://" + u.Host, nil
}

// ReadLogs reads LOG envelopes of an app from log-cache
// (GET /api/v1/read/:guid) from startTime (unix ns, inclusive). A 429
// halves the limit and retries, as the cf CLI does.
func (c *Client) ReadLogs(ctx context.Context, appGUID string, startTime int64, opts ReadLogsOptions) ([]LogEnvelope, error) {
	base, err := c.logCacheBase(ctx)
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	for {
		q := url.Values{"envelope_types": {"LOG"}, "start_time": {strconv.FormatInt(startTime, 10)}}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Descending {
			q.Set("descending", "true")
		}
		if opts.EndTime != 0 {
			q.Set("end_time", strconv.FormatInt(opts.EndTime, 10))
		}
		var rr readResponse
		_, err := c.do(ctx, request{
			method: http.MethodGet,
			path:   base + "/api/v1/read/" + pathEscape(appGUID) + "?" + q.Encode(),
			raw:    true,
		}, &rr)
		var ae *APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests && opts.Limit > 1 {
			opts.Limit /= 2
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read logs: %w", err)
		}
		out := make([]LogEnvelope, 0, len(rr.Envelopes.Batch))
		for _, w := range rr.Envelopes.Batch {
			if w.Log == nil {
				continue
			}
			e, err := w.decode()
			if err != nil {
				return nil, fmt.Errorf("read logs: %w", err)
			}
			out = append(out, e)
		}
		return out, nil
	}
}

func (w *wireEnvelope) decode() (LogEnvelope, error) {
	e := LogEnvelope{SourceID: w.SourceID, InstanceID: w.InstanceID, SourceType: w.Tags["source_type"], Type: w.Log.Type}
	ts := strings.Trim(string(w.Timestamp), `"`)
	if ts != "" && ts != "null" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return e, fmt.Errorf("bad envelope timestamp %s: %w", string(w.Timestamp), err)
		}
		e.Timestamp = n
	}
	if e.Type == "" {
		// protojson omits the zero enum value, which is OUT.
		e.Type = "OUT"
	}
	msg, err := decodeBase64(w.Log.Payload)
	if err != nil {
		return e, fmt.Errorf("bad envelope payload: %w", err)
	}
	e.Message = string(msg)
	return e, nil
}

// decodeBase64 accepts the standard and URL alphabets, padded or not, as
// protojson does.
func decodeBase64(s string) ([]byte, error) {
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

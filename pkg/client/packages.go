package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
)

// ErrStagingFailed is wrapped by PollBuild when a build ends FAILED.
var ErrStagingFailed = errors.New("staging failed")

// ErrPackageFailed is wrapped by PollPackage when a package ends FAILED or
// EXPIRED.
var ErrPackageFailed = errors.New("package processing failed")

// resourceMatchChunk is how many resources one resource_matches request
// carries (as the cf CLI does).
const resourceMatchChunk = 1000

// ResourceMatches asks which of the resources the server already has.
func (c *Client) ResourceMatches(ctx context.Context, resources []Resource) ([]Resource, error) {
	var matched []Resource
	for start := 0; start < len(resources); start += resourceMatchChunk {
		end := min(start+resourceMatchChunk, len(resources))
		in := struct {
			Resources []Resource `json:"resources"`
		}{resources[start:end]}
		var out struct {
			Resources []Resource `json:"resources"`
		}
		if _, err := c.send(ctx, http.MethodPost, "/v3/resource_matches", in, &out); err != nil {
			return nil, fmt.Errorf("match resources: %w", err)
		}
		matched = append(matched, out.Resources...)
	}
	return matched, nil
}

// CreatePackage creates an empty bits package for an app.
func (c *Client) CreatePackage(ctx context.Context, appGUID string) (*Package, error) {
	body := struct {
		Type          string               `json:"type"`
		Relationships ProcessRelationships `json:"relationships"`
	}{"bits", ProcessRelationships{App: To(appGUID)}}
	var p Package
	if _, err := c.send(ctx, http.MethodPost, "/v3/packages", body, &p); err != nil {
		return nil, fmt.Errorf("create package: %w", err)
	}
	return &p, nil
}

// GetPackage fetches a package by guid.
func (c *Client) GetPackage(ctx context.Context, guid string) (*Package, error) {
	var p Package
	if err := c.get(ctx, "/v3/packages/"+pathEscape(guid), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// LatestPackage returns an app's newest package; IsNotFound when it has
// none.
func (c *Client) LatestPackage(ctx context.Context, appGUID string) (*Package, error) {
	q := url.Values{"app_guids": {appGUID}, "order_by": {"-created_at"}, "page": {"1"}, "per_page": {"1"}}
	return first[Package](ctx, c, "/v3/packages", q, "Package for app", appGUID)
}

// switchWriter lets one multipart.Writer write its head and tail into
// different buffers.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// UploadPackage uploads bits: a multipart body with the `resources` part
// (JSON array of already-matched resources) first, then `bits` (file
// package.zip of size bytes read from zip). zip may be nil when every file
// matched. The request carries a Content-Length and is never retried.
func (c *Client) UploadPackage(ctx context.Context, pkgGUID string, matched []Resource, zip io.Reader, size int64) (*Package, error) {
	if matched == nil {
		matched = []Resource{}
	}
	resJSON, err := json.Marshal(matched)
	if err != nil {
		return nil, fmt.Errorf("encode matched resources: %w", err)
	}
	var head, tail bytes.Buffer
	sw := &switchWriter{w: &head}
	mw := multipart.NewWriter(sw)
	if err := mw.WriteField("resources", string(resJSON)); err != nil {
		return nil, fmt.Errorf("write resources part: %w", err)
	}
	if zip != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="bits"; filename="package.zip"`)
		h.Set("Content-Type", "application/zip")
		if _, err := mw.CreatePart(h); err != nil {
			return nil, fmt.Errorf("write bits part: %w", err)
		}
	} else {
		size = 0
	}
	sw.w = &tail
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("close multipart body: %w", err)
	}
	parts := []io.Reader{bytes.NewReader(head.Bytes())}
	if zip != nil {
		parts = append(parts, io.LimitReader(zip, size))
	}
	parts = append(parts, bytes.NewReader(tail.Bytes()))
	var p Package
	_, err = c.do(ctx, request{
		method:      http.MethodPost,
		path:        "/v3/packages/" + pathEscape(pkgGUID) + "/upload",
		stream:      io.MultiReader(parts...),
		length:      int64(head.Len()) + size + int64(tail.Len()),
		contentType: mw.FormDataContentType(),
		timeout:     c.cfg.UploadTimeout,
	}, &p)
	if err != nil {
		return nil, fmt.Errorf("upload package: %w", err)
	}
	return &p, nil
}

// PollPackage polls a package until it is READY; FAILED or EXPIRED wrap
// ErrPackageFailed.
func (c *Client) PollPackage(ctx context.Context, guid string) (*Package, error) {
	for {
		p, err := c.GetPackage(ctx, guid)
		if err != nil {
			return nil, fmt.Errorf("poll package: %w", err)
		}
		switch p.State {
		case PackageReady:
			return p, nil
		case PackageFailed, PackageExpired:
			detail := p.State
			if p.Data.Error != nil && *p.Data.Error != "" {
				detail = *p.Data.Error
			}
			return p, fmt.Errorf("%w: %s", ErrPackageFailed, detail)
		}
		if err := sleepCtx(ctx, c.cfg.PollInterval); err != nil {
			return p, fmt.Errorf("wait for package %s: %w", guid, err)
		}
	}
}

// CreateBuild asks the platform to stage a package.
func (c *Client) CreateBuild(ctx context.Context, pkgGUID string) (*Build, error) {
	body := struct {
		Package GUIDRef `json:"package"`
	}{GUIDRef{GUID: pkgGUID}}
	var b Build
	if _, err := c.send(ctx, http.MethodPost, "/v3/builds", body, &b); err != nil {
		return nil, fmt.Errorf("create build: %w", err)
	}
	return &b, nil
}

// GetBuild fetches a build by guid.
func (c *Client) GetBuild(ctx context.Context, guid string) (*Build, error) {
	var b Build
	if err := c.get(ctx, "/v3/builds/"+pathEscape(guid), nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// PollBuild polls a build until STAGED, or FAILED (wrapping
// ErrStagingFailed with the build's error).
func (c *Client) PollBuild(ctx context.Context, guid string) (*Build, error) {
	for {
		b, err := c.GetBuild(ctx, guid)
		if err != nil {
			return nil, fmt.Errorf("poll build: %w", err)
		}
		if done, err := BuildDone(b); done {
			return b, err
		}
		if err := sleepCtx(ctx, c.cfg.PollInterval); err != nil {
			return b, fmt.Errorf("wait for build %s: %w", guid, err)
		}
	}
}

// BuildDone tells whether a build has finished, and the error of a FAILED
// one (or of a STAGED one without a droplet).
func BuildDone(b *Build) (bool, error) {
	switch b.State {
	case BuildStaged:
		if b.Droplet == nil || b.Droplet.GUID == "" {
			return true, fmt.Errorf("%w: build %s is staged but has no droplet", ErrStagingFailed, b.GUID)
		}
		return true, nil
	case BuildFailed:
		msg := b.ErrorText()
		if msg == "" {
			msg = "unknown error"
		}
		return true, fmt.Errorf("%w: %s", ErrStagingFailed, msg)
	}
	return false, nil
}

// GetDroplet fetches a droplet by guid.
func (c *Client) GetDroplet(ctx context.Context, guid string) (*Droplet, error) {
	var d Droplet
	if err := c.get(ctx, "/v3/droplets/"+pathEscape(guid), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListPackageDroplets lists the droplets staged from a package, optionally
// only in the given states.
func (c *Client) ListPackageDroplets(ctx context.Context, pkgGUID string, states ...string) ([]Droplet, error) {
	q := url.Values{}
	if len(states) > 0 {
		q.Set("states", joinGUIDs(states))
	}
	return listAll[Droplet](ctx, c, "/v3/packages/"+pathEscape(pkgGUID)+"/droplets", q)
}

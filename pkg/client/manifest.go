package client

import (
	"context"
	"fmt"
	"net/http"
)

// ApplyManifest sends a manifest (YAML) to a space and waits for the job;
// a FAILED job returns a *JobFailedError whose message is the server's
// detail.
func (c *Client) ApplyManifest(ctx context.Context, spaceGUID string, manifest []byte) error {
	resp, err := c.do(ctx, request{
		method:      http.MethodPost,
		path:        "/v3/spaces/" + pathEscape(spaceGUID) + "/actions/apply_manifest",
		body:        manifest,
		contentType: "application/x-yaml",
	}, nil)
	if err != nil {
		return fmt.Errorf("apply manifest: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// ManifestDiff asks what applying a manifest would change.
func (c *Client) ManifestDiff(ctx context.Context, spaceGUID string, manifest []byte) ([]ManifestDiffEntry, error) {
	var out struct {
		Diff []ManifestDiffEntry `json:"diff"`
	}
	_, err := c.do(ctx, request{
		method:      http.MethodPost,
		path:        "/v3/spaces/" + pathEscape(spaceGUID) + "/manifest_diff",
		body:        manifest,
		contentType: "application/x-yaml",
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("manifest diff: %w", err)
	}
	return out.Diff, nil
}

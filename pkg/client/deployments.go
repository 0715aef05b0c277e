package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Deployment states.
const (
	DeploymentActive    = "ACTIVE"
	DeploymentFinalized = "FINALIZED"
	DeploymentDeployed  = "DEPLOYED"
)

// Deployment replaces an app's instances with a new version, a batch at a
// time.
type Deployment struct {
	GUID   string `json:"guid"`
	Status struct {
		Value   string            `json:"value"`
		Reason  string            `json:"reason"`
		Details map[string]string `json:"details"`
	} `json:"status"`
	Strategy        string    `json:"strategy"`
	Droplet         GUIDRef   `json:"droplet"`
	PreviousDroplet GUIDRef   `json:"previous_droplet"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// CreateDeployment starts a rolling deployment of the app to dropletGUID
// ("" = its current droplet: a rolling restart). maxInFlight <= 0 uses the
// server's default (1).
func (c *Client) CreateDeployment(ctx context.Context, appGUID, dropletGUID string, maxInFlight int) (*Deployment, error) {
	body := map[string]any{
		"strategy":      "rolling",
		"relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": appGUID}}},
	}
	if dropletGUID != "" {
		body["droplet"] = map[string]string{"guid": dropletGUID}
	}
	if maxInFlight > 0 {
		body["options"] = map[string]int{"max_in_flight": maxInFlight}
	}
	var d Deployment
	if _, err := c.send(ctx, http.MethodPost, "/v3/deployments", body, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// GetDeployment fetches a deployment.
func (c *Client) GetDeployment(ctx context.Context, guid string) (*Deployment, error) {
	var d Deployment
	if err := c.get(ctx, "/v3/deployments/"+pathEscape(guid), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// CancelDeployment stops a running deployment; the previous version stays.
func (c *Client) CancelDeployment(ctx context.Context, guid string) error {
	_, err := c.send(ctx, http.MethodPost, "/v3/deployments/"+pathEscape(guid)+"/actions/cancel", nil, nil)
	return err
}

// ListDeployments lists an app's deployments, newest first.
func (c *Client) ListDeployments(ctx context.Context, appGUID string) ([]Deployment, error) {
	q := url.Values{"app_guids": {appGUID}, "order_by": {"-created_at"}}
	return listAll[Deployment](ctx, c, "/v3/deployments", q)
}

// ListAppDroplets lists an app's droplets, newest first, optionally only
// in the given states.
func (c *Client) ListAppDroplets(ctx context.Context, appGUID string, states ...string) ([]Droplet, error) {
	q := url.Values{"order_by": {"-created_at"}}
	if len(states) > 0 {
		q.Set("states", joinGUIDs(states))
	}
	return listAll[Droplet](ctx, c, "/v3/apps/"+pathEscape(appGUID)+"/droplets", q)
}

// ActiveDeployment returns the app's running deployment, or a 404
// *APIError when none runs (the cf CLI's lookup).
func (c *Client) ActiveDeployment(ctx context.Context, appGUID string) (*Deployment, error) {
	q := url.Values{"app_guids": {appGUID}, "status_values": {DeploymentActive}, "order_by": {"-created_at"}, "page": {"1"}, "per_page": {"1"}}
	return first[Deployment](ctx, c, "/v3/deployments", q, "Deployment", appGUID)
}

package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// ListRoutes lists the routes mapped to an app.
func (c *Client) ListRoutes(ctx context.Context, appGUID string) ([]Route, error) {
	return listAll[Route](ctx, c, "/v3/apps/"+pathEscape(appGUID)+"/routes", nil)
}

// ListRoutesForApps lists the routes mapped to any of several apps.
func (c *Client) ListRoutesForApps(ctx context.Context, appGUIDs []string) ([]Route, error) {
	if len(appGUIDs) == 0 {
		return nil, nil
	}
	return listAll[Route](ctx, c, "/v3/routes", url.Values{"app_guids": {joinGUIDs(appGUIDs)}})
}

// ListSpaceRoutes lists the routes of a space.
func (c *Client) ListSpaceRoutes(ctx context.Context, spaceGUID string) ([]Route, error) {
	return listAll[Route](ctx, c, "/v3/routes", url.Values{"space_guids": {spaceGUID}})
}

// GetRoute fetches a route by guid.
func (c *Client) GetRoute(ctx context.Context, guid string) (*Route, error) {
	var r Route
	if err := c.get(ctx, "/v3/routes/"+pathEscape(guid), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateRouteRequest describes a new route.
type CreateRouteRequest struct {
	SpaceGUID  string
	DomainGUID string
	Host       string
	Path       string
}

// CreateRoute creates a route.
func (c *Client) CreateRoute(ctx context.Context, r CreateRouteRequest) (*Route, error) {
	body := struct {
		Host          string             `json:"host,omitempty"`
		Path          string             `json:"path,omitempty"`
		Relationships RouteRelationships `json:"relationships"`
	}{r.Host, r.Path, RouteRelationships{Space: To(r.SpaceGUID), Domain: To(r.DomainGUID)}}
	var out Route
	if _, err := c.send(ctx, http.MethodPost, "/v3/routes", body, &out); err != nil {
		return nil, fmt.Errorf("create route: %w", err)
	}
	return &out, nil
}

// MapRoute adds an app's web process as a destination of a route.
func (c *Client) MapRoute(ctx context.Context, routeGUID, appGUID string) error {
	body := struct {
		Destinations []Destination `json:"destinations"`
	}{[]Destination{{App: DestinationApp{GUID: appGUID}}}}
	if _, err := c.send(ctx, http.MethodPost, "/v3/routes/"+pathEscape(routeGUID)+"/destinations", body, nil); err != nil {
		return fmt.Errorf("map route: %w", err)
	}
	return nil
}

// UnmapRoute removes a destination from a route.
func (c *Client) UnmapRoute(ctx context.Context, routeGUID, destinationGUID string) error {
	path := "/v3/routes/" + pathEscape(routeGUID) + "/destinations/" + pathEscape(destinationGUID)
	if _, err := c.send(ctx, http.MethodDelete, path, nil, nil); err != nil {
		return fmt.Errorf("unmap route: %w", err)
	}
	return nil
}

// DeleteRoute deletes a route and waits for the deletion job.
func (c *Client) DeleteRoute(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/routes/"+pathEscape(guid), nil, nil)
	if err != nil {
		return err
	}
	return c.waitAsync(ctx, resp)
}

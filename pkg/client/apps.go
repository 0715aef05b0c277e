package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// AppFilter narrows ListApps; empty fields do not filter.
type AppFilter struct {
	SpaceGUIDs []string
	Names      []string
	GUIDs      []string
	// OrderBy is e.g. "name" or "-created_at" (default "name").
	OrderBy string
}

// ListApps lists apps matching f.
func (c *Client) ListApps(ctx context.Context, f AppFilter) ([]App, error) {
	q := url.Values{}
	if len(f.SpaceGUIDs) > 0 {
		q.Set("space_guids", joinGUIDs(f.SpaceGUIDs))
	}
	if len(f.Names) > 0 {
		q.Set("names", joinGUIDs(f.Names))
	}
	if len(f.GUIDs) > 0 {
		q.Set("guids", joinGUIDs(f.GUIDs))
	}
	q.Set("order_by", "name")
	if f.OrderBy != "" {
		q.Set("order_by", f.OrderBy)
	}
	return listAll[App](ctx, c, "/v3/apps", q)
}

// GetAppByName finds an app of a space by name; a missing app is a 404
// *APIError ("App 'NAME' not found").
func (c *Client) GetAppByName(ctx context.Context, spaceGUID, name string) (*App, error) {
	q := url.Values{"names": {name}, "space_guids": {spaceGUID}}
	return first[App](ctx, c, "/v3/apps", q, "App", name)
}

// GetApp fetches an app by guid.
func (c *Client) GetApp(ctx context.Context, guid string) (*App, error) {
	var a App
	if err := c.get(ctx, "/v3/apps/"+pathEscape(guid), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAppRequest describes a new app.
type CreateAppRequest struct {
	Name                 string
	SpaceGUID            string
	Buildpacks           []string
	Stack                string
	EnvironmentVariables map[string]string
}

type appBody struct {
	Name                 string            `json:"name,omitempty"`
	Relationships        *AppRelationships `json:"relationships,omitempty"`
	Lifecycle            *Lifecycle        `json:"lifecycle,omitempty"`
	EnvironmentVariables map[string]string `json:"environment_variables,omitempty"`
}

// CreateApp creates an app.
func (c *Client) CreateApp(ctx context.Context, r CreateAppRequest) (*App, error) {
	body := appBody{
		Name:                 r.Name,
		Relationships:        &AppRelationships{Space: To(r.SpaceGUID)},
		EnvironmentVariables: r.EnvironmentVariables,
	}
	if len(r.Buildpacks) > 0 || r.Stack != "" {
		body.Lifecycle = &Lifecycle{Type: "buildpack", Data: LifecycleData{Buildpacks: r.Buildpacks, Stack: r.Stack}}
	}
	var a App
	if _, err := c.send(ctx, http.MethodPost, "/v3/apps", body, &a); err != nil {
		return nil, fmt.Errorf("create app %s: %w", r.Name, err)
	}
	return &a, nil
}

// UpdateAppRequest changes an app; nil fields are left alone.
type UpdateAppRequest struct {
	Name       *string
	Buildpacks *[]string
	Stack      *string
}

// UpdateApp patches an app.
func (c *Client) UpdateApp(ctx context.Context, guid string, r UpdateAppRequest) (*App, error) {
	body := appBody{}
	if r.Name != nil {
		body.Name = *r.Name
	}
	if r.Buildpacks != nil || r.Stack != nil {
		body.Lifecycle = &Lifecycle{Type: "buildpack"}
		if r.Buildpacks != nil {
			body.Lifecycle.Data.Buildpacks = *r.Buildpacks
		}
		if r.Stack != nil {
			body.Lifecycle.Data.Stack = *r.Stack
		}
	}
	var a App
	if _, err := c.send(ctx, http.MethodPatch, "/v3/apps/"+pathEscape(guid), body, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DeleteApp deletes an app and waits for the deletion job.
func (c *Client) DeleteApp(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/apps/"+pathEscape(guid), nil, nil)
	if err != nil {
		return err
	}
	return c.waitAsync(ctx, resp)
}

// GetAppEnv fetches an app's environment.
func (c *Client) GetAppEnv(ctx context.Context, guid string) (*EnvResponse, error) {
	var e EnvResponse
	if err := c.get(ctx, "/v3/apps/"+pathEscape(guid)+"/env", nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// UpdateEnvVars sets (non-nil value) or unsets (nil value) an app's
// environment variables and returns the resulting set.
func (c *Client) UpdateEnvVars(ctx context.Context, guid string, vars map[string]*string) (map[string]string, error) {
	in := struct {
		Var map[string]*string `json:"var"`
	}{Var: vars}
	var out struct {
		Var map[string]any `json:"var"`
	}
	if _, err := c.send(ctx, http.MethodPatch, "/v3/apps/"+pathEscape(guid)+"/environment_variables", in, &out); err != nil {
		return nil, err
	}
	res := make(map[string]string, len(out.Var))
	for k, v := range out.Var {
		if s, ok := v.(string); ok {
			res[k] = s
		} else {
			res[k] = fmt.Sprint(v)
		}
	}
	return res, nil
}

func (c *Client) appAction(ctx context.Context, guid, action string) (*App, error) {
	var a App
	if _, err := c.send(ctx, http.MethodPost, "/v3/apps/"+pathEscape(guid)+"/actions/"+action, nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// StartApp sets an app's desired state to STARTED.
func (c *Client) StartApp(ctx context.Context, guid string) (*App, error) {
	return c.appAction(ctx, guid, "start")
}

// StopApp sets an app's desired state to STOPPED.
func (c *Client) StopApp(ctx context.Context, guid string) (*App, error) {
	return c.appAction(ctx, guid, "stop")
}

// RestartApp stops and starts an app (with its current droplet).
func (c *Client) RestartApp(ctx context.Context, guid string) (*App, error) {
	return c.appAction(ctx, guid, "restart")
}

// GetCurrentDroplet returns the app's current droplet; IsNotFound when it
// has none.
func (c *Client) GetCurrentDroplet(ctx context.Context, appGUID string) (*Droplet, error) {
	var d Droplet
	if err := c.get(ctx, "/v3/apps/"+pathEscape(appGUID)+"/droplets/current", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// SetCurrentDroplet makes a droplet the app's current one.
func (c *Client) SetCurrentDroplet(ctx context.Context, appGUID, dropletGUID string) error {
	body := Relationship{Data: &RelationshipData{GUID: dropletGUID}}
	_, err := c.send(ctx, http.MethodPatch, "/v3/apps/"+pathEscape(appGUID)+"/relationships/current_droplet", body, nil)
	return err
}

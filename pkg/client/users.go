package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Users, passwords, OAuth clients and signing keys: the UAA's SCIM and
// admin endpoints (links.uaa.href) and the Cloud Controller's /v3/users.

// UAAUser is a user as the UAA's /Users answers.
type UAAUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Origin   string `json:"origin"`
}

// User is a Cloud Controller user (/v3/users).
type User struct {
	GUID             string  `json:"guid"`
	Username         *string `json:"username"`
	PresentationName string  `json:"presentation_name"`
	Origin           *string `json:"origin"`
}

// OAuthClient is an OAuth client as /oauth/clients takes and answers it.
type OAuthClient struct {
	ClientID             string   `json:"client_id"`
	ClientSecret         string   `json:"client_secret,omitempty"`
	Scope                []string `json:"scope"`
	Authorities          []string `json:"authorities"`
	AuthorizedGrantTypes []string `json:"authorized_grant_types"`
}

// SigningKey is one token verification key (a JWK).
type SigningKey struct {
	Kid string `json:"kid"`
	Alg string `json:"alg"`
}

// IsConflict tells whether err is a 409 (the UAA's "already exists").
func IsConflict(err error) bool {
	var ue *UAAError
	if errors.As(err, &ue) {
		return ue.StatusCode == http.StatusConflict
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusConflict
}

// uaaURL is path on the UAA (links.uaa.href, else the API host).
func (c *Client) uaaURL(ctx context.Context, path string) (string, error) {
	root, err := c.cachedRoot(ctx)
	if err != nil {
		return "", err
	}
	if root.Links.UAA != nil && root.Links.UAA.Href != "" {
		return strings.TrimRight(root.Links.UAA.Href, "/") + path, nil
	}
	return path, nil
}

// uaaSend sends a JSON request to the UAA and turns UAA error bodies into
// *UAAError.
func (c *Client) uaaSend(ctx context.Context, method, path string, q url.Values, in, out any) error {
	target, err := c.uaaURL(ctx, path)
	if err != nil {
		return err
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
	}
	resp, err := c.do(ctx, request{method: method, path: target, query: q, body: body}, out)
	if err != nil && resp != nil {
		ue := &UAAError{StatusCode: resp.status}
		var msg struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(resp.body, ue) == nil && ue.Code != "" {
			if ue.Description == "" && json.Unmarshal(resp.body, &msg) == nil {
				ue.Description = msg.Message
			}
			return ue
		}
	}
	return err
}

// CreateUAAUser creates a UAA user (POST /Users), as cf create-user does.
func (c *Client) CreateUAAUser(ctx context.Context, username, password, origin string) (*UAAUser, error) {
	in := map[string]any{"userName": username, "password": password, "origin": origin,
		"name":   map[string]string{"familyName": username, "givenName": username},
		"emails": []map[string]any{{"value": username, "primary": true}}}
	var u UAAUser
	if err := c.uaaSend(ctx, http.MethodPost, "/Users", nil, in, &u); err != nil {
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	return &u, nil
}

// ListUAAUsers lists the UAA users named username (of origin, when given).
func (c *Client) ListUAAUsers(ctx context.Context, username, origin string) ([]UAAUser, error) {
	filter := fmt.Sprintf(`userName eq "%s"`, username)
	if origin != "" {
		filter += fmt.Sprintf(` and origin eq "%s"`, origin)
	}
	var out struct {
		Resources []UAAUser `json:"resources"`
	}
	if err := c.uaaSend(ctx, http.MethodGet, "/Users", url.Values{"filter": {filter}}, nil, &out); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out.Resources, nil
}

// DeleteUAAUser deletes a UAA user by id.
func (c *Client) DeleteUAAUser(ctx context.Context, id string) error {
	if err := c.uaaSend(ctx, http.MethodDelete, "/Users/"+pathEscape(id), nil, nil, nil); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// ChangePassword sets a user's password (PUT /Users/{id}/password); the
// current password is needed for one's own, not for an admin's reset.
func (c *Client) ChangePassword(ctx context.Context, id, current, newPassword string) error {
	in := map[string]string{"password": newPassword}
	if current != "" {
		in["oldPassword"] = current
	}
	if err := c.uaaSend(ctx, http.MethodPut, "/Users/"+pathEscape(id)+"/password", nil, in, nil); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// CreateUser registers a user with the Cloud Controller (POST /v3/users).
func (c *Client) CreateUser(ctx context.Context, guid string) (*User, error) {
	var u User
	if _, err := c.send(ctx, http.MethodPost, "/v3/users", map[string]string{"guid": guid}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// DeleteUser removes a user from the Cloud Controller and waits for the
// job.
func (c *Client) DeleteUser(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/users/"+pathEscape(guid), nil, nil)
	if err != nil {
		return err
	}
	return c.waitAsync(ctx, resp)
}

// CreateOAuthClient registers an OAuth client.
func (c *Client) CreateOAuthClient(ctx context.Context, oc OAuthClient) (*OAuthClient, error) {
	var out OAuthClient
	if err := c.uaaSend(ctx, http.MethodPost, "/oauth/clients", nil, oc, &out); err != nil {
		return nil, fmt.Errorf("create client %s: %w", oc.ClientID, err)
	}
	return &out, nil
}

// DeleteOAuthClient removes an OAuth client; its tokens stop working.
func (c *Client) DeleteOAuthClient(ctx context.Context, id string) error {
	if err := c.uaaSend(ctx, http.MethodDelete, "/oauth/clients/"+pathEscape(id), nil, nil, nil); err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}

// RotateSigningKey makes the UAA sign with a new key; older keys keep
// verifying the tokens they signed.
func (c *Client) RotateSigningKey(ctx context.Context) (*SigningKey, error) {
	var k SigningKey
	if err := c.uaaSend(ctx, http.MethodPost, "/token_keys", nil, nil, &k); err != nil {
		return nil, fmt.Errorf("rotate signing key: %w", err)
	}
	return &k, nil
}

// SigningKeys lists the verification keys, the active one first.
func (c *Client) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var out struct {
		Keys []SigningKey `json:"keys"`
	}
	if err := c.uaaSend(ctx, http.MethodGet, "/token_keys", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out.Keys, nil
}

// RevokeToken revokes the token (pair) with id jti.
func (c *Client) RevokeToken(ctx context.Context, jti string) error {
	if err := c.uaaSend(ctx, http.MethodDelete, "/oauth/token/revoke/"+pathEscape(jti), nil, nil, nil); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

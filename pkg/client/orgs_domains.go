package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// CreateOrg creates an organization.
func (c *Client) CreateOrg(ctx context.Context, name string) (*Org, error) {
	var o Org
	if _, err := c.send(ctx, http.MethodPost, "/v3/organizations", map[string]string{"name": name}, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// RenameOrg renames an organization.
func (c *Client) RenameOrg(ctx context.Context, guid, name string) (*Org, error) {
	var o Org
	if _, err := c.send(ctx, http.MethodPatch, "/v3/organizations/"+pathEscape(guid), map[string]string{"name": name}, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateSpace creates a space in an organization.
func (c *Client) CreateSpace(ctx context.Context, orgGUID, name string) (*Space, error) {
	body := map[string]any{"name": name, "relationships": map[string]any{"organization": To(orgGUID)}}
	var s Space
	if _, err := c.send(ctx, http.MethodPost, "/v3/spaces", body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// RenameSpace renames a space.
func (c *Client) RenameSpace(ctx context.Context, guid, name string) (*Space, error) {
	var s Space
	if _, err := c.send(ctx, http.MethodPatch, "/v3/spaces/"+pathEscape(guid), map[string]string{"name": name}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// CreateDomain creates a shared domain (orgGUID "") or one private to an
// organization.
func (c *Client) CreateDomain(ctx context.Context, name, orgGUID string) (*Domain, error) {
	body := map[string]any{"name": name}
	if orgGUID != "" {
		body["relationships"] = map[string]any{"organization": To(orgGUID)}
	}
	var d Domain
	if _, err := c.send(ctx, http.MethodPost, "/v3/domains", body, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// GetDomainByName finds a domain by name.
func (c *Client) GetDomainByName(ctx context.Context, name string) (*Domain, error) {
	q := url.Values{"names": {name}, "page": {"1"}, "per_page": {"1"}}
	return first[Domain](ctx, c, "/v3/domains", q, "Domain", name)
}

// DeleteDomain deletes a domain with its routes and waits for the job.
func (c *Client) DeleteDomain(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/domains/"+pathEscape(guid), nil, nil)
	if err != nil {
		return fmt.Errorf("delete domain: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// FindRoute finds a route by domain, host and path ("" = the root path).
func (c *Client) FindRoute(ctx context.Context, domainGUID, host, path string) (*Route, error) {
	q := url.Values{"domain_guids": {domainGUID}, "hosts": {host}, "paths": {path}, "page": {"1"}, "per_page": {"1"}}
	return first[Route](ctx, c, "/v3/routes", q, "Route", host)
}

// DomainDetails is a domain with its owning organization.
type DomainDetails struct {
	Domain
	Relationships struct {
		Organization Relationship `json:"organization"`
	} `json:"relationships"`
}

// ListDomainsDetailed lists every visible domain with its organization.
func (c *Client) ListDomainsDetailed(ctx context.Context) ([]DomainDetails, error) {
	return listAll[DomainDetails](ctx, c, "/v3/domains", url.Values{"order_by": {"name"}})
}

// DeleteOrg deletes an organization with everything in it and waits for
// the job.
func (c *Client) DeleteOrg(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/organizations/"+pathEscape(guid), nil, nil)
	if err != nil {
		return fmt.Errorf("delete org: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

// DeleteSpace deletes a space with everything in it and waits for the job.
func (c *Client) DeleteSpace(ctx context.Context, guid string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v3/spaces/"+pathEscape(guid), nil, nil)
	if err != nil {
		return fmt.Errorf("delete space: %w", err)
	}
	return c.waitAsync(ctx, resp)
}

package client

import (
	"context"
	"net/url"
	"strings"
)

// ListOrgs lists every organization visible to the user, by name.
func (c *Client) ListOrgs(ctx context.Context) ([]Org, error) {
	return listAll[Org](ctx, c, "/v3/organizations", url.Values{"order_by": {"name"}})
}

// GetOrg fetches an organization by guid.
func (c *Client) GetOrg(ctx context.Context, guid string) (*Org, error) {
	var o Org
	if err := c.get(ctx, "/v3/organizations/"+pathEscape(guid), nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// GetOrgByName finds an organization by name.
func (c *Client) GetOrgByName(ctx context.Context, name string) (*Org, error) {
	q := url.Values{"names": {name}, "page": {"1"}, "per_page": {"1"}}
	return first[Org](ctx, c, "/v3/organizations", q, "Organization", name)
}

// ListSpaces lists the spaces of an org, by name.
func (c *Client) ListSpaces(ctx context.Context, orgGUID string) ([]Space, error) {
	q := url.Values{"order_by": {"name"}, "organization_guids": {orgGUID}}
	return listAll[Space](ctx, c, "/v3/spaces", q)
}

// GetSpace fetches a space by guid.
func (c *Client) GetSpace(ctx context.Context, guid string) (*Space, error) {
	var s Space
	if err := c.get(ctx, "/v3/spaces/"+pathEscape(guid), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// GetSpaceByName finds a space of an org by name.
func (c *Client) GetSpaceByName(ctx context.Context, orgGUID, name string) (*Space, error) {
	q := url.Values{"names": {name}, "organization_guids": {orgGUID}, "page": {"1"}, "per_page": {"1"}}
	return first[Space](ctx, c, "/v3/spaces", q, "Space", name)
}

// GetDefaultDomain returns the default domain of an org.
func (c *Client) GetDefaultDomain(ctx context.Context, orgGUID string) (*Domain, error) {
	var d Domain
	if err := c.get(ctx, "/v3/organizations/"+pathEscape(orgGUID)+"/domains/default", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDomains lists every domain visible to the user.
func (c *Client) ListDomains(ctx context.Context) ([]Domain, error) {
	return listAll[Domain](ctx, c, "/v3/domains", nil)
}

// GetDomain fetches a domain by guid.
func (c *Client) GetDomain(ctx context.Context, guid string) (*Domain, error) {
	var d Domain
	if err := c.get(ctx, "/v3/domains/"+pathEscape(guid), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// joinGUIDs joins guids for a filter parameter.
func joinGUIDs(guids []string) string { return strings.Join(guids, ",") }

package controller

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

type domainBody struct {
	Name          *string `json:"name"`
	Internal      *bool   `json:"internal"`
	Relationships struct {
		Organization relBody `json:"organization"`
	} `json:"relationships"`
}

// createDomain creates a shared domain (no organization) or a domain
// private to an organization (`cf create-shared-domain`,
// `cf create-private-domain`).
func (c *Controller) createDomain(w http.ResponseWriter, r *http.Request) error {
	var b domainBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil || *b.Name == "" {
		return apierr.Unprocessable("Name can't be blank")
	}
	name := strings.ToLower(strings.TrimSuffix(*b.Name, "."))
	if err := validateDomainName(name); err != nil {
		return apierr.Unprocessable("Name %s", err)
	}
	if !strings.Contains(name, ".") {
		return apierr.Unprocessable("Name must contain at least one \".\"")
	}
	d := &store.Domain{Meta: store.Meta{GUID: newGUID()}, Name: name}
	if b.Internal != nil {
		d.Internal = *b.Internal
	}
	if org := b.Relationships.Organization.guid(); org != "" {
		if d.Internal {
			return apierr.Unprocessable("Cannot associate an internal domain with an organization")
		}
		// A private domain needs the org's manager; the org must exist and
		// be visible (the same answer either way).
		noOrg := apierr.Unprocessable("Organization with guid '%s' does not exist or you do not have access to it.", org)
		if err := c.checkOrg(r, org, noOrg); err != nil {
			return err
		}
		if _, err := c.deps.Store.Orgs().Get(r.Context(), org); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return noOrg
			}
			return err
		}
		d.OrgGUID = org
	} else if !authzFrom(r.Context()).admin() {
		// Shared domains are the platform operator's.
		return apierr.NotAuthorized()
	}
	if err := c.deps.Store.Domains().Create(r.Context(), d); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return apierr.Unprocessable("The domain name \"%s\" is already in use", name)
		}
		return err
	}
	return writeJSON(w, http.StatusCreated, c.pres.Domain(d))
}

// deleteDomain deletes a domain with its routes (an asynchronous job, as in
// Cloud Foundry); apps mapped to those routes lose them at once.
func (c *Controller) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := c.deps.Store.Domains().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Domain")
	}
	if d.Name == c.cfg.Domain && d.OrgGUID == "" {
		return apierr.Unprocessable("The platform's default domain %s cannot be deleted.", d.Name)
	}
	guid := d.GUID
	return c.runJob(w, r, "domain.delete", "domain", guid, func(ctx context.Context) ([]string, error) {
		routes, err := c.deps.Store.Routes().List(ctx, store.ListOptions{DomainGUIDs: []string{guid}})
		if err != nil {
			return nil, err
		}
		var dests []*store.Destination
		for _, rt := range routes {
			ds, err := c.deps.Store.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{rt.GUID}})
			if err != nil {
				return nil, err
			}
			dests = append(dests, ds...)
			if err := ignoreNotFound(c.deps.Store.Routes().Delete(ctx, rt.GUID)); err != nil {
				return nil, err
			}
		}
		if err := ignoreNotFound(c.deps.Store.Domains().Delete(ctx, guid)); err != nil {
			return nil, err
		}
		c.publishRoutesFor(ctx, dests)
		return nil, nil
	})
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

// notFound maps store.ErrNotFound to the CF 404 for resource.
func notFound(err error, resource string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound(resource)
	}
	return err
}

func (c *Controller) orgRec(ctx context.Context, guid string) (*store.Org, error) {
	o, err := c.deps.Store.Orgs().Get(ctx, guid)
	return o, notFound(err, "Organization")
}

func (c *Controller) spaceRec(ctx context.Context, guid string) (*store.Space, error) {
	s, err := c.deps.Store.Spaces().Get(ctx, guid)
	return s, notFound(err, "Space")
}

func validateName(what, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return apierr.Unprocessable("%s can't be blank", what)
	case len(name) > 255:
		return apierr.Unprocessable("%s is too long (maximum is 255 characters)", what)
	case strings.ContainsAny(name, "\x00\n\r\t"):
		return apierr.Unprocessable("%s must not contain control characters", what)
	}
	return nil
}

func orgMeta(o *store.Org) *store.Meta         { return &o.Meta }
func orgName(o *store.Org) string              { return o.Name }
func spaceMeta(s *store.Space) *store.Meta     { return &s.Meta }
func spaceName(s *store.Space) string          { return s.Name }
func domainMeta(d *store.Domain) *store.Meta   { return &d.Meta }
func domainName(d *store.Domain) string        { return d.Name }
func appMeta(a *store.App) *store.Meta         { return &a.Meta }
func appName(a *store.App) string              { return a.Name }
func processMeta(p *store.Process) *store.Meta { return &p.Meta }

func (c *Controller) listOrgs(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	visible, all, err := c.readableOrgs(r.Context())
	if err != nil {
		return err
	}
	orgs, err := c.deps.Store.Orgs().List(r.Context(), store.ListOptions{Names: filterValues(q, "names"), GUIDs: restrict(filterValues(q, "guids"), visible, all)})
	if err != nil {
		return err
	}
	refs, err := c.loadQuotaRefs(r.Context())
	if err != nil {
		return err
	}
	return writePage(c, w, r, lp, orgs, orgMeta, orgName, func(o *store.Org) *presenters.Org { return c.presentOrg(refs, o) })
}

func (c *Controller) getOrg(w http.ResponseWriter, r *http.Request) error {
	o, err := c.orgRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return c.writeOrg(w, r, http.StatusOK, o)
}

type orgBody struct {
	Name      *string `json:"name"`
	Suspended *bool   `json:"suspended"`
}

func (c *Controller) createOrg(w http.ResponseWriter, r *http.Request) error {
	var b orgBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name can't be blank")
	}
	if err := validateName("Name", *b.Name); err != nil {
		return err
	}
	o := &store.Org{Meta: store.Meta{GUID: newGUID()}, Name: *b.Name}
	if b.Suspended != nil {
		o.Suspended = *b.Suspended
	}
	if err := c.deps.Store.Orgs().Create(r.Context(), o); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return apierr.Unprocessable("Organization '%s' already exists.", o.Name)
		}
		return err
	}
	c.noteEvent(r.Context(), eventOrgCreate, eventTarget{guid: o.GUID, typ: "organization", name: o.Name, org: o.GUID},
		map[string]any{"request": map[string]any{"name": o.Name}})
	return c.writeOrg(w, r, http.StatusCreated, o)
}

func (c *Controller) updateOrg(w http.ResponseWriter, r *http.Request) error {
	var b orgBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name != nil {
		if err := validateName("Name", *b.Name); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		o, err := c.orgRec(r.Context(), r.PathValue("guid"))
		if err != nil {
			return err
		}
		if b.Name != nil {
			o.Name = *b.Name
		}
		if b.Suspended != nil {
			o.Suspended = *b.Suspended
		}
		err = c.deps.Store.Orgs().Update(r.Context(), o)
		switch {
		case err == nil:
			return c.writeOrg(w, r, http.StatusOK, o)
		case errors.Is(err, store.ErrDuplicate):
			return apierr.Unprocessable("Organization '%s' already exists.", o.Name)
		case errors.Is(err, store.ErrConflict) && attempt < 3:
			continue
		default:
			return notFound(err, "Organization")
		}
	}
}

func (c *Controller) listSpaces(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	visible, err := c.restrictSpaces(r.Context(), filterValues(q, "guids"))
	if err != nil {
		return err
	}
	spaces, err := c.deps.Store.Spaces().List(r.Context(), store.ListOptions{
		Names: filterValues(q, "names"), GUIDs: visible, OrgGUIDs: filterValues(q, "organization_guids"),
	})
	if err != nil {
		return err
	}
	page, total := sortAndPage(spaces, lp, spaceMeta, spaceName)
	out := make([]*presenters.Space, 0, len(page))
	orgGUIDs := map[string]bool{}
	refs, err := c.loadQuotaRefs(r.Context())
	if err != nil {
		return err
	}
	for _, s := range page {
		out = append(out, c.presentSpace(refs, s))
		orgGUIDs[s.OrgGUID] = true
	}
	var included map[string]any
	if includes(r)["organization"] {
		orgs := []*presenters.Org{}
		for g := range orgGUIDs {
			if o, err := c.deps.Store.Orgs().Get(r.Context(), g); err == nil {
				orgs = append(orgs, c.pres.Org(o))
			}
		}
		included = map[string]any{"organizations": orgs}
	}
	return c.writeList(w, r, lp, total, out, included)
}

func (c *Controller) getSpace(w http.ResponseWriter, r *http.Request) error {
	s, err := c.spaceRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return c.writeSpace(w, r, http.StatusOK, s)
}

type relBody struct {
	Data *struct {
		GUID string `json:"guid"`
	} `json:"data"`
}

func (rb relBody) guid() string {
	if rb.Data == nil {
		return ""
	}
	return rb.Data.GUID
}

type spaceBody struct {
	Name          *string `json:"name"`
	Relationships struct {
		Organization relBody `json:"organization"`
	} `json:"relationships"`
}

func (c *Controller) createSpace(w http.ResponseWriter, r *http.Request) error {
	var b spaceBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return apierr.Unprocessable("Name can't be blank")
	}
	if err := validateName("Name", *b.Name); err != nil {
		return err
	}
	orgGUID := b.Relationships.Organization.guid()
	if orgGUID == "" {
		return apierr.Unprocessable("Relationships Organization must be a relationship to an organization")
	}
	if _, err := c.deps.Store.Orgs().Get(r.Context(), orgGUID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.Unprocessable("Invalid organization. Ensure the organization exists and you have access to it.")
		}
		return err
	}
	if err := c.checkOrg(r, orgGUID, apierr.Unprocessable("%s", msgInvalidOrg)); err != nil {
		return err
	}
	s := &store.Space{Meta: store.Meta{GUID: newGUID()}, Name: *b.Name, OrgGUID: orgGUID}
	if err := c.deps.Store.Spaces().Create(r.Context(), s); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return apierr.Unprocessable("Name must be unique per organization")
		}
		return err
	}
	c.noteEvent(r.Context(), eventSpaceCreate, eventTarget{guid: s.GUID, typ: "space", name: s.Name, space: s.GUID, org: s.OrgGUID},
		map[string]any{"request": map[string]any{"name": s.Name}})
	return c.writeSpace(w, r, http.StatusCreated, s)
}

func (c *Controller) updateSpace(w http.ResponseWriter, r *http.Request) error {
	var b spaceBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Name != nil {
		if err := validateName("Name", *b.Name); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		s, err := c.spaceRec(r.Context(), r.PathValue("guid"))
		if err != nil {
			return err
		}
		if b.Name != nil {
			s.Name = *b.Name
		}
		err = c.deps.Store.Spaces().Update(r.Context(), s)
		switch {
		case err == nil:
			return c.writeSpace(w, r, http.StatusOK, s)
		case errors.Is(err, store.ErrDuplicate):
			return apierr.Unprocessable("Name must be unique per organization")
		case errors.Is(err, store.ErrConflict) && attempt < 3:
			continue
		default:
			return notFound(err, "Space")
		}
	}
}

func (c *Controller) listDomains(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ds, err := c.deps.Store.Domains().List(r.Context(), store.ListOptions{
		Names: filterValues(q, "names"), GUIDs: filterValues(q, "guids"), OrgGUIDs: filterValues(q, "organization_guids"),
	})
	if err != nil {
		return err
	}
	if orgs, all, err := c.readableOrgs(r.Context()); err != nil {
		return err
	} else if !all {
		kept := ds[:0]
		for _, d := range ds {
			if d.OrgGUID == "" || slices.Contains(orgs, d.OrgGUID) {
				kept = append(kept, d)
			}
		}
		ds = kept
	}
	return c.writeDomains(w, r, lp, ds)
}

func (c *Controller) writeDomains(w http.ResponseWriter, r *http.Request, lp listParams, ds []*store.Domain) error {
	return writePage(c, w, r, lp, ds, domainMeta, domainName, c.pres.Domain)
}

func (c *Controller) getDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := c.deps.Store.Domains().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Domain")
	}
	return writeJSON(w, http.StatusOK, c.pres.Domain(d))
}

// orgDomains lists the domains usable in an org: shared ones and its own.
func (c *Controller) orgDomains(ctx context.Context, orgGUID string) ([]*store.Domain, error) {
	all, err := c.deps.Store.Domains().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*store.Domain
	for _, d := range all {
		if d.OrgGUID == "" || d.OrgGUID == orgGUID {
			out = append(out, d)
		}
	}
	return out, nil
}

func (c *Controller) listOrgDomains(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, true)
	if err != nil {
		return err
	}
	o, err := c.orgRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	ds, err := c.orgDomains(r.Context(), o.GUID)
	if err != nil {
		return err
	}
	if names := filterValues(r.URL.Query(), "names"); names != nil {
		var keep []*store.Domain
		for _, d := range ds {
			for _, n := range names {
				if d.Name == n {
					keep = append(keep, d)
				}
			}
		}
		ds = keep
	}
	return c.writeDomains(w, r, lp, ds)
}

// defaultDomain is the org's default domain: the configured shared domain
// if it exists, else the oldest domain usable in the org.
func (c *Controller) defaultDomain(ctx context.Context, orgGUID string) (*store.Domain, error) {
	ds, err := c.orgDomains(ctx, orgGUID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Name == c.cfg.Domain && !d.Internal {
			return d, nil
		}
	}
	for _, d := range ds {
		if !d.Internal {
			return d, nil
		}
	}
	return nil, apierr.NotFound("Domain")
}

func (c *Controller) getOrgDefaultDomain(w http.ResponseWriter, r *http.Request) error {
	o, err := c.orgRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	d, err := c.defaultDomain(r.Context(), o.GUID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.pres.Domain(d))
}

func orUnprocessable(err error, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.Unprocessable("%s", msg)
	}
	return fmt.Errorf("look up: %w", err)
}

func (c *Controller) writeOrg(w http.ResponseWriter, r *http.Request, status int, o *store.Org) error {
	out, err := c.orgJSON(r.Context(), o)
	if err != nil {
		return err
	}
	return writeJSON(w, status, out)
}

func (c *Controller) writeSpace(w http.ResponseWriter, r *http.Request, status int, s *store.Space) error {
	out, err := c.spaceJSON(r.Context(), s)
	if err != nil {
		return err
	}
	return writeJSON(w, status, out)
}

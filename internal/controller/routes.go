package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

func routeMeta(r *store.Route) *store.Meta { return &r.Meta }

// validateHost checks a route host: "", "*", or one DNS label of
// letters, digits, '-' and '_'.
func validateHost(h string) error {
	if h == "" || h == "*" {
		return nil
	}
	if len(h) > 63 {
		return apierr.Unprocessable("Host cannot exceed 63 characters")
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return apierr.Unprocessable("Host must be either \"*\" or contain only alphanumeric characters, \"_\", or \"-\"")
		}
	}
	if strings.HasPrefix(h, "-") || strings.HasSuffix(h, "-") {
		return apierr.Unprocessable("Host must not start or end with \"-\"")
	}
	return nil
}

// validatePath checks a route path: "" or "/segment...".
func validatePath(p string) error {
	switch {
	case p == "":
		return nil
	case !strings.HasPrefix(p, "/"):
		return apierr.Unprocessable("Path must begin with /")
	case p == "/":
		return apierr.Unprocessable("Path cannot be exactly /")
	case len(p) > 128:
		return apierr.Unprocessable("Path cannot exceed 128 characters")
	case strings.ContainsAny(p, "?#\\ \t\n\r\x00") || strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return apierr.Unprocessable("Path is not a valid URL path")
	}
	return nil
}

// validateDomainName checks a domain name.
func validateDomainName(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("must be 1 to 253 characters")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("label %q is not valid", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("label %q has an invalid character", label)
			}
		}
	}
	return nil
}

func routeExists(host, path, domain string) error {
	if path != "" {
		return apierr.Unprocessable("Route already exists with host '%s' and path '%s' for domain '%s'.", host, path, domain)
	}
	return apierr.Unprocessable("Route already exists with host '%s' for domain '%s'.", host, domain)
}

// createRouteRecord validates and creates a route.
func (c *Controller) createRouteRecord(ctx context.Context, st store.Store, host, path, domainGUID, spaceGUID string) (*store.Route, *store.Domain, error) {
	host = strings.ToLower(host)
	if err := validateHost(host); err != nil {
		return nil, nil, err
	}
	if err := validatePath(path); err != nil {
		return nil, nil, err
	}
	d, err := st.Domains().Get(ctx, domainGUID)
	if err != nil {
		return nil, nil, orUnprocessable(err, "Invalid domain. Ensure that the domain exists and you have access to it.")
	}
	s, err := st.Spaces().Get(ctx, spaceGUID)
	if err != nil {
		return nil, nil, orUnprocessable(err, "Invalid space. Ensure that the space exists and you have access to it.")
	}
	if d.OrgGUID != "" && d.OrgGUID != s.OrgGUID {
		return nil, nil, apierr.Unprocessable("Invalid domain. Domain '%s' is not available in the space's organization.", d.Name)
	}
	if len(presenters.RouteURL(host, d.Name, "")) > 253 {
		return nil, nil, apierr.Unprocessable("Host combined with domain name must be no more than 253 characters")
	}
	rt := &store.Route{Meta: store.Meta{GUID: newGUID()}, Host: host, Path: path, DomainGUID: d.GUID, SpaceGUID: s.GUID}
	if err := c.checkRouteQuota(ctx, st, s.GUID); err != nil {
		return nil, nil, err
	}
	if err := st.Routes().Create(ctx, rt); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, nil, routeExists(host, path, d.Name)
		}
		return nil, nil, err
	}
	if err := c.recordEvent(ctx, st, eventRouteCreate, eventTarget{guid: rt.GUID, typ: "route", name: host, space: s.GUID, org: s.OrgGUID},
		map[string]any{"request": map[string]any{"host": host, "path": path, "domain_guid": d.GUID}}); err != nil {
		return nil, nil, err
	}
	return rt, d, nil
}

type routeBody struct {
	Host          string `json:"host"`
	Path          string `json:"path"`
	Port          *int   `json:"port"`
	Relationships struct {
		Domain relBody `json:"domain"`
		Space  relBody `json:"space"`
	} `json:"relationships"`
}

func (c *Controller) createRoute(w http.ResponseWriter, r *http.Request) error {
	var b routeBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Port != nil {
		return apierr.Unprocessable("TCP routes are not supported; leave port unset")
	}
	if b.Relationships.Domain.guid() == "" {
		return apierr.Unprocessable("Relationships Domain must be a relationship to a domain")
	}
	if b.Relationships.Space.guid() == "" {
		return apierr.Unprocessable("Relationships Space must be a relationship to a space")
	}
	if err := c.checkSpace(r, b.Relationships.Space.guid(), apierr.Unprocessable("%s", msgInvalidSpace)); err != nil {
		return err
	}
	var (
		rt *store.Route
		d  *store.Domain
	)
	err := c.deps.Store.InTx(r.Context(), func(tx store.Store) error {
		var err error
		rt, d, err = c.createRouteRecord(r.Context(), tx, b.Host, b.Path, b.Relationships.Domain.guid(), b.Relationships.Space.guid())
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, c.pres.Route(rt, d.Name, nil))
}

// presentRoutes renders routes with their domains and destinations.
func (c *Controller) presentRoutes(ctx context.Context, routes []*store.Route) ([]*presenters.Route, error) {
	out := make([]*presenters.Route, 0, len(routes))
	if len(routes) == 0 {
		return out, nil
	}
	guids := make([]string, 0, len(routes))
	for _, rt := range routes {
		guids = append(guids, rt.GUID)
	}
	dests, err := c.deps.Store.Destinations().List(ctx, store.ListOptions{RouteGUIDs: guids})
	if err != nil {
		return nil, err
	}
	byRoute := map[string][]*store.Destination{}
	for _, d := range dests {
		byRoute[d.RouteGUID] = append(byRoute[d.RouteGUID], d)
	}
	domains := map[string]string{}
	for _, rt := range routes {
		name, ok := domains[rt.DomainGUID]
		if !ok {
			if d, err := c.deps.Store.Domains().Get(ctx, rt.DomainGUID); err == nil {
				name = d.Name
			}
			domains[rt.DomainGUID] = name
		}
		out = append(out, c.pres.Route(rt, name, byRoute[rt.GUID]))
	}
	return out, nil
}

// routesOfApps lists the routes with a destination to any of the apps.
func (c *Controller) routesOfApps(ctx context.Context, appGUIDs []string) ([]string, error) {
	dests, err := c.deps.Store.Destinations().List(ctx, store.ListOptions{AppGUIDs: appGUIDs})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []string{}
	for _, d := range dests {
		if !seen[d.RouteGUID] {
			seen[d.RouteGUID] = true
			out = append(out, d.RouteGUID)
		}
	}
	return out, nil
}

func (c *Controller) listRoutes(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ctx := r.Context()
	opt := store.ListOptions{
		GUIDs: filterValues(q, "guids"), Hosts: filterValues(q, "hosts"), Paths: filterValues(q, "paths"),
		DomainGUIDs: filterValues(q, "domain_guids"), SpaceGUIDs: filterValues(q, "space_guids"),
	}
	if orgs := filterValues(q, "organization_guids"); orgs != nil {
		spaces, err := c.deps.Store.Spaces().List(ctx, store.ListOptions{OrgGUIDs: orgs})
		if err != nil {
			return err
		}
		ids := []string{}
		for _, s := range spaces {
			ids = append(ids, s.GUID)
		}
		opt.SpaceGUIDs = intersect(opt.SpaceGUIDs, ids)
	}
	if apps := filterValues(q, "app_guids"); apps != nil {
		ids, err := c.routesOfApps(ctx, apps)
		if err != nil {
			return err
		}
		opt.GUIDs = intersect(opt.GUIDs, ids)
	}
	return c.writeRoutes(w, r, lp, opt)
}

func (c *Controller) writeRoutes(w http.ResponseWriter, r *http.Request, lp listParams, opt store.ListOptions) error {
	var routes []*store.Route
	spaces, err := c.restrictSpaces(r.Context(), opt.SpaceGUIDs)
	if err != nil {
		return err
	}
	opt.SpaceGUIDs = spaces
	if (opt.GUIDs == nil || len(opt.GUIDs) > 0) && (opt.SpaceGUIDs == nil || len(opt.SpaceGUIDs) > 0) {
		if routes, err = c.deps.Store.Routes().List(r.Context(), opt); err != nil {
			return err
		}
	}
	page, total := sortAndPage(routes, lp, routeMeta, nil)
	out, err := c.presentRoutes(r.Context(), page)
	if err != nil {
		return err
	}
	return c.writeList(w, r, lp, total, out, nil)
}

func (c *Controller) listAppRoutes(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	ids, err := c.routesOfApps(r.Context(), []string{a.GUID})
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opt := store.ListOptions{GUIDs: ids, Hosts: filterValues(q, "hosts"), Paths: filterValues(q, "paths"), DomainGUIDs: filterValues(q, "domain_guids")}
	return c.writeRoutes(w, r, lp, opt)
}

func (c *Controller) routeRec(ctx context.Context, guid string) (*store.Route, error) {
	rt, err := c.deps.Store.Routes().Get(ctx, guid)
	return rt, notFound(err, "Route")
}

func (c *Controller) getRoute(w http.ResponseWriter, r *http.Request) error {
	rt, err := c.routeRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	out, err := c.presentRoutes(r.Context(), []*store.Route{rt})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out[0])
}

func (c *Controller) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	rt, err := c.routeRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	guid := rt.GUID
	c.noteEvent(r.Context(), eventRouteDelete, eventTarget{guid: rt.GUID, typ: "route", name: rt.Host, space: rt.SpaceGUID,
		org: c.orgOf(r.Context(), c.deps.Store, rt.SpaceGUID)}, map[string]any{"request": map[string]any{"recursive": true}})
	return c.runJob(w, r, "route.delete", "route", guid, func(ctx context.Context) ([]string, error) {
		dests, err := c.deps.Store.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{guid}})
		if err != nil {
			return nil, err
		}
		if err := ignoreNotFound(c.deps.Store.Routes().Delete(ctx, guid)); err != nil {
			return nil, err
		}
		c.publishRoutesFor(ctx, dests)
		return nil, nil
	})
}

// publishRoutesFor sends dea.update for every app among dests.
func (c *Controller) publishRoutesFor(ctx context.Context, dests []*store.Destination) {
	seen := map[string]bool{}
	for _, d := range dests {
		if !seen[d.AppGUID] {
			seen[d.AppGUID] = true
			c.publishRoutes(ctx, d.AppGUID)
		}
	}
}

func (c *Controller) listRouteDestinations(w http.ResponseWriter, r *http.Request) error {
	rt, err := c.routeRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return c.writeDestinations(w, r, rt.GUID)
}

func (c *Controller) writeDestinations(w http.ResponseWriter, r *http.Request, routeGUID string) error {
	dests, err := c.deps.Store.Destinations().List(r.Context(), store.ListOptions{RouteGUIDs: []string{routeGUID}})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.pres.RouteDestinations(routeGUID, dests))
}

type destinationsBody struct {
	Destinations []struct {
		App struct {
			GUID    string `json:"guid"`
			Process *struct {
				Type string `json:"type"`
			} `json:"process"`
		} `json:"app"`
		Port     *int    `json:"port"`
		Protocol *string `json:"protocol"`
	} `json:"destinations"`
}

// wanted validates the requested destinations of a route.
func (c *Controller) wantedDestinations(ctx context.Context, rt *store.Route, b *destinationsBody) ([]*store.Destination, error) {
	if len(b.Destinations) > 100 {
		return nil, apierr.Unprocessable("Destinations can have at most 100 entries")
	}
	var out []*store.Destination
	seen := map[string]bool{}
	for i, d := range b.Destinations {
		if d.App.GUID == "" {
			return nil, apierr.Unprocessable("Destinations[%d]: app guid is required", i)
		}
		pt := "web"
		if d.App.Process != nil && d.App.Process.Type != "" {
			pt = d.App.Process.Type
		}
		if d.Protocol != nil && *d.Protocol != "http1" {
			return nil, apierr.Unprocessable("Destinations[%d]: protocol must be http1", i)
		}
		port := 0
		if d.Port != nil {
			if *d.Port < 1024 || *d.Port > 65535 {
				return nil, apierr.Unprocessable("Destinations[%d]: port must be between 1024 and 65535", i)
			}
			port = *d.Port
		}
		a, err := c.deps.Store.Apps().Get(ctx, d.App.GUID)
		if err != nil {
			return nil, orUnprocessable(err, fmt.Sprintf("App with guid '%s' not found", d.App.GUID))
		}
		if a.SpaceGUID != rt.SpaceGUID && !c.canSeeSpace(ctx, a.SpaceGUID) {
			return nil, apierr.Unprocessable("App with guid '%s' not found", d.App.GUID) // as if it did not exist
		}
		if a.SpaceGUID != rt.SpaceGUID {
			return nil, apierr.Unprocessable("Routes destinations must be in the same space as the route")
		}
		key := a.GUID + "/" + pt
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, &store.Destination{Meta: store.Meta{GUID: newGUID()}, RouteGUID: rt.GUID, AppGUID: a.GUID, ProcessType: pt, Port: port})
	}
	return out, nil
}

// mapRoute adds destinations to a route, skipping ones that exist.
func (c *Controller) mapRoute(ctx context.Context, st store.Store, routeGUID string, want []*store.Destination) error {
	have, err := st.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{routeGUID}})
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, d := range have {
		exists[d.AppGUID+"/"+d.ProcessType] = true
	}
	for _, d := range want {
		if exists[d.AppGUID+"/"+d.ProcessType] {
			continue
		}
		if err := st.Destinations().Create(ctx, d); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	return nil
}

func (c *Controller) addRouteDestinations(w http.ResponseWriter, r *http.Request) error {
	var b destinationsBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	rt, err := c.routeRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	want, err := c.wantedDestinations(r.Context(), rt, &b)
	if err != nil {
		return err
	}
	if err := c.mapRoute(r.Context(), c.deps.Store, rt.GUID, want); err != nil {
		return err
	}
	c.publishRoutesFor(r.Context(), want)
	return c.writeDestinations(w, r, rt.GUID)
}

func (c *Controller) replaceRouteDestinations(w http.ResponseWriter, r *http.Request) error {
	var b destinationsBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	ctx := r.Context()
	rt, err := c.routeRec(ctx, r.PathValue("guid"))
	if err != nil {
		return err
	}
	want, err := c.wantedDestinations(ctx, rt, &b)
	if err != nil {
		return err
	}
	var old []*store.Destination
	err = c.deps.Store.InTx(ctx, func(tx store.Store) error {
		var err error
		if old, err = tx.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{rt.GUID}}); err != nil {
			return err
		}
		keep := map[string]bool{}
		for _, d := range want {
			keep[d.AppGUID+"/"+d.ProcessType] = true
		}
		for _, d := range old {
			if !keep[d.AppGUID+"/"+d.ProcessType] {
				if err := ignoreNotFound(tx.Destinations().Delete(ctx, d.GUID)); err != nil {
					return err
				}
			}
		}
		return c.mapRoute(ctx, tx, rt.GUID, want)
	})
	if err != nil {
		return err
	}
	c.publishRoutesFor(ctx, append(old, want...))
	return c.writeDestinations(w, r, rt.GUID)
}

func (c *Controller) deleteRouteDestination(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rt, err := c.routeRec(ctx, r.PathValue("guid"))
	if err != nil {
		return err
	}
	dests, err := c.deps.Store.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{rt.GUID}, GUIDs: []string{r.PathValue("dest")}})
	if err != nil {
		return err
	}
	if len(dests) == 0 {
		return apierr.Unprocessable("Unable to unmap route from destination. Ensure the route has a destination with this guid.")
	}
	if err := ignoreNotFound(c.deps.Store.Destinations().Delete(ctx, dests[0].GUID)); err != nil {
		return err
	}
	c.publishRoutesFor(ctx, dests)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

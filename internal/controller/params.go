package controller

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// MaxPerPage is CF's page size limit.
const MaxPerPage = 5000

// listParams are a list request's paging and ordering.
type listParams struct {
	page, perPage int
	orderBy       string // created_at, updated_at or name
	desc          bool
}

// parseList reads page, per_page and order_by. canName tells whether the
// resource can be ordered by name.
func parseList(r *http.Request, canName bool) (listParams, error) {
	q := r.URL.Query()
	lp := listParams{page: 1, perPage: 50, orderBy: "created_at"}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return lp, apierr.BadQueryParameter("Page must be greater than 0")
		}
		lp.page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPerPage {
			return lp, apierr.BadQueryParameter("Per page must be between 1 and %d", MaxPerPage)
		}
		lp.perPage = n
	}
	if v := q.Get("order_by"); v != "" {
		field := strings.TrimPrefix(strings.TrimPrefix(v, "-"), "+")
		lp.desc = strings.HasPrefix(v, "-")
		switch {
		case field == "created_at" || field == "updated_at":
		case field == "name" && canName:
		default:
			allowed := "'created_at', 'updated_at'"
			if canName {
				allowed += ", 'name'"
			}
			return lp, apierr.BadQueryParameter("Order by can only be: %s", allowed)
		}
		lp.orderBy = field
	}
	return lp, nil
}

// filterValues reads a comma-separated filter (names=a,b); nil when absent.
// A present but empty filter gives []string{""}, which matches nothing
// except an empty value.
func filterValues(q url.Values, key string) []string {
	vs, ok := q[key]
	if !ok {
		return nil
	}
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(s))
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// intersect narrows a filter by another set; nil means "no filter".
func intersect(filter, allowed []string) []string {
	if filter == nil {
		return allowed
	}
	set := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		set[a] = true
	}
	out := []string{}
	for _, f := range filter {
		if set[f] {
			out = append(out, f)
		}
	}
	return out
}

// sortAndPage orders items per lp and returns the requested page and the
// total count.
func sortAndPage[T any](items []T, lp listParams, meta func(T) *store.Meta, name func(T) string) ([]T, int) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := meta(items[i]), meta(items[j])
		var less, equal bool
		switch lp.orderBy {
		case "name":
			if name != nil {
				na, nb := name(items[i]), name(items[j])
				less, equal = na < nb, na == nb
			}
		case "updated_at":
			less, equal = a.UpdatedAt.Before(b.UpdatedAt), a.UpdatedAt.Equal(b.UpdatedAt)
		default:
			less, equal = a.CreatedAt.Before(b.CreatedAt), a.CreatedAt.Equal(b.CreatedAt)
		}
		if equal {
			less = a.GUID < b.GUID
		}
		if lp.desc {
			return !less && !(equal && a.GUID == b.GUID)
		}
		return less
	})
	total := len(items)
	start := (lp.page - 1) * lp.perPage
	if start >= total {
		return items[:0], total
	}
	end := min(start+lp.perPage, total)
	return items[start:end], total
}

// writeList renders a page of already-presented resources.
func (c *Controller) writeList(w http.ResponseWriter, r *http.Request, lp listParams, total int, resources any, included map[string]any) error {
	l := c.pres.NewList(r.URL.Path, r.URL.Query(), lp.page, lp.perPage, total, resources)
	l.Included = included
	return writeJSON(w, http.StatusOK, l)
}

// writePage sorts and pages items and writes each through present.
func writePage[T, P any](c *Controller, w http.ResponseWriter, r *http.Request, lp listParams, items []T,
	meta func(T) *store.Meta, name func(T) string, present func(T) P) error {
	page, total := sortAndPage(items, lp, meta, name)
	out := make([]P, 0, len(page))
	for _, it := range page {
		out = append(out, present(it))
	}
	return c.writeList(w, r, lp, total, out, nil)
}

// emptyList answers a list that has no resources of this kind.
func (c *Controller) emptyList(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	return c.writeList(w, r, lp, 0, []any{}, nil)
}

// includes reads include=a,b into a set.
func includes(r *http.Request) map[string]bool {
	out := map[string]bool{}
	for _, v := range filterValues(r.URL.Query(), "include") {
		if v != "" {
			out[v] = true
		}
	}
	return out
}

// appScopedList starts a list of resources that belong to apps: the list
// parameters, the query, and the app_guids filter narrowed to the apps
// the caller may read (nil: no filter, all visible).
func (c *Controller) appScopedList(r *http.Request) (listParams, url.Values, []string, error) {
	lp, err := parseList(r, false)
	if err != nil {
		return lp, nil, nil, err
	}
	q := r.URL.Query()
	apps, err := c.restrictApps(r.Context(), filterValues(q, "app_guids"))
	return lp, q, apps, err
}

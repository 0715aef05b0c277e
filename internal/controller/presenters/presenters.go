// Package presenters turns store records into Cloud Controller v3 JSON:
// guid, created_at/updated_at (RFC 3339 UTC), relationships as
// {"data":{"guid"}}, empty metadata, absolute links, and paginated lists.
// Records, bus messages and API JSON stay separate types.
package presenters

import (
	"net/url"
	"strconv"
	"time"
)

// TimeFormat is CF's timestamp format: seconds, UTC, "Z".
const TimeFormat = "2006-01-02T15:04:05Z"

// Time formats t for the API.
func Time(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Link is one entry of links.
type Link struct {
	Href   string `json:"href"`
	Method string `json:"method,omitempty"`
}

// Links maps link names to links.
type Links map[string]Link

// GUIDRef is {"guid": ...}.
type GUIDRef struct {
	GUID string `json:"guid"`
}

// ToOne is a to-one relationship, {"data":{"guid"}} or {"data":null}.
type ToOne struct {
	Data *GUIDRef `json:"data"`
}

// Rel builds a to-one relationship; "" gives {"data":null}.
func Rel(guid string) ToOne {
	if guid == "" {
		return ToOne{}
	}
	return ToOne{Data: &GUIDRef{GUID: guid}}
}

// Metadata is labels and annotations (always empty maps for now).
type Metadata struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func emptyMetadata() Metadata {
	return Metadata{Labels: map[string]string{}, Annotations: map[string]string{}}
}

// Presenter renders records with absolute links under BaseURL.
type Presenter struct {
	// BaseURL is the API's external URL without a trailing slash.
	BaseURL string
}

// URL is BaseURL + path.
func (p Presenter) URL(path string) string { return p.BaseURL + path }

func (p Presenter) link(path string) Link { return Link{Href: p.BaseURL + path} }

func (p Presenter) post(path string) Link { return Link{Href: p.BaseURL + path, Method: "POST"} }

// Pagination is a list's pagination block.
type Pagination struct {
	TotalResults int   `json:"total_results"`
	TotalPages   int   `json:"total_pages"`
	First        Link  `json:"first"`
	Last         Link  `json:"last"`
	Next         *Link `json:"next"`
	Previous     *Link `json:"previous"`
}

// List is a paginated list.
type List struct {
	Pagination Pagination     `json:"pagination"`
	Resources  any            `json:"resources"`
	Included   map[string]any `json:"included,omitempty"`
}

// NewList builds a list page. path is the request path; query the request
// query (page is replaced in each link); total the number of matching
// resources; resources the items of this page.
func (p Presenter) NewList(path string, query url.Values, page, perPage, total int, resources any) *List {
	pages := 1
	if total > 0 {
		pages = (total + perPage - 1) / perPage
	}
	pageLink := func(n int) Link {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(perPage))
		return Link{Href: p.BaseURL + path + "?" + q.Encode()}
	}
	pg := Pagination{TotalResults: total, TotalPages: pages, First: pageLink(1), Last: pageLink(pages)}
	if page < pages {
		l := pageLink(page + 1)
		pg.Next = &l
	}
	if page > 1 {
		l := pageLink(min(page-1, pages))
		pg.Previous = &l
	}
	return &List{Pagination: pg, Resources: resources}
}

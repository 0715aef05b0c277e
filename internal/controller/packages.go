package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/pkgzip"
	"github.com/ingot-paas/ingot/internal/store"
)

func (c *Controller) packageRec(ctx context.Context, guid string) (*store.Package, error) {
	p, err := c.deps.Store.Packages().Get(ctx, guid)
	return p, notFound(err, "Package")
}

func packageMeta(p *store.Package) *store.Meta { return &p.Meta }

func (c *Controller) createPackage(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Type          string `json:"type"`
		Relationships struct {
			App relBody `json:"app"`
		} `json:"relationships"`
	}
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.Type != "bits" {
		return apierr.Unprocessable("Type must be 'bits' (docker packages are not supported)")
	}
	appGUID := b.Relationships.App.guid()
	if appGUID == "" {
		return apierr.Unprocessable("Relationships App must be a relationship to an app")
	}
	pkgApp, err := c.deps.Store.Apps().Get(r.Context(), appGUID)
	if err != nil {
		return orUnprocessable(err, "App is invalid. Ensure it exists and you have access to it.")
	}
	if err := c.checkSpace(r, pkgApp.SpaceGUID, apierr.Unprocessable("App is invalid. Ensure it exists and you have access to it.")); err != nil {
		return err
	}
	p := &store.Package{Meta: store.Meta{GUID: newGUID()}, AppGUID: appGUID, Type: "bits", State: store.PackageAwaitingUpload}
	if err := c.deps.Store.Packages().Create(r.Context(), p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, c.pres.Package(p))
}

func (c *Controller) writePackages(w http.ResponseWriter, r *http.Request, lp listParams, pkgs []*store.Package) error {
	return writePage(c, w, r, lp, pkgs, packageMeta, nil, c.pres.Package)
}

func (c *Controller) listPackages(w http.ResponseWriter, r *http.Request) error {
	lp, q, readableApps, err := c.appScopedList(r)
	if err != nil {
		return err
	}
	pkgs, err := c.deps.Store.Packages().List(r.Context(), store.ListOptions{
		AppGUIDs: readableApps, GUIDs: filterValues(q, "guids"),
		States: filterValues(q, "states"), Types: filterValues(q, "types"),
	})
	if err != nil {
		return err
	}
	return c.writePackages(w, r, lp, pkgs)
}

func (c *Controller) listAppPackages(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	a, err := c.appRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	pkgs, err := c.deps.Store.Packages().List(r.Context(), store.ListOptions{
		AppGUIDs: []string{a.GUID}, States: filterValues(q, "states"), Types: filterValues(q, "types"),
	})
	if err != nil {
		return err
	}
	return c.writePackages(w, r, lp, pkgs)
}

func (c *Controller) getPackage(w http.ResponseWriter, r *http.Request) error {
	p, err := c.packageRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.pres.Package(p))
}

func (c *Controller) downloadPackage(w http.ResponseWriter, r *http.Request) error {
	p, err := c.packageRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	if p.State != store.PackageReady {
		return apierr.Unprocessable("Package has no bits yet (state %s)", p.State)
	}
	return c.serveBlob(w, r, "packages/"+p.GUID, "application/zip")
}

func (c *Controller) listPackageDroplets(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	p, err := c.packageRec(r.Context(), r.PathValue("guid"))
	if err != nil {
		return err
	}
	ds, err := c.deps.Store.Droplets().List(r.Context(), store.ListOptions{PackageGUIDs: []string{p.GUID}, States: filterValues(r.URL.Query(), "states")})
	if err != nil {
		return err
	}
	return c.writeDroplets(w, r, lp, ds)
}

// resource is a file the client says the blobstore already has, in the
// cf CLI's shape (or the older fn/sha1/size one).
type resource struct {
	Path     string `json:"path"`
	Fn       string `json:"fn"`
	Mode     string `json:"mode"`
	Checksum struct {
		Value string `json:"value"`
	} `json:"checksum"`
	SHA1        string `json:"sha1"`
	SizeInBytes *int64 `json:"size_in_bytes"`
	Size        *int64 `json:"size"`
}

// matchedResource is a validated resource.
type matchedResource struct {
	path string
	mode uint32 // permission bits
	sha1 string
	size int64
}

var sha1RE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (r resource) validate(i int) (matchedResource, error) {
	m := matchedResource{path: r.Path, sha1: strings.ToLower(r.Checksum.Value)}
	if m.path == "" {
		m.path = r.Fn
	}
	if m.sha1 == "" {
		m.sha1 = strings.ToLower(r.SHA1)
	}
	switch {
	case r.SizeInBytes != nil:
		m.size = *r.SizeInBytes
	case r.Size != nil:
		m.size = *r.Size
	}
	p, err := pkgzip.CleanPath(m.path)
	if err != nil || p == "" {
		if err == nil {
			err = errors.New("empty path")
		}
		return m, apierr.Unprocessable("The app package is invalid: resource %d: %v", i, err)
	}
	m.path = p
	if !sha1RE.MatchString(m.sha1) {
		return m, apierr.Unprocessable("The app package is invalid: resource %q: checksum must be a sha1 in hex", p)
	}
	if m.size < 0 {
		return m, apierr.Unprocessable("The app package is invalid: resource %q: size must not be negative", p)
	}
	m.mode = 0o644
	if r.Mode != "" {
		mode, err := strconv.ParseUint(r.Mode, 8, 32)
		if err != nil {
			return m, apierr.Unprocessable("The app package is invalid: resource %q: mode %q is not an octal number", p, r.Mode)
		}
		if perm := uint32(mode) & 0o777; perm != 0 {
			m.mode = perm | 0o400
		}
	}
	return m, nil
}

func resourceKey(sha1 string) string { return "resources/" + sha1 }

// resourceMatches serves POST /v3/resource_matches: the subset of the
// given files whose content the blobstore already holds.
func (c *Controller) resourceMatches(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
	if err != nil {
		return apierr.TooLarge("The resource list is too large")
	}
	var b struct {
		Resources []resource `json:"resources"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return apierr.MessageParse("invalid request body")
	}
	if len(b.Resources) > c.cfg.MaxPackageFiles {
		return apierr.Unprocessable("Resources can list at most %d files", c.cfg.MaxPackageFiles)
	}
	type out struct {
		Path     string `json:"path"`
		Mode     string `json:"mode"`
		Checksum struct {
			Value string `json:"value"`
		} `json:"checksum"`
		SizeInBytes int64 `json:"size_in_bytes"`
	}
	matched := []out{}
	for i, res := range b.Resources {
		m, err := res.validate(i)
		if err != nil || m.size == 0 {
			continue
		}
		ok, err := c.deps.Blobs.Exists(r.Context(), resourceKey(m.sha1))
		if err != nil {
			return fmt.Errorf("resource match: %w", err)
		}
		if !ok {
			continue
		}
		o := out{Path: m.path, Mode: strconv.FormatUint(uint64(m.mode&0o777), 8), SizeInBytes: m.size}
		o.Checksum.Value = m.sha1
		matched = append(matched, o)
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"resources": matched})
}

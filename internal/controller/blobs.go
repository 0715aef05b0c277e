package controller

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ingot-paas/ingot/internal/blobstore"
	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// anyMethod signs a URL valid for GET and PUT (the buildpack cache).
const anyMethod = "ANY"

var (
	errSignatureExpired = errors.New("signature expired")
	errSignatureInvalid = errors.New("signature invalid")
)

func (c *Controller) signature(method, path string, expires int64) string {
	m := hmac.New(sha256.New, c.secret)
	fmt.Fprintf(m, "%s\n%s\n%d", method, path, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// signURL returns an absolute URL for path that the holder may use with
// method (or GET and PUT for anyMethod) for blobURLTTL, with no token.
func (c *Controller) signURL(method, path string) string {
	exp := time.Now().Add(blobURLTTL).Unix()
	q := url.Values{}
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("signature", c.signature(method, path, exp))
	return c.url + path + "?" + q.Encode()
}

// verifySignature checks a signed URL's expiry and HMAC.
func (c *Controller) verifySignature(method, path string, q url.Values, now time.Time) error {
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return errSignatureInvalid
	}
	got, err := hex.DecodeString(q.Get("signature"))
	if err != nil || len(got) != sha256.Size {
		return errSignatureInvalid
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	ok := false
	for _, m := range []string{method, anyMethod} {
		want, _ := hex.DecodeString(c.signature(m, path, exp))
		if hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return errSignatureInvalid
	}
	if now.Unix() > exp {
		return errSignatureExpired
	}
	return nil
}

// serveBlob streams a blob.
func (c *Controller) serveBlob(w http.ResponseWriter, r *http.Request, key, contentType string) error {
	rc, err := c.deps.Blobs.Get(r.Context(), key)
	if errors.Is(err, blobstore.ErrNotFound) || errors.Is(err, blobstore.ErrInvalidKey) {
		return apierr.NotFound("Blob")
	}
	if err != nil {
		return fmt.Errorf("open blob %s: %w", key, err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, rc); err != nil {
		c.log.Debug("blob-send-interrupted", "key", key, "error", err)
	}
	return nil
}

func validGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func (c *Controller) internalGetPackage(w http.ResponseWriter, r *http.Request) error {
	guid := r.PathValue("guid")
	if !validGUID(guid) {
		return apierr.NotFound("Package")
	}
	return c.serveBlob(w, r, "packages/"+guid, "application/zip")
}

func (c *Controller) internalGetDroplet(w http.ResponseWriter, r *http.Request) error {
	guid := r.PathValue("guid")
	if !validGUID(guid) {
		return apierr.NotFound("Droplet")
	}
	return c.serveBlob(w, r, "droplets/"+guid, "application/gzip")
}

// internalPutDroplet receives a stager's droplet for a staging build and
// records its sha256 and size; the build completes when the stager
// replies.
func (c *Controller) internalPutDroplet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	guid := r.PathValue("guid")
	if !validGUID(guid) {
		return apierr.NotFound("Droplet")
	}
	d, err := c.deps.Store.Droplets().Get(ctx, guid)
	if err != nil {
		return notFound(err, "Droplet")
	}
	if d.State != store.BuildStaging {
		return apierr.Unprocessable("Droplet %s is %s; only a staging droplet takes an upload", guid, d.State)
	}
	h := sha256.New()
	body := http.MaxBytesReader(w, r.Body, c.cfg.MaxDropletBytes)
	n, err := c.deps.Blobs.Put(ctx, "droplets/"+guid, io.TeeReader(body, h))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apierr.TooLarge("The droplet is larger than the limit of %d bytes", c.cfg.MaxDropletBytes)
		}
		return fmt.Errorf("store droplet: %w", err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	for attempt := 0; ; attempt++ {
		d, err = c.deps.Store.Droplets().Get(ctx, guid)
		if err != nil {
			return notFound(err, "Droplet")
		}
		d.Digest, d.Size = digest, n
		err = c.deps.Store.Droplets().Update(ctx, d)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	c.log.Info("droplet-uploaded", "droplet_guid", guid, "app_guid", d.AppGUID, "bytes", n)
	return writeJSON(w, http.StatusCreated, map[string]any{"guid": guid, "sha256": digest, "size": n})
}

func (c *Controller) internalGetCache(w http.ResponseWriter, r *http.Request) error {
	guid := r.PathValue("guid")
	if !validGUID(guid) {
		return apierr.NotFound("Buildpack cache")
	}
	return c.serveBlob(w, r, "caches/"+guid, "application/gzip")
}

func (c *Controller) internalPutCache(w http.ResponseWriter, r *http.Request) error {
	guid := r.PathValue("guid")
	if !validGUID(guid) {
		return apierr.NotFound("App")
	}
	if _, err := c.appRec(r.Context(), guid); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, c.cfg.MaxDropletBytes)
	n, err := c.deps.Blobs.Put(r.Context(), "caches/"+guid, body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apierr.TooLarge("The buildpack cache is larger than the limit of %d bytes", c.cfg.MaxDropletBytes)
		}
		return fmt.Errorf("store buildpack cache: %w", err)
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"size": n})
}

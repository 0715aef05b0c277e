package controller

import (
	"archive/zip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"strings"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/pkgzip"
	"github.com/ingot-paas/ingot/internal/store"
)

// maxResourcesField bounds the JSON list of matched resources.
const maxResourcesField = 64 << 20

// uploadPackage serves POST /v3/packages/:guid/upload, multipart with
// "resources" (files the blobstore already has) and "bits" (a zip of the
// rest). Everything is validated before anything is stored; the package
// becomes READY when the merged zip is in the blobstore (the response waits
// for that). A rejected upload leaves the package as it was.
func (c *Controller) uploadPackage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	pkg, err := c.packageRec(ctx, r.PathValue("guid"))
	if err != nil {
		return err
	}
	if pkg.State != store.PackageAwaitingUpload && pkg.State != store.PackageFailed {
		return apierr.Unprocessable("Bits can only be uploaded to a package in the AWAITING_UPLOAD state (this one is %s)", pkg.State)
	}
	select {
	case c.uploadSem <- struct{}{}:
		defer func() { <-c.uploadSem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return apierr.Unprocessable("The upload must be multipart/form-data with the fields resources and bits")
	}
	resources, bits, err := c.readUploadParts(mr)
	if bits != nil {
		defer func() {
			bits.Close()
			os.Remove(bits.Name())
		}()
	}
	if err != nil {
		return err
	}
	plan, err := c.planPackage(ctx, resources, bits)
	if err != nil {
		return err
	}
	if err := c.setPackageState(ctx, pkg.GUID, store.PackageProcessingUpload, "", "", 0); err != nil {
		return err
	}
	digest, size, err := c.writePackage(ctx, pkg.GUID, plan)
	if err != nil {
		msg := "failed to store the package"
		if e := apierr.As(err); e != nil {
			msg = e.Detail
		}
		_ = c.setPackageState(context.WithoutCancel(ctx), pkg.GUID, store.PackageFailed, msg, "", 0)
		return err
	}
	if err := c.setPackageState(ctx, pkg.GUID, store.PackageReady, "", digest, size); err != nil {
		return err
	}
	pkg, err = c.packageRec(ctx, pkg.GUID)
	if err != nil {
		return err
	}
	c.log.Info("package-uploaded", "package_guid", pkg.GUID, "app_guid", pkg.AppGUID, "bytes", size,
		"uploaded_files", len(plan.entries), "matched_files", len(plan.matched))
	return writeJSON(w, http.StatusOK, c.pres.Package(pkg))
}

// readUploadParts reads the resources field and spools the bits to a
// scratch file (nil when absent or empty).
func (c *Controller) readUploadParts(mr *multipart.Reader) ([]matchedResource, *os.File, error) {
	var (
		resources []matchedResource
		bits      *os.File
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bits, uploadReadError(err)
		}
		switch part.FormName() {
		case "resources":
			data, err := io.ReadAll(io.LimitReader(part, maxResourcesField+1))
			if err != nil {
				return nil, bits, uploadReadError(err)
			}
			if len(data) > maxResourcesField {
				return nil, bits, apierr.Unprocessable("The app package is invalid: the resources list is larger than %d bytes", maxResourcesField)
			}
			var raw []resource
			if s := strings.TrimSpace(string(data)); s != "" && s != "null" {
				if err := json.Unmarshal(data, &raw); err != nil {
					return nil, bits, apierr.Unprocessable("The app package is invalid: resources must be a JSON array of files")
				}
			}
			if len(raw) > c.cfg.MaxPackageFiles {
				return nil, bits, apierr.Unprocessable("The app package is invalid: it has more than the limit of %d files", c.cfg.MaxPackageFiles)
			}
			seen := map[string]bool{}
			for i, res := range raw {
				m, err := res.validate(i)
				if err != nil {
					return nil, bits, err
				}
				if seen[m.path] {
					return nil, bits, apierr.Unprocessable("The app package is invalid: resource %q is listed twice", m.path)
				}
				seen[m.path] = true
				resources = append(resources, m)
			}
		case "bits":
			if bits != nil {
				return nil, bits, apierr.Unprocessable("The upload has more than one bits field")
			}
			f, err := os.CreateTemp(c.tmpDir, "bits-*.zip")
			if err != nil {
				return nil, nil, fmt.Errorf("create scratch file: %w", err)
			}
			bits = f
			if _, err := io.Copy(f, part); err != nil {
				return nil, bits, uploadReadError(err)
			}
		}
		part.Close()
	}
	if bits != nil {
		if st, err := bits.Stat(); err == nil && st.Size() == 0 {
			bits.Close()
			os.Remove(bits.Name())
			bits = nil
		}
	}
	return resources, bits, nil
}

func uploadReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apierr.Unprocessable("The app package is invalid: the upload is larger than the limit of %d bytes", mbe.Limit)
	}
	return apierr.Unprocessable("The upload could not be read: %v", err)
}

// packagePlan is a validated upload, ready to be written.
type packagePlan struct {
	zr      *zip.Reader
	entries []pkgzip.Entry
	matched []matchedResource // minus paths the zip also carries
}

// planPackage validates the bits zip and the matched resources within the
// package limits, without storing anything.
func (c *Controller) planPackage(ctx context.Context, resources []matchedResource, bits *os.File) (*packagePlan, error) {
	var declared int64
	for _, m := range resources {
		declared += m.size
	}
	budget := pkgzip.Budget{Files: c.cfg.MaxPackageFiles - len(resources), Bytes: c.cfg.MaxPackageBytes - declared}
	if budget.Files < 0 {
		return nil, apierr.Unprocessable("The app package is invalid: it has more than the limit of %d files", c.cfg.MaxPackageFiles)
	}
	if budget.Bytes < 0 {
		return nil, apierr.Unprocessable("The app package is invalid: it unpacks to more than the limit of %d bytes", c.cfg.MaxPackageBytes)
	}
	plan := &packagePlan{}
	inZip := map[string]bool{}
	if bits != nil {
		st, err := bits.Stat()
		if err != nil {
			return nil, fmt.Errorf("stat upload: %w", err)
		}
		zr, err := zip.NewReader(bits, st.Size())
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return nil, apierr.Unprocessable("The app package is invalid: %v", stripInvalid(pkgzip.OpenError(err)))
		}
		entries, err := pkgzip.Validate(zr, budget)
		if err != nil {
			return nil, apierr.Unprocessable("The app package is invalid: %v", stripInvalid(err))
		}
		plan.zr, plan.entries = zr, entries
		for _, e := range entries {
			inZip[e.Name] = true
		}
	}
	for _, m := range resources {
		if inZip[m.path] {
			continue
		}
		ok, err := c.deps.Blobs.Exists(ctx, resourceKey(m.sha1))
		if err != nil {
			return nil, fmt.Errorf("check resource: %w", err)
		}
		if !ok {
			return nil, apierr.Unprocessable("The app package is invalid: resource %q (sha1 %s) is not in the resource cache; upload it in the bits", m.path, m.sha1)
		}
		plan.matched = append(plan.matched, m)
	}
	if len(plan.entries) == 0 && len(plan.matched) == 0 {
		return nil, apierr.Unprocessable("The app package is invalid: it has no files")
	}
	return plan, nil
}

func stripInvalid(err error) string {
	return strings.TrimPrefix(err.Error(), pkgzip.ErrInvalid.Error()+": ")
}

// writePackage merges the uploaded and matched files into one zip,
// caches each uploaded file under resources/<sha1>, and stores the zip as
// packages/<guid>. It returns the zip's sha256 and size.
func (c *Controller) writePackage(ctx context.Context, guid string, plan *packagePlan) (string, int64, error) {
	out, err := os.CreateTemp(c.tmpDir, "package-*.zip")
	if err != nil {
		return "", 0, fmt.Errorf("create scratch file: %w", err)
	}
	defer func() {
		out.Close()
		os.Remove(out.Name())
	}()
	zw := zip.NewWriter(out)
	remaining := c.cfg.MaxPackageBytes
	for _, e := range plan.entries {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		if err := c.copyEntry(ctx, zw, e, &remaining); err != nil {
			return "", 0, err
		}
	}
	for _, m := range plan.matched {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		if err := c.copyResource(ctx, zw, m, &remaining); err != nil {
			return "", 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return "", 0, fmt.Errorf("finish package zip: %w", err)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("rewind package zip: %w", err)
	}
	h := sha256.New()
	n, err := c.deps.Blobs.Put(ctx, "packages/"+guid, io.TeeReader(out, h))
	if err != nil {
		return "", 0, fmt.Errorf("store package: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (c *Controller) copyEntry(ctx context.Context, zw *zip.Writer, e pkgzip.Entry, remaining *int64) error {
	h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: e.File.Modified}
	switch {
	case e.IsDir():
		h.Name += "/"
		h.Method = zip.Store
		h.SetMode(e.Mode)
		_, err := zw.CreateHeader(h)
		return err
	case e.IsSymlink():
		h.Method = zip.Store
		h.SetMode(e.Mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, e.Target)
		return err
	}
	h.SetMode(e.Mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	rc, err := e.File.Open()
	if err != nil {
		return fmt.Errorf("reopen %s: %w", e.Name, err)
	}
	defer rc.Close()
	sum := sha1.New()
	n, err := io.Copy(io.MultiWriter(w, sum), io.LimitReader(rc, min(e.Size, *remaining)+1))
	if err != nil {
		return fmt.Errorf("copy %s: %w", e.Name, err)
	}
	if n != e.Size || hex.EncodeToString(sum.Sum(nil)) != e.SHA1 {
		return apierr.Unprocessable("The app package is invalid: %q changed while it was read", e.Name)
	}
	*remaining -= n
	if e.Size > 0 {
		c.cacheResource(ctx, e)
	}
	return nil
}

// cacheResource stores an uploaded file for future resource matching.
// Failures only cost a later re-upload, so they are logged, not returned.
func (c *Controller) cacheResource(ctx context.Context, e pkgzip.Entry) {
	key := resourceKey(e.SHA1)
	if ok, err := c.deps.Blobs.Exists(ctx, key); err != nil || ok {
		return
	}
	rc, err := e.File.Open()
	if err != nil {
		return
	}
	defer rc.Close()
	sum := sha1.New()
	if _, err := c.deps.Blobs.Put(ctx, key, io.TeeReader(io.LimitReader(rc, e.Size), sum)); err != nil {
		c.log.Warn("resource-cache-failed", "sha1", e.SHA1, "error", err)
		return
	}
	if hex.EncodeToString(sum.Sum(nil)) != e.SHA1 {
		// Never leave a blob whose key lies about its content.
		_ = c.deps.Blobs.Delete(ctx, key)
	}
}

func (c *Controller) copyResource(ctx context.Context, zw *zip.Writer, m matchedResource, remaining *int64) error {
	rc, err := c.deps.Blobs.Get(ctx, resourceKey(m.sha1))
	if err != nil {
		return apierr.Unprocessable("The app package is invalid: resource %q is no longer in the resource cache; push again", m.path)
	}
	defer rc.Close()
	h := &zip.FileHeader{Name: m.path, Method: zip.Deflate}
	h.SetMode(fs.FileMode(m.mode))
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	sum := sha1.New()
	n, err := io.Copy(io.MultiWriter(w, sum), io.LimitReader(rc, *remaining+1))
	if err != nil {
		return fmt.Errorf("copy resource %s: %w", m.path, err)
	}
	if n > *remaining {
		return apierr.Unprocessable("The app package is invalid: it unpacks to more than the limit of %d bytes", c.cfg.MaxPackageBytes)
	}
	if hex.EncodeToString(sum.Sum(nil)) != m.sha1 {
		return apierr.Unprocessable("The app package is invalid: the cached content of %q does not match its sha1", m.path)
	}
	*remaining -= n
	return nil
}

func (c *Controller) setPackageState(ctx context.Context, guid, state, errMsg, digest string, size int64) error {
	for attempt := 0; ; attempt++ {
		p, err := c.packageRec(ctx, guid)
		if err != nil {
			return err
		}
		p.State, p.Error = state, errMsg
		if digest != "" {
			p.Digest, p.Size = digest, size
		}
		err = c.deps.Store.Packages().Update(ctx, p)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

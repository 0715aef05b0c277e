package stager

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// redact drops the query (signatures) and credentials of a URL for
// messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// get GETs uri. A 404 is returned as (nil, nil) when notFoundOK.
func (st *staging) get(ctx context.Context, what, uri string, notFoundOK bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, failf(ErrTransfer, "downloading the %s: invalid URL %s: %v", what, redact(uri), err)
	}
	resp, err := st.s.deps.HTTP.Do(req)
	if err != nil {
		return nil, failf(ErrTransfer, "downloading the %s from %s: %v", what, redact(uri), transportErr(err))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && notFoundOK:
		drain(resp)
		return nil, nil
	case resp.StatusCode/100 != 2:
		msg := snippet(resp)
		return nil, failf(ErrTransfer, "downloading the %s from %s: %s%s", what, redact(uri), resp.Status, msg)
	}
	return resp, nil
}

// transportErr drops the *url.Error wrapper, which repeats the (signed) URL.
func transportErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// snippet reads the start of an error response for the message.
func snippet(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	drain(resp)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return ": " + strings.Join(strings.Fields(s), " ")
}

// downloadPackage fetches the package zip to a temporary file, checks it
// and streams its content into app/ of the container.
func (st *staging) downloadPackage(ctx context.Context) (zipStats, error) {
	resp, err := st.get(ctx, "app package", st.req.PackageURI, false)
	if err != nil {
		return zipStats{}, err
	}
	defer resp.Body.Close()
	cfg := st.s.cfg
	// A zip is at most its content plus headers per entry.
	maxZip := cfg.MaxPackageBytes + int64(cfg.MaxPackageFiles)*1024 + 1<<20
	if resp.ContentLength > maxZip {
		return zipStats{}, fmt.Errorf("%w: the package is %d bytes, more than the limit of %d", ErrBadPackage, resp.ContentLength, maxZip)
	}
	sp, err := st.spool("ingot-package-*.zip", maxZip, func(w io.Writer) error {
		_, err := io.Copy(w, resp.Body)
		return err
	})
	if errors.Is(err, errLimit) {
		return zipStats{}, fmt.Errorf("%w: the package is larger than %d bytes", ErrBadPackage, maxZip)
	}
	if err != nil {
		return zipStats{}, failf(ErrTransfer, "downloading the app package: %v", err)
	}
	defer sp.remove()

	pr, pw := io.Pipe()
	type result struct {
		stats zipStats
		err   error
	}
	conv := make(chan result, 1)
	go func() {
		stats, err := zipToTar(sp.f, sp.size, pw, zipLimits{MaxFiles: cfg.MaxPackageFiles, MaxBytes: cfg.MaxPackageBytes})
		pw.CloseWithError(err)
		conv <- result{stats, err}
	}()
	inErr := st.c.StreamIn(ctx, st.path(dirApp), pr)
	_ = pr.CloseWithError(io.ErrClosedPipe) // unblock the converter if StreamIn stopped early
	r := <-conv
	if r.err != nil && errors.Is(r.err, ErrBadPackage) {
		return r.stats, r.err
	}
	if inErr != nil {
		return r.stats, fmt.Errorf("copying the app package into the staging container: %w", inErr)
	}
	if r.err != nil {
		return r.stats, fmt.Errorf("unpacking the app package: %w", r.err)
	}
	return r.stats, nil
}

// restoreCache fetches the app's buildpack cache into cache/. It is best
// effort: a failure only costs speed.
func (st *staging) restoreCache(ctx context.Context) {
	resp, err := st.get(ctx, "buildpack cache", st.req.BuildpackCacheURI, true)
	if err != nil {
		st.log.Warn("buildpack-cache-download-failed", "error", err)
		st.emitErr("       WARNING: could not download the buildpack cache; staging without it")
		return
	}
	if resp == nil {
		return // no cache yet
	}
	defer resp.Body.Close()
	st.emit("-----> Downloading buildpack cache...")
	gz, err := gzip.NewReader(io.LimitReader(resp.Body, st.s.cfg.MaxCacheBytes+1<<20))
	if err != nil {
		st.log.Warn("buildpack-cache-invalid", "error", err)
		st.emitErr("       WARNING: the buildpack cache is not a valid tgz; staging without it")
		return
	}
	limited := &countingReader{r: gz, limit: st.s.cfg.MaxCacheBytes + 1<<20}
	if err := st.c.StreamIn(ctx, st.path(dirCache), limited); err != nil {
		st.log.Warn("buildpack-cache-restore-failed", "error", err)
		st.emitErr("       WARNING: could not restore the buildpack cache; staging without all of it")
		return
	}
	st.emit(fmt.Sprintf("       Restored buildpack cache (%s)", humanSize(limited.n)))
}

// countingReader counts bytes and fails past limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit > 0 && c.n > c.limit {
		return n, errLimit
	}
	return n, err
}

// saveCache packs cache/ and uploads it. It is best effort: a failure is
// logged and staging goes on.
func (st *staging) saveCache(ctx context.Context) {
	limit := st.s.cfg.MaxCacheBytes
	sp, err := st.spool("ingot-cache-*.tgz", 0, func(w io.Writer) error {
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		cw := &limitWriter{w: gz, limit: limit}
		tw := tar.NewWriter(cw)
		if err := st.copyTree(ctx, st.path(dirCache), "", tw, nil); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
	if errors.Is(err, errLimit) {
		st.log.Warn("buildpack-cache-too-large", "limit", limit)
		st.emitErr(fmt.Sprintf("       WARNING: the buildpack cache is larger than %s and is not saved", humanSize(limit)))
		return
	}
	if err != nil {
		st.log.Warn("buildpack-cache-package-failed", "error", err)
		st.emitErr("       WARNING: could not save the buildpack cache")
		return
	}
	defer sp.remove()
	st.emit(fmt.Sprintf("-----> Uploading buildpack cache (%s)", humanSize(sp.size)))
	if err := st.upload(ctx, "buildpack cache", st.req.BuildpackCacheURI, sp); err != nil {
		st.log.Warn("buildpack-cache-upload-failed", "error", err)
		st.emitErr("       WARNING: could not upload the buildpack cache; the next staging will not use it")
	}
}

// limitWriter fails once more than limit bytes were written.
type limitWriter struct {
	w     io.Writer
	n     int64
	limit int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.limit > 0 && l.n+int64(len(p)) > l.limit {
		return 0, errLimit
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// upload PUTs a spooled file to uri (application/gzip), retrying once
// after a transport error or a 5xx.
func (st *staging) upload(ctx context.Context, what, uri string, sp *spooled) error {
	var last error
	for attempt := range 2 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		retry, err := st.put(ctx, what, uri, sp)
		if err == nil {
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return last
}

func (st *staging) put(ctx context.Context, what, uri string, sp *spooled) (bool, error) {
	body := io.NewSectionReader(sp.f, 0, sp.size)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uri, body)
	if err != nil {
		return false, failf(ErrTransfer, "uploading the %s: invalid URL %s: %v", what, redact(uri), err)
	}
	req.ContentLength = sp.size
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(sp.f, 0, sp.size)), nil
	}
	req.Header.Set("Content-Type", "application/gzip")
	resp, err := st.s.deps.HTTP.Do(req)
	if err != nil {
		return true, failf(ErrTransfer, "uploading the %s to %s: %v", what, redact(uri), transportErr(err))
	}
	if resp.StatusCode/100 != 2 {
		msg := snippet(resp)
		return resp.StatusCode >= 500, failf(ErrTransfer, "uploading the %s to %s: %s%s", what, redact(uri), resp.Status, msg)
	}
	drain(resp)
	return false, nil
}

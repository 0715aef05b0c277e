package controller

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

type zfile struct {
	name string
	mode fs.FileMode
	body string
}

func buildZip(t *testing.T, files ...zfile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type cliResource struct {
	Path     string `json:"path"`
	Mode     string `json:"mode"`
	Checksum struct {
		Value string `json:"value"`
	} `json:"checksum"`
	SizeInBytes int64 `json:"size_in_bytes"`
}

func res(path, body string, mode fs.FileMode) cliResource {
	sum := sha1.Sum([]byte(body))
	r := cliResource{Path: path, Mode: strconv.FormatUint(uint64(mode), 8), SizeInBytes: int64(len(body))}
	r.Checksum.Value = hex.EncodeToString(sum[:])
	return r
}

// upload posts the multipart body exactly as the cf CLI builds it:
// resources first, then bits as package.zip (always present, maybe empty).
func (h *harness) upload(pkg string, matched []cliResource, bits []byte) (int, []byte) {
	h.t.Helper()
	if matched == nil {
		matched = []cliResource{}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	js, _ := json.Marshal(matched)
	mw.WriteField("resources", string(js))
	w, _ := mw.CreateFormFile("bits", "package.zip")
	w.Write(bits)
	mw.Close()
	status, _, data := h.raw("POST", "/v3/packages/"+pkg+"/upload", mw.FormDataContentType(), &body, true)
	return status, data
}

type pkgJSON struct {
	GUID  string `json:"guid"`
	State string `json:"state"`
	Data  struct {
		Checksum struct {
			Type  string  `json:"type"`
			Value *string `json:"value"`
		} `json:"checksum"`
	} `json:"data"`
}

func (h *harness) createPackage(app string) string {
	h.t.Helper()
	var p pkgJSON
	h.do("POST", "/v3/packages", map[string]any{"type": "bits", "relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}}}, 201, &p)
	if p.State != "AWAITING_UPLOAD" {
		h.t.Fatalf("new package state %q", p.State)
	}
	return p.GUID
}

// packageFiles downloads a package via the API and lists name → body.
func (h *harness) packageFiles(pkg string) map[string]string {
	h.t.Helper()
	status, _, data := h.raw("GET", "/v3/packages/"+pkg+"/download", "", nil, true)
	if status != 200 {
		h.t.Fatalf("download package: %d %s", status, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name+"|"+strconv.FormatUint(uint64(f.Mode().Perm()), 8)] = string(b)
	}
	return out
}

func TestPackageUploadAndResourceMatching(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("bits")
	files := []zfile{
		{name: "index.html", body: "hello"},
		{name: "bin/", mode: fs.ModeDir | 0o755},
		{name: "bin/run", mode: 0o755, body: "#!/bin/sh\necho run\n"},
		{name: "link", mode: fs.ModeSymlink | 0o777, body: "bin/run"},
	}
	// Nothing is known yet.
	var rm struct {
		Resources []cliResource `json:"resources"`
	}
	all := []cliResource{res("index.html", "hello", 0o644), res("bin/run", "#!/bin/sh\necho run\n", 0o755)}
	h.do("POST", "/v3/resource_matches", map[string]any{"resources": all}, 201, &rm)
	if len(rm.Resources) != 0 {
		t.Fatalf("matches before any upload: %+v", rm)
	}

	pkg := h.createPackage(app)
	status, body := h.upload(pkg, nil, buildZip(t, files...))
	if status != 200 {
		t.Fatalf("upload: %d %s", status, body)
	}
	var p pkgJSON
	json.Unmarshal(body, &p)
	if p.State != "READY" || p.Data.Checksum.Type != "sha256" || p.Data.Checksum.Value == nil || len(*p.Data.Checksum.Value) != 64 {
		t.Fatalf("uploaded package: %s", body)
	}
	got := h.packageFiles(pkg)
	if got["index.html|644"] != "hello" || got["bin/run|755"] != "#!/bin/sh\necho run\n" || got["link|777"] != "bin/run" {
		t.Fatalf("package content: %v", got)
	}

	// Now both files match, with octal modes.
	h.do("POST", "/v3/resource_matches", map[string]any{"resources": all}, 201, &rm)
	sort.Slice(rm.Resources, func(i, j int) bool { return rm.Resources[i].Path < rm.Resources[j].Path })
	if len(rm.Resources) != 2 || rm.Resources[0].Path != "bin/run" || rm.Resources[0].Mode != "755" || rm.Resources[1].Mode != "644" {
		t.Fatalf("matches: %+v", rm.Resources)
	}

	// A second upload: everything matched, bits empty (as the CLI sends it).
	pkg2 := h.createPackage(app)
	if status, body := h.upload(pkg2, rm.Resources, nil); status != 200 {
		t.Fatalf("resources-only upload: %d %s", status, body)
	}
	got2 := h.packageFiles(pkg2)
	if got2["index.html|644"] != "hello" || got2["bin/run|755"] != "#!/bin/sh\necho run\n" || len(got2) != 2 {
		t.Fatalf("merged package: %v", got2)
	}

	// A mix: one matched file, one new file.
	pkg3 := h.createPackage(app)
	if status, body := h.upload(pkg3, rm.Resources[1:], buildZip(t, zfile{name: "new.txt", body: "new"})); status != 200 {
		t.Fatalf("mixed upload: %d %s", status, body)
	}
	if got3 := h.packageFiles(pkg3); got3["new.txt|644"] != "new" || got3["index.html|644"] != "hello" || len(got3) != 2 {
		t.Fatalf("mixed package: %v", got3)
	}

	// The CLI's package lookups.
	var l list[pkgJSON]
	h.do("GET", "/v3/packages?app_guids="+app+"&order_by=-created_at&page=1&per_page=1", nil, 200, &l)
	if len(l.Resources) != 1 || l.Resources[0].GUID != pkg3 || l.Pagination.TotalResults != 3 {
		t.Fatalf("latest package: %+v", l)
	}
	h.do("GET", "/v3/apps/"+app+"/packages", nil, 200, &l)
	if len(l.Resources) != 3 {
		t.Fatalf("app packages: %+v", l)
	}
	if _, _, d := h.fail("GET", "/v3/packages/nope", nil, 404); d != "Package not found" {
		t.Fatalf("unknown package: %q", d)
	}
	// A READY package takes no more bits.
	if status, _ := h.upload(pkg, nil, buildZip(t, zfile{name: "x", body: "x"})); status != 422 {
		t.Fatalf("re-upload: %d", status)
	}
}

func TestPackageUploadRejectsBadZips(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxPackageFiles = 5; c.MaxPackageBytes = 4096 })
	app := h.createApp("bad")
	var many []zfile
	for i := 0; i < 6; i++ {
		many = append(many, zfile{name: "f" + strconv.Itoa(i), body: "x"})
	}
	tests := []struct {
		name  string
		res   []cliResource
		bits  []byte
		wants string
	}{
		{"dot dot", nil, buildZip(t, zfile{name: "../evil", body: "x"}), "escapes the app directory"},
		{"absolute", nil, buildZip(t, zfile{name: "/etc/passwd", body: "x"}), "is absolute"},
		{"escaping symlink", nil, buildZip(t, zfile{name: "l", mode: fs.ModeSymlink | 0o777, body: "../../etc"}), "outside the app"},
		{"too many files", nil, buildZip(t, many...), "more than the limit of 5 files"},
		{"too big", nil, buildZip(t, zfile{name: "big", body: strings.Repeat("z", 5000)}), "more than the limit of 4096 bytes"},
		{"not a zip", nil, []byte("this is not a zip file at all"), "not a valid zip file"},
		{"unknown resource", []cliResource{res("a.txt", "never uploaded", 0o644)}, nil, "not in the resource cache"},
		{"resource escaping", []cliResource{res("../a.txt", "x", 0o644)}, nil, "escapes the app directory"},
		{"empty", nil, nil, "no files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkg := h.createPackage(app)
			status, body := h.upload(pkg, tc.res, tc.bits)
			var e cfError
			json.Unmarshal(body, &e)
			if status != 422 || len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Detail, tc.wants) || e.Errors[0].Code != 10008 {
				t.Fatalf("status %d body %s; want 422 containing %q", status, body, tc.wants)
			}
			// Nothing half-written: the package is untouched and has no blob.
			var p pkgJSON
			h.do("GET", "/v3/packages/"+pkg, nil, 200, &p)
			if p.State != "AWAITING_UPLOAD" {
				t.Fatalf("package state after rejection: %s", p.State)
			}
			if ok, _ := h.blobs.Exists(context.Background(), "packages/"+pkg); ok {
				t.Fatal("a rejected package left a blob")
			}
		})
	}
	// A zip that is not even multipart.
	pkg := h.createPackage(app)
	if status, _, _ := h.raw("POST", "/v3/packages/"+pkg+"/upload", "application/zip", bytes.NewReader([]byte("x")), true); status != 422 {
		t.Fatalf("non-multipart upload: %d", status)
	}
	// Over the request body limit.
	h2 := newHarness(t, func(c *Config) { c.MaxUploadBytes = 1024 })
	app2 := h2.createApp("huge")
	pkg2 := h2.createPackage(app2)
	big := buildZip(t, zfile{name: "a", body: strings.Repeat("q", 1), mode: 0o644}, zfile{name: "b", body: randomText(4000)})
	if status, body := h2.upload(pkg2, nil, big); status != 422 || !strings.Contains(string(body), "larger than the limit of 1024 bytes") {
		t.Fatalf("oversized upload: %d %s", status, body)
	}
}

func randomText(n int) string {
	var b strings.Builder
	x := uint32(2463534242)
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(byte('a' + x%26))
	}
	return b.String()
}

func TestSignedBlobURLs(t *testing.T) {
	h := newHarness(t)
	app := h.createApp("signed")
	pkg := h.createPackage(app)
	if status, body := h.upload(pkg, nil, buildZip(t, zfile{name: "a", body: "x"})); status != 200 {
		t.Fatalf("upload: %d %s", status, body)
	}
	path := "/internal/v1/packages/" + pkg
	good := h.c.signURL("GET", path)
	if status, _, data := h.raw("GET", good, "", nil, false); status != 200 || len(data) == 0 {
		t.Fatalf("good signature: %d", status)
	}
	// A GET signature does not allow PUT.
	if status, _, _ := h.raw("PUT", h.c.signURL("GET", "/internal/v1/droplets/"+pkg), "", strings.NewReader("x"), false); status != 403 {
		t.Fatalf("method swap: %d", status)
	}
	u, _ := url.Parse(good)
	q := u.Query()
	sig := q.Get("signature")
	tamper := func(f func(url.Values)) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = append([]string(nil), v...)
		}
		f(q2)
		return h.url + path + "?" + q2.Encode()
	}
	other := h.createPackage(app)
	for name, u := range map[string]string{
		"tampered signature": tamper(func(q url.Values) { q.Set("signature", strings.Repeat("0", len(sig))) }),
		"later expiry":       tamper(func(q url.Values) { q.Set("expires", strconv.FormatInt(time.Now().Add(48*time.Hour).Unix(), 10)) }),
		"no signature":       h.url + path,
		"other path":         h.url + "/internal/v1/packages/" + other + "?" + q.Encode(),
	} {
		if status, _, _ := h.raw("GET", u, "", nil, false); status != 403 {
			t.Errorf("%s: status %d, want 403", name, status)
		}
	}
	// Expired: a correctly signed URL whose time has passed.
	exp := time.Now().Add(-time.Minute).Unix()
	expired := h.url + path + "?expires=" + strconv.FormatInt(exp, 10) + "&signature=" + h.c.signature("GET", path, exp)
	if status, _, _ := h.raw("GET", expired, "", nil, false); status != 403 {
		t.Errorf("expired: status %d", status)
	}
	if err := h.c.verifySignature("GET", path, mustQuery(expired), time.Now()); err != errSignatureExpired {
		t.Errorf("expired verify: %v", err)
	}
	// The internal endpoints never accept a bearer token instead.
	req, _ := http.NewRequest("GET", h.url+path, nil)
	req.Header.Set("Authorization", "bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("bearer on internal endpoint: %d", resp.StatusCode)
	}
}

func mustQuery(u string) url.Values {
	p, _ := url.Parse(u)
	return p.Query()
}

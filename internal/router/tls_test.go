package router

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// writeCert makes a self-signed certificate for names in dir and returns
// its files and the parsed certificate.
func writeCert(t *testing.T, dir, base string, names ...string) (CertFiles, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cf := CertFiles{CertFile: filepath.Join(dir, base+".crt"), KeyFile: filepath.Join(dir, base+".key")}
	if err := os.WriteFile(cf.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cf.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf, cert
}

func TestTLSWithSNIAndHTTP2(t *testing.T) {
	dir := t.TempDir()
	cfA, certA := writeCert(t, dir, "a", "a.example.com")
	cfW, certW := writeCert(t, dir, "wild", "*.apps.example.com")
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		c.TLSAddr = "127.0.0.1:0"
		c.Certificates = []CertFiles{cfA, cfW}
	}})
	s, seen := recordingBackend(t, false)
	e.register(reg(t, s.URL, "i", "0", "a.example.com"), "a.example.com", "/", 1)
	e.register(reg(t, s.URL, "i", "0", "x.apps.example.com"), "x.apps.example.com", "/", 1)

	roots := x509.NewCertPool()
	roots.AddCert(certA)
	roots.AddCert(certW)
	for _, c := range []struct {
		host  string
		cert  *x509.Certificate
		proto int
	}{
		{"a.example.com", certA, 2},
		{"x.apps.example.com", certW, 2},
		{"a.example.com", certA, 1},
	} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: c.host}, ForceAttemptHTTP2: c.proto == 2}
		if c.proto == 1 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		req, _ := http.NewRequest(http.MethodPost, "https://"+e.r.TLSAddr()+"/secure", strings.NewReader("payload"))
		req.Host = c.host
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s over TLS: %v", c.host, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		if res.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("%s: %d %q", c.host, res.StatusCode, body)
		}
		if res.ProtoMajor != c.proto {
			t.Errorf("%s: protocol %s, want HTTP/%d", c.host, res.Proto, c.proto)
		}
		if got := res.TLS.PeerCertificates[0]; !got.Equal(c.cert) {
			t.Errorf("%s: served the certificate for %v", c.host, got.DNSNames)
		}
		got := <-seen
		if got.header.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("%s: X-Forwarded-Proto %q, want https", c.host, got.header.Get("X-Forwarded-Proto"))
		}
	}
}

func TestH2C(t *testing.T) {
	e := newEnv(t)
	s, seen := recordingBackend(t, false)
	e.register(reg(t, s.URL, "i", "0", "h2c.example.com"), "h2c.example.com", "/", 1)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.r.Addr()+"/h2c", nil)
	req.Host = "h2c.example.com"
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "ok" || res.ProtoMajor != 2 {
		t.Fatalf("h2c: %s %d %q", res.Proto, res.StatusCode, body)
	}
	if got := <-seen; got.header.Get("X-Forwarded-Proto") != "http" || got.host != "h2c.example.com" {
		t.Errorf("backend saw proto %q host %q", got.header.Get("X-Forwarded-Proto"), got.host)
	}

	// With HTTP/2 off, a prior-knowledge h2c client is refused.
	e2 := newEnv(t, envOpt{cfg: func(c *Config) { c.DisableHTTP2 = true }})
	req2, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+e2.r.Addr()+"/", nil)
	req2.Host = "h2c.example.com"
	if res, err := client.Do(req2); err == nil {
		res.Body.Close()
		t.Errorf("h2c accepted with DisableHTTP2: %s", res.Proto)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cf, _ := writeCert(t, dir, "a", "a.example.com")
	for name, c := range map[string]Config{
		"no certificates": {TLSAddr: "127.0.0.1:0"},
		"missing file":    {TLSAddr: "127.0.0.1:0", Certificates: []CertFiles{{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: cf.KeyFile}}},
		"key mismatch":    {TLSAddr: "127.0.0.1:0", Certificates: []CertFiles{{CertFile: cf.CertFile, KeyFile: cf.CertFile}}},
	} {
		c.ListenAddr = "127.0.0.1:0"
		_, err := New(c, Deps{Bus: &hookBus{}}, nil)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", name, err)
		}
	}
}

// HTTP/1.1 over TLS is served by the loop; a request the loop hands to
// net/http mid-connection (a chunked upload) still counts as HTTPS.
func TestTLSLoopKeepAliveAndHandOff(t *testing.T) {
	dir := t.TempDir()
	cf, cert := writeCert(t, dir, "a", "a.example.com")
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		c.TLSAddr = "127.0.0.1:0"
		c.Certificates = []CertFiles{cf}
	}})
	s, seen := recordingBackend(t, false)
	e.register(reg(t, s.URL, "i", "0", "a.example.com"), "a.example.com", "/", 1)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	var dials atomic.Int64
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "a.example.com"},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i, body := range []io.Reader{nil, strings.NewReader("sized"), io.MultiReader(strings.NewReader("chunked")), nil} {
		req, _ := http.NewRequest(http.MethodPost, "https://"+e.r.TLSAddr()+"/", body)
		req.Host = "a.example.com"
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "ok" || res.ProtoMajor != 1 {
			t.Fatalf("request %d: %s %d %q", i, res.Proto, res.StatusCode, b)
		}
		if got := <-seen; got.header.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("request %d: X-Forwarded-Proto %q, want https", i, got.header.Get("X-Forwarded-Proto"))
		}
	}
	if d := dials.Load(); d != 1 {
		t.Errorf("client dialled %d connections for 4 keep-alive requests, want 1", d)
	}
}

// A websocket over TLS: the loop terminates TLS, then hands the upgrade to
// net/http and the reverse proxy.
func TestTLSWebsocket(t *testing.T) {
	dir := t.TempDir()
	cf, cert := writeCert(t, dir, "ws", "ws.example.com")
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		c.TLSAddr = "127.0.0.1:0"
		c.Certificates = []CertFiles{cf}
	}})
	var proto atomic.Value
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Header.Get("X-Forwarded-Proto"))
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, data, err := c.Read(r.Context())
		if err == nil {
			_ = c.Write(r.Context(), typ, append([]byte("echo:"), data...))
		}
		_, _, _ = c.Read(r.Context())
	}))
	t.Cleanup(s.Close)
	e.register(reg(t, s.URL, "ws", "0", "ws.example.com"), "ws.example.com", "/", 1)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "ws.example.com"},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+e.r.TLSAddr()+"/socket", &websocket.DialOptions{
		Host: "ws.example.com", HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatalf("wss through the router: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := c.Read(ctx); err != nil || string(data) != "echo:hi" {
		t.Fatalf("echo: %q %v", data, err)
	}
	if p, _ := proto.Load().(string); p != "https" {
		t.Errorf("backend saw X-Forwarded-Proto %q, want https", p)
	}
}

package router

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
)

// CertFiles names one PEM certificate chain and its key. The router picks
// the certificate whose names match the client's SNI server name (wildcard
// certificates included); a client without SNI, or with a name no
// certificate covers, gets the first one.
type CertFiles struct {
	CertFile string `json:"cert_file" yaml:"cert_file"`
	KeyFile  string `json:"key_file" yaml:"key_file"`
}

// buildTLSConfig loads the certificates for the TLS listener.
func buildTLSConfig(cfg *Config) (*tls.Config, error) {
	if len(cfg.Certificates) == 0 {
		return nil, fmt.Errorf("%w: tls_addr needs at least one certificate", ErrInvalidConfig)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, cf := range cfg.Certificates {
		c, err := tls.LoadX509KeyPair(cf.CertFile, cf.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %s: %w", ErrInvalidConfig, cf.CertFile, err)
		}
		tc.Certificates = append(tc.Certificates, c)
	}
	if cfg.DisableHTTP2 {
		tc.NextProtos = []string{"http/1.1"}
	} else {
		tc.NextProtos = []string{"h2", "http/1.1"}
	}
	return tc, nil
}

// protocols are what the router speaks to clients: HTTP/1.1 always, and
// unless turned off HTTP/2 over TLS (ALPN h2) and in clear text (h2c with
// prior knowledge).
func protocols(cfg *Config) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	if !cfg.DisableHTTP2 {
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
	}
	return p
}

// listen binds the router's listeners: plain HTTP, then the optional TLS
// (a TCP listener and the TLS config to serve it with) and metrics ones.
// On failure nothing stays bound.
func listen(cfg *Config) (ln, tlsLn, metricsLn net.Listener, tc *tls.Config, err error) {
	if cfg.TLSAddr != "" {
		if tc, err = buildTLSConfig(cfg); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	closeAll := func() {
		for _, l := range []net.Listener{ln, tlsLn, metricsLn} {
			if l != nil {
				_ = l.Close()
			}
		}
	}
	if ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("router listen on %s: %w", cfg.ListenAddr, err)
	}
	if tc != nil {
		// The server loop terminates TLS itself (loop.go).
		if tlsLn, err = net.Listen("tcp", cfg.TLSAddr); err != nil {
			closeAll()
			return nil, nil, nil, nil, fmt.Errorf("router tls listen on %s: %w", cfg.TLSAddr, err)
		}
	}
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			closeAll()
			return nil, nil, nil, nil, fmt.Errorf("router metrics listen on %s: %w", cfg.MetricsAddr, err)
		}
	}
	return ln, tlsLn, metricsLn, tc, nil
}

// TLSAddr is the address of the TLS listener; "" when off.
func (r *Router) TLSAddr() string {
	if r.tlsLn == nil {
		return ""
	}
	return r.tlsLn.Addr().String()
}

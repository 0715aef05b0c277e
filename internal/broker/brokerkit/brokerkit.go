// Package brokerkit holds what ingot's built-in service brokers (postgres,
// mysql, redis) share on top of the osb framework: the common config
// checks, the public endpoint put in credentials, the Open Service Broker
// server they wrap (Handler, Addr, URL, Run, Close) and the osb.Store
// methods over a record backend.
package brokerkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// ConnectTimeout bounds a broker's start-up work against its server
// (connect, ping, migrate).
const ConnectTimeout = 30 * time.Second

// DefaultMaxAdminConns bounds a broker's admin connection pool.
const DefaultMaxAdminConns = 8

// Logger returns log (or a discarding logger) tagged with the broker's
// component and service.
func Logger(log *slog.Logger, service string) *slog.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return log.With("component", "broker", "service", service)
}

// Common are the config fields every built-in broker has.
type Common struct {
	AdminURL           string
	Username, Password string
	PublicPort         int
	MaxAdminConns      int
}

// Check returns the problems of the common fields of a defaulted config.
func (c Common) Check() []error {
	var errs []error
	if c.AdminURL == "" {
		errs = append(errs, errors.New("admin URL is required"))
	}
	if c.Username == "" || c.Password == "" {
		errs = append(errs, errors.New("broker username and password are required"))
	}
	if c.PublicPort < 0 || c.PublicPort > 65535 || c.MaxAdminConns < 1 {
		errs = append(errs, errors.New("public port or max admin conns out of range"))
	}
	return errs
}

// Invalid wraps errs in the broker's sentinel; nil when there are none.
func Invalid(sentinel error, errs []error) error {
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", sentinel, errors.Join(errs...))
	}
	return nil
}

// PublicEndpoint fills the unset host and port of the credentials'
// endpoint from addr (host:port) when it is a TCP address, and fails with
// sentinel when either is still unknown.
func PublicEndpoint(host string, port int, addr string, tcp bool, sentinel error) (string, int, error) {
	if h, p, err := net.SplitHostPort(addr); err == nil && tcp {
		if host == "" {
			host = h
		}
		if port == 0 {
			port, _ = strconv.Atoi(p)
		}
	}
	if host == "" || port == 0 {
		return "", 0, fmt.Errorf("%w: set a public host and port for credentials", sentinel)
	}
	return host, port, nil
}

// ServerConfig are the osb.Config fields a broker's config passes on.
type ServerConfig struct {
	ListenAddr              string
	Username, Password      string
	Catalog                 osb.Catalog
	SyncTimeout             time.Duration
	OperationTimeout        time.Duration
	MaxConcurrentOperations int
}

// Server is the OSB server of a broker and the admin connection it closes
// after it. Brokers embed it for Handler, Addr, URL, Run and Close.
type Server struct {
	srv       *osb.Server
	closeConn func()
	closeOnce sync.Once
}

// NewServer creates the OSB server (binding its listener); closeConn
// closes the broker's admin connection once, after the server stopped.
func NewServer(cfg ServerConfig, prov osb.Provider, store osb.Store, closeConn func(), log *slog.Logger) (*Server, error) {
	srv, err := osb.New(osb.Config{
		ListenAddr: cfg.ListenAddr, Username: cfg.Username, Password: cfg.Password,
		Catalog: cfg.Catalog, SyncTimeout: cfg.SyncTimeout, OperationTimeout: cfg.OperationTimeout,
		MaxConcurrentOperations: cfg.MaxConcurrentOperations,
	}, prov, store, log)
	if err != nil {
		return nil, err
	}
	return &Server{srv: srv, closeConn: closeConn}, nil
}

// Start runs setup (the broker's work against its admin connection) and
// creates the server from what it returns; on any error it closes the
// admin connection.
func Start(closeConn func(), log *slog.Logger, setup func() (ServerConfig, osb.Provider, osb.Store, error)) (*Server, error) {
	cfg, prov, store, err := setup()
	if err != nil {
		closeConn()
		return nil, err
	}
	srv, err := NewServer(cfg, prov, store, closeConn, log)
	if err != nil {
		closeConn()
		return nil, err
	}
	return srv, nil
}

// OSB is the wrapped server.
func (s *Server) OSB() *osb.Server { return s.srv }

// Handler is the broker's OSB API.
func (s *Server) Handler() http.Handler { return s.srv.Handler() }

// Addr is the listener's address.
func (s *Server) Addr() string { return s.srv.Addr() }

// URL is the broker's base URL.
func (s *Server) URL() string { return s.srv.URL() }

// Run serves until ctx is done, then stops and closes the admin
// connection.
func (s *Server) Run(ctx context.Context) error {
	err := s.srv.Run(ctx)
	_ = s.Close()
	return err
}

// Close stops the server's operations and closes the admin connection;
// for brokers used through Handler without Run.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.closeOnce.Do(s.closeConn)
	return err
}

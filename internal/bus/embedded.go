package bus

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultEmbeddedPort is where `ingot up` runs its embedded NATS server; it
// stays clear of the standard 4222 so a system NATS can run beside it.
const DefaultEmbeddedPort = 9222

// Embedded is an in-process nats-server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server on addr ("127.0.0.1:0" for a random
// port) and waits until it accepts connections.
func StartEmbedded(addr string) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		Host:          host,
		Port:          port,
		NoLog:         true,
		NoSigs:        true,
		MaxPayload:    8 << 20,
		MaxPending:    64 << 20,
		WriteDeadline: 5 * time.Second,
		DontListen:    false,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s did not become ready", addr)
	}
	return &Embedded{srv: srv}, nil
}

// URL is the nats:// URL clients connect to.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

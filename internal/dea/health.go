package dea

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/ingot-paas/ingot/internal/messages"
)

// checker probes one instance.
type checker struct {
	kind     string // port, http, process
	host     string
	port     uint32
	endpoint string
	timeout  time.Duration
	client   *http.Client
}

func newChecker(host string, port uint32, hc messages.HealthCheck, client *http.Client) *checker {
	c := &checker{kind: hc.Type, host: host, port: port, endpoint: hc.Endpoint, timeout: time.Second, client: client}
	if c.kind == "" {
		c.kind = messages.HealthCheckPort
	}
	if c.endpoint == "" {
		c.endpoint = "/"
	} else if c.endpoint[0] != '/' {
		c.endpoint = "/" + c.endpoint
	}
	if hc.InvocationTimeoutSeconds > 0 {
		c.timeout = time.Duration(hc.InvocationTimeoutSeconds) * time.Second
	}
	return c
}

func (c *checker) addr() string {
	return net.JoinHostPort(c.host, strconv.FormatUint(uint64(c.port), 10))
}

// check runs one probe; the error says what failed, for people.
func (c *checker) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	switch c.kind {
	case messages.HealthCheckProcess:
		return nil // the process running is the check; exits are seen directly
	case messages.HealthCheckHTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr()+c.endpoint, nil)
		if err != nil {
			return fmt.Errorf("Failed to make HTTP request to '%s' on port %d: %v", c.endpoint, c.port, err)
		}
		req.Header.Set("User-Agent", "ingot-dea-health-check")
		resp, err := c.client.Do(req)
		if err != nil {
			return fmt.Errorf("Failed to make HTTP request to '%s' on port %d: %s", c.endpoint, c.port, reason(err))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("Failed to make HTTP request to '%s' on port %d: received status code %d", c.endpoint, c.port, resp.StatusCode)
		}
		return nil
	default:
		var dialer net.Dialer
		conn, err := dialer.DialContext(ctx, "tcp", c.addr())
		if err != nil {
			return fmt.Errorf("Failed to make TCP connection to port %d: %s", c.port, reason(err))
		}
		conn.Close()
		return nil
	}
}

// reason shortens a network error to its cause.
func reason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "timed out"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

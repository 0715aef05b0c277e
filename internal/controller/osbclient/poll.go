package osbclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// LastOperation is a broker's answer to a last_operation poll.
type LastOperation struct {
	State       string // osb.StateInProgress, osb.StateSucceeded, osb.StateFailed
	Description string
	// RetryAfter is the broker's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
}

// InstanceLastOperation polls an instance's last operation once. A 410 is
// ErrGone (for a deprovision: it succeeded).
func (c *Client) InstanceLastOperation(ctx context.Context, id, serviceID, planID, operation string) (LastOperation, error) {
	path := "/v2/service_instances/" + url.PathEscape(id) + "/last_operation"
	return c.lastOperation(ctx, path, serviceID, planID, operation)
}

// BindingLastOperation polls a binding's last operation once.
func (c *Client) BindingLastOperation(ctx context.Context, instanceID, bindingID, serviceID, planID, operation string) (LastOperation, error) {
	path := "/v2/service_instances/" + url.PathEscape(instanceID) + "/service_bindings/" +
		url.PathEscape(bindingID) + "/last_operation"
	return c.lastOperation(ctx, path, serviceID, planID, operation)
}

func (c *Client) lastOperation(ctx context.Context, path, serviceID, planID, operation string) (LastOperation, error) {
	q := url.Values{}
	if serviceID != "" {
		q.Set("service_id", serviceID)
	}
	if planID != "" {
		q.Set("plan_id", planID)
	}
	if operation != "" {
		q.Set("operation", operation)
	}
	r, err := c.doRead(ctx, path, q)
	if err != nil {
		return LastOperation{}, fmt.Errorf("last operation: %w", err)
	}
	if r.status != http.StatusOK {
		return LastOperation{}, fmt.Errorf("last operation: %w", brokerError("last_operation", r))
	}
	var body osb.LastOperationResponse
	if err := json.Unmarshal(r.body, &body); err != nil {
		return LastOperation{}, fmt.Errorf("last operation: %w: %w", ErrMalformed, err)
	}
	switch body.State {
	case osb.StateInProgress, osb.StateSucceeded, osb.StateFailed:
	default:
		return LastOperation{}, fmt.Errorf("last operation: %w: state %q", ErrMalformed, body.State)
	}
	return LastOperation{State: body.State, Description: body.Description, RetryAfter: r.retryAfter}, nil
}

// PollOptions paces Poll.
type PollOptions struct {
	// Interval is the first pause between polls (default 1 s); it grows by
	// half each poll up to MaxInterval (default 30 s). A broker's
	// Retry-After wins when longer.
	Interval    time.Duration
	MaxInterval time.Duration
	// MaxDuration bounds the whole poll (default 24 h; CF's default is a
	// week). When it passes, Poll returns ErrTimeout.
	MaxDuration time.Duration
	// OnProgress, if set, is called with every in-progress answer (to
	// record the broker's description).
	OnProgress func(LastOperation)
}

// Poll calls fetch until the operation is no longer in progress and
// returns the final answer. Transient failures (timeouts, unreachable
// broker, 5xx) are polled through; other errors, ErrGone included, end the
// poll and are returned.
func Poll(ctx context.Context, opt PollOptions, fetch func(context.Context) (LastOperation, error)) (LastOperation, error) {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.MaxInterval <= 0 {
		opt.MaxInterval = 30 * time.Second
	}
	if opt.MaxInterval < opt.Interval {
		opt.MaxInterval = opt.Interval
	}
	if opt.MaxDuration <= 0 {
		opt.MaxDuration = 24 * time.Hour
	}
	deadline := time.Now().Add(opt.MaxDuration)
	interval := opt.Interval
	for {
		lo, err := fetch(ctx)
		switch {
		case err != nil && !transient(err):
			return LastOperation{}, err
		case err == nil && lo.State != osb.StateInProgress:
			return lo, nil
		case err == nil && opt.OnProgress != nil:
			opt.OnProgress(lo)
		}
		wait := interval
		if err == nil && lo.RetryAfter > wait {
			wait = lo.RetryAfter
		}
		if time.Now().Add(wait).After(deadline) {
			return LastOperation{}, fmt.Errorf("poll last operation: %w (gave up after %s)", ErrTimeout, opt.MaxDuration)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return LastOperation{}, ctx.Err()
		case <-t.C:
		}
		interval = min(interval+interval/2, opt.MaxInterval)
	}
}

// transient reports whether err may go away by asking again.
func transient(err error) bool {
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnreachable) {
		return true
	}
	var be *Error
	return errors.As(err, &be) && be.Status >= 500
}

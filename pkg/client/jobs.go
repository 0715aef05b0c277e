package client

import (
	"context"
	"fmt"
	"net/http"
)

// GetJob fetches a job by its location (a /v3/jobs/<guid> path or URL).
func (c *Client) GetJob(ctx context.Context, location string) (*Job, error) {
	var j Job
	if err := c.get(ctx, location, nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// PollJob polls the job at location every PollInterval until it is
// COMPLETE (nil) or FAILED (*JobFailedError with the job's first error), or
// ctx is done.
func (c *Client) PollJob(ctx context.Context, location string) (*Job, error) {
	for {
		j, err := c.GetJob(ctx, location)
		if err != nil {
			return nil, fmt.Errorf("poll job: %w", err)
		}
		switch j.State {
		case JobComplete:
			return j, nil
		case JobFailed:
			ae := &APIError{Detail: "job failed", Errors: j.Errors}
			if len(j.Errors) > 0 {
				ae.Code, ae.Title, ae.Detail = j.Errors[0].Code, j.Errors[0].Title, j.Errors[0].Detail
			}
			return j, &JobFailedError{JobGUID: j.GUID, Err: ae}
		}
		if err := sleepCtx(ctx, c.cfg.PollInterval); err != nil {
			return j, fmt.Errorf("wait for job %s: %w", j.GUID, err)
		}
	}
}

// waitAsync polls the job of a 202 answer that carries a Location; other
// answers are already done.
func (c *Client) waitAsync(ctx context.Context, resp *response) error {
	if resp == nil || resp.status != http.StatusAccepted {
		return nil
	}
	loc := resp.header.Get("Location")
	if loc == "" {
		// Like the cf CLI: no location, nothing to poll.
		return nil
	}
	_, err := c.PollJob(ctx, loc)
	return err
}

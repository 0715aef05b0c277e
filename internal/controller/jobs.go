package controller

import (
	"context"
	"errors"
	"net/http"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// jobTask is one queued asynchronous operation.
type jobTask struct {
	guid string
	run  func(ctx context.Context) ([]string, error)
	// vals carries the request's values (the caller, its authorization)
	// into the job, so what the job records names who asked.
	vals context.Context
}

// jobContext is the worker's context (deadline, cancellation) with the
// values of the request that queued the job.
type jobContext struct {
	context.Context
	vals context.Context
}

func (j jobContext) Value(key any) any { return j.vals.Value(key) }

// runJob records a PROCESSING job, queues run on the bounded worker pool
// and answers 202 with Location: /v3/jobs/<guid>.
func (c *Controller) runJob(w http.ResponseWriter, r *http.Request, op, resType, resGUID string, run func(ctx context.Context) ([]string, error)) error {
	j := &store.Job{Meta: store.Meta{GUID: newGUID()}, Operation: op, State: store.JobProcessing, ResourceType: resType, ResourceGUID: resGUID}
	if err := c.deps.Store.Jobs().Create(r.Context(), j); err != nil {
		return err
	}
	select {
	case c.jobQ <- jobTask{guid: j.GUID, run: run, vals: context.WithoutCancel(r.Context())}:
	default:
		c.finishJob(r.Context(), j.GUID, nil, apierr.ServiceUnavailable("The controller is busy; try again shortly"))
		return apierr.ServiceUnavailable("The controller is busy; try again shortly")
	}
	w.Header().Set("Location", c.url+"/v3/jobs/"+j.GUID)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (c *Controller) jobWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-c.jobQ:
			jctx := ctx
			if t.vals != nil {
				jctx = jobContext{Context: ctx, vals: t.vals}
			}
			warnings, err := t.run(jctx)
			if err != nil && apierr.As(err) == nil {
				c.log.Error("job-failed", "job_guid", t.guid, "error", err)
			}
			c.finishJob(ctx, t.guid, warnings, err)
		}
	}
}

// finishJob marks a job COMPLETE, or FAILED with err as its error.
func (c *Controller) finishJob(ctx context.Context, guid string, warnings []string, err error) {
	ctx = context.WithoutCancel(ctx)
	for attempt := 0; attempt < 5; attempt++ {
		j, gerr := c.deps.Store.Jobs().Get(ctx, guid)
		if gerr != nil {
			c.log.Error("job-lookup-failed", "job_guid", guid, "error", gerr)
			return
		}
		j.Warnings = append(j.Warnings, warnings...)
		if err == nil {
			j.State = store.JobComplete
		} else {
			j.State = store.JobFailed
			e := apierr.As(err)
			if e == nil {
				e = &apierr.Error{Code: 10001, Title: "CF-ServerError", Detail: err.Error()}
			}
			j.Errors = []store.JobError{{Code: e.Code, Title: e.Title, Detail: e.Detail}}
		}
		uerr := c.deps.Store.Jobs().Update(ctx, j)
		if uerr == nil {
			return
		}
		if !errors.Is(uerr, store.ErrConflict) {
			c.log.Error("job-update-failed", "job_guid", guid, "error", uerr)
			return
		}
	}
}

func (c *Controller) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := c.deps.Store.Jobs().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Job")
	}
	return writeJSON(w, http.StatusOK, c.pres.Job(j))
}

package osb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// storeTimeout bounds the store writes that record an operation's outcome.
const storeTimeout = 30 * time.Second

func instanceKey(id string) string { return "instance/" + id }

// lockInstance takes the lock that serialises all work on an instance and
// its bindings. A request waits at most SyncTimeout for it and is then
// answered 422 ConcurrencyError; the caller must then return.
func (s *Server) lockInstance(w http.ResponseWriter, r *http.Request, id string) (func(), bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SyncTimeout)
	defer cancel()
	unlock, err := s.locks.Lock(ctx, instanceKey(id))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeConcurrencyError,
			"another operation on this service instance is in progress")
		return nil, false
	}
	return unlock, true
}

// runningHere reports whether op is an asynchronous operation this process
// is running. An in-progress operation that is not running here was
// interrupted (the broker stopped) and may be repaired.
func (s *Server) runningHere(key string, op *Operation) bool {
	if !op.InProgress() {
		return false
	}
	s.runningMu.Lock()
	defer s.runningMu.Unlock()
	return s.running[key] == op.ID
}

func (s *Server) setRunning(key, opID string) {
	s.runningMu.Lock()
	s.running[key] = opID
	s.runningMu.Unlock()
}

func (s *Server) clearRunning(key, opID string) {
	s.runningMu.Lock()
	if s.running[key] == opID {
		delete(s.running, key)
	}
	s.runningMu.Unlock()
}

// trySlot reserves room for one asynchronous operation.
func (s *Server) trySlot() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) releaseSlot() { <-s.slots }

func writeNoSlot(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, CodeUnavailable,
		"the broker is running too many operations; retry later")
}

// safeWork runs work, turning a panic into an error.
func safeWork(ctx context.Context, work func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("operation panicked: %v", p)
		}
	}()
	return work(ctx)
}

// launch runs an asynchronous operation on the instance key. The caller
// holds the instance lock and a slot; launch takes over the slot. When work
// returns, finish records the outcome under the instance lock. Work that
// was cancelled because the server is stopping is not finished: its record
// stays in progress and the next Run resumes it.
func (s *Server) launch(key, opID string, work func(context.Context) error, finish func(context.Context, error)) {
	s.setRunning(key, opID)
	s.ops.Add(1)
	go func() {
		defer s.ops.Done()
		defer s.releaseSlot()
		ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.OperationTimeout)
		err := safeWork(ctx, work)
		cancel()
		if err != nil && s.baseCtx.Err() != nil {
			s.log.Warn("operation-interrupted", "operation", opID, "error", err)
			s.clearRunning(key, opID)
			return
		}
		fctx, fcancel := context.WithTimeout(context.Background(), storeTimeout)
		defer fcancel()
		unlock, lerr := s.locks.Lock(fctx, key)
		if lerr != nil {
			s.log.Error("operation-finish-failed", "operation", opID, "error", lerr)
			s.clearRunning(key, opID)
			return
		}
		finish(fctx, err)
		s.clearRunning(key, opID)
		unlock()
	}()
}

// syncContext is the context of an operation run while the platform waits:
// detached from the request (a platform that hangs up must not leave a
// half-done operation) but bounded and cancelled when the server stops.
func (s *Server) syncContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.baseCtx, s.cfg.SyncTimeout)
}

// instanceWork is the provider call that performs op on inst.
func (s *Server) instanceWork(inst *Instance, op *Operation) func(context.Context) error {
	snapshot := *inst
	switch op.Kind {
	case OpProvision:
		return func(ctx context.Context) error { return s.provider.Provision(ctx, &snapshot) }
	case OpUpdate:
		planID, params := op.PlanID, op.Parameters
		return func(ctx context.Context) error { return s.provider.Update(ctx, &snapshot, planID, params) }
	case OpDeprovision:
		return func(ctx context.Context) error {
			bindings, err := s.store.ListBindings(ctx, snapshot.ID)
			if err != nil {
				return fmt.Errorf("list bindings: %w", err)
			}
			return s.provider.Deprovision(ctx, &snapshot, bindings)
		}
	default:
		return func(context.Context) error { return fmt.Errorf("unknown operation kind %q", op.Kind) }
	}
}

// finishInstanceOp records the outcome of operation opID on instance id.
// The caller holds the instance lock. A deprovision that succeeded removes
// the instance and its bindings from the store.
func (s *Server) finishInstanceOp(ctx context.Context, id, opID string, workErr error) error {
	inst, err := s.store.GetInstance(ctx, id)
	if err != nil {
		return fmt.Errorf("load instance %s: %w", id, err)
	}
	op := inst.LastOperation
	if op == nil || op.ID != opID {
		s.log.Warn("operation-superseded", "instance_id", id, "operation", opID)
		return nil
	}
	now := time.Now().UTC()
	op.FinishedAt = now
	inst.UpdatedAt = now
	if workErr != nil {
		op.State = StateFailed
		op.Description = op.Kind + " failed: " + errorText(workErr)
		s.log.Warn("instance-operation-failed", "instance_id", id, "kind", op.Kind, "operation", opID, "error", workErr)
		if err := s.store.UpdateInstance(ctx, inst); err != nil {
			return fmt.Errorf("record failed %s of %s: %w", op.Kind, id, err)
		}
		return nil
	}
	op.State = StateSucceeded
	switch op.Kind {
	case OpProvision:
		inst.Provisioned = true
		op.Description = "provisioned"
	case OpUpdate:
		inst.PlanID = op.PlanID
		inst.Parameters = op.Parameters
		op.Description = "updated"
	case OpDeprovision:
		bindings, err := s.store.ListBindings(ctx, id)
		if err != nil {
			return fmt.Errorf("list bindings of %s: %w", id, err)
		}
		for _, b := range bindings {
			if err := s.store.DeleteBinding(ctx, b.ID); err != nil {
				return fmt.Errorf("delete binding %s: %w", b.ID, err)
			}
		}
		if err := s.store.DeleteInstance(ctx, id); err != nil {
			return fmt.Errorf("delete instance %s: %w", id, err)
		}
		s.log.Info("instance-deprovisioned", "instance_id", id, "operation", opID)
		return nil
	}
	if err := s.store.UpdateInstance(ctx, inst); err != nil {
		return fmt.Errorf("record %s of %s: %w", op.Kind, id, err)
	}
	s.log.Info("instance-operation-succeeded", "instance_id", id, "kind", op.Kind, "operation", opID)
	return nil
}

// startInstanceOp records op as inst's last operation (creating the record
// when create is set) and performs it: in the background when op.Async
// (answering 202), else now (answering okStatus with okBody, or the
// error). The caller holds the instance lock and, for an asynchronous
// operation, a slot.
func (s *Server) startInstanceOp(w http.ResponseWriter, r *http.Request, inst *Instance, op *Operation, create bool, okStatus int, okBody any) {
	inst.LastOperation = op
	inst.UpdatedAt = op.StartedAt
	var err error
	if create {
		err = s.store.CreateInstance(r.Context(), inst)
	} else {
		err = s.store.UpdateInstance(r.Context(), inst)
	}
	if err != nil {
		if op.Async {
			s.releaseSlot()
		}
		if errors.Is(err, ErrExists) {
			writeError(w, http.StatusUnprocessableEntity, CodeConcurrencyError, "the service instance is being created by another request")
			return
		}
		s.writeFailure(w, "instance-record-failed", fmt.Errorf("record %s: %w", op.Kind, err), "instance_id", inst.ID)
		return
	}
	work := s.instanceWork(inst, op)
	key := instanceKey(inst.ID)
	if op.Async {
		id, opID := inst.ID, op.ID
		s.launch(key, opID, work, func(ctx context.Context, werr error) {
			if err := s.finishInstanceOp(ctx, id, opID, werr); err != nil {
				s.log.Error("operation-finish-failed", "instance_id", id, "operation", opID, "error", err)
			}
		})
		writeJSON(w, http.StatusAccepted, ProvisionResponse{Operation: op.ID})
		return
	}
	ctx, cancel := s.syncContext()
	werr := safeWork(ctx, work)
	cancel()
	fctx, fcancel := context.WithTimeout(context.Background(), storeTimeout)
	defer fcancel()
	if err := s.finishInstanceOp(fctx, inst.ID, op.ID, werr); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		s.writeFailure(w, "instance-operation-failed", fmt.Errorf("%s: %w", op.Kind, werr), "instance_id", inst.ID)
		return
	}
	writeJSON(w, okStatus, okBody)
}

// Resume restarts the asynchronous operations the store has in progress
// that are not running in this process, and marks interrupted synchronous
// operations failed. Run calls it at start.
func (s *Server) Resume(ctx context.Context) error {
	insts, binds, err := s.store.ListPending(ctx)
	if err != nil {
		return fmt.Errorf("list pending operations: %w", err)
	}
	var errs []error
	for _, p := range insts {
		if err := s.resumeInstance(ctx, p.ID); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range binds {
		if err := s.failInterruptedBinding(ctx, b.InstanceID, b.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) resumeInstance(ctx context.Context, id string) error {
	key := instanceKey(id)
	unlock, err := s.locks.Lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	inst, err := s.store.GetInstance(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load instance %s: %w", id, err)
	}
	op := inst.LastOperation
	if !op.InProgress() || s.runningHere(key, op) {
		return nil
	}
	if !op.Async {
		return s.finishInstanceOp(ctx, id, op.ID, errors.New("interrupted: the broker stopped before the operation finished"))
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.log.Info("operation-resumed", "instance_id", id, "kind", op.Kind, "operation", op.ID)
	opID := op.ID
	s.launch(key, opID, s.instanceWork(inst, op), func(ctx context.Context, werr error) {
		if err := s.finishInstanceOp(ctx, id, opID, werr); err != nil {
			s.log.Error("operation-finish-failed", "instance_id", id, "operation", opID, "error", err)
		}
	})
	return nil
}

// WithInstanceLock runs fn while holding the lock that serialises the
// operations on an instance and its bindings, for work a broker does
// outside requests (reconciliation). Asynchronous operations do not hold
// the lock while they run: fn should skip instances whose last operation
// is pending.
func (s *Server) WithInstanceLock(ctx context.Context, instanceID string, fn func(context.Context) error) error {
	unlock, err := s.locks.Lock(ctx, instanceKey(instanceID))
	if err != nil {
		return err
	}
	defer unlock()
	return fn(ctx)
}

package osb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

func bindingIDs(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	iid, ok := instanceID(w, r)
	if !ok {
		return "", "", false
	}
	bid := r.PathValue("binding_id")
	if !ValidID(bid) {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			"binding_id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit")
		return "", "", false
	}
	return iid, bid, true
}

func (req *BindRequest) appGUID() string {
	if req.BindResource != nil && req.BindResource.AppGUID != "" {
		return req.BindResource.AppGUID
	}
	return req.AppGUID
}

func (req *BindRequest) route() string {
	if req.BindResource != nil {
		return req.BindResource.Route
	}
	return ""
}

func (s *Server) bind(w http.ResponseWriter, r *http.Request) {
	iid, bid, ok := bindingIDs(w, r)
	if !ok {
		return
	}
	var req BindRequest
	if !s.readBody(w, r, &req) {
		return
	}
	if req.ServiceID == "" || req.PlanID == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "service_id and plan_id are required")
		return
	}
	params, ok := readParams(w, req.Parameters)
	if !ok {
		return
	}
	unlock, ok := s.lockInstance(w, r, iid)
	if !ok {
		return
	}
	defer unlock()
	inst, ok := s.loadInstance(w, r, iid, false)
	if !ok {
		return
	}
	if op := inst.LastOperation; s.runningHere(instanceKey(iid), op) {
		writeBusy(w, op)
		return
	}
	if !inst.Usable() {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the service instance is not provisioned")
		return
	}
	if req.ServiceID != inst.ServiceID || req.PlanID != inst.PlanID {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "service_id and plan_id must match the service instance's")
		return
	}
	svc, plan, _ := s.cfg.Catalog.Lookup(inst.ServiceID, inst.PlanID)
	if svc == nil || plan == nil || !planBindable(svc, plan) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "this plan is not bindable")
		return
	}
	if err := s.provider.ValidateBindingParameters(r.Context(), inst, params); err != nil {
		s.writeFailure(w, "validate-parameters-failed", err, "instance_id", iid, "binding_id", bid)
		return
	}
	now := time.Now().UTC()
	b, err := s.store.GetBinding(r.Context(), bid)
	create := false
	switch {
	case errors.Is(err, ErrNotFound):
		create = true
		b = &Binding{
			ID: bid, InstanceID: iid, ServiceID: req.ServiceID, PlanID: req.PlanID,
			AppGUID: req.appGUID(), BindResource: req.BindResource, Context: req.Context,
			Parameters: params, CreatedAt: now,
		}
	case err != nil:
		s.writeFailure(w, "binding-load-failed", err, "binding_id", bid)
		return
	default:
		sameResource := b.AppGUID == req.appGUID() && bindRoute(b) == req.route()
		if b.InstanceID != iid || b.ServiceID != req.ServiceID || b.PlanID != req.PlanID || !sameResource || !sameJSON(b.Parameters, params) {
			writeError(w, http.StatusConflict, "", "a service binding with this id exists with different attributes")
			return
		}
		if b.Usable() {
			writeJSON(w, http.StatusOK, BindingResponse{Credentials: b.Credentials})
			return
		}
		s.log.Info("binding-repair", "instance_id", iid, "binding_id", bid)
	}
	op := &Operation{ID: newOperationID(OpBind), Kind: OpBind, State: StateInProgress, StartedAt: now}
	b.LastOperation = op
	b.UpdatedAt = now
	if create {
		err = s.store.CreateBinding(r.Context(), b)
	} else {
		err = s.store.UpdateBinding(r.Context(), b)
	}
	if errors.Is(err, ErrExists) {
		writeError(w, http.StatusUnprocessableEntity, CodeConcurrencyError, "the service binding is being created by another request")
		return
	}
	if err != nil {
		s.writeFailure(w, "binding-record-failed", err, "binding_id", bid)
		return
	}
	creds, werr := s.runBindingOp(bid, op.ID, func(ctx context.Context) (map[string]any, error) {
		return s.provider.Bind(ctx, inst, b)
	})
	if werr != nil {
		s.writeFailure(w, "bind-failed", fmt.Errorf("bind: %w", werr), "instance_id", iid, "binding_id", bid)
		return
	}
	writeJSON(w, http.StatusCreated, BindingResponse{Credentials: creds})
}

func bindRoute(b *Binding) string {
	if b.BindResource != nil {
		return b.BindResource.Route
	}
	return ""
}

// finishBindingOp records the outcome of a bind or unbind; a successful
// unbind deletes the record. The caller holds the instance lock.
func (s *Server) finishBindingOp(ctx context.Context, bid, opID string, creds map[string]any, workErr error) error {
	b, err := s.store.GetBinding(ctx, bid)
	if err != nil {
		return fmt.Errorf("load binding %s: %w", bid, err)
	}
	op := b.LastOperation
	if op == nil || op.ID != opID {
		s.log.Warn("operation-superseded", "binding_id", bid, "operation", opID)
		return nil
	}
	now := time.Now().UTC()
	op.FinishedAt = now
	b.UpdatedAt = now
	switch {
	case workErr != nil:
		op.State = StateFailed
		op.Description = op.Kind + " failed: " + errorText(workErr)
		s.log.Warn("binding-operation-failed", "binding_id", bid, "kind", op.Kind, "error", workErr)
	case op.Kind == OpUnbind:
		if err := s.store.DeleteBinding(ctx, bid); err != nil {
			return fmt.Errorf("delete binding %s: %w", bid, err)
		}
		s.log.Info("binding-deleted", "instance_id", b.InstanceID, "binding_id", bid)
		return nil
	default:
		op.State = StateSucceeded
		op.Description = "bound"
		b.Credentials = creds
		b.Bound = true
	}
	if err := s.store.UpdateBinding(ctx, b); err != nil {
		return fmt.Errorf("record %s of %s: %w", op.Kind, bid, err)
	}
	if workErr == nil {
		s.log.Info("binding-created", "instance_id", b.InstanceID, "binding_id", bid)
	}
	return nil
}

func (s *Server) unbind(w http.ResponseWriter, r *http.Request) {
	iid, bid, ok := bindingIDs(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("service_id") == "" || q.Get("plan_id") == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the service_id and plan_id query parameters are required")
		return
	}
	unlock, ok := s.lockInstance(w, r, iid)
	if !ok {
		return
	}
	defer unlock()
	b, ok := s.loadBinding(w, r, iid, bid)
	if !ok {
		return
	}
	inst, err := s.store.GetInstance(r.Context(), iid)
	if errors.Is(err, ErrNotFound) {
		// A binding that outlived its instance: nothing is left to revoke.
		if err := s.store.DeleteBinding(r.Context(), bid); err != nil {
			s.writeFailure(w, "binding-delete-failed", err, "binding_id", bid)
			return
		}
		writeJSON(w, http.StatusGone, struct{}{})
		return
	}
	if err != nil {
		s.writeFailure(w, "instance-load-failed", err, "instance_id", iid)
		return
	}
	if op := inst.LastOperation; s.runningHere(instanceKey(iid), op) {
		writeBusy(w, op)
		return
	}
	now := time.Now().UTC()
	op := &Operation{ID: newOperationID(OpUnbind), Kind: OpUnbind, State: StateInProgress, StartedAt: now}
	b.LastOperation = op
	b.UpdatedAt = now
	if err := s.store.UpdateBinding(r.Context(), b); err != nil {
		s.writeFailure(w, "binding-record-failed", err, "binding_id", bid)
		return
	}
	_, werr := s.runBindingOp(bid, op.ID, func(ctx context.Context) (map[string]any, error) {
		return nil, s.provider.Unbind(ctx, inst, b)
	})
	if werr != nil {
		s.writeFailure(w, "unbind-failed", fmt.Errorf("unbind: %w", werr), "instance_id", iid, "binding_id", bid)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) getBinding(w http.ResponseWriter, r *http.Request) {
	iid, bid, ok := bindingIDs(w, r)
	if !ok {
		return
	}
	b, err := s.store.GetBinding(r.Context(), bid)
	if errors.Is(err, ErrNotFound) || (err == nil && (b.InstanceID != iid || !b.Usable())) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such service binding")
		return
	}
	if err != nil {
		s.writeFailure(w, "binding-load-failed", err, "binding_id", bid)
		return
	}
	writeJSON(w, http.StatusOK, BindingResponse{Credentials: b.Credentials, Parameters: b.Parameters})
}

func (s *Server) bindingLastOperation(w http.ResponseWriter, r *http.Request) {
	iid, bid, ok := bindingIDs(w, r)
	if !ok {
		return
	}
	b, ok := s.loadBinding(w, r, iid, bid)
	if !ok {
		return
	}
	writeLastOperation(w, r, b.LastOperation)
}

// failInterruptedBinding marks a binding operation failed that was in
// progress when a previous broker process stopped.
func (s *Server) failInterruptedBinding(ctx context.Context, iid, bid string) error {
	unlock, err := s.locks.Lock(ctx, instanceKey(iid))
	if err != nil {
		return err
	}
	defer unlock()
	b, err := s.store.GetBinding(ctx, bid)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load binding %s: %w", bid, err)
	}
	if !b.Pending() {
		return nil
	}
	return s.finishBindingOp(ctx, bid, b.LastOperation.ID, nil,
		errors.New("interrupted: the broker stopped before the operation finished"))
}

// runBindingOp runs a synchronous bind or unbind (bounded by the sync
// timeout), records its outcome and credentials in the binding's
// operation opID, and returns the credentials and the first error.
func (s *Server) runBindingOp(bid, opID string, work func(ctx context.Context) (map[string]any, error)) (map[string]any, error) {
	ctx, cancel := s.syncContext()
	var creds map[string]any
	werr := safeWork(ctx, func(ctx context.Context) error {
		var err error
		creds, err = work(ctx)
		return err
	})
	cancel()
	fctx, fcancel := context.WithTimeout(context.Background(), storeTimeout)
	defer fcancel()
	if err := s.finishBindingOp(fctx, bid, opID, creds, werr); err != nil && werr == nil {
		werr = err
	}
	return creds, werr
}

// loadBinding loads binding bid of instance iid; when there is none it
// answers 410 Gone, when loading fails 500, and returns false.
func (s *Server) loadBinding(w http.ResponseWriter, r *http.Request, iid, bid string) (*Binding, bool) {
	b, err := s.store.GetBinding(r.Context(), bid)
	if errors.Is(err, ErrNotFound) || (err == nil && b.InstanceID != iid) {
		writeJSON(w, http.StatusGone, struct{}{})
		return nil, false
	}
	if err != nil {
		s.writeFailure(w, "binding-load-failed", err, "binding_id", bid)
		return nil, false
	}
	return b, true
}

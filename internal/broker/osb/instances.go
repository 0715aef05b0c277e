package osb

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// instanceID reads and checks the instance id of the path.
func instanceID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("instance_id")
	if !ValidID(id) {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			"instance_id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit")
		return "", false
	}
	return id, true
}

func checkMaintenanceInfo(plan *Plan, mi *MaintenanceInfo) error {
	if mi == nil {
		return nil
	}
	if plan.MaintenanceInfo == nil {
		return errors.New("this plan has no maintenance_info")
	}
	if plan.MaintenanceInfo.Version != mi.Version {
		return fmt.Errorf("maintenance_info version %q does not match the plan's %q", mi.Version, plan.MaintenanceInfo.Version)
	}
	return nil
}

func (s *Server) provision(w http.ResponseWriter, r *http.Request) {
	id, ok := instanceID(w, r)
	if !ok {
		return
	}
	async := acceptsIncomplete(r)
	var req ProvisionRequest
	if !s.readBody(w, r, &req) {
		return
	}
	if req.ServiceID == "" || req.PlanID == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "service_id and plan_id are required")
		return
	}
	svc, plan, found := s.cfg.Catalog.Lookup(req.ServiceID, req.PlanID)
	if svc == nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown service_id %q", req.ServiceID))
		return
	}
	if !found {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown plan_id %q for service %q", req.PlanID, svc.Name))
		return
	}
	params, ok := readParams(w, req.Parameters)
	if !ok {
		return
	}
	if err := checkMaintenanceInfo(plan, req.MaintenanceInfo); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeMaintenanceInfoConflict, err.Error())
		return
	}
	if err := s.provider.ValidateInstanceParameters(r.Context(), plan.ID, params); err != nil {
		s.writeFailure(w, "validate-parameters-failed", err, "instance_id", id)
		return
	}

	unlock, ok := s.lockInstance(w, r, id)
	if !ok {
		return
	}
	defer unlock()
	key := instanceKey(id)
	now := time.Now().UTC()
	inst, err := s.store.GetInstance(r.Context(), id)
	create := false
	switch {
	case errors.Is(err, ErrNotFound):
		create = true
		inst = &Instance{
			ID: id, ServiceID: req.ServiceID, PlanID: req.PlanID,
			OrganizationGUID: req.OrganizationGUID, SpaceGUID: req.SpaceGUID,
			Context: req.Context, Parameters: params, CreatedAt: now,
		}
	case err != nil:
		s.writeFailure(w, "instance-load-failed", err, "instance_id", id)
		return
	default:
		if inst.ServiceID != req.ServiceID || inst.PlanID != req.PlanID || !sameJSON(inst.Parameters, params) ||
			inst.OrganizationGUID != req.OrganizationGUID || inst.SpaceGUID != req.SpaceGUID {
			writeError(w, http.StatusConflict, "", "a service instance with this id exists with different attributes")
			return
		}
		op := inst.LastOperation
		if s.runningHere(key, op) {
			if op.Kind == OpProvision && async {
				writeJSON(w, http.StatusAccepted, ProvisionResponse{Operation: op.ID})
				return
			}
			writeBusy(w, op)
			return
		}
		brokenByDelete := op != nil && op.Kind == OpDeprovision && op.State != StateSucceeded
		if inst.Provisioned && !brokenByDelete {
			writeJSON(w, http.StatusOK, ProvisionResponse{})
			return
		}
		// Not usable: a provision that failed or was interrupted, or a
		// deprovision that failed or was interrupted. Provision is
		// idempotent, so run it again to repair the instance.
		s.log.Info("instance-repair", "instance_id", id)
		if len(req.Context) > 0 {
			inst.Context = req.Context
		}
	}
	if async && !s.trySlot() {
		writeNoSlot(w)
		return
	}
	op := &Operation{ID: newOperationID(OpProvision), Kind: OpProvision, State: StateInProgress, Async: async, StartedAt: now}
	s.startInstanceOp(w, r, inst, op, create, http.StatusCreated, ProvisionResponse{})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	id, ok := instanceID(w, r)
	if !ok {
		return
	}
	async := acceptsIncomplete(r)
	var req UpdateRequest
	if !s.readBody(w, r, &req) {
		return
	}
	if req.ServiceID == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "service_id is required")
		return
	}
	unlock, ok := s.lockInstance(w, r, id)
	if !ok {
		return
	}
	defer unlock()
	inst, ok := s.loadInstance(w, r, id, false)
	if !ok {
		return
	}
	op := inst.LastOperation
	if s.runningHere(instanceKey(id), op) {
		writeBusy(w, op)
		return
	}
	if !inst.Provisioned || (op != nil && op.Kind == OpDeprovision) {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			"the service instance is not provisioned; repeat its provision (or delete it) first")
		return
	}
	if req.ServiceID != inst.ServiceID {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("service_id %q does not match the instance's", req.ServiceID))
		return
	}
	planID := req.PlanID
	if planID == "" {
		planID = inst.PlanID
	}
	svc, plan, found := s.cfg.Catalog.Lookup(inst.ServiceID, planID)
	if !found {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown plan_id %q", planID))
		return
	}
	if planID != inst.PlanID && !planUpdateable(svc, plan) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("service %q does not support plan changes", svc.Name))
		return
	}
	if err := checkMaintenanceInfo(plan, req.MaintenanceInfo); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeMaintenanceInfoConflict, err.Error())
		return
	}
	params := inst.Parameters
	if len(req.Parameters) > 0 {
		if params, ok = readParams(w, req.Parameters); !ok {
			return
		}
	}
	if err := s.provider.ValidateInstanceParameters(r.Context(), planID, params); err != nil {
		s.writeFailure(w, "validate-parameters-failed", err, "instance_id", id)
		return
	}
	if len(req.Context) > 0 {
		inst.Context = req.Context
	}
	now := time.Now().UTC()
	if planID == inst.PlanID && sameJSON(params, inst.Parameters) {
		if len(req.Context) > 0 {
			inst.UpdatedAt = now
			if err := s.store.UpdateInstance(r.Context(), inst); err != nil {
				s.writeFailure(w, "instance-record-failed", err, "instance_id", id)
				return
			}
		}
		writeJSON(w, http.StatusOK, UpdateResponse{})
		return
	}
	if async && !s.trySlot() {
		writeNoSlot(w)
		return
	}
	op = &Operation{ID: newOperationID(OpUpdate), Kind: OpUpdate, State: StateInProgress, Async: async,
		PlanID: planID, Parameters: params, StartedAt: now}
	s.startInstanceOp(w, r, inst, op, false, http.StatusOK, UpdateResponse{})
}

func (s *Server) deprovision(w http.ResponseWriter, r *http.Request) {
	id, ok := instanceID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("service_id") == "" || q.Get("plan_id") == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the service_id and plan_id query parameters are required")
		return
	}
	async := acceptsIncomplete(r)
	unlock, ok := s.lockInstance(w, r, id)
	if !ok {
		return
	}
	defer unlock()
	inst, ok := s.loadInstance(w, r, id, true)
	if !ok {
		return
	}
	if q.Get("service_id") != inst.ServiceID {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "service_id does not match the service instance's")
		return
	}
	op := inst.LastOperation
	if s.runningHere(instanceKey(id), op) {
		if op.Kind == OpDeprovision && async {
			writeJSON(w, http.StatusAccepted, OperationResponse{Operation: op.ID})
			return
		}
		writeBusy(w, op)
		return
	}
	if async && !s.trySlot() {
		writeNoSlot(w)
		return
	}
	op = &Operation{ID: newOperationID(OpDeprovision), Kind: OpDeprovision, State: StateInProgress, Async: async, StartedAt: time.Now().UTC()}
	s.startInstanceOp(w, r, inst, op, false, http.StatusOK, struct{}{})
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	id, ok := instanceID(w, r)
	if !ok {
		return
	}
	inst, ok := s.loadInstance(w, r, id, false)
	if !ok {
		return
	}
	op := inst.LastOperation
	switch {
	case !inst.Provisioned:
		writeError(w, http.StatusNotFound, CodeNotFound, "the service instance is not provisioned")
		return
	case op.InProgress() && op.Kind == OpUpdate:
		writeError(w, http.StatusUnprocessableEntity, CodeConcurrencyError, "the service instance is being updated")
		return
	}
	writeJSON(w, http.StatusOK, InstanceResponse{ServiceID: inst.ServiceID, PlanID: inst.PlanID, Parameters: inst.Parameters})
}

func (s *Server) instanceLastOperation(w http.ResponseWriter, r *http.Request) {
	id, ok := instanceID(w, r)
	if !ok {
		return
	}
	inst, ok := s.loadInstance(w, r, id, true)
	if !ok {
		return
	}
	writeLastOperation(w, r, inst.LastOperation)
}

func writeLastOperation(w http.ResponseWriter, r *http.Request, op *Operation) {
	if op == nil {
		writeJSON(w, http.StatusOK, LastOperationResponse{State: StateSucceeded})
		return
	}
	if want := r.URL.Query().Get("operation"); want != "" && want != op.ID {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown operation %q", want))
		return
	}
	resp := LastOperationResponse{State: op.State, Description: op.Description}
	switch {
	case op.State == StateInProgress:
		if resp.Description == "" {
			resp.Description = op.Kind + " in progress"
		}
		w.Header().Set("Retry-After", "1")
	case op.State == StateFailed && op.Kind == OpUpdate:
		resp.InstanceUsable = BoolPtr(true)
		resp.UpdateRepeatable = BoolPtr(true)
	case op.State == StateFailed && op.Kind == OpDeprovision:
		resp.InstanceUsable = BoolPtr(false)
	}
	writeJSON(w, http.StatusOK, resp)
}

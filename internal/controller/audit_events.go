package controller

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// Audit event types (CF v3).
const (
	eventAppCreate        = "audit.app.create"
	eventAppUpdate        = "audit.app.update"
	eventAppStart         = "audit.app.start"
	eventAppStop          = "audit.app.stop"
	eventAppRestart       = "audit.app.restart"
	eventAppDeleteRequest = "audit.app.delete-request"
	eventAppScale         = "audit.app.process.scale"
	eventRouteCreate      = "audit.route.create"
	eventRouteDelete      = "audit.route.delete-request"
	eventSICreate         = "audit.service_instance.create"
	eventSIDelete         = "audit.service_instance.delete"
	eventSpaceCreate      = "audit.space.create"
	eventOrgCreate        = "audit.organization.create"
	eventSpaceDelete      = "audit.space.delete-request"
	eventOrgDelete        = "audit.organization.delete-request"
)

// eventTarget is what an audit event is about.
type eventTarget struct {
	guid, typ, name string
	space, org      string
}

// appTarget is an app as an event target (its space's org is looked up).
func (c *Controller) appTarget(ctx context.Context, st store.Store, a *store.App) eventTarget {
	return eventTarget{guid: a.GUID, typ: "app", name: a.Name, space: a.SpaceGUID, org: c.orgOf(ctx, st, a.SpaceGUID)}
}

// orgOf returns a space's org guid, "" when unknown.
func (c *Controller) orgOf(ctx context.Context, st store.Store, spaceGUID string) string {
	if spaceGUID == "" {
		return ""
	}
	s, err := st.Spaces().Get(ctx, spaceGUID)
	if err != nil {
		return ""
	}
	return s.OrgGUID
}

// recordEvent stores an audit event through st (pass the transaction's
// store to record it with the change). The actor is the request's user.
func (c *Controller) recordEvent(ctx context.Context, st store.Store, typ string, t eventTarget, data map[string]any) error {
	u := userFrom(ctx)
	e := &store.AuditEvent{Meta: store.Meta{GUID: newGUID()}, Type: typ,
		ActorGUID: u.GUID, ActorType: "user", ActorName: u.Name,
		TargetGUID: t.guid, TargetType: t.typ, TargetName: t.name,
		SpaceGUID: t.space, OrgGUID: t.org, Data: data}
	if e.ActorGUID == "" {
		e.ActorType, e.ActorName = "system", "system"
	}
	if err := st.AuditEvents().Create(ctx, e); err != nil {
		return fmt.Errorf("record %s event: %w", typ, err)
	}
	return nil
}

// noteEvent records an event outside a transaction; a failure is logged,
// never failing the request whose change already happened.
func (c *Controller) noteEvent(ctx context.Context, typ string, t eventTarget, data map[string]any) {
	if err := c.recordEvent(context.WithoutCancel(ctx), c.deps.Store, typ, t, data); err != nil {
		c.log.Warn("audit-event-failed", "type", typ, "target_guid", t.guid, "error", err)
	}
}

// eventVisible: admins see everything; space events are visible to those
// who see the space; org events to the org's managers and auditors.
func (c *Controller) eventVisible(ctx context.Context, e *store.AuditEvent) (bool, error) {
	az := authzFrom(ctx)
	if az.admin() {
		return true, nil
	}
	if err := az.load(ctx); err != nil {
		return false, err
	}
	switch {
	case e.SpaceGUID != "":
		return az.canSeeSpace(e.OrgGUID, e.SpaceGUID), nil
	case e.OrgGUID != "":
		return az.orgRoles[e.OrgGUID].has(bitOrgManager | bitOrgAuditor), nil
	}
	return false, nil
}

// listVisibleEvents lists events narrowed, for non-admins, to the spaces
// they see and the orgs they manage or audit (eventVisible still decides
// each event).
func (c *Controller) listVisibleEvents(ctx context.Context, opt store.ListOptions) ([]*store.AuditEvent, error) {
	st := c.deps.Store.AuditEvents()
	az := authzFrom(ctx)
	if az.admin() {
		return st.List(ctx, opt)
	}
	if err := az.load(ctx); err != nil {
		return nil, err
	}
	spaceOpt := opt
	var err error
	if spaceOpt.SpaceGUIDs, err = c.restrictSpaces(ctx, opt.SpaceGUIDs); err != nil {
		return nil, err
	}
	out, err := st.List(ctx, spaceOpt)
	if err != nil {
		return nil, err
	}
	var orgs []string
	for o, roles := range az.orgRoles {
		if roles.has(bitOrgManager | bitOrgAuditor) {
			orgs = append(orgs, o)
		}
	}
	if len(orgs) == 0 || opt.SpaceGUIDs != nil {
		return out, nil
	}
	orgOpt := opt
	orgOpt.OrgGUIDs = restrict(opt.OrgGUIDs, orgs, false)
	orgEvents, err := st.List(ctx, orgOpt)
	if err != nil {
		return nil, err
	}
	for _, e := range orgEvents {
		if e.SpaceGUID == "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// auditEventRetention is how long events are kept (CF's default cutoff).
const auditEventRetention = 31 * 24 * time.Hour

// pruneAuditEvents deletes events older than the retention, hourly.
func (c *Controller) pruneAuditEvents(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := c.deps.Store.AuditEvents().DeleteBefore(ctx, time.Now().Add(-auditEventRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			c.log.Warn("audit-event-prune-failed", "error", err)
		case n > 0:
			c.log.Info("audit-events-pruned", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func auditEventMeta(e *store.AuditEvent) *store.Meta { return &e.Meta }
func auditEventName(e *store.AuditEvent) string      { return e.Type }

func (c *Controller) listAuditEvents(w http.ResponseWriter, r *http.Request) error {
	lp, err := parseList(r, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opt := store.ListOptions{GUIDs: filterValues(q, "guids"), Types: filterValues(q, "types"),
		TargetGUIDs: filterValues(q, "target_guids"), SpaceGUIDs: filterValues(q, "space_guids"),
		OrgGUIDs: filterValues(q, "organization_guids")}
	events, err := c.listVisibleEvents(r.Context(), opt)
	if err != nil {
		return err
	}
	kept := events[:0]
	for _, e := range events {
		ok, err := c.eventVisible(r.Context(), e)
		if err != nil {
			return err
		}
		if ok {
			kept = append(kept, e)
		}
	}
	return writePage(c, w, r, lp, kept, auditEventMeta, auditEventName, c.pres.AuditEvent)
}

func (c *Controller) getAuditEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := c.deps.Store.AuditEvents().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Event")
	}
	return writeJSON(w, http.StatusOK, c.pres.AuditEvent(e))
}

// privateData hides values (environment variables) in event data as CF
// does.
const privateData = "[PRIVATE DATA HIDDEN]"

package controller

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/store"
)

// Deleting a space or an org deletes everything in it, as in Cloud
// Foundry: apps (their instances stop), service instances (deprovisioned
// at their brokers after their bindings and keys), routes, roles and the
// quota assignment. It is an asynchronous job; an error stops it with what
// is left still there, so it can be run again.

// deleteSpace serves DELETE /v3/spaces/{guid} (`cf delete-space`).
func (c *Controller) deleteSpace(w http.ResponseWriter, r *http.Request) error {
	s, err := c.deps.Store.Spaces().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Space")
	}
	c.noteEvent(r.Context(), eventSpaceDelete, eventTarget{guid: s.GUID, typ: "space", name: s.Name, space: s.GUID, org: s.OrgGUID},
		map[string]any{"request": map[string]any{"recursive": true}})
	guid := s.GUID
	return c.runJob(w, r, "space.delete", "space", guid, func(ctx context.Context) ([]string, error) {
		return nil, c.deleteSpaceNow(ctx, guid)
	})
}

// deleteOrg serves DELETE /v3/organizations/{guid} (`cf delete-org`).
func (c *Controller) deleteOrg(w http.ResponseWriter, r *http.Request) error {
	o, err := c.deps.Store.Orgs().Get(r.Context(), r.PathValue("guid"))
	if err != nil {
		return notFound(err, "Organization")
	}
	c.noteEvent(r.Context(), eventOrgDelete, eventTarget{guid: o.GUID, typ: "organization", name: o.Name, org: o.GUID},
		map[string]any{"request": map[string]any{"recursive": true}})
	guid := o.GUID
	return c.runJob(w, r, "organization.delete", "organization", guid, func(ctx context.Context) ([]string, error) {
		return nil, c.deleteOrgNow(ctx, guid)
	})
}

func (c *Controller) deleteSpaceNow(ctx context.Context, guid string) error {
	st := c.deps.Store
	apps, err := st.Apps().List(ctx, store.ListOptions{SpaceGUIDs: []string{guid}})
	if err != nil {
		return err
	}
	for _, a := range apps {
		if err := c.deleteAppNow(ctx, a.GUID); err != nil {
			return fmt.Errorf("delete app %s: %w", a.Name, err)
		}
	}
	sis, err := st.ServiceInstances().List(ctx, store.ListOptions{SpaceGUIDs: []string{guid}})
	if err != nil {
		return err
	}
	for _, si := range sis {
		if err := c.deleteInstanceNow(ctx, si); err != nil {
			return apierr.Unprocessable("Deleting service instance %s failed: %s. Delete it (or purge it) and try again.", si.Name, errDetail(err))
		}
	}
	routes, err := st.Routes().List(ctx, store.ListOptions{SpaceGUIDs: []string{guid}})
	if err != nil {
		return err
	}
	for _, rt := range routes {
		if err := ignoreNotFound(st.Routes().Delete(ctx, rt.GUID)); err != nil {
			return err
		}
	}
	return st.InTx(ctx, func(tx store.Store) error {
		if err := dropRolesAndQuota(ctx, tx, store.ListOptions{SpaceGUIDs: []string{guid}}, guid); err != nil {
			return err
		}
		return ignoreNotFound(tx.Spaces().Delete(ctx, guid))
	})
}

func (c *Controller) deleteOrgNow(ctx context.Context, guid string) error {
	st := c.deps.Store
	spaces, err := st.Spaces().List(ctx, store.ListOptions{OrgGUIDs: []string{guid}})
	if err != nil {
		return err
	}
	for _, s := range spaces {
		if err := c.deleteSpaceNow(ctx, s.GUID); err != nil {
			return err
		}
	}
	domains, err := st.Domains().List(ctx, store.ListOptions{OrgGUIDs: []string{guid}})
	if err != nil {
		return err
	}
	for _, d := range domains {
		routes, err := st.Routes().List(ctx, store.ListOptions{DomainGUIDs: []string{d.GUID}})
		if err != nil {
			return err
		}
		var dests []*store.Destination
		for _, rt := range routes {
			ds, err := st.Destinations().List(ctx, store.ListOptions{RouteGUIDs: []string{rt.GUID}})
			if err != nil {
				return err
			}
			dests = append(dests, ds...)
			if err := ignoreNotFound(st.Routes().Delete(ctx, rt.GUID)); err != nil {
				return err
			}
		}
		if err := ignoreNotFound(st.Domains().Delete(ctx, d.GUID)); err != nil {
			return err
		}
		c.publishRoutesFor(ctx, dests)
	}
	return st.InTx(ctx, func(tx store.Store) error {
		if err := dropRolesAndQuota(ctx, tx, store.ListOptions{OrgGUIDs: []string{guid}}, guid); err != nil {
			return err
		}
		return ignoreNotFound(tx.Orgs().Delete(ctx, guid))
	})
}

// deleteInstanceNow unbinds every binding and key of a service instance
// and deletes it (at its broker when managed).
func (c *Controller) deleteInstanceNow(ctx context.Context, si *store.ServiceInstance) error {
	if si.Type == store.InstanceUserProvided {
		return c.removeInstanceRecord(ctx, si.GUID)
	}
	bs, err := c.deps.Store.ServiceBindings().List(ctx, store.ListOptions{ServiceInstanceGUIDs: []string{si.GUID}})
	if err != nil {
		return err
	}
	for _, b := range bs {
		if err := c.unbindNow(ctx, "", b.GUID); err != nil {
			return err
		}
	}
	return c.deprovisionInstance(ctx, "", si.GUID)
}

// errDetail is an error's user-facing text.
func errDetail(err error) string {
	if ae := apierr.As(err); ae != nil {
		return ae.Detail
	}
	return err.Error()
}

// dropRolesAndQuota deletes the roles matching roles and the quota
// assignment of the org or space guid.
func dropRolesAndQuota(ctx context.Context, tx store.Store, roles store.ListOptions, guid string) error {
	rs, err := tx.Roles().List(ctx, roles)
	if err != nil {
		return err
	}
	for _, ro := range rs {
		if err := ignoreNotFound(tx.Roles().Delete(ctx, ro.GUID)); err != nil {
			return err
		}
	}
	return ignoreNotFound(tx.QuotaAssignments().Delete(ctx, guid))
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/presenters"
	"github.com/ingot-paas/ingot/internal/store"
)

// The Cloud Controller's users (/v3/users): records keyed by the UAA
// user's id (or a client id), which `cf create-user` registers after
// creating the UAA user.

func ccUserMeta(u *store.CCUser) *store.Meta { return &u.Meta }

// presentUser renders a CC user with the UAA user's name when there is one.
func (c *Controller) presentUser(ctx context.Context, u *store.CCUser) (*presenters.User, error) {
	uaa, err := c.deps.Store.Users().Get(ctx, u.GUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c.pres.User(u.GUID, u.CreatedAt, u.UpdatedAt, "", ""), nil
	case err != nil:
		return nil, fmt.Errorf("look up uaa user: %w", err)
	}
	return c.pres.User(u.GUID, u.CreatedAt, u.UpdatedAt, uaa.Username, uaa.Origin), nil
}

// createUser serves POST /v3/users {"guid": …}.
func (c *Controller) createUser(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		GUID string `json:"guid"`
	}
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.GUID == "" || len(b.GUID) > 255 {
		return apierr.Unprocessable("Guid must be between 1 and 255 characters")
	}
	u := &store.CCUser{Meta: store.Meta{GUID: b.GUID}}
	if err := c.deps.Store.CCUsers().Create(r.Context(), u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return apierr.Unprocessable("User with guid '%s' already exists.", b.GUID)
		}
		return err
	}
	c.log.Info("cc-user-created", "guid", u.GUID, "by", userFrom(r.Context()).Name)
	p, err := c.presentUser(r.Context(), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, p)
}

// deleteUser serves DELETE /v3/users/{guid}: 202 and a job, as the cf CLI's
// delete-user expects.
func (c *Controller) deleteUser(w http.ResponseWriter, r *http.Request) error {
	guid := r.PathValue("guid")
	if _, err := c.deps.Store.CCUsers().Get(r.Context(), guid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("User")
		}
		return err
	}
	by := userFrom(r.Context()).Name
	return c.runJob(w, r, "user.delete", "user", guid, func(ctx context.Context) ([]string, error) {
		err := c.deps.Store.InTx(ctx, func(tx store.Store) error {
			// The user's roles go with it.
			roles, err := tx.Roles().List(ctx, store.ListOptions{UserGUIDs: []string{guid}})
			if err != nil {
				return err
			}
			for _, ro := range roles {
				if err := tx.Roles().Delete(ctx, ro.GUID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			if err := tx.CCUsers().Delete(ctx, guid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		c.log.Info("cc-user-deleted", "guid", guid, "by", by)
		return nil, nil
	})
}

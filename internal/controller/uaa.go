package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ingot-paas/ingot/internal/controller/auth"
	"github.com/ingot-paas/ingot/internal/store"
)

// uaaRoutes mounts the UAA endpoints beyond /login, /oauth/token and
// /token_keys: users (SCIM), passwords, revocation, clients and keys. They
// answer in UAA's shapes, not CF's.
func (c *Controller) uaaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /token_key", c.uaa.TokenKey)
	mux.HandleFunc("POST /token_keys", c.uaa.RotateKey)
	mux.HandleFunc("POST /Users", c.uaa.CreateUser)
	mux.HandleFunc("GET /Users", c.uaa.ListUsers)
	mux.HandleFunc("GET /Users/{id}", c.uaa.GetUser)
	mux.HandleFunc("DELETE /Users/{id}", c.uaa.DeleteUser)
	mux.HandleFunc("PUT /Users/{id}/password", c.uaa.ChangePassword)
	mux.HandleFunc("GET /userinfo", c.uaa.UserInfo)
	mux.HandleFunc("DELETE /oauth/token/revoke/{jti}", c.uaa.RevokeToken)
	mux.HandleFunc("GET /oauth/token/revoke/user/{id}", c.uaa.RevokeUserTokens)
	mux.HandleFunc("GET /oauth/token/revoke/client/{id}", c.uaa.RevokeClientTokens)
	mux.HandleFunc("POST /oauth/clients", c.uaa.CreateClient)
	mux.HandleFunc("GET /oauth/clients/{id}", c.uaa.GetClient)
	mux.HandleFunc("DELETE /oauth/clients/{id}", c.uaa.DeleteClient)
}

// userFromClaims is the caller a verified access token names: a user, or
// for a client_credentials token the client (GUID = client id, as the
// Cloud Controller does).
func userFromClaims(cl *auth.Claims) *currentUser {
	if cl.IsClient() {
		return &currentUser{GUID: cl.ClientID, Name: cl.ClientID, Admin: cl.IsAdmin()}
	}
	return &currentUser{GUID: cl.UserID, Name: cl.UserName, Origin: cl.Origin, Admin: cl.IsAdmin()}
}

// seedAdmin creates the configured admin user when absent: a UAA user in
// the admin groups, and its Cloud Controller record. Admin is the group
// membership, not the name: an existing user of that name is left alone.
func (c *Controller) seedAdmin(ctx context.Context) error {
	st := c.deps.Store
	u, err := st.Users().GetByName(ctx, "uaa", c.cfg.AdminUsername)
	switch {
	case err == nil:
		return c.ensureCCUser(ctx, u.GUID)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up admin user: %w", err)
	}
	hash, err := auth.HashPassword(c.cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	u = &store.User{Meta: store.Meta{GUID: newGUID()}, Username: c.cfg.AdminUsername, Origin: "uaa", PasswordHash: hash}
	err = st.InTx(ctx, func(tx store.Store) error {
		if err := tx.Users().Create(ctx, u); err != nil {
			return err
		}
		for _, g := range auth.AdminGroups {
			if err := tx.Groups().Add(ctx, &store.GroupMember{Meta: store.Meta{GUID: newGUID()}, Group: g, UserGUID: u.GUID}); err != nil {
				return fmt.Errorf("add admin to %s: %w", g, err)
			}
		}
		return tx.CCUsers().Create(ctx, &store.CCUser{Meta: store.Meta{GUID: u.GUID}})
	})
	if errors.Is(err, store.ErrDuplicate) {
		return nil // another controller seeded it
	}
	if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	c.log.Info("admin-user-created", "user_name", c.cfg.AdminUsername, "groups", auth.AdminGroups)
	return nil
}

func (c *Controller) ensureCCUser(ctx context.Context, guid string) error {
	err := c.deps.Store.CCUsers().Create(ctx, &store.CCUser{Meta: store.Meta{GUID: guid}})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("create cc user: %w", err)
	}
	return nil
}

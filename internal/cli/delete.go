package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newDeleteCommand(o *options) *cobra.Command {
	var force, routes bool
	cmd := &cobra.Command{
		Use:   "delete APP_NAME [-f] [-r]",
		Short: "Delete an app (and with -r its routes)",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			return s.deleteApp(cmd.Context(), args[0], force, routes)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	cmd.Flags().BoolVarP(&routes, "delete-routes", "r", false, "also delete the routes mapped only to this app")
	return cmd
}

func (s *session) deleteApp(ctx context.Context, name string, force, withRoutes bool) error {
	if ok, err := s.confirm(force, fmt.Sprintf("Really delete the app %s? [yN]: ", name)); err != nil || !ok {
		return err
	}
	s.printf("Deleting app %s in %s...\n", name, s.where())
	app, err := s.app(ctx, name)
	if client.IsNotFound(err) {
		s.printf("App '%s' does not exist.\nOK\n", name)
		return nil
	}
	if err != nil {
		return err
	}
	var routes []client.Route
	if withRoutes {
		if routes, err = s.c.ListRoutes(ctx, app.GUID); err != nil {
			return err
		}
	}
	if err := s.c.DeleteApp(ctx, app.GUID); err != nil {
		return err
	}
	for _, r := range routes {
		shared := false
		for _, d := range r.Destinations {
			if d.App.GUID != app.GUID {
				shared = true
			}
		}
		if shared {
			s.printf("Keeping route %s: other apps use it.\n", routeDisplay(r))
			continue
		}
		s.printf("Deleting route %s...\n", routeDisplay(r))
		if err := s.c.DeleteRoute(ctx, r.GUID); err != nil && !client.IsNotFound(err) {
			return err
		}
	}
	s.printf("OK\n")
	return nil
}

package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// routeFlags name a route: DOMAIN argument plus --hostname and --path.
type routeFlags struct {
	host, path string
}

func (f *routeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.host, "hostname", "n", "", "host name of the route (empty: the bare domain)")
	cmd.Flags().StringVar(&f.path, "path", "", "path of the route, e.g. /api")
}

func (f *routeFlags) url(domain string) string {
	u := domain
	if f.host != "" {
		u = f.host + "." + domain
	}
	return u + f.path
}

// findRoute looks the route up by domain name, host and path.
func (s *session) findRoute(ctx context.Context, domain string, f routeFlags) (*client.Route, error) {
	d, err := s.c.GetDomainByName(ctx, domain)
	if err != nil {
		return nil, err
	}
	r, err := s.c.FindRoute(ctx, d.GUID, f.host, f.path)
	if client.IsNotFound(err) {
		return nil, fmt.Errorf("route %s does not exist", f.url(domain))
	}
	return r, err
}

func newCreateRouteCommand(o *options) *cobra.Command {
	var f routeFlags
	cmd := &cobra.Command{
		Use:   "create-route DOMAIN [--hostname HOST] [--path PATH]",
		Short: "Create a route in the targeted space",
		Args:  appNameArgs("DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Creating route %s for %s...\n", f.url(args[0]), s.where())
			d, err := s.c.GetDomainByName(ctx, args[0])
			if err != nil {
				return err
			}
			if _, err := s.c.CreateRoute(ctx, client.CreateRouteRequest{SpaceGUID: s.cfg.SpaceGUID, DomainGUID: d.GUID, Host: f.host, Path: f.path}); err != nil {
				return err
			}
			s.printf("Route %s has been created.\nOK\n", f.url(args[0]))
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newDeleteRouteCommand(o *options) *cobra.Command {
	var f routeFlags
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-route DOMAIN [--hostname HOST] [--path PATH] [-f]",
		Short: "Delete a route (apps mapped to it stop receiving its traffic)",
		Args:  appNameArgs("DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ok, err := s.confirm(force, fmt.Sprintf("Really delete the route %s? [yN]: ", f.url(args[0]))); err != nil || !ok {
				return err
			}
			s.printf("Deleting route %s...\n", f.url(args[0]))
			r, err := s.findRoute(ctx, args[0], f)
			if err != nil {
				if strings.HasSuffix(err.Error(), "does not exist") {
					s.printf("Unable to delete. %s\nOK\n", err)
					return nil
				}
				return err
			}
			if err := s.c.DeleteRoute(ctx, r.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	return cmd
}

func newMapRouteCommand(o *options) *cobra.Command {
	var f routeFlags
	cmd := &cobra.Command{
		Use:   "map-route APP_NAME DOMAIN [--hostname HOST] [--path PATH]",
		Short: "Send a route's traffic to an app (the route is created when missing)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Mapping route %s to app %s in %s...\n", f.url(args[1]), args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			d, err := s.c.GetDomainByName(ctx, args[1])
			if err != nil {
				return err
			}
			r, err := s.c.FindRoute(ctx, d.GUID, f.host, f.path)
			if client.IsNotFound(err) {
				r, err = s.c.CreateRoute(ctx, client.CreateRouteRequest{SpaceGUID: s.cfg.SpaceGUID, DomainGUID: d.GUID, Host: f.host, Path: f.path})
			}
			if err != nil {
				return err
			}
			if err := s.c.MapRoute(ctx, r.GUID, app.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newUnmapRouteCommand(o *options) *cobra.Command {
	var f routeFlags
	cmd := &cobra.Command{
		Use:   "unmap-route APP_NAME DOMAIN [--hostname HOST] [--path PATH]",
		Short: "Stop sending a route's traffic to an app (the route stays)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Removing route %s from app %s in %s...\n", f.url(args[1]), args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			r, err := s.findRoute(ctx, args[1], f)
			if err != nil {
				return err
			}
			removed := 0
			for _, d := range r.Destinations {
				if d.App.GUID != app.GUID {
					continue
				}
				if err := s.c.UnmapRoute(ctx, r.GUID, d.GUID); err != nil {
					return err
				}
				removed++
			}
			if removed == 0 {
				s.printf("Route %s is not mapped to app %s.\n", f.url(args[1]), args[0])
			}
			s.printf("OK\n")
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newLogoutCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the stored tokens and credentials",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := LoadConfig()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Logging out...")
			cfg.AccessToken, cfg.RefreshToken, cfg.Username, cfg.Password = "", "", "", ""
			cfg.OrgGUID, cfg.OrgName, cfg.SpaceGUID, cfg.SpaceName = "", "", "", ""
			if err := SaveConfig(cfg); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "OK")
			return nil
		},
	}
}

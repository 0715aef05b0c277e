package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newRestageCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "restage APP_NAME",
		Short: "Stage an app's newest package again and restart it",
		Long:  "Restage builds a new droplet from the app's newest package (picking up env and buildpack changes) and restarts a started app.",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Restaging app %s in %s...\n", args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			pkg, err := s.latestReadyPackage(ctx, app)
			if err != nil {
				return err
			}
			d, err := s.stage(ctx, app, pkg.GUID)
			if err != nil {
				return err
			}
			if err := s.c.SetCurrentDroplet(ctx, app.GUID, d.GUID); err != nil {
				return fmt.Errorf("set current droplet: %w", err)
			}
			if app.State != client.AppStarted {
				return s.showApp(ctx, app)
			}
			return s.startAndWait(ctx, app, true)
		},
	}
}

package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newStartCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "start APP_NAME",
		Short: "Start an app (staging it first when it has no droplet)",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Starting app %s in %s...\n", args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			if app.State == client.AppStarted {
				s.printf("App '%s' is already started.\nOK\n", app.Name)
				return nil
			}
			if err := s.ensureDroplet(ctx, app); err != nil {
				return err
			}
			return s.startAndWait(ctx, app, false)
		},
	}
}

package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newStopCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "stop APP_NAME",
		Short: "Stop every instance of an app",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Stopping app %s in %s...\n", args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			if app.State == client.AppStopped {
				s.printf("App '%s' is already stopped.\nOK\n", app.Name)
				return nil
			}
			if _, err := s.c.StopApp(ctx, app.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

package cli

import (
	"github.com/spf13/cobra"
)

func newRestartCommand(o *options) *cobra.Command {
	var strategy string
	cmd := &cobra.Command{
		Use:   "restart APP_NAME",
		Short: "Stop and start an app with its current droplet (--strategy rolling: without downtime)",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Restarting app %s in %s...\n", args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.ensureDroplet(ctx, app); err != nil {
				return err
			}
			if strategy == strategyRolling {
				return s.deployAndWait(ctx, app, "")
			}
			return s.startAndWait(ctx, app, true)
		},
	}
	addStrategyFlag(cmd, &strategy)
	return cmd
}

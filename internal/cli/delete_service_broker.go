package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newDeleteServiceBrokerCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-service-broker NAME [-f]",
		Short: "Remove a service broker (it must have no service instances)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			if ok, err := s.confirm(force, "Really delete the service broker "+args[0]+"? [yN]: "); err != nil || !ok {
				return err
			}
			s.printf("Deleting service broker %s as %s...\n", args[0], s.user())
			b, err := s.c.GetServiceBrokerByName(cmd.Context(), args[0])
			if client.IsNotFound(err) {
				s.printf("Service broker '%s' does not exist.\nOK\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.c.DeleteServiceBroker(cmd.Context(), b.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	return cmd
}

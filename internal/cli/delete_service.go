package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newDeleteServiceCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-service SERVICE_INSTANCE [-f]",
		Short: "Delete a service instance (with -f also its bindings and keys)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			if ok, err := s.confirm(force, "Really delete the service instance "+args[0]+"? [yN]: "); err != nil || !ok {
				return err
			}
			ctx := cmd.Context()
			s.printf("Deleting service instance %s in %s...\n", args[0], s.where())
			si, err := s.serviceInstance(ctx, args[0])
			if client.IsNotFound(err) {
				s.printf("Service instance %s did not exist.\nOK\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.c.DeleteServiceInstance(ctx, si.GUID, force); err != nil {
				return err
			}
			s.printf("\nService instance %s deleted.\nOK\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without confirmation, unbinding apps and deleting keys first")
	return cmd
}

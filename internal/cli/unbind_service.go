package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newUnbindServiceCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "unbind-service APP SERVICE_INSTANCE",
		Short: "Unbind a service instance from an app",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Unbinding app %s from service %s in %s...\n", args[0], args[1], s.where())
			si, err := s.serviceInstance(ctx, args[1])
			if err != nil {
				return err
			}
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			bs, err := s.c.ListServiceBindings(ctx, client.ServiceBindingFilter{Type: client.ServiceBindingApp,
				InstanceGUIDs: []string{si.GUID}, AppGUIDs: []string{app.GUID}})
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				s.printf("Binding between %s and %s did not exist\nOK\n", args[1], args[0])
				return nil
			}
			if err := s.c.DeleteServiceBinding(ctx, bs[0].GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newCreateServiceKeyCommand(o *options) *cobra.Command {
	var params string
	cmd := &cobra.Command{
		Use:   "create-service-key SERVICE_INSTANCE KEY [-c JSON]",
		Short: "Create a service key (credentials for use outside an app)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p map[string]any
			if params != "" {
				var err error
				if p, err = client.ParseJSONObject(params); err != nil {
					return &usageError{msg: "-c: " + err.Error()}
				}
			}
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Creating service key %s for service instance %s as %s...\n", args[1], args[0], s.user())
			si, err := s.serviceInstance(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.CreateServiceBinding(ctx, client.ServiceBindingKey, args[1], si.GUID, "", p); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().StringVarP(&params, "config", "c", "", "parameters for the broker, a JSON object")
	return cmd
}

func newServiceKeyCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "service-key SERVICE_INSTANCE KEY",
		Short: "Show a service key's credentials",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting key %s for service instance %s as %s...\n\n", args[1], args[0], s.user())
			si, err := s.serviceInstance(ctx, args[0])
			if err != nil {
				return err
			}
			ks, err := s.c.ListServiceBindings(ctx, client.ServiceBindingFilter{Type: client.ServiceBindingKey,
				Name: args[1], InstanceGUIDs: []string{si.GUID}})
			if err != nil {
				return err
			}
			if len(ks) == 0 {
				return &client.APIError{Code: 10010, Title: "CF-ResourceNotFound", Detail: "No service key " + args[1] + " found for service instance " + args[0]}
			}
			d, err := s.c.GetServiceBindingDetails(ctx, ks[0].GUID)
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(map[string]any{"credentials": d.Credentials}, "", "  ")
			if err != nil {
				return err
			}
			s.printf("%s\n", out)
			return nil
		},
	}
}

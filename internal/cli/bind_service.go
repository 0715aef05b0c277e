package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newBindServiceCommand(o *options) *cobra.Command {
	var params, bindingName string
	cmd := &cobra.Command{
		Use:   "bind-service APP SERVICE_INSTANCE [-c JSON] [--binding-name NAME]",
		Short: "Bind a service instance to an app (the app sees it after a restart)",
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
			s.printf("Binding service instance %s to app %s in %s...\n", args[1], args[0], s.where())
			si, err := s.serviceInstance(ctx, args[1])
			if err != nil {
				return err
			}
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.CreateServiceBinding(ctx, client.ServiceBindingApp, bindingName, si.GUID, app.GUID, p); err != nil {
				var ae *client.APIError
				if errors.As(err, &ae) && ae.Code == 90003 {
					s.printf("App %s is already bound to service instance %s.\nOK\n", args[0], args[1])
					return nil
				}
				return err
			}
			s.printf("OK\n\nTIP: Use 'ingot restart %s' to ensure your env variable changes take effect\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVarP(&params, "config", "c", "", "parameters for the broker, a JSON object")
	cmd.Flags().StringVar(&bindingName, "binding-name", "", "name of the binding (in VCAP_SERVICES)")
	return cmd
}

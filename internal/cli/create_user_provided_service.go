package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newCreateUserProvidedServiceCommand(o *options) *cobra.Command {
	var creds, drain, routeService string
	var tags []string
	cmd := &cobra.Command{
		Use:     "create-user-provided-service NAME [-p JSON] [-l SYSLOG_DRAIN_URL] [-r ROUTE_SERVICE_URL] [-t TAGS]",
		Aliases: []string{"cups"},
		Short:   "Create a service instance from credentials you provide",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := map[string]any{}
			if creds != "" {
				var err error
				if c, err = client.ParseJSONObject(creds); err != nil {
					return &usageError{msg: "-p: " + err.Error()}
				}
			}
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			s.printf("Creating user provided service %s in %s...\n", args[0], s.where())
			err = s.c.CreateServiceInstance(cmd.Context(), client.CreateServiceInstanceRequest{Type: client.ServiceInstanceUserProvided,
				Name: args[0], SpaceGUID: s.cfg.SpaceGUID, Credentials: c, SyslogDrainURL: drain, RouteServiceURL: routeService, Tags: tags})
			if err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().StringVarP(&creds, "parameters", "p", "", "credentials, a JSON object")
	cmd.Flags().StringVarP(&drain, "syslog-drain-url", "l", "", "URL to which logs of bound apps are streamed")
	cmd.Flags().StringVarP(&routeService, "route-service-url", "r", "", "https URL to which requests for bound routes are forwarded")
	cmd.Flags().StringSliceVarP(&tags, "tags", "t", nil, "tags, comma separated")
	return cmd
}

package cli

import (
	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newCreateServiceCommand(o *options) *cobra.Command {
	var params string
	var tags []string
	cmd := &cobra.Command{
		Use:   "create-service OFFERING PLAN NAME [-c JSON] [-t TAGS]",
		Short: "Create a managed service instance",
		Args:  usageArgs(cobra.ExactArgs(3)),
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
			s.printf("Creating service instance %s in %s...\n", args[2], s.where())
			plan, err := s.c.FindServicePlan(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			err = s.c.CreateServiceInstance(cmd.Context(), client.CreateServiceInstanceRequest{Type: client.ServiceInstanceManaged,
				Name: args[2], SpaceGUID: s.cfg.SpaceGUID, PlanGUID: plan.GUID, Parameters: p, Tags: tags})
			if err != nil {
				return err
			}
			s.printf("\nService instance %s created.\nOK\n", args[2])
			return nil
		},
	}
	cmd.Flags().StringVarP(&params, "config", "c", "", "parameters for the broker, a JSON object")
	cmd.Flags().StringSliceVarP(&tags, "tags", "t", nil, "tags, comma separated")
	return cmd
}

package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"
)

func newAppCommand(o *options) *cobra.Command {
	var asJSON, droplets bool
	cmd := &cobra.Command{
		Use:   "app APP_NAME",
		Short: "Show an app's state, routes and instances",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !asJSON {
				s.printf("Showing health and status for app %s in %s...\n", args[0], s.where())
			}
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			if droplets {
				return s.printDroplets(ctx, app)
			}
			v, err := s.loadAppView(ctx, app)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(s.viewJSON(v))
			}
			s.printf("\n")
			s.printAppView(s.out, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&droplets, "droplets", false, "list the app's droplets (numbered for 'ingot rollback --to')")
	return cmd
}

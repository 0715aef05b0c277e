package cli

import (
	"github.com/spf13/cobra"
)

func newSetEnvCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "set-env APP_NAME NAME VALUE",
		Short: "Set an environment variable of an app",
		Args:  appNameArgs("APP_NAME", "NAME", "VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			name, key, value := args[0], args[1], args[2]
			s.printf("Setting env variable '%s' for app %s in %s...\n", key, name, s.where())
			app, err := s.app(ctx, name)
			if err != nil {
				return err
			}
			if _, err := s.c.UpdateEnvVars(ctx, app.GUID, map[string]*string{key: &value}); err != nil {
				return err
			}
			s.printf("OK\nTIP: Use 'ingot restage %s' to ensure your env variable changes take effect.\n", name)
			return nil
		},
	}
}

package cli

import (
	"github.com/spf13/cobra"
)

func newUnsetEnvCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "unset-env APP_NAME NAME",
		Short: "Remove an environment variable of an app",
		Args:  appNameArgs("APP_NAME", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			name, key := args[0], args[1]
			s.printf("Removing env variable %s from app %s in %s...\n", key, name, s.where())
			app, err := s.app(ctx, name)
			if err != nil {
				return err
			}
			env, err := s.c.GetAppEnv(ctx, app.GUID)
			if err != nil {
				return err
			}
			if _, ok := env.EnvironmentVariables[key]; !ok {
				s.printf("Env variable %s was not set.\nOK\n", key)
				return nil
			}
			if _, err := s.c.UpdateEnvVars(ctx, app.GUID, map[string]*string{key: nil}); err != nil {
				return err
			}
			s.printf("OK\nTIP: Use 'ingot restage %s' to ensure your env variable changes take effect.\n", name)
			return nil
		},
	}
}

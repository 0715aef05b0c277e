package cli

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
)

func newEnvCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "env APP_NAME",
		Short: "Show an app's environment variables",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting env variables for app %s in %s...\n\n", args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			env, err := s.c.GetAppEnv(ctx, app.GUID)
			if err != nil {
				return err
			}
			s.printf("System-Provided:\n")
			s.printEnvMap(env.SystemEnvJSON)
			s.printEnvMap(env.ApplicationEnvJSON)
			s.printf("\nUser-Provided:\n")
			s.printEnvMap(env.EnvironmentVariables)
			s.printf("\nRunning Environment Variable Groups:\n")
			s.printEnvMap(env.RunningEnvJSON)
			s.printf("\nStaging Environment Variable Groups:\n")
			s.printEnvMap(env.StagingEnvJSON)
			return nil
		},
	}
}

// printEnvMap prints NAME: value lines, sorted, with JSON for non-strings.
func (s *session) printEnvMap(m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			s.printf("%s: %s\n", k, v)
		default:
			data, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				data = []byte(fmt.Sprint(v))
			}
			s.printf("%s: %s\n", k, data)
		}
	}
}

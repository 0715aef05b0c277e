package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newLogsCommand(o *options) *cobra.Command {
	var recent bool
	cmd := &cobra.Command{
		Use:   "logs APP_NAME [--recent]",
		Short: "Stream an app's logs (or show recent ones)",
		Long:  "Without --recent, logs are followed until Ctrl-C.",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			if recent {
				s.printf("Retrieving logs for app %s in %s...\n\n", app.Name, s.where())
				return s.recentLogs(ctx, app)
			}
			s.printf("Retrieving logs for app %s in %s...\n\n", app.Name, s.where())
			s.streamLogs(ctx, app)
			return nil
		},
	}
	cmd.Flags().BoolVar(&recent, "recent", false, "print recent logs and exit")
	return cmd
}

// formatLog renders a line as the cf CLI does:
// 2026-11-24T19:00:00.00+0000 [APP/PROC/WEB/0] OUT hello
func formatLog(e client.LogEnvelope) string {
	ts := time.Unix(0, e.Timestamp).Format("2006-01-02T15:04:05.00-0700")
	src := e.SourceType
	if e.InstanceID != "" {
		src += "/" + e.InstanceID
	}
	msg := strings.TrimRight(e.Message, "\r\n")
	return ts + " [" + src + "] " + e.Type + " " + msg
}

func (s *session) recentLogs(ctx context.Context, app *client.App) error {
	envs, err := s.c.ReadLogs(ctx, app.GUID, 0, client.ReadLogsOptions{Limit: logPage, Descending: true})
	if err != nil {
		return err
	}
	for i := len(envs) - 1; i >= 0; i-- {
		s.printf("   %s\n", formatLog(envs[i]))
	}
	return nil
}

// streamLogs polls log-cache every logInterval, advancing start_time,
// until ctx is done.
func (s *session) streamLogs(ctx context.Context, app *client.App) {
	cursor := s.logCursor(ctx, app.GUID)
	for ctx.Err() == nil {
		cursor = s.drainLogs(ctx, app.GUID, cursor, func(e client.LogEnvelope) {
			s.printf("   %s\n", formatLog(e))
		})
		if sleep(ctx, s.opts.logInterval) != nil {
			return
		}
	}
}

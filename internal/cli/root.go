// Package cli implements the `ingot` user commands (push, apps, logs, ...)
// as a client of the platform's Cloud Foundry v3 API.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// options are the CLI's timers; tests shorten them.
type options struct {
	// pollInterval is the client's job, package and build poll interval.
	pollInterval time.Duration
	// statsInterval is the pause between process stats polls while
	// waiting for instances to start.
	statsInterval time.Duration
	// logInterval is the pause between log-cache reads.
	logInterval time.Duration
	// stagingTimeout and startupTimeout bound staging and start.
	stagingTimeout time.Duration
	startupTimeout time.Duration
	// requestTimeout bounds each API request.
	requestTimeout time.Duration
	now            func() time.Time
}

func defaultOptions() options {
	return options{
		// ingot's API answers these polls from memory or one indexed
		// read, so the CLI can afford to notice a finished build or a
		// running instance within a quarter second.
		pollInterval:   250 * time.Millisecond,
		statsInterval:  250 * time.Millisecond,
		logInterval:    250 * time.Millisecond,
		stagingTimeout: envMinutes("INGOT_STAGING_TIMEOUT", 15*time.Minute),
		startupTimeout: envMinutes("INGOT_STARTUP_TIMEOUT", 5*time.Minute),
		requestTimeout: 30 * time.Second,
		now:            time.Now,
	}
}

// envMinutes reads a whole number of minutes from an env var.
func envMinutes(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return def
	}
	return time.Duration(n) * time.Minute
}

// NewRootCommand returns the `ingot` command with every user command, plus
// extra (the server commands: up, controller, dea, ...).
func NewRootCommand(extra ...*cobra.Command) *cobra.Command {
	return newRootCommand(defaultOptions(), extra...)
}

func newRootCommand(o options, extra ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "ingot",
		Short: "ingot is a self-hosted platform as a service",
		Long: "ingot runs and scales your apps: `ingot up` starts the platform, `ingot push` " +
			"stages and runs an app, `ingot apps` shows what runs.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })
	root.AddCommand(
		newLoginCommand(&o),
		newTargetCommand(&o),
		newPushCommand(&o),
		newAppsCommand(&o),
		newAppCommand(&o),
		newScaleCommand(&o),
		newStartCommand(&o),
		newStopCommand(&o),
		newRestartCommand(&o),
		newRollbackCommand(&o),
		newRestageCommand(&o),
		newDeleteCommand(&o),
		newLogsCommand(&o),
		newEnvCommand(&o),
		newSetEnvCommand(&o),
		newUnsetEnvCommand(&o),
		newRoutesCommand(&o),
		newCreateRouteCommand(&o),
		newDeleteRouteCommand(&o),
		newMapRouteCommand(&o),
		newUnmapRouteCommand(&o),
		newDomainsCommand(&o),
		newCreateSharedDomainCommand(&o),
		newCreatePrivateDomainCommand(&o),
		newDeleteDomainCommand(&o),
		newOrgsCommand(&o),
		newSpacesCommand(&o),
		newCreateOrgCommand(&o),
		newCreateSpaceCommand(&o),
		newRenameOrgCommand(&o),
		newRenameSpaceCommand(&o),
		newDeleteOrgCommand(&o),
		newDeleteSpaceCommand(&o),
		newLogoutCommand(&o),
		newCreateServiceBrokerCommand(&o),
		newServiceBrokersCommand(&o),
		newUpdateServiceBrokerCommand(&o),
		newDeleteServiceBrokerCommand(&o),
		newMarketplaceCommand(&o),
		newCreateServiceCommand(&o),
		newCreateUserProvidedServiceCommand(&o),
		newServicesCommand(&o),
		newServiceCommand(&o),
		newBindServiceCommand(&o),
		newUnbindServiceCommand(&o),
		newDeleteServiceCommand(&o),
		newCreateServiceKeyCommand(&o),
		newServiceKeyCommand(&o),
		newCreateUserCommand(&o),
		newDeleteUserCommand(&o),
		newPasswdCommand(&o),
		newCreateClientCommand(&o),
		newDeleteClientCommand(&o),
		newRotateSigningKeyCommand(&o),
		newSetOrgRoleCommand(&o),
		newUnsetOrgRoleCommand(&o),
		newSetSpaceRoleCommand(&o),
		newUnsetSpaceRoleCommand(&o),
		newOrgUsersCommand(&o),
		newSpaceUsersCommand(&o),
		newCreateOrgQuotaCommand(&o),
		newSetOrgQuotaCommand(&o),
		newOrgQuotasCommand(&o),
		newCreateSpaceQuotaCommand(&o),
		newSetSpaceQuotaCommand(&o),
		newSpaceQuotasCommand(&o),
		newEventsCommand(&o),
		newVersionCommand(),
	)
	for _, c := range extra {
		if c != nil {
			root.AddCommand(c)
		}
	}
	return root
}

// usageError is a command-line mistake: printed with the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageArgs turns an argument validator's error into a usage error.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &usageError{msg: err.Error()}
		}
		return nil
	}
}

// appNameArgs requires exactly the given argument names.
func appNameArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return &usageError{msg: fmt.Sprintf("the required argument `%s` was not provided", names[len(args)])}
		}
		if len(args) > len(names) {
			return &usageError{msg: fmt.Sprintf("unexpected argument %q", args[len(names)])}
		}
		return nil
	}
}

// Execute runs the root command with ctx (cancelled on Ctrl-C by the
// caller) and returns the process exit code: 0 on success, 1 on failure
// (`FAILED` and the message on stderr) or bad usage (the message and the
// command's usage on stderr).
func Execute(ctx context.Context, root *cobra.Command) int {
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	stderr := root.ErrOrStderr()
	if cmd == nil {
		cmd = root
	}
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "unknown flag") {
		fmt.Fprintf(stderr, "Incorrect Usage: %s\n\n%s", err.Error(), cmd.UsageString())
		return 1
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(stderr, "FAILED\ninterrupted")
		return 1
	}
	fmt.Fprintf(stderr, "FAILED\n%s\n", err.Error())
	if errors.Is(err, client.ErrNotLoggedIn) {
		fmt.Fprintln(stderr, "Use 'ingot login' to log in.")
	}
	return 1
}

// ios are a command's streams.
type ios struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

func cmdIO(cmd *cobra.Command) ios {
	return ios{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
}

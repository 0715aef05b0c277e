package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// strategyRolling is the one deployment strategy besides the default
// stop-and-start.
const strategyRolling = "rolling"

// addStrategyFlag adds --strategy to a command that (re)starts an app.
func addStrategyFlag(cmd *cobra.Command, strategy *string) {
	cmd.Flags().StringVar(strategy, "strategy", "", "deployment strategy: empty (stop, then start) or 'rolling' (zero downtime: new instances run before old ones stop)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if *strategy != "" && *strategy != strategyRolling {
			return &usageError{msg: fmt.Sprintf("--strategy must be %q (got %q)", strategyRolling, *strategy)}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// deployAndWait runs a rolling deployment of the app to dropletGUID (""
// = its current droplet), waits for it to finish and prints the summary.
func (s *session) deployAndWait(ctx context.Context, app *client.App, dropletGUID string) error {
	d, err := s.c.CreateDeployment(ctx, app.GUID, dropletGUID, 0)
	if err != nil {
		return fmt.Errorf("create deployment of %s: %w", app.Name, err)
	}
	s.printf("\nWaiting for app %s to deploy (rolling: new instances run before old ones stop)...\n\n", app.Name)
	// Batches start one after another: allow a startup timeout for each.
	batches := 1
	if procs, err := s.c.ListProcesses(ctx, app.GUID); err == nil {
		for _, p := range procs {
			batches += p.Instances
		}
	}
	bound := s.opts.startupTimeout * time.Duration(batches)
	deadline := s.opts.now().Add(bound)
	for d.Status.Value != client.DeploymentFinalized {
		if s.opts.now().After(deadline) {
			return fmt.Errorf("%w: deployment %s of %s is still running after %s; see 'ingot app %s'",
				ErrStartFailed, d.GUID, app.Name, bound, app.Name)
		}
		if err := sleep(ctx, s.opts.statsInterval); err != nil {
			return err
		}
		if d, err = s.c.GetDeployment(ctx, d.GUID); err != nil {
			return fmt.Errorf("follow deployment of %s: %w", app.Name, err)
		}
	}
	var waitErr error
	if d.Status.Reason != client.DeploymentDeployed {
		why := d.Status.Details["error"]
		if why == "" {
			why = strings.ToLower(d.Status.Reason)
		}
		s.printf("Deployment %s: %s\nThe previous version keeps running.\n", strings.ToLower(d.Status.Reason), why)
		s.printf("TIP: use 'ingot logs %s --recent' for more information\n", app.Name)
		waitErr = fmt.Errorf("%w: deployment of %s %s: %s", ErrStartFailed, app.Name, strings.ToLower(d.Status.Reason), why)
	}
	if err := s.showApp(ctx, app); err != nil && waitErr == nil {
		return err
	}
	return waitErr
}

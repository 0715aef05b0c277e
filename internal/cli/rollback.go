package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newRollbackCommand(o *options) *cobra.Command {
	var to int
	cmd := &cobra.Command{
		Use:   "rollback APP_NAME",
		Short: "Run an earlier droplet again, with a rolling deployment (see 'ingot app APP_NAME --droplets')",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("to") && to < 1 {
				return &usageError{msg: "--to must be a droplet number from 'ingot app APP_NAME --droplets' (1 is the newest)"}
			}
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			drops, current, err := s.appDroplets(ctx, app)
			if err != nil {
				return err
			}
			target := -1
			if to > 0 {
				if to > len(drops) {
					return fmt.Errorf("app %s has %d droplets; there is no droplet #%d", app.Name, len(drops), to)
				}
				target = to - 1
			} else {
				// The newest droplet older than the current one.
				for i := current + 1; i < len(drops); i++ {
					target = i
					break
				}
				if target < 0 {
					return fmt.Errorf("app %s has no droplet older than its current one to roll back to", app.Name)
				}
			}
			if target == current {
				return fmt.Errorf("droplet #%d is already the current droplet of %s", target+1, app.Name)
			}
			s.printf("Rolling back app %s in %s to droplet #%d (%s, staged %s)...\n", app.Name, s.where(), target+1,
				drops[target].GUID, drops[target].CreatedAt.Local().Format(time.DateTime))
			return s.deployAndWait(ctx, app, drops[target].GUID)
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "droplet number to run (default: the one before the current droplet)")
	return cmd
}

// appDroplets lists the app's staged droplets newest first and the index
// of the current one (-1 when none).
func (s *session) appDroplets(ctx context.Context, app *client.App) ([]client.Droplet, int, error) {
	drops, err := s.c.ListAppDroplets(ctx, app.GUID, "STAGED")
	if err != nil {
		return nil, -1, fmt.Errorf("list droplets of %s: %w", app.Name, err)
	}
	cur, err := s.c.GetCurrentDroplet(ctx, app.GUID)
	if err != nil && !client.IsNotFound(err) {
		return nil, -1, fmt.Errorf("get current droplet of %s: %w", app.Name, err)
	}
	current := -1
	for i, d := range drops {
		if cur != nil && d.GUID == cur.GUID {
			current = i
		}
	}
	return drops, current, nil
}

// printDroplets lists the app's droplets, numbered for rollback --to.
func (s *session) printDroplets(ctx context.Context, app *client.App) error {
	drops, current, err := s.appDroplets(ctx, app)
	if err != nil {
		return err
	}
	if len(drops) == 0 {
		s.printf("No droplets found\n")
		return nil
	}
	t := newTable(s.out, 3)
	fmt.Fprintf(t, "#\tstaged\tbuildpack\tguid\t\n")
	for i, d := range drops {
		bp := ""
		if len(d.Buildpacks) > 0 {
			bp = d.Buildpacks[0].Name
		}
		mark := ""
		if i == current {
			mark = "(current)"
		}
		fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\n", i+1, d.CreatedAt.Local().Format(time.DateTime), bp, d.GUID, mark)
	}
	return t.Flush()
}

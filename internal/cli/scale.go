package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newScaleCommand(o *options) *cobra.Command {
	var instances int
	var memory, disk string
	cmd := &cobra.Command{
		Use:   "scale APP_NAME [-i INSTANCES] [-m MEMORY] [-k DISK]",
		Short: "Change or show an app's instance count and limits",
		Long: "Scale the app's web process. Changing memory or disk restarts a started app; " +
			"without flags, the current scale is shown.",
		Args: appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var inst *int
			var memMB, diskMB *int64
			if cmd.Flags().Changed("instances") {
				if instances < 0 {
					return &usageError{msg: "instances must be >= 0"}
				}
				inst = &instances
			}
			if memory != "" {
				v, err := sizeInMB("memory", memory)
				if err != nil {
					return err
				}
				memMB = &v
			}
			if disk != "" {
				v, err := sizeInMB("disk", disk)
				if err != nil {
					return err
				}
				diskMB = &v
			}
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			return s.scale(cmd.Context(), args[0], inst, memMB, diskMB)
		},
	}
	cmd.Flags().IntVarP(&instances, "instances", "i", 0, "number of instances")
	cmd.Flags().StringVarP(&memory, "memory", "m", "", "memory limit per instance (e.g. 256M, 1G)")
	cmd.Flags().StringVarP(&disk, "disk", "k", "", "disk limit per instance (e.g. 512M, 1G)")
	return cmd
}

func (s *session) scale(ctx context.Context, name string, inst *int, memMB, diskMB *int64) error {
	app, err := s.app(ctx, name)
	if err != nil {
		return err
	}
	if inst == nil && memMB == nil && diskMB == nil {
		s.printf("Showing current scale of app %s in %s...\n\n", name, s.where())
		procs, err := s.c.ListProcesses(ctx, app.GUID)
		if err != nil {
			return err
		}
		tw := newTable(s.out, 3)
		fmt.Fprintln(tw, "type\tinstances\tmemory\tdisk")
		for _, p := range procs {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Type, p.Instances, mbString(p.MemoryInMB), mbString(p.DiskInMB))
		}
		return tw.Flush()
	}
	s.printf("Scaling app %s in %s...\n", name, s.where())
	if _, err := s.c.ScaleProcess(ctx, app.GUID, client.ProcessTypeWeb, inst, memMB, diskMB); err != nil {
		return err
	}
	if (memMB != nil || diskMB != nil) && app.State == client.AppStarted {
		s.printf("Restarting app %s to apply the new limits...\n", name)
		return s.startAndWait(ctx, app, true)
	}
	return s.showApp(ctx, app)
}

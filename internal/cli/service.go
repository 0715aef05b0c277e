package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newServiceCommand(o *options) *cobra.Command {
	var guidOnly bool
	cmd := &cobra.Command{
		Use:   "service NAME [--guid]",
		Short: "Show a service instance",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			si, err := s.serviceInstance(ctx, args[0])
			if err != nil {
				return err
			}
			if guidOnly {
				s.printf("%s\n", si.GUID)
				return nil
			}
			s.printf("Showing info of service %s in %s...\n\n", si.Name, s.where())
			t := newTable(s.out, 1)
			fmt.Fprintf(t, "name:\t%s\n", si.Name)
			fmt.Fprintf(t, "guid:\t%s\n", si.GUID)
			fmt.Fprintf(t, "type:\t%s\n", si.Type)
			if si.Type == client.ServiceInstanceManaged {
				offerings, plans := s.planNames(ctx, []client.ServiceInstance{*si})
				pg := si.Relationships.ServicePlan.GUID()
				fmt.Fprintf(t, "offering:\t%s\n", offerings[pg])
				fmt.Fprintf(t, "plan:\t%s\n", plans[pg])
				if si.DashboardURL != nil {
					fmt.Fprintf(t, "dashboard url:\t%s\n", *si.DashboardURL)
				}
			} else {
				if si.SyslogDrainURL != nil && *si.SyslogDrainURL != "" {
					fmt.Fprintf(t, "syslog drain url:\t%s\n", *si.SyslogDrainURL)
				}
				if si.RouteServiceURL != nil && *si.RouteServiceURL != "" {
					fmt.Fprintf(t, "route service url:\t%s\n", *si.RouteServiceURL)
				}
			}
			if len(si.Tags) > 0 {
				fmt.Fprintf(t, "tags:\t%s\n", strings.Join(si.Tags, ", "))
			}
			if err := t.Flush(); err != nil {
				return err
			}
			if op := si.LastOperation; op != nil {
				s.printf("\nShowing status of last operation:\n")
				t = newTable(s.out, 1)
				fmt.Fprintf(t, "status:\t%s\n", lastOperationText(op))
				fmt.Fprintf(t, "message:\t%s\n", op.Description)
				fmt.Fprintf(t, "updated:\t%s\n", op.UpdatedAt)
				if err := t.Flush(); err != nil {
					return err
				}
			}
			bs, err := s.c.ListServiceBindings(ctx, client.ServiceBindingFilter{InstanceGUIDs: []string{si.GUID}})
			if err != nil {
				return err
			}
			var apps, keys []string
			for _, b := range bs {
				if b.Type == client.ServiceBindingKey && b.Name != nil {
					keys = append(keys, *b.Name)
				} else if b.Relationships.App != nil {
					if a, err := s.c.GetApp(ctx, b.Relationships.App.GUID()); err == nil {
						apps = append(apps, a.Name+" ("+lastOperationText(b.LastOperation)+")")
					}
				}
			}
			sort.Strings(apps)
			sort.Strings(keys)
			s.printf("\nBound apps: %s\n", orNone(apps))
			s.printf("Service keys: %s\n", orNone(keys))
			return nil
		},
	}
	cmd.Flags().BoolVar(&guidOnly, "guid", false, "print only the guid")
	return cmd
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

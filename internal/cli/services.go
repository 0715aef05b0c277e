package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newServicesCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "services",
		Short: "List the service instances of the targeted space",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting service instances in %s...\n\n", s.where())
			sis, err := s.c.ListServiceInstances(ctx, s.cfg.SpaceGUID)
			if err != nil {
				return err
			}
			if len(sis) == 0 {
				s.printf("No service instances found.\n")
				return nil
			}
			guids := make([]string, len(sis))
			for i, si := range sis {
				guids[i] = si.GUID
			}
			bound := map[string][]string{}
			bs, err := s.c.ListServiceBindings(ctx, client.ServiceBindingFilter{Type: client.ServiceBindingApp, InstanceGUIDs: guids})
			if err != nil {
				return err
			}
			appNames := map[string]string{}
			for _, b := range bs {
				if b.Relationships.App == nil {
					continue
				}
				ag := b.Relationships.App.GUID()
				if _, ok := appNames[ag]; !ok {
					if a, err := s.c.GetApp(ctx, ag); err == nil {
						appNames[ag] = a.Name
					}
				}
				si := b.Relationships.ServiceInstance.GUID()
				bound[si] = append(bound[si], appNames[ag])
			}
			offerings, plans := s.planNames(ctx, sis)
			sort.Slice(sis, func(i, j int) bool { return sis[i].Name < sis[j].Name })
			t := newTable(s.out, 3)
			fmt.Fprintf(t, "name\toffering\tplan\tbound apps\tlast operation\n")
			for _, si := range sis {
				off, plan := "user-provided", ""
				if si.Type == client.ServiceInstanceManaged {
					pg := si.Relationships.ServicePlan.GUID()
					off, plan = offerings[pg], plans[pg]
				}
				apps := bound[si.GUID]
				sort.Strings(apps)
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", si.Name, off, plan, strings.Join(apps, ", "), lastOperationText(si.LastOperation))
			}
			return t.Flush()
		},
	}
}

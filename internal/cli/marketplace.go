package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func newMarketplaceCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "marketplace",
		Short: "List the service offerings and plans available in the targeted space",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			s.printf("Getting all service offerings from marketplace in %s...\n\n", s.where())
			m, err := s.c.GetMarketplace(cmd.Context(), s.cfg.SpaceGUID)
			if err != nil {
				return err
			}
			if len(m.Plans) == 0 {
				s.printf("No service offerings found.\n")
				return nil
			}
			plans := map[string][]string{}
			for _, p := range m.Plans {
				og := p.Relationships.ServiceOffering.GUID()
				plans[og] = append(plans[og], p.Name)
			}
			type row struct{ offering, plans, description, broker string }
			var rows []row
			for og, ps := range plans {
				off := m.Offerings[og]
				rows = append(rows, row{off.Name, strings.Join(ps, ", "), off.Description,
					m.Brokers[off.Relationships.ServiceBroker.GUID()]})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].offering < rows[j].offering })
			t := newTable(s.out, 3)
			fmt.Fprintf(t, "offering\tplans\tdescription\tbroker\n")
			for _, r := range rows {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", r.offering, r.plans, r.description, r.broker)
			}
			if err := t.Flush(); err != nil {
				return err
			}
			s.printf("\nTIP: Use 'ingot create-service OFFERING PLAN NAME' to create a service instance.\n")
			return nil
		},
	}
}

package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newRoutesCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "routes",
		Short: "List the routes of the targeted space",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting routes for %s...\n\n", s.where())
			routes, err := s.c.ListSpaceRoutes(ctx, s.cfg.SpaceGUID)
			if err != nil {
				return err
			}
			if len(routes) == 0 {
				s.printf("No routes found.\n")
				return nil
			}
			domains, err := s.c.ListDomains(ctx)
			if err != nil {
				return err
			}
			domainNames := map[string]string{}
			for _, d := range domains {
				domainNames[d.GUID] = d.Name
			}
			apps, err := s.c.ListApps(ctx, client.AppFilter{SpaceGUIDs: []string{s.cfg.SpaceGUID}})
			if err != nil {
				return err
			}
			appNames := map[string]string{}
			for _, a := range apps {
				appNames[a.GUID] = a.Name
			}
			tw := newTable(s.out, 3)
			fmt.Fprintln(tw, "host\tdomain\tport\tpath\tprotocol\tapps")
			for _, r := range routes {
				var names []string
				seen := map[string]bool{}
				for _, d := range r.Destinations {
					n := appNames[d.App.GUID]
					if n == "" {
						n = d.App.GUID
					}
					if !seen[n] {
						seen[n] = true
						names = append(names, n)
					}
				}
				sort.Strings(names)
				port := ""
				if r.Port != nil {
					port = strconv.Itoa(*r.Port)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Host, domainNames[r.Relationships.Domain.GUID()],
					port, r.Path, r.Protocol, strings.Join(names, ", "))
			}
			return tw.Flush()
		},
	}
}

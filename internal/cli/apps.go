package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// guidChunk bounds how many guids one filtered list request carries.
const guidChunk = 50

func newAppsCommand(o *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List the apps of the targeted space",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			return s.apps(cmd.Context(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// chunks splits guids into groups of at most n.
func chunks(guids []string, n int) [][]string {
	var out [][]string
	for len(guids) > n {
		out = append(out, guids[:n])
		guids = guids[n:]
	}
	if len(guids) > 0 {
		out = append(out, guids)
	}
	return out
}

func (s *session) apps(ctx context.Context, asJSON bool) error {
	if !asJSON {
		s.printf("Getting apps in %s...\n\n", s.where())
	}
	apps, err := s.c.ListApps(ctx, client.AppFilter{SpaceGUIDs: []string{s.cfg.SpaceGUID}})
	if err != nil {
		return err
	}
	guids := make([]string, len(apps))
	for i, a := range apps {
		guids[i] = a.GUID
	}
	procsByApp := map[string][]client.Process{}
	routesByApp := map[string][]client.Route{}
	for _, chunk := range chunks(guids, guidChunk) {
		procs, err := s.c.ListProcessesForApps(ctx, chunk)
		if err != nil {
			return err
		}
		for _, p := range procs {
			g := p.Relationships.App.GUID()
			procsByApp[g] = append(procsByApp[g], p)
		}
		routes, err := s.c.ListRoutesForApps(ctx, chunk)
		if err != nil {
			return err
		}
		inChunk := map[string]bool{}
		for _, g := range chunk {
			inChunk[g] = true
		}
		for _, r := range routes {
			seen := map[string]bool{}
			for _, d := range r.Destinations {
				if g := d.App.GUID; inChunk[g] && !seen[g] {
					seen[g] = true
					routesByApp[g] = append(routesByApp[g], r)
				}
			}
		}
	}
	started := map[string]bool{}
	for _, a := range apps {
		started[a.GUID] = a.State == client.AppStarted
	}
	stats := map[string][]client.InstanceStats{}
	for g, ps := range procsByApp {
		if !started[g] {
			continue // a stopped app runs nothing
		}
		for _, p := range ps {
			if p.Instances == 0 {
				continue
			}
			st, err := s.c.ProcessStats(ctx, p.GUID)
			if err != nil {
				continue // shown as 0 running
			}
			stats[p.GUID] = st.Resources
		}
	}
	if asJSON {
		out := make([]appJSON, 0, len(apps))
		for _, a := range apps {
			var web *client.Process
			for i, p := range procsByApp[a.GUID] {
				if p.Type == client.ProcessTypeWeb {
					web = &procsByApp[a.GUID][i]
				}
			}
			var st []client.InstanceStats
			if web != nil {
				st = stats[web.GUID]
			}
			out = append(out, makeAppJSON(a, web, st, routesByApp[a.GUID], s.routerURL()))
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(apps) == 0 {
		s.printf("No apps found.\n")
		return nil
	}
	tw := newTable(s.out, 3)
	fmt.Fprintln(tw, "name\trequested state\tprocesses\troutes")
	for _, a := range apps {
		ps := procsByApp[a.GUID]
		sort.Slice(ps, func(i, j int) bool { return ps[i].Type < ps[j].Type })
		var procCol []string
		for _, p := range ps {
			procCol = append(procCol, fmt.Sprintf("%s:%d/%d", p.Type, running(stats[p.GUID]), p.Instances))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, lowerState(a.State), strings.Join(procCol, ", "),
			strings.Join(routeStrings(routesByApp[a.GUID], s.routerURL()), ", "))
	}
	return tw.Flush()
}

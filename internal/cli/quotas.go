package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// quotaFlags are the cf CLI's create-*-quota flags; "" or -1 is unlimited.
type quotaFlags struct {
	memory, instanceMemory string
	routes, services, apps int
	reservedPorts          int
	allowPaid              bool
}

func (f *quotaFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.memory, "total-memory", "m", "", "total memory of started apps (e.g. 1024M, 1G; -1 = unlimited)")
	cmd.Flags().StringVarP(&f.instanceMemory, "instance-memory", "i", "", "maximum memory per instance (-1 = unlimited)")
	cmd.Flags().IntVarP(&f.routes, "routes", "r", -1, "total routes (-1 = unlimited)")
	cmd.Flags().IntVarP(&f.services, "service-instances", "s", -1, "total service instances (-1 = unlimited)")
	cmd.Flags().IntVarP(&f.apps, "app-instances", "a", -1, "total app instances (-1 = unlimited)")
	cmd.Flags().IntVar(&f.reservedPorts, "reserved-route-ports", -1, "total reserved route ports (-1 = unlimited)")
	cmd.Flags().BoolVar(&f.allowPaid, "allow-paid-service-plans", false, "allow paid service plans")
}

func limit(v int) *int64 {
	if v < 0 {
		return nil
	}
	n := int64(v)
	return &n
}

func memLimit(flag, v string) (*int64, error) {
	if v == "" || v == "-1" {
		return nil, nil
	}
	mb, err := sizeInMB(flag, v)
	if err != nil {
		return nil, err
	}
	return &mb, nil
}

func (f *quotaFlags) limits() (client.QuotaLimits, error) {
	l := client.QuotaLimits{TotalRoutes: limit(f.routes), TotalServiceInstances: limit(f.services),
		TotalInstances: limit(f.apps), TotalReservedPorts: limit(f.reservedPorts), PaidServicesAllowed: f.allowPaid}
	var err error
	if l.TotalMemoryInMB, err = memLimit("total-memory", f.memory); err != nil {
		return l, err
	}
	if l.PerProcessMemoryInMB, err = memLimit("instance-memory", f.instanceMemory); err != nil {
		return l, err
	}
	return l, nil
}

func newCreateOrgQuotaCommand(o *options) *cobra.Command {
	var f quotaFlags
	cmd := &cobra.Command{
		Use:   "create-org-quota QUOTA [-m TOTAL_MEMORY] [-i INSTANCE_MEMORY] [-r ROUTES] [-s SERVICE_INSTANCES] [-a APP_INSTANCES] [--allow-paid-service-plans]",
		Short: "Define a new organization quota",
		Args:  appNameArgs("QUOTA"),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.limits()
			if err != nil {
				return err
			}
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Creating org quota %s as %s...\n", args[0], s.user())
			if _, err := s.c.CreateOrgQuota(cmd.Context(), args[0], l); err != nil {
				if strings.Contains(err.Error(), "already exists") {
					s.printf("Organization Quota '%s' already exists.\nOK\n", args[0])
					return nil
				}
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newSetOrgQuotaCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "set-org-quota ORG QUOTA",
		Short: "Assign an organization quota to an org",
		Args:  appNameArgs("ORG", "QUOTA"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Setting quota %s to org %s as %s...\n", args[1], args[0], s.user())
			org, err := s.c.GetOrgByName(ctx, args[0])
			if err != nil {
				return err
			}
			q, err := s.c.GetOrgQuotaByName(ctx, args[1])
			if err != nil {
				return err
			}
			if err := s.c.ApplyOrgQuota(ctx, q.GUID, org.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

// limitText renders a limit as the cf CLI does.
func limitText(v *int64, mem bool) string {
	switch {
	case v == nil:
		return "unlimited"
	case mem && *v >= 1024 && *v%1024 == 0:
		return strconv.FormatInt(*v/1024, 10) + "G"
	case mem:
		return strconv.FormatInt(*v, 10) + "M"
	}
	return strconv.FormatInt(*v, 10)
}

func paidText(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "disallowed"
}

func (s *session) printQuotas(qs []client.Quota) {
	t := newTable(s.out, 3)
	fmt.Fprintf(t, "name\ttotal memory\tinstance memory\troutes\tservice instances\tpaid service plans\tapp instances\treserved route ports\n")
	for _, q := range qs {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", q.Name, limitText(q.TotalMemoryInMB, true), limitText(q.PerProcessMemoryInMB, true),
			limitText(q.TotalRoutes, false), limitText(q.TotalServiceInstances, false), paidText(q.PaidServicesAllowed),
			limitText(q.TotalInstances, false), limitText(q.TotalReservedPorts, false))
	}
	_ = t.Flush()
}

func newOrgQuotasCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "org-quotas",
		Short: "List the organization quotas",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Getting org quotas as %s...\n\n", s.user())
			qs, err := s.c.ListOrgQuotas(cmd.Context())
			if err != nil {
				return err
			}
			s.printQuotas(qs)
			return nil
		},
	}
}

func newCreateSpaceQuotaCommand(o *options) *cobra.Command {
	var f quotaFlags
	cmd := &cobra.Command{
		Use:   "create-space-quota QUOTA [-m TOTAL_MEMORY] [-i INSTANCE_MEMORY] [-r ROUTES] [-s SERVICE_INSTANCES] [-a APP_INSTANCES] [--allow-paid-service-plans]",
		Short: "Define a new space quota in the targeted org",
		Args:  appNameArgs("QUOTA"),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.limits()
			if err != nil {
				return err
			}
			s, err := newSession(cmd, o, needOrg)
			if err != nil {
				return err
			}
			s.printf("Creating space quota %s for org %s as %s...\n", args[0], s.cfg.OrgName, s.user())
			if _, err := s.c.CreateSpaceQuota(cmd.Context(), s.cfg.OrgGUID, args[0], l); err != nil {
				if strings.Contains(err.Error(), "already exists") {
					s.printf("Space Quota '%s' already exists.\nOK\n", args[0])
					return nil
				}
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newSetSpaceQuotaCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "set-space-quota SPACE QUOTA",
		Short: "Assign a space quota of the targeted org to a space",
		Args:  appNameArgs("SPACE", "QUOTA"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needOrg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Setting space quota %s to space %s as %s...\n", args[1], args[0], s.user())
			space, err := s.c.GetSpaceByName(ctx, s.cfg.OrgGUID, args[0])
			if err != nil {
				return err
			}
			q, err := s.c.GetSpaceQuotaByName(ctx, s.cfg.OrgGUID, args[1])
			if err != nil {
				return err
			}
			if err := s.c.ApplySpaceQuota(ctx, q.GUID, space.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newSpaceQuotasCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "space-quotas",
		Short: "List the space quotas of the targeted org",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needOrg)
			if err != nil {
				return err
			}
			s.printf("Getting space quotas for org %s as %s...\n\n", s.cfg.OrgName, s.user())
			qs, err := s.c.ListSpaceQuotas(cmd.Context(), s.cfg.OrgGUID)
			if err != nil {
				return err
			}
			s.printQuotas(qs)
			return nil
		},
	}
}

func newEventsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "events APP_NAME",
		Short: "Show the recent audit events of an app",
		Args:  appNameArgs("APP_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needSpace)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting events for app %s in %s...\n\n", args[0], s.where())
			app, err := s.app(ctx, args[0])
			if err != nil {
				return err
			}
			evs, err := s.c.ListAuditEvents(ctx, []string{app.GUID}, nil, 50)
			if err != nil {
				return err
			}
			t := newTable(s.out, 3)
			fmt.Fprintf(t, "time\tevent\tactor\tdescription\n")
			for _, e := range evs {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", e.CreatedAt, e.Type, e.Actor.Name, eventDescription(e.Data))
			}
			return t.Flush()
		},
	}
}

// eventDescription summarizes an event's request data as "key: value".
func eventDescription(data map[string]any) string {
	req, _ := data["request"].(map[string]any)
	if req == nil {
		return ""
	}
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %v", k, req[k]))
	}
	return strings.Join(parts, ", ")
}

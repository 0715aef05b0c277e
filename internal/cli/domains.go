package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDomainsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "domains",
		Short: "List the domains usable in the targeted org",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Getting domains as %s...\n\n", s.user())
			ds, err := s.c.ListDomainsDetailed(cmd.Context())
			if err != nil {
				return err
			}
			if len(ds) == 0 {
				s.printf("No domains found.\n")
				return nil
			}
			t := newTable(s.out, 3)
			fmt.Fprintln(t, "name\tavailability\tinternal")
			for _, d := range ds {
				avail := "shared"
				if d.Relationships.Organization.GUID() != "" {
					avail = "private"
				}
				internal := ""
				if d.Internal {
					internal = "true"
				}
				fmt.Fprintf(t, "%s\t%s\t%s\n", d.Name, avail, internal)
			}
			return t.Flush()
		},
	}
}

func newCreateSharedDomainCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "create-shared-domain DOMAIN",
		Short: "Create a domain every org can use",
		Args:  appNameArgs("DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Creating shared domain %s as %s...\n", args[0], s.user())
			if _, err := s.c.CreateDomain(cmd.Context(), args[0], ""); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newCreatePrivateDomainCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "create-private-domain ORG DOMAIN",
		Short: "Create a domain only one org can use",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Creating private domain %s for org %s as %s...\n", args[1], args[0], s.user())
			org, err := s.c.GetOrgByName(ctx, args[0])
			if err != nil {
				return err
			}
			if _, err := s.c.CreateDomain(ctx, args[1], org.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newDeleteDomainCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-domain DOMAIN [-f]",
		Short: "Delete a domain and every route on it",
		Args:  appNameArgs("DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ok, err := s.confirm(force, fmt.Sprintf("Really delete the domain %s and all its routes? [yN]: ", args[0])); err != nil || !ok {
				return err
			}
			s.printf("Deleting domain %s as %s...\n", args[0], s.user())
			d, err := s.c.GetDomainByName(ctx, args[0])
			if err != nil {
				return err
			}
			if err := s.c.DeleteDomain(ctx, d.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	return cmd
}

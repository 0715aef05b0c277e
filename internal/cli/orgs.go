package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

func newOrgsCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "orgs",
		Short: "List organizations",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Getting orgs as %s...\n\n", s.user())
			orgs, err := s.c.ListOrgs(cmd.Context())
			if err != nil {
				return err
			}
			if len(orgs) == 0 {
				s.printf("No orgs found.\n")
				return nil
			}
			s.printf("name\n")
			for _, org := range orgs {
				s.printf("%s\n", org.Name)
			}
			return nil
		},
	}
}

func newSpacesCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "spaces",
		Short: "List the spaces of the targeted org",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needOrg)
			if err != nil {
				return err
			}
			s.printf("Getting spaces in org %s as %s...\n\n", s.cfg.OrgName, s.user())
			spaces, err := s.c.ListSpaces(cmd.Context(), s.cfg.OrgGUID)
			if err != nil {
				return err
			}
			if len(spaces) == 0 {
				s.printf("No spaces found.\n")
				return nil
			}
			s.printf("name\n")
			for _, sp := range spaces {
				s.printf("%s\n", sp.Name)
			}
			return nil
		},
	}
}

func newCreateOrgCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "create-org ORG",
		Short: "Create an organization",
		Args:  appNameArgs("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Creating org %s as %s...\n", args[0], s.user())
			if _, err := s.c.CreateOrg(cmd.Context(), args[0]); err != nil {
				return err
			}
			s.printf("OK\n\nTIP: Use 'ingot target -o \"%s\"' to target the new org\n", args[0])
			return nil
		},
	}
}

func newCreateSpaceCommand(o *options) *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "create-space SPACE [-o ORG]",
		Short: "Create a space in the targeted org (or -o ORG)",
		Args:  appNameArgs("SPACE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, orgNeed(org))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			orgGUID, orgName, err := s.orgOrTarget(ctx, org)
			if err != nil {
				return err
			}
			s.printf("Creating space %s in org %s as %s...\n", args[0], orgName, s.user())
			if _, err := s.c.CreateSpace(ctx, orgGUID, args[0]); err != nil {
				return err
			}
			s.printf("OK\n\nTIP: Use 'ingot target -o \"%s\" -s \"%s\"' to target the new space\n", orgName, args[0])
			return nil
		},
	}
	cmd.Flags().StringVarP(&org, "org", "o", "", "organization (default: the targeted one)")
	return cmd
}

func newRenameOrgCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "rename-org ORG NEW_ORG",
		Short: "Rename an organization",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Renaming org %s to %s as %s...\n", args[0], args[1], s.user())
			org, err := s.c.GetOrgByName(ctx, args[0])
			if err != nil {
				return err
			}
			if _, err := s.c.RenameOrg(ctx, org.GUID, args[1]); err != nil {
				return err
			}
			if s.cfg.OrgGUID == org.GUID {
				s.cfg.OrgName = args[1]
				if err := s.save(); err != nil {
					return err
				}
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newRenameSpaceCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "rename-space SPACE NEW_SPACE",
		Short: "Rename a space of the targeted org",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needOrg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Renaming space %s to %s as %s...\n", args[0], args[1], s.user())
			sp, err := s.c.GetSpaceByName(ctx, s.cfg.OrgGUID, args[0])
			if err != nil {
				return err
			}
			if _, err := s.c.RenameSpace(ctx, sp.GUID, args[1]); err != nil {
				return fmt.Errorf("rename space: %w", err)
			}
			if s.cfg.SpaceGUID == sp.GUID {
				s.cfg.SpaceName = args[1]
				if err := s.save(); err != nil {
					return err
				}
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newDeleteOrgCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-org ORG [-f]",
		Short: "Delete an organization with its spaces, apps, services, routes and domains",
		Args:  appNameArgs("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ok, err := s.confirm(force, fmt.Sprintf("Really delete the org %s, including its spaces, apps, service instances, routes and private domains? [yN]: ", args[0])); err != nil || !ok {
				return err
			}
			s.printf("Deleting org %s as %s...\n", args[0], s.user())
			org, err := s.c.GetOrgByName(ctx, args[0])
			if client.IsNotFound(err) {
				s.printf("Org '%s' does not exist.\nOK\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.c.DeleteOrg(ctx, org.GUID); err != nil {
				return err
			}
			if s.cfg.OrgGUID == org.GUID {
				s.cfg.OrgGUID, s.cfg.OrgName, s.cfg.SpaceGUID, s.cfg.SpaceName = "", "", "", ""
				if err := s.save(); err != nil {
					return err
				}
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	return cmd
}

func newDeleteSpaceCommand(o *options) *cobra.Command {
	var force bool
	var org string
	cmd := &cobra.Command{
		Use:   "delete-space SPACE [-o ORG] [-f]",
		Short: "Delete a space with its apps, services and routes",
		Args:  appNameArgs("SPACE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, orgNeed(org))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			orgGUID, orgName, err := s.orgOrTarget(ctx, org)
			if err != nil {
				return err
			}
			if ok, err := s.confirm(force, fmt.Sprintf("Really delete the space %s, including its apps, service instances and routes? [yN]: ", args[0])); err != nil || !ok {
				return err
			}
			s.printf("Deleting space %s in org %s as %s...\n", args[0], orgName, s.user())
			sp, err := s.c.GetSpaceByName(ctx, orgGUID, args[0])
			if client.IsNotFound(err) {
				s.printf("Space '%s' does not exist.\nOK\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			if err := s.c.DeleteSpace(ctx, sp.GUID); err != nil {
				return err
			}
			if s.cfg.SpaceGUID == sp.GUID {
				s.cfg.SpaceGUID, s.cfg.SpaceName = "", ""
				if err := s.save(); err != nil {
					return err
				}
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	cmd.Flags().StringVarP(&org, "org", "o", "", "organization (default: the targeted one)")
	return cmd
}

// orgNeed: a command with -o ORG needs no targeted org.
func orgNeed(org string) need {
	if org != "" {
		return needAPI
	}
	return needOrg
}

// orgOrTarget is the org named by -o, or the targeted one.
func (s *session) orgOrTarget(ctx context.Context, name string) (guid, orgName string, err error) {
	if name == "" {
		return s.cfg.OrgGUID, s.cfg.OrgName, nil
	}
	o, err := s.c.GetOrgByName(ctx, name)
	if err != nil {
		return "", "", err
	}
	return o.GUID, o.Name, nil
}

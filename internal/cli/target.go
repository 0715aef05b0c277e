package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

func newTargetCommand(o *options) *cobra.Command {
	var org, space string
	cmd := &cobra.Command{
		Use:   "target [-o ORG] [-s SPACE]",
		Short: "Show or set the targeted org and space",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch {
			case org != "":
				if err := s.targetOrg(ctx, org); err != nil {
					return err
				}
				if space != "" {
					err = s.targetSpace(ctx, space)
				} else {
					err = s.autoTargetSpace(ctx, false)
				}
				if err != nil {
					return err
				}
			case space != "":
				if s.cfg.OrgGUID == "" {
					return ErrNoOrgTargeted
				}
				if err := s.targetSpace(ctx, space); err != nil {
					return err
				}
			}
			if org != "" || space != "" {
				if err := s.save(); err != nil {
					return err
				}
			}
			s.printTarget(ctx)
			return nil
		},
	}
	cmd.Flags().StringVarP(&org, "org", "o", "", "org to target")
	cmd.Flags().StringVarP(&space, "space", "s", "", "space to target")
	return cmd
}

// targetOrg targets an org by name and clears the space.
func (s *session) targetOrg(ctx context.Context, name string) error {
	o, err := s.c.GetOrgByName(ctx, name)
	if err != nil {
		return err
	}
	s.cfg.OrgGUID, s.cfg.OrgName = o.GUID, o.Name
	s.cfg.SpaceGUID, s.cfg.SpaceName = "", ""
	return nil
}

// targetSpace targets a space of the targeted org by name.
func (s *session) targetSpace(ctx context.Context, name string) error {
	sp, err := s.c.GetSpaceByName(ctx, s.cfg.OrgGUID, name)
	if err != nil {
		return err
	}
	s.cfg.SpaceGUID, s.cfg.SpaceName = sp.GUID, sp.Name
	return nil
}

// choose picks one of names: the only one, or (interactive) the user's
// pick; -1 when none was chosen.
func (s *session) choose(kind string, names []string, interactive bool) int {
	switch {
	case len(names) == 1:
		return 0
	case len(names) == 0 || !interactive || !isTerminal(s.in):
		return -1
	}
	s.printf("Select an %s:\n", kind)
	for i, n := range names {
		s.printf("%d. %s\n", i+1, n)
	}
	answer, err := s.prompt(fmt.Sprintf("\n%s (enter to skip)> ", kind))
	if err != nil || answer == "" {
		return -1
	}
	if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(names) {
		return n - 1
	}
	for i, n := range names {
		if n == answer {
			return i
		}
	}
	return -1
}

// autoTargetOrg targets the only org (or asks which, when interactive).
func (s *session) autoTargetOrg(ctx context.Context, interactive bool) error {
	orgs, err := s.c.ListOrgs(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(orgs))
	for i, o := range orgs {
		names[i] = o.Name
	}
	i := s.choose("org", names, interactive)
	if i < 0 {
		return nil
	}
	s.cfg.OrgGUID, s.cfg.OrgName = orgs[i].GUID, orgs[i].Name
	return nil
}

// autoTargetSpace targets the org's only space (or asks which).
func (s *session) autoTargetSpace(ctx context.Context, interactive bool) error {
	spaces, err := s.c.ListSpaces(ctx, s.cfg.OrgGUID)
	if err != nil {
		return err
	}
	names := make([]string, len(spaces))
	for i, sp := range spaces {
		names[i] = sp.Name
	}
	i := s.choose("space", names, interactive)
	if i < 0 {
		return nil
	}
	s.cfg.SpaceGUID, s.cfg.SpaceName = spaces[i].GUID, spaces[i].Name
	return nil
}

// printTarget shows the API, user, org and space.
func (s *session) printTarget(ctx context.Context) {
	tw := newTable(s.out, 3)
	fmt.Fprintf(tw, "API endpoint:\t%s\n", s.cfg.API)
	if root, err := s.c.Root(ctx); err == nil && root.APIVersion() != "" {
		fmt.Fprintf(tw, "API version:\t%s\n", root.APIVersion())
	}
	fmt.Fprintf(tw, "user:\t%s\n", s.user())
	if s.cfg.OrgName != "" {
		fmt.Fprintf(tw, "org:\t%s\n", s.cfg.OrgName)
	} else {
		fmt.Fprintf(tw, "org:\tNo org targeted, use 'ingot target -o ORG'\n")
	}
	if s.cfg.SpaceName != "" {
		fmt.Fprintf(tw, "space:\t%s\n", s.cfg.SpaceName)
	} else {
		fmt.Fprintf(tw, "space:\tNo space targeted, use 'ingot target -s SPACE'\n")
	}
	tw.Flush()
}

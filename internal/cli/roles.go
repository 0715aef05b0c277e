package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// The cf CLI's role names and the API's role types.
var (
	orgRoleNames = map[string]string{
		"OrgManager": client.RoleOrgManager, "BillingManager": client.RoleOrgBillingManager,
		"OrgAuditor": client.RoleOrgAuditor,
	}
	spaceRoleNames = map[string]string{
		"SpaceManager": client.RoleSpaceManager, "SpaceDeveloper": client.RoleSpaceDeveloper,
		"SpaceAuditor": client.RoleSpaceAuditor, "SpaceSupporter": client.RoleSpaceSupporter,
	}
)

func roleType(names map[string]string, role string) (string, error) {
	for n, t := range names {
		if strings.EqualFold(n, role) {
			return t, nil
		}
	}
	valid := make([]string, 0, len(names))
	for n := range names {
		valid = append(valid, n)
	}
	sort.Strings(valid)
	return "", &usageError{msg: fmt.Sprintf("invalid role %q: use one of %s", role, strings.Join(valid, ", "))}
}

// alreadyHas tells whether err is CF's "already has the role" answer.
func alreadyHas(err error) bool {
	return err != nil && strings.Contains(err.Error(), "already has")
}

// canonicalRole is the cf CLI's spelling of a role name.
func canonicalRole(names map[string]string, typ string) string {
	for n, t := range names {
		if t == typ {
			return n
		}
	}
	return typ
}

func newSetOrgRoleCommand(o *options) *cobra.Command {
	var origin string
	cmd := &cobra.Command{
		Use:   "set-org-role USERNAME ORG ROLE",
		Short: "Assign an org role to a user (OrgManager, BillingManager, OrgAuditor)",
		Args:  appNameArgs("USERNAME", "ORG", "ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := roleType(orgRoleNames, args[2])
			if err != nil {
				return err
			}
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Assigning role %s to user %s in org %s as %s...\n", canonicalRole(orgRoleNames, typ), args[0], args[1], s.user())
			org, err := s.c.GetOrgByName(ctx, args[1])
			if err != nil {
				return err
			}
			if _, err := s.c.CreateRole(ctx, typ, args[0], origin, org.GUID, ""); err != nil && !alreadyHas(err) {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&origin, "origin", "uaa", "the user's identity provider")
	return cmd
}

func newSetSpaceRoleCommand(o *options) *cobra.Command {
	var origin string
	cmd := &cobra.Command{
		Use:   "set-space-role USERNAME ORG SPACE ROLE",
		Short: "Assign a space role to a user (SpaceManager, SpaceDeveloper, SpaceAuditor, SpaceSupporter)",
		Long:  "Assign a space role to a user; like the cf CLI, the user first becomes a member (organization_user) of the org.",
		Args:  appNameArgs("USERNAME", "ORG", "SPACE", "ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := roleType(spaceRoleNames, args[3])
			if err != nil {
				return err
			}
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Assigning role %s to user %s in org %s / space %s as %s...\n", canonicalRole(spaceRoleNames, typ), args[0], args[1], args[2], s.user())
			org, space, err := s.orgSpace(ctx, args[1], args[2])
			if err != nil {
				return err
			}
			if _, err := s.c.CreateRole(ctx, client.RoleOrgUser, args[0], origin, org.GUID, ""); err != nil && !alreadyHas(err) {
				return err
			}
			if _, err := s.c.CreateRole(ctx, typ, args[0], origin, "", space.GUID); err != nil && !alreadyHas(err) {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&origin, "origin", "uaa", "the user's identity provider")
	return cmd
}

func (s *session) orgSpace(ctx context.Context, orgName, spaceName string) (*client.Org, *client.Space, error) {
	org, err := s.c.GetOrgByName(ctx, orgName)
	if err != nil {
		return nil, nil, err
	}
	space, err := s.c.GetSpaceByName(ctx, org.GUID, spaceName)
	if err != nil {
		return nil, nil, err
	}
	return org, space, nil
}

// unsetRole deletes the user's role of type typ in the org or space; a
// missing role is not an error (as in the cf CLI).
func (s *session) unsetRole(ctx context.Context, username, typ, orgGUID, spaceGUID string) error {
	u, err := s.c.GetUserByName(ctx, username, "")
	if err != nil {
		return err
	}
	f := client.RoleFilter{Types: []string{typ}, UserGUIDs: []string{u.GUID}}
	if spaceGUID != "" {
		f.SpaceGUIDs = []string{spaceGUID}
	} else {
		f.OrgGUIDs = []string{orgGUID}
	}
	roles, _, err := s.c.ListRoles(ctx, f)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if err := s.c.DeleteRole(ctx, r.GUID); err != nil {
			return err
		}
	}
	return nil
}

func newUnsetOrgRoleCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "unset-org-role USERNAME ORG ROLE",
		Short: "Remove an org role from a user",
		Args:  appNameArgs("USERNAME", "ORG", "ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := roleType(orgRoleNames, args[2])
			if err != nil {
				return err
			}
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Removing role %s from user %s in org %s as %s...\n", canonicalRole(orgRoleNames, typ), args[0], args[1], s.user())
			org, err := s.c.GetOrgByName(ctx, args[1])
			if err != nil {
				return err
			}
			if err := s.unsetRole(ctx, args[0], typ, org.GUID, ""); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

func newUnsetSpaceRoleCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "unset-space-role USERNAME ORG SPACE ROLE",
		Short: "Remove a space role from a user",
		Args:  appNameArgs("USERNAME", "ORG", "SPACE", "ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, err := roleType(spaceRoleNames, args[3])
			if err != nil {
				return err
			}
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Removing role %s from user %s in org %s / space %s as %s...\n", canonicalRole(spaceRoleNames, typ), args[0], args[1], args[2], s.user())
			_, space, err := s.orgSpace(ctx, args[1], args[2])
			if err != nil {
				return err
			}
			if err := s.unsetRole(ctx, args[0], typ, "", space.GUID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
}

// printRoleUsers prints, per role (in order, with its heading), the users
// holding it.
func (s *session) printRoleUsers(roles []client.Role, users map[string]client.User, order []string, headings map[string]string) {
	byType := map[string][]string{}
	for _, r := range roles {
		u, ok := users[r.Relationships.User.GUID()]
		name := r.Relationships.User.GUID()
		if ok && u.Username != nil {
			origin := "uaa"
			if u.Origin != nil {
				origin = *u.Origin
			}
			name = fmt.Sprintf("%s (%s)", *u.Username, origin)
		}
		byType[r.Type] = append(byType[r.Type], name)
	}
	for _, typ := range order {
		s.printf("\n%s\n", headings[typ])
		names := byType[typ]
		sort.Strings(names)
		if len(names) == 0 {
			s.printf("  No %s found\n", headings[typ])
		}
		for _, n := range names {
			s.printf("  %s\n", n)
		}
	}
}

func newOrgUsersCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "org-users ORG",
		Short: "Show the org's managers, billing managers and auditors",
		Args:  appNameArgs("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting users in org %s as %s...\n", args[0], s.user())
			org, err := s.c.GetOrgByName(ctx, args[0])
			if err != nil {
				return err
			}
			order := []string{client.RoleOrgManager, client.RoleOrgBillingManager, client.RoleOrgAuditor}
			roles, users, err := s.c.ListRoles(ctx, client.RoleFilter{OrgGUIDs: []string{org.GUID}, Types: order})
			if err != nil {
				return err
			}
			s.printRoleUsers(roles, users, order, map[string]string{client.RoleOrgManager: "ORG MANAGER",
				client.RoleOrgBillingManager: "BILLING MANAGER", client.RoleOrgAuditor: "ORG AUDITOR"})
			return nil
		},
	}
}

func newSpaceUsersCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "space-users ORG SPACE",
		Short: "Show the space's managers, developers, auditors and supporters",
		Args:  appNameArgs("ORG", "SPACE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Getting users in org %s / space %s as %s...\n", args[0], args[1], s.user())
			_, space, err := s.orgSpace(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			order := []string{client.RoleSpaceManager, client.RoleSpaceDeveloper, client.RoleSpaceAuditor, client.RoleSpaceSupporter}
			roles, users, err := s.c.ListRoles(ctx, client.RoleFilter{SpaceGUIDs: []string{space.GUID}, Types: order})
			if err != nil {
				return err
			}
			s.printRoleUsers(roles, users, order, map[string]string{client.RoleSpaceManager: "SPACE MANAGER",
				client.RoleSpaceDeveloper: "SPACE DEVELOPER", client.RoleSpaceAuditor: "SPACE AUDITOR", client.RoleSpaceSupporter: "SPACE SUPPORTER"})
			return nil
		},
	}
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/pkg/client"
)

// User and identity administration: create-user, delete-user, passwd,
// create-client, delete-client, rotate-signing-key.

func newCreateUserCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "create-user USERNAME PASSWORD",
		Short: "Create a user (not an admin) who can log in and be given roles",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s.printf("Creating user %s as %s...\n", args[0], s.user())
			u, err := s.c.CreateUAAUser(ctx, args[0], args[1], "uaa")
			if client.IsConflict(err) {
				s.printf("User '%s' already exists.\nOK\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := s.c.CreateUser(ctx, u.ID); err != nil {
				return fmt.Errorf("register user %s with the API: %w", args[0], err)
			}
			s.printf("OK\n")
			return nil
		},
	}
}

// uaaUser finds the one uaa-origin user named name; nil when none.
func (s *session) uaaUser(ctx context.Context, name string) (*client.UAAUser, error) {
	us, err := s.c.ListUAAUsers(ctx, name, "uaa")
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, nil
	}
	return &us[0], nil
}

func newDeleteUserCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-user USERNAME [-f]",
		Short: "Delete a user; their sessions end at once",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			if ok, err := s.confirm(force, "Really delete the user "+args[0]+"? [yN]: "); err != nil || !ok {
				return err
			}
			ctx := cmd.Context()
			s.printf("Deleting user %s as %s...\n", args[0], s.user())
			u, err := s.uaaUser(ctx, args[0])
			if err != nil {
				return err
			}
			if u == nil {
				s.printf("User '%s' does not exist.\nOK\n", args[0])
				return nil
			}
			if err := s.c.DeleteUser(ctx, u.ID); err != nil && !client.IsNotFound(err) {
				return err
			}
			if err := s.c.DeleteUAAUser(ctx, u.ID); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	return cmd
}

// readSecret reads a password: without echo from a terminal, else one
// line of stdin (so scripts can pipe it).
func (s *session) readSecret(label string) (string, error) {
	if isTerminal(s.in) {
		return promptPassword(s.ios, label)
	}
	if s.lineIn == nil {
		s.lineIn = bufio.NewReader(s.in)
	}
	line, err := s.lineIn.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read %s from stdin: %w", strings.TrimSuffix(label, "> "), err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// newPassword asks for a new password twice.
func (s *session) newPassword() (string, error) {
	pw, err := s.readSecret("New password> ")
	if err != nil {
		return "", err
	}
	again, err := s.readSecret("Verify password> ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("password verification does not match")
	}
	if pw == "" {
		return "", errors.New("the new password cannot be empty")
	}
	return pw, nil
}

func newPasswdCommand(o *options) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "passwd [--user USERNAME]",
		Short: "Change your password, or (as an admin) reset another user's",
		Long: "Change your own password: asks for the current and the new one. With --user, an " +
			"admin sets another user's password without the current one. Either way every " +
			"session of that user ends. Passwords are read without echo from a terminal, or " +
			"one per line from stdin.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			if user != "" {
				return s.resetPassword(cmd.Context(), user)
			}
			return s.changeOwnPassword(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "reset this user's password (admin)")
	return cmd
}

func (s *session) resetPassword(ctx context.Context, name string) error {
	u, err := s.uaaUser(ctx, name)
	if err != nil {
		return err
	}
	if u == nil {
		return fmt.Errorf("user '%s' does not exist", name)
	}
	pw, err := s.newPassword()
	if err != nil {
		return err
	}
	s.printf("Setting the password of %s as %s...\n", name, s.user())
	if err := s.c.ChangePassword(ctx, u.ID, "", pw); err != nil {
		return err
	}
	s.printf("OK\n")
	return nil
}

func (s *session) changeOwnPassword(ctx context.Context) error {
	tok, err := s.ts.Token(ctx)
	if err != nil {
		return err
	}
	claims := client.TokenClaims(tok)
	id, _ := claims["user_id"].(string)
	name, _ := claims["user_name"].(string)
	if id == "" {
		return errors.New("not logged in as a user: a client has no password to change")
	}
	current, err := s.readSecret("Current password> ")
	if err != nil {
		return err
	}
	pw, err := s.newPassword()
	if err != nil {
		return err
	}
	s.printf("Changing password for %s...\n", name)
	if err := s.c.ChangePassword(ctx, id, current, pw); err != nil {
		return err
	}
	s.printf("OK\n")
	// Every session of the user ended, this one included.
	s.cfg.AccessToken, s.cfg.RefreshToken = "", ""
	if s.cfg.Password != "" && s.cfg.Username == name {
		// The config holds the credentials `ingot up` wrote: keep them
		// working.
		s.cfg.Password = pw
		tokens, err := s.uaa.PasswordGrant(ctx, name, pw)
		if err != nil {
			_ = s.save()
			return fmt.Errorf("log in with the new password: %w", err)
		}
		s.cfg.AccessToken, s.cfg.RefreshToken = tokens.AccessToken, tokens.RefreshToken
		return s.save()
	}
	if err := s.save(); err != nil {
		return err
	}
	s.printf("Please log in again.\n")
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newCreateClientCommand(o *options) *cobra.Command {
	var secret, scopes, authorities, grants string
	cmd := &cobra.Command{
		Use:   "create-client CLIENT_ID --secret SECRET [--scopes a,b] [--authorities a,b] [--grant-types client_credentials]",
		Short: "Register an OAuth client (e.g. for CI: client_credentials tokens carry its authorities)",
		Long: "Register an OAuth client. A client_credentials token carries the client's " +
			"authorities (default: its scopes) and no user; scopes bound what user tokens " +
			"issued through the client (password grant) may carry.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			oc := client.OAuthClient{ClientID: args[0], ClientSecret: secret, Scope: splitList(scopes),
				Authorities: splitList(authorities), AuthorizedGrantTypes: splitList(grants)}
			if authorities == "" {
				oc.Authorities = oc.Scope
			}
			s.printf("Creating client %s as %s...\n", args[0], s.user())
			if _, err := s.c.CreateOAuthClient(cmd.Context(), oc); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&secret, "secret", "", "the client's secret")
	fl.StringVar(&scopes, "scopes", "", "comma-separated scopes")
	fl.StringVar(&authorities, "authorities", "", "comma-separated authorities (default: the scopes)")
	fl.StringVar(&grants, "grant-types", "client_credentials", "comma-separated grant types: client_credentials, password, refresh_token")
	return cmd
}

func newDeleteClientCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete-client CLIENT_ID [-f]",
		Short: "Remove an OAuth client; its tokens stop working at once",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			if ok, err := s.confirm(force, "Really delete the client "+args[0]+"? [yN]: "); err != nil || !ok {
				return err
			}
			s.printf("Deleting client %s as %s...\n", args[0], s.user())
			if err := s.c.DeleteOAuthClient(cmd.Context(), args[0]); err != nil {
				return err
			}
			s.printf("OK\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete without asking for confirmation")
	return cmd
}

func newRotateSigningKeyCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-signing-key",
		Short: "Sign tokens with a new key; tokens signed before stay valid until they expire",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := newSession(cmd, o, needAPI)
			if err != nil {
				return err
			}
			s.printf("Rotating the token signing key as %s...\n", s.user())
			k, err := s.c.RotateSigningKey(cmd.Context())
			if err != nil {
				return err
			}
			s.printf("OK\n\nNew tokens are signed with key %s.\n", k.Kid)
			return nil
		},
	}
}

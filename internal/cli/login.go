package cli

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

type loginFlags struct {
	api, user, password, org, space string
	skipSSL                         bool
}

func newLoginCommand(o *options) *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login [-a API] [-u USER] [-p PASSWORD] [-o ORG] [-s SPACE]",
		Short: "Log in to the platform and target an org and space",
		Long: "Log in with a user name and password (asked for when not given and stdin is a " +
			"terminal). The only org and space are targeted automatically.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogin(cmd, o, f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.api, "api", "a", "", "API endpoint (e.g. http://api.127.0.0.1.nip.io:8080)")
	fl.StringVarP(&f.user, "username", "u", "", "user name")
	fl.StringVarP(&f.password, "password", "p", "", "password")
	fl.StringVarP(&f.org, "org", "o", "", "org to target")
	fl.StringVarP(&f.space, "space", "s", "", "space to target")
	fl.BoolVar(&f.skipSSL, "skip-ssl-validation", false, "do not verify the API's TLS certificate")
	return cmd
}

func runLogin(cmd *cobra.Command, o *options, f loginFlags) error {
	ctx := cmd.Context()
	io := cmdIO(cmd)
	old, err := LoadConfig()
	if err != nil {
		return err
	}
	var lineIn *bufio.Reader
	api := f.api
	if api == "" {
		api = old.API
	}
	if api == "" {
		if api, err = promptLine(io, &lineIn, "API endpoint> "); err != nil {
			return needFlag(err, "-a API")
		}
	}
	cfg := &Config{API: api, SkipSSLValidation: f.skipSSL}
	if api == old.API {
		cfg.SkipSSLValidation = cfg.SkipSSLValidation || old.SkipSSLValidation
		cfg.RouterURL = old.RouterURL
	}
	s := &session{ios: io, opts: o, cfg: cfg, lineIn: lineIn}
	if err := s.connect(); err != nil {
		return err
	}
	cfg.API = s.c.APIURL()
	s.printf("API endpoint: %s\n\n", cfg.API)
	if _, err := s.c.Root(ctx); err != nil {
		return fmt.Errorf("API not found at %s: %w", cfg.API, err)
	}
	user := f.user
	if user == "" {
		if user, err = s.prompt("Username> "); err != nil {
			return needFlag(err, "-u USER")
		}
	}
	password := f.password
	if password == "" {
		if password, err = promptPassword(io, "Password> "); err != nil {
			return needFlag(err, "-p PASSWORD")
		}
	}
	s.printf("Authenticating...\n")
	tok, err := s.uaa.PasswordGrant(ctx, user, password)
	if err != nil {
		return fmt.Errorf("credentials were rejected: %w", err)
	}
	s.printf("OK\n\n")
	cfg.Username, cfg.AccessToken, cfg.RefreshToken = user, tok.AccessToken, tok.RefreshToken
	// A fresh session with the new tokens; the password is not stored.
	if err := s.connect(); err != nil {
		return err
	}
	if err := s.save(); err != nil {
		return err
	}
	if f.org != "" {
		err = s.targetOrg(ctx, f.org)
	} else {
		err = s.autoTargetOrg(ctx, true)
	}
	if err != nil {
		return err
	}
	if s.cfg.OrgGUID != "" {
		s.printf("Targeted org %s.\n", s.cfg.OrgName)
		if f.space != "" {
			err = s.targetSpace(ctx, f.space)
		} else {
			err = s.autoTargetSpace(ctx, true)
		}
		if err != nil {
			return err
		}
		if s.cfg.SpaceGUID != "" {
			s.printf("Targeted space %s.\n", s.cfg.SpaceName)
		}
	} else if f.space != "" {
		return ErrNoOrgTargeted
	}
	if err := s.save(); err != nil {
		return err
	}
	s.printf("\n")
	s.printTarget(ctx)
	return nil
}

// needFlag explains a missing value that could not be prompted for.
func needFlag(err error, flag string) error {
	if errors.Is(err, ErrNotTerminal) {
		return &usageError{msg: fmt.Sprintf("%s is required when stdin is not a terminal", flag)}
	}
	return err
}

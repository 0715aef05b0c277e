package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ingot-paas/ingot/pkg/client"
)

// Errors of the CLI.
var (
	ErrNoAPI         = errors.New("no API endpoint set: use 'ingot login -a URL' (or 'ingot up')")
	ErrNoOrgTargeted = errors.New("no org targeted: use 'ingot target -o ORG'")
	ErrNoSpace       = errors.New("no space targeted: use 'ingot target -s SPACE'")
	ErrNotTerminal   = errors.New("stdin is not a terminal")
)

// session is a command's view of the config, the API client and streams.
type session struct {
	ios
	opts *options
	cfg  *Config
	c    *client.Client
	uaa  *client.UAA
	ts   *client.RefreshingTokenSource

	saveMu  sync.Mutex
	lineIn  *bufio.Reader
	warnOne sync.Once
}

// need says what a command requires of the target.
type need int

const (
	needAPI need = iota
	needOrg
	needSpace
)

// userAgent names the CLI in every request.
func userAgent() string {
	return "ingot/" + cliVersion()
}

// cliVersion is the module version or VCS revision the binary was built
// from.
func cliVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 7 {
			v += "+" + s.Value[:7]
		}
	}
	return v
}

// newSession loads the config and builds an API client whose token source
// refreshes (or logs in again with stored credentials) and saves tokens.
func newSession(cmd *cobra.Command, o *options, n need) (*session, error) {
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	s := &session{ios: cmdIO(cmd), opts: o, cfg: cfg}
	if cfg.API == "" {
		return nil, ErrNoAPI
	}
	if err := s.connect(); err != nil {
		return nil, err
	}
	switch {
	case n >= needOrg && cfg.OrgGUID == "":
		return nil, ErrNoOrgTargeted
	case n >= needSpace && cfg.SpaceGUID == "":
		return nil, ErrNoSpace
	}
	return s, nil
}

// connect (re)builds the client for s.cfg.API.
func (s *session) connect() error {
	httpClient := client.NewHTTPClient(s.cfg.SkipSSLValidation)
	user := ""
	if s.cfg.Password != "" {
		user = s.cfg.Username
	}
	s.uaa = client.NewUAA(s.cfg.API, httpClient, userAgent())
	s.ts = client.NewTokenSource(client.TokenSourceConfig{
		UAA:       s.uaa,
		Tokens:    client.Tokens{AccessToken: s.cfg.AccessToken, RefreshToken: s.cfg.RefreshToken},
		Username:  user,
		Password:  s.cfg.Password,
		OnRefresh: s.saveTokens,
		Now:       s.opts.now,
	})
	c, err := client.New(client.Config{
		APIURL:         s.cfg.API,
		Token:          s.ts,
		HTTP:           httpClient,
		UserAgent:      userAgent(),
		RequestTimeout: s.opts.requestTimeout,
		PollInterval:   s.opts.pollInterval,
		OnWarning:      func(w string) { fmt.Fprintf(s.errOut, "Warning: %s\n", w) },
	})
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

// saveTokens persists refreshed tokens.
func (s *session) saveTokens(t client.Tokens) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.cfg.AccessToken, s.cfg.RefreshToken = t.AccessToken, t.RefreshToken
	if err := SaveConfig(s.cfg); err != nil {
		fmt.Fprintf(s.errOut, "Warning: could not save tokens: %v\n", err)
	}
}

// save persists the config.
func (s *session) save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	return SaveConfig(s.cfg)
}

// user is the logged-in user's name.
func (s *session) user() string {
	s.saveMu.Lock()
	tok := s.cfg.AccessToken
	name := s.cfg.Username
	s.saveMu.Unlock()
	if n := client.TokenUserName(tok); n != "" {
		return n
	}
	if name != "" {
		return name
	}
	return "(unknown user)"
}

// where is "org O / space S as U".
func (s *session) where() string {
	return fmt.Sprintf("org %s / space %s as %s", s.cfg.OrgName, s.cfg.SpaceName, s.user())
}

// routerURL is INGOT_ROUTER_URL or the config's RouterURL.
func (s *session) routerURL() string {
	if v := os.Getenv("INGOT_ROUTER_URL"); v != "" {
		return v
	}
	return s.cfg.RouterURL
}

// app finds an app of the targeted space by name.
func (s *session) app(ctx context.Context, name string) (*client.App, error) {
	return s.c.GetAppByName(ctx, s.cfg.SpaceGUID, name)
}

// isTerminal tells whether r or w is an interactive terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// prompt reads one line after printing label; it needs a terminal.
func (s *session) prompt(label string) (string, error) {
	return promptLine(s.ios, &s.lineIn, label)
}

func promptLine(io ios, lineIn **bufio.Reader, label string) (string, error) {
	if !isTerminal(io.in) {
		return "", ErrNotTerminal
	}
	fmt.Fprint(io.out, label)
	if *lineIn == nil {
		*lineIn = bufio.NewReader(io.in)
	}
	line, err := (*lineIn).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// promptPassword reads a line without echo.
func promptPassword(io ios, label string) (string, error) {
	f, ok := io.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", ErrNotTerminal
	}
	fmt.Fprint(io.out, label)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(io.out)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// warnLogs prints a log-cache failure once per command.
func (s *session) warnLogs(err error) {
	s.warnOne.Do(func() {
		fmt.Fprintf(s.errOut, "Warning: failed to retrieve logs: %v\n", err)
	})
}

// out writes formatted output.
func (s *session) printf(format string, a ...any) {
	fmt.Fprintf(s.out, format, a...)
}

package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/pkg/client"
)

// Commands returns the server commands of the ingot binary: up and one
// per component.
func Commands() []*cobra.Command {
	return []*cobra.Command{upCommand(), controllerCommand(), deaCommand(), routerCommand(), healthmgrCommand(), brokerCommand()}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// ingotHome is $INGOT_HOME, default ~/.ingot.
func ingotHome() string {
	if h := os.Getenv("INGOT_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".ingot"
	}
	return filepath.Join(home, ".ingot")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

type logFlags struct{ level, format string }

func (l *logFlags) add(cmd *cobra.Command, format string) {
	cmd.Flags().StringVar(&l.level, "log-level", envOr("INGOT_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&l.format, "log-format", envOr("INGOT_LOG_FORMAT", format), "log format: text or json")
}

func upCommand() *cobra.Command {
	var (
		o        Options
		lf       logFlags
		home     string
		services []string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole platform on this machine",
		Long: `Run the whole platform in one process: embedded NATS, the Cloud Controller on
SQLite, a local blobstore, a DEA with its stager, the router and the health
manager. The CLI is configured to target it, so 'ingot push' works right away.

--backend auto (the default) runs every app instance and staging in a runc
container with hard limits when runc is installed, ingot runs as root and a
trial container starts; otherwise apps run as plain processes. ingot up says
which one it uses and why.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), lf.level, lf.format)
			if err != nil {
				return err
			}
			if o.DataDir == "" {
				o.DataDir = filepath.Join(home, "data")
			}
			if o.Services, err = parseServices(services); err != nil {
				return err
			}
			o.Log = log
			ctx, stop := signalContext()
			defer stop()
			start := time.Now()
			p, err := Start(ctx, o)
			if err != nil {
				return err
			}
			if err := ConfigureCLI(ctx, p); err != nil {
				_ = p.Stop()
				return fmt.Errorf("configure the CLI: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ingot is up (%.1fs)\n\n", time.Since(start).Seconds())
			fmt.Fprintf(out, "  API:       %s\n", p.APIURL)
			fmt.Fprintf(out, "  Router:    %s\n", p.RouterURL)
			fmt.Fprintf(out, "  Domain:    %s   (apps at http://NAME.%s%s)\n", p.Domain, p.Domain, portSuffix(p.RouterURL))
			fmt.Fprintf(out, "  Admin:     %s / %s\n", p.Admin.Username, p.Admin.Password)
			fmt.Fprintf(out, "  Data dir:  %s\n", o.DataDir)
			for _, b := range p.Backends {
				fmt.Fprintf(out, "  Backend:   %s (%s)\n", b.Kind, b.Reason)
			}
			if len(p.Services) > 0 {
				fmt.Fprintf(out, "  Services:  %s (see 'ingot marketplace')\n", strings.Join(p.Services, ", "))
			}
			fmt.Fprintln(out)
			fmt.Fprintf(out, "The CLI now targets this platform: try 'ingot push' in examples/go.\nPress Ctrl-C to stop.\n")
			p.Wait(ctx)
			fmt.Fprintln(out, "\nstopping: app instances and components are shutting down")
			return p.Stop()
		},
	}
	cmd.Flags().StringVar(&home, "home", ingotHome(), "ingot home ($INGOT_HOME)")
	cmd.Flags().StringVar(&o.DataDir, "data-dir", envOr("INGOT_DATA_DIR", ""), "data directory (default $INGOT_HOME/data)")
	cmd.Flags().StringVar(&o.APIAddr, "api-addr", envOr("INGOT_API_ADDR", DefaultAPIAddr), "API listen address")
	cmd.Flags().StringVar(&o.RouterAddr, "router-addr", envOr("INGOT_ROUTER_ADDR", DefaultRouterAddr), "router listen address")
	cmd.Flags().StringVar(&o.Domain, "domain", envOr("INGOT_DOMAIN", DefaultDomain), "shared apps domain")
	cmd.Flags().StringVar(&o.NATSURL, "nats", envOr("INGOT_NATS", ""), "external NATS URL (default: run an embedded server)")
	cmd.Flags().StringVar(&o.NATSAddr, "nats-addr", envOr("INGOT_NATS_ADDR", fmt.Sprintf("127.0.0.1:%d", 9222)), "embedded NATS listen address")
	cmd.Flags().IntVar(&o.DEAs, "deas", 1, "number of DEAs to run")
	cmd.Flags().StringArrayVar(&services, "service", nil, "run a built-in broker and put it in the marketplace: OFFERING=ADMIN_URL (postgres, mysql or redis; repeatable)")
	addPackageLimitFlags(cmd, &o.MaxPackageBytes, &o.MaxPackageFiles)
	addDropletsKeptFlag(cmd, &o.DropletsKept)
	cmd.Flags().StringVar(&o.Backend, "backend", envOr("INGOT_BACKEND", BackendAuto), "container backend: auto (runc if it works here, else process), runc or process")
	cmd.Flags().StringVar(&o.RuncPath, "runc", envOr("INGOT_RUNC", "runc"), "runc binary for the runc backend")
	lf.add(cmd, "text")
	return cmd
}

func portSuffix(u string) string {
	i := strings.LastIndex(u, ":")
	if i < 0 || strings.HasSuffix(u, ":80") {
		return ""
	}
	return u[i:]
}

// ConfigureCLI logs in as the admin and targets the default org and
// space, so the CLI needs no login step.
func ConfigureCLI(ctx context.Context, p *Platform) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := client.Login(ctx, p.APIURL, p.Admin.Username, p.Admin.Password)
	if err != nil {
		return err
	}
	cfg := &cli.Config{
		API: p.APIURL, Username: p.Admin.Username, Password: p.Admin.Password,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, RouterURL: p.RouterURL,
	}
	c, err := client.New(client.Config{APIURL: p.APIURL, Token: client.StaticToken(tok.AccessToken)})
	if err != nil {
		return err
	}
	org, err := c.GetOrgByName(ctx, "ingot")
	if err != nil {
		return err
	}
	space, err := c.GetSpaceByName(ctx, org.GUID, "dev")
	if err != nil {
		return err
	}
	cfg.OrgGUID, cfg.OrgName, cfg.SpaceGUID, cfg.SpaceName = org.GUID, org.Name, space.GUID, space.Name
	return cli.SaveConfig(cfg)
}

// componentCommand is `ingot NAME`: one component run alone against an
// external NATS until a signal arrives. start gets the command (for its
// output) and starts the component under p; each caller adds its flags.
func componentCommand(name, short string, natsURL *string, start func(cmd *cobra.Command, ctx context.Context, p *Platform, log *slog.Logger) error) *cobra.Command {
	var lf logFlags
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if *natsURL == "" {
				return errors.New("--nats is required (for example nats://127.0.0.1:4222)")
			}
			log, err := newLogger(cmd.ErrOrStderr(), lf.level, lf.format)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			runCtx, cancel := context.WithCancel(context.Background())
			p := &Platform{log: log, cancel: cancel}
			if err := start(cmd, runCtx, p, log); err != nil {
				_ = p.Stop()
				return err
			}
			log.Info("component-started", "component", name)
			p.Wait(ctx)
			return p.Stop()
		},
	}
	cmd.Flags().StringVar(natsURL, "nats", envOr("INGOT_NATS", ""), "NATS URL")
	lf.add(cmd, "json")
	return cmd
}

func controllerCommand() *cobra.Command {
	var o ControllerOptions
	cmd := componentCommand("controller", "Run the Cloud Controller alone, against an external NATS", &o.NATSURL,
		func(cmd *cobra.Command, ctx context.Context, p *Platform, log *slog.Logger) error {
			admin, first, err := loadOrCreateAdmin(o.DataDir)
			if err != nil {
				return err
			}
			if first {
				fmt.Fprintf(cmd.OutOrStdout(), "admin credentials: %s / %s\n", admin.Username, admin.Password)
			}
			o.Admin, o.Log = admin, log
			cc, err := StartController(ctx, p, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "controller listening at %s\n", cc.URL())
			return nil
		})
	cmd.Flags().StringVar(&o.DataDir, "data-dir", envOr("INGOT_DATA_DIR", filepath.Join(ingotHome(), "controller")), "data directory")
	cmd.Flags().StringVar(&o.ListenAddr, "api-addr", envOr("INGOT_API_ADDR", DefaultAPIAddr), "API listen address")
	cmd.Flags().StringVar(&o.Domain, "domain", envOr("INGOT_DOMAIN", DefaultDomain), "shared apps domain")
	cmd.Flags().StringVar(&o.RouterURL, "router-url", envOr("INGOT_ROUTER_URL", ""), "public router URL, shown to users")
	cmd.Flags().StringVar(&o.DatabaseURL, "database-url", envOr("INGOT_DATABASE_URL", ""), "PostgreSQL URL (default: SQLite in the data dir)")
	addPackageLimitFlags(cmd, &o.MaxPackageBytes, &o.MaxPackageFiles)
	addDropletsKeptFlag(cmd, &o.DropletsKept)
	addTokenFlags(cmd, &o)
	return cmd
}

func deaCommand() *cobra.Command {
	var o DEAOptions
	cmd := componentCommand("dea", "Run a DEA (execution agent, with its stager) against an external NATS", &o.NATSURL,
		func(cmd *cobra.Command, ctx context.Context, p *Platform, log *slog.Logger) error {
			if err := validBackend(o.Backend); err != nil {
				return fmt.Errorf("--backend: %w", err)
			}
			o.Log = log
			// This DEA stops alone (SIGTERM/SIGINT): evacuate its
			// instances to the other DEAs first.
			o.Evacuate = true
			if _, err := StartDEA(ctx, p, o); err != nil {
				return err
			}
			for _, b := range p.Backends {
				fmt.Fprintf(cmd.OutOrStdout(), "dea backend: %s (%s)\n", b.Kind, b.Reason)
			}
			return nil
		})
	cmd.Flags().StringVar(&o.DataDir, "data-dir", envOr("INGOT_DATA_DIR", filepath.Join(ingotHome(), "dea")), "data directory")
	cmd.Flags().StringVar(&o.Backend, "backend", envOr("INGOT_BACKEND", BackendAuto), "container backend: runc, process, or auto (runc if it works here, else process)")
	cmd.Flags().Int64Var(&o.StagingMemoryMB, "staging-memory-mb", 0, "staging container memory limit when the request sets none (default 1024)")
	cmd.Flags().Int64Var(&o.StagingDiskMB, "staging-disk-mb", 0, "staging container disk quota when the request sets none (default 4096)")
	cmd.Flags().StringVar(&o.RuncPath, "runc", envOr("INGOT_RUNC", "runc"), "runc binary for the runc backend")
	return cmd
}

func routerCommand() *cobra.Command {
	var o RouterOptions
	cmd := componentCommand("router", "Run a router against an external NATS", &o.NATSURL,
		func(cmd *cobra.Command, ctx context.Context, p *Platform, log *slog.Logger) error {
			o.Log = log
			rt, err := StartRouter(ctx, p, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "router listening at %s\n", httpURL(rt.Addr()))
			return nil
		})
	cmd.Flags().StringVar(&o.ListenAddr, "router-addr", envOr("INGOT_ROUTER_ADDR", DefaultRouterAddr), "listen address")
	return cmd
}

func healthmgrCommand() *cobra.Command {
	var o HealthManagerOptions
	cmd := componentCommand("healthmgr", "Run a health manager against an external NATS (several may run: one acts, the others stand by)", &o.NATSURL,
		func(_ *cobra.Command, ctx context.Context, p *Platform, log *slog.Logger) error {
			o.Log = log
			return StartHealthManager(ctx, p, o)
		})
	cmd.Flags().StringVar(&o.ID, "id", os.Getenv("INGOT_HM_ID"), "this health manager's name as a lease holder (default: random)")
	cmd.Flags().DurationVar(&o.LeaseTTL, "lease-ttl", 4*time.Second, "life of the acting lease; a standby takes over within it when the holder dies")
	return cmd
}

// addDropletsKeptFlag adds --droplets-kept: droplets per app kept for
// rollback.
func addDropletsKeptFlag(cmd *cobra.Command, n *int) {
	cmd.Flags().IntVar(n, "droplets-kept", int(envInt("INGOT_DROPLETS_KEPT", 5)), "staged droplets kept per app for 'ingot rollback' (the current one is always kept)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if *n < 1 {
			return fmt.Errorf("--droplets-kept must be at least 1")
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// addPackageLimitFlags adds the upload limits: the unpacked size of a
// package and its number of files.
func addPackageLimitFlags(cmd *cobra.Command, maxBytes *int64, maxFiles *int) {
	var mb int64
	cmd.Flags().Int64Var(&mb, "max-package-mb", envInt("INGOT_MAX_PACKAGE_MB", 1024), "largest unpacked app package, in MiB")
	cmd.Flags().IntVar(maxFiles, "max-package-files", int(envInt("INGOT_MAX_PACKAGE_FILES", 100000)), "most files in an app package")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if mb <= 0 || *maxFiles <= 0 {
			return fmt.Errorf("--max-package-mb and --max-package-files must be positive")
		}
		*maxBytes = mb << 20
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

func envInt(key string, def int64) int64 {
	if v := os.Getenv(key); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ingot-paas/ingot/internal/broker/mysql"
	"github.com/ingot-paas/ingot/internal/broker/postgres"
	"github.com/ingot-paas/ingot/internal/broker/redis"
)

// brokerCommand is `ingot broker postgres|mysql|redis`: one of the built-in
// Open Service Broker servers, standalone, usable by ingot or any other OSB
// platform (register it with `ingot create-service-broker NAME USER PASS
// URL`).
func brokerCommand() *cobra.Command {
	var (
		adminURL, listen, username, password, publicHost string
		publicPort                                       int
		lf                                               logFlags
	)
	cmd := &cobra.Command{
		Use:   "broker postgres|mysql|redis",
		Short: "Run a built-in service broker (Open Service Broker API 2.17)",
		Long: "Run a built-in service broker. postgres provisions a database per instance and a role per binding, " +
			"mysql a database per instance and a user per binding, redis an ACL user per binding restricted to the " +
			"instance's key prefix. --admin-url is the server the broker administers; --username and --password are " +
			"the broker's own basic-auth credentials (the password may also come from $INGOT_BROKER_PASSWORD).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"postgres", "mysql", "redis"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if adminURL == "" {
				return errors.New("--admin-url is required")
			}
			if username == "" || password == "" {
				return errors.New("--username and --password (or $INGOT_BROKER_PASSWORD) are required")
			}
			log, err := newLogger(cmd.ErrOrStderr(), lf.level, lf.format)
			if err != nil {
				return err
			}
			log = log.With("component", "broker-"+args[0])
			b, err := newBuiltinBroker(args[0], brokerOptions{listen: listen, adminURL: adminURL,
				username: username, password: password, publicHost: publicHost, publicPort: publicPort}, log)
			if err != nil {
				return fmt.Errorf("start %s broker: %w", args[0], err)
			}
			ctx, stop := signalContext()
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "%s broker listening at %s\n", args[0], b.URL())
			return b.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&adminURL, "admin-url", envOr("INGOT_BROKER_ADMIN_URL", ""), "URL of the database server the broker administers (with admin credentials)")
	cmd.Flags().StringVar(&listen, "listen", envOr("INGOT_BROKER_LISTEN", ""), "listen address (default 127.0.0.1:9201 postgres, :9202 mysql, :9203 redis)")
	cmd.Flags().StringVar(&username, "username", envOr("INGOT_BROKER_USERNAME", "broker"), "the broker's basic-auth username")
	cmd.Flags().StringVar(&password, "password", os.Getenv("INGOT_BROKER_PASSWORD"), "the broker's basic-auth password")
	cmd.Flags().StringVar(&publicHost, "public-host", "", "host put in credentials (default: the admin URL's host)")
	cmd.Flags().IntVar(&publicPort, "public-port", 0, "port put in credentials (default: the admin URL's port)")
	lf.add(cmd, "text")
	return cmd
}

// brokerRunner is a built-in broker.
type brokerRunner interface {
	Run(ctx context.Context) error
	URL() string
}

type brokerOptions struct {
	listen, adminURL, username, password, publicHost string
	publicPort                                       int
}

// newBuiltinBroker makes the postgres, mysql or redis broker.
func newBuiltinBroker(kind string, o brokerOptions, log *slog.Logger) (brokerRunner, error) {
	switch kind {
	case "postgres":
		return postgres.New(postgres.Config{ListenAddr: brokerAddrOr(o.listen, postgres.DefaultListenAddr), AdminURL: o.adminURL,
			Username: o.username, Password: o.password, PublicHost: o.publicHost, PublicPort: o.publicPort}, log)
	case "mysql":
		return mysql.New(mysql.Config{ListenAddr: brokerAddrOr(o.listen, mysql.DefaultListenAddr), AdminURL: o.adminURL,
			Username: o.username, Password: o.password, PublicHost: o.publicHost, PublicPort: o.publicPort}, log)
	case "redis":
		return redis.New(redis.Config{ListenAddr: brokerAddrOr(o.listen, redis.DefaultListenAddr), AdminURL: o.adminURL,
			Username: o.username, Password: o.password, PublicHost: o.publicHost, PublicPort: o.publicPort}, log)
	}
	return nil, fmt.Errorf("unknown broker %q: want postgres, mysql or redis", kind)
}

func brokerAddrOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

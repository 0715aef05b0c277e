package platform

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// addTokenFlags adds the controller's token lifetime and trusted proxy
// flags.
func addTokenFlags(cmd *cobra.Command, o *ControllerOptions) {
	var proxies []string
	fl := cmd.Flags()
	fl.DurationVar(&o.AccessTokenTTL, "access-token-ttl", envDuration("INGOT_ACCESS_TOKEN_TTL", 10*time.Minute), "lifetime of access tokens (at least 2m)")
	fl.DurationVar(&o.RefreshTokenTTL, "refresh-token-ttl", envDuration("INGOT_REFRESH_TOKEN_TTL", 7*24*time.Hour), "lifetime of refresh tokens")
	fl.StringSliceVar(&proxies, "trusted-proxy", nil, "address or CIDR of a proxy whose X-Forwarded-For login throttling believes (repeatable)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		o.TrustedProxies = o.TrustedProxies[:0]
		for _, p := range proxies {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				a, aerr := netip.ParseAddr(p)
				if aerr != nil {
					return fmt.Errorf("--trusted-proxy %q: not an address or CIDR", p)
				}
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
			o.TrustedProxies = append(o.TrustedProxies, pfx.Masked())
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

func envDuration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}

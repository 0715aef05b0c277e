package platform

import (
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestTokenFlags(t *testing.T) {
	var o ControllerOptions
	ran := false
	cmd := &cobra.Command{Use: "controller", RunE: func(*cobra.Command, []string) error { ran = true; return nil }}
	addTokenFlags(cmd, &o)
	cmd.SetArgs([]string{"--access-token-ttl", "5m", "--trusted-proxy", "10.1.2.3/8", "--trusted-proxy", "192.0.2.1"})
	if err := cmd.Execute(); err != nil || !ran {
		t.Fatalf("execute: %v", err)
	}
	if o.AccessTokenTTL != 5*time.Minute || o.RefreshTokenTTL != 7*24*time.Hour {
		t.Fatalf("ttls: %v %v", o.AccessTokenTTL, o.RefreshTokenTTL)
	}
	if len(o.TrustedProxies) != 2 || o.TrustedProxies[0].String() != "10.0.0.0/8" || o.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Fatalf("proxies: %v", o.TrustedProxies)
	}
	cmd = &cobra.Command{Use: "controller", RunE: func(*cobra.Command, []string) error { return nil }}
	addTokenFlags(cmd, &o)
	cmd.SetArgs([]string{"--trusted-proxy", "not-an-address"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil {
		t.Fatal("a bad proxy was accepted")
	}
}

func TestDropletsKeptFlag(t *testing.T) {
	run := func(args ...string) (int, error) {
		var n int
		cmd := &cobra.Command{Use: "controller", RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		addDropletsKeptFlag(cmd, &n)
		cmd.SetArgs(args)
		return n, cmd.Execute()
	}
	if n, err := run(); err != nil || n != 5 {
		t.Fatalf("default: %d %v", n, err)
	}
	if n, err := run("--droplets-kept", "9"); err != nil || n != 9 {
		t.Fatalf("--droplets-kept 9: %d %v", n, err)
	}
	if _, err := run("--droplets-kept", "0"); err == nil {
		t.Fatal("--droplets-kept 0 was accepted")
	}
}

package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/pkg/client"
)

// parseServices reads --service flags: OFFERING=ADMIN_URL, where OFFERING
// is postgres, mysql or redis.
func parseServices(specs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range specs {
		kind, url, ok := strings.Cut(s, "=")
		switch {
		case !ok || url == "":
			return nil, fmt.Errorf("--service %q: want OFFERING=ADMIN_URL, for example postgres=postgres://postgres@127.0.0.1:5432/postgres", s)
		case kind != "postgres" && kind != "mysql" && kind != "redis":
			return nil, fmt.Errorf("--service %q: the built-in brokers are postgres, mysql and redis", s)
		case out[kind] != "":
			return nil, fmt.Errorf("--service %s given twice", kind)
		}
		out[kind] = url
	}
	return out, nil
}

// startServices runs a built-in broker for each configured server and
// registers it with the controller (as "ingot-<offering>"), updating the
// registration of an earlier run, so its offering is in the marketplace.
func startServices(ctx, runCtx context.Context, p *Platform, services map[string]string, o Options) error {
	if len(services) == 0 {
		return nil
	}
	tok, err := client.Login(ctx, p.APIURL, p.Admin.Username, p.Admin.Password)
	if err != nil {
		return fmt.Errorf("log in to register brokers: %w", err)
	}
	api, err := client.New(client.Config{APIURL: p.APIURL, Token: client.StaticToken(tok.AccessToken)})
	if err != nil {
		return err
	}
	kinds := make([]string, 0, len(services))
	for k := range services {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		secret := make([]byte, 16)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		user, pass := "ingot", hex.EncodeToString(secret)
		b, err := newBuiltinBroker(kind, brokerOptions{listen: "127.0.0.1:0", adminURL: services[kind], username: user, password: pass},
			o.Log.With("component", "broker-"+kind))
		if err != nil {
			return fmt.Errorf("%s broker: %w", kind, err)
		}
		p.run("broker-"+kind, b.Run, runCtx)
		name := "ingot-" + kind
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		existing, err := api.GetServiceBrokerByName(rctx, name)
		switch {
		case err == nil:
			err = api.UpdateServiceBroker(rctx, existing.GUID, "", b.URL(), user, pass)
		case client.IsNotFound(err):
			err = api.CreateServiceBroker(rctx, name, b.URL(), user, pass)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("register the %s broker: %w", kind, err)
		}
		p.Services = append(p.Services, kind)
	}
	return nil
}

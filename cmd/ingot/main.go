// Command ingot is both the platform (ingot up, ingot controller, ingot
// dea, ingot router, ingot healthmgr) and its CLI (ingot push, ...).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/internal/platform"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, cli.NewRootCommand(platform.Commands()...))
	stop()
	os.Exit(code)
}

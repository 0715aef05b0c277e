// Command ingot is both the platform (ingot up, ingot controller, ingot
// dea, ingot router, ingot healthmgr) and its CLI (ingot push, ...).
package main

import (
	"os"

	"github.com/ingot-paas/ingot/internal/cli"
	"github.com/ingot-paas/ingot/internal/platform"
)

func main() {
	root := cli.NewRootCommand(platform.Commands()...)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}

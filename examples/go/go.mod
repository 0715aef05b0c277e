module github.com/ingot-paas/ingot/examples/go-hello

go 1.22

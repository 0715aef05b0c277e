module github.com/ingot-paas/ingot/examples/binary-hello

go 1.22

// Command kubectl-scrutin is a kubectl plugin for Scrutin's Elections: create one
// from flags and a roll file (checked line by line first), follow its status and
// turnout, read its results, move its schedule, export participation as a
// scrutineer and verify its audit log.
//
//	go install scrutin.dev/scrutin/cmd/kubectl-scrutin@latest
//	kubectl scrutin --help
//
// It honours kubectl's connection flags (--kubeconfig, --context, -n/--namespace,
// --as, ...) and $KUBECONFIG. See README.md in this directory.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

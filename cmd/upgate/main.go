// Command upgate gates Kubernetes cluster upgrades on policy.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/upgate-dev/upgate/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

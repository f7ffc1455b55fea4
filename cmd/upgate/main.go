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
	// The first signal cancels ctx: run finishes the step in hand and
	// writes its record. A second one kills upgate at once, as usual.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

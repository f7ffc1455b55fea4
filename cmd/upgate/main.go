// Command upgate gates Kubernetes cluster upgrades on policy.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/upgate-dev/upgate/cli"
)

func main() {
	// The first SIGINT or SIGTERM cancels the command; a second one exits
	// at once (cli.NotifyContext).
	ctx, stop := cli.NotifyContext(context.Background(), filepath.Base(os.Args[0]), os.Stderr, os.Exit)
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

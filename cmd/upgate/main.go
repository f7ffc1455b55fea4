// Command upgate gates Kubernetes cluster upgrades on policy.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/upgate-dev/upgate/cli"
)

func main() {
	// The first SIGINT or SIGTERM cancels ctx: run finishes the step in
	// hand and writes its record. A second one exits at once, exit 3 with
	// one line on stderr (cli.NotifyContext).
	ctx, stop := cli.NotifyContext(context.Background(), filepath.Base(os.Args[0]), os.Stderr, os.Exit)
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command upgate gates Kubernetes cluster upgrades on policy.
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/grpc/grpclog"

	"github.com/upgate-dev/upgate/cli"
)

func main() {
	// gRPC (the etcd client's transport) logs each failed connection
	// attempt on stderr; upgate says what failed in its own one line.
	// GRPC_GO_LOG_SEVERITY_LEVEL brings gRPC's logs back for debugging.
	if os.Getenv("GRPC_GO_LOG_SEVERITY_LEVEL") == "" {
		grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, io.Discard))
	}
	// The first SIGINT or SIGTERM cancels ctx: run finishes the step in
	// hand and writes its record. A second one exits at once, exit 3 with
	// one line on stderr (cli.NotifyContext).
	ctx, stop := cli.NotifyContext(context.Background(), filepath.Base(os.Args[0]), os.Stderr, os.Exit)
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

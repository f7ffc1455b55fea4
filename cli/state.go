package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/upgate-dev/upgate/collector"
	"github.com/upgate-dev/upgate/inventory"
)

// loadState reads the cluster state a command evaluates: the --from files
// when given, else the live cluster through kubectl's connection flags.
func (a *app) loadState(ctx context.Context, cfg *Config) (*inventory.Inventory, error) {
	if len(cfg.From) > 0 {
		inv, err := inventory.ReadContext(ctx, cfg.From, a.streams.In, readOptions(cfg))
		if err != nil {
			return nil, err
		}
		inv.RoleSelectors = cfg.RoleSelectors
		return inv, nil
	}
	return a.collect(ctx, cfg)
}

func (a *app) collect(ctx context.Context, cfg *Config) (*inventory.Inventory, error) {
	opts := collector.Options{Timeout: cfg.Timeout, NodeStats: cfg.NodeStats}
	if a.log.Enabled(ctx, slog.LevelDebug) {
		opts.Progress = a.streams.ErrOut
	}
	if a.seams.clientset != nil {
		cs, err := a.seams.clientset()
		if err != nil {
			return nil, runtimeErrorf("cannot reach a cluster: %s", oneLine(err))
		}
		inv, err := collector.NewForClient(cs, opts).Collect(ctx)
		if err != nil {
			return nil, err
		}
		inv.RoleSelectors = cfg.RoleSelectors
		return inv, nil
	}
	rc, err := a.kube.ToRESTConfig()
	if err != nil {
		// No kubeconfig and not in a pod: say how to point upgate somewhere.
		return nil, runtimeErrorf("cannot reach a cluster: %s (pass --kubeconfig or --context, or read files with --from)", oneLine(err))
	}
	if cfg.Timeout > 0 {
		rc.Timeout = cfg.Timeout
	}
	// run's gate and validation read through retries too (check's
	// config leaves APIRetryTimeout zero: a CI gate reports at once).
	a.retryAPI(rc, cfg)
	c, err := collector.New(rc, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", collector.ErrCollect, err)
	}
	start := time.Now()
	inv, err := c.Collect(ctx)
	if err != nil {
		return nil, err
	}
	inv.RoleSelectors = cfg.RoleSelectors
	a.log.Debug("collected cluster state", "seconds", time.Since(start).Seconds(), "nodes", len(inv.Nodes), "pods", len(inv.Pods))
	return inv, nil
}

// nodeStatsUsage is the help of --node-stats for the commands where it is
// off by default.
const nodeStatsUsage = "also read each node's kubelet stats summary (root filesystem free bytes, for health.node-disk-free) through the API server's node proxy: needs get on nodes/proxy, which the checker's read-only RBAC has not"

func readOptions(cfg *Config) inventory.ReadOptions {
	return inventory.ReadOptions{MaxBytes: cfg.MaxInputSize}
}

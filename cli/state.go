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
	c, err := a.collector(ctx, cfg)
	if err != nil {
		return nil, err
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

// watch starts the watched state run's gates and validations read: every
// kind listed once, then kept by informers until Stop. Its state func
// reads it as collect reads the cluster, without listing, once the watch
// holds node as it is now (the node the executor has just changed).
func (a *app) watch(ctx context.Context, cfg *Config) (*collector.Watched, func(ctx context.Context, node string) (*inventory.Inventory, error), error) {
	c, err := a.collector(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	w, err := c.Watch(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.log.Debug("watching cluster state", "seconds", time.Since(start).Seconds())
	state := func(ctx context.Context, node string) (*inventory.Inventory, error) {
		inv, err := w.Inventory(ctx, node)
		if err != nil {
			return nil, err
		}
		inv.RoleSelectors = cfg.RoleSelectors
		return inv, nil
	}
	return w, state, nil
}

// collector builds the live cluster's collector through kubectl's
// connection flags (or the tests' clientset).
func (a *app) collector(ctx context.Context, cfg *Config) (*collector.Collector, error) {
	opts := collector.Options{Timeout: cfg.Timeout, NodeStats: cfg.NodeStats}
	if a.log.Enabled(ctx, slog.LevelDebug) {
		opts.Progress = a.streams.ErrOut
	}
	if a.seams.clientset != nil {
		cs, err := a.seams.clientset()
		if err != nil {
			return nil, runtimeErrorf("cannot reach a cluster: %s", oneLine(err))
		}
		return collector.NewForClient(cs, opts), nil
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
	return c, nil
}

// nodeStatsUsage is the help of --node-stats for the commands where it is
// off by default.
const nodeStatsUsage = "also read each node's kubelet stats summary (root filesystem free bytes, for health.node-disk-free) through the API server's node proxy: needs get on nodes/proxy, which the checker's read-only RBAC has not"

func readOptions(cfg *Config) inventory.ReadOptions {
	return inventory.ReadOptions{MaxBytes: cfg.MaxInputSize}
}

package cli

import (
	"bytes"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/reports"
)

func (a *app) planCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan --target VERSION",
		Short: "Show the staged plan: hops, stages, node order and per-node blockers",
		Long: `Show how upgate would upgrade the cluster to --target: the minor-version
hops (a target more than one minor ahead, path.minor-skip, becomes a hop per
minor; an intermediate hop goes to the newest patch of its minor that the
release data knows, else its .0), and in each hop the stages (etcd backup,
etcd, control plane, cloud controller manager, workers, add-ons), the nodes
it upgrades in order, and the blocking findings about each node. Etcd and
control-plane nodes move in every hop; a worker only when staying behind
would leave its kubelet outside the skew policy in the next hop (3 minors
behind kube-apiserver, 2 below 1.25), and always in the last hop.

--format json writes the Plan report (apiVersion upgate.dev/v1alpha1, kind
Plan): currentVersion, targetVersion, verdict, hops with their stages and
nodes (name, roles, skip, blockers as check IDs), findings. --partial-ok
marks flagged workers skip: true; a flagged etcd or control-plane node (or
a flagged worker that must move before the last hop) still blocks.

Exit 0 when nothing blocks, 1 when a finding blocks, 2 for bad input, 3 for
a cluster or runtime failure.`,
		Example: `  upgate plan --target v1.36
  upgate plan --from snapshot.json --target 1.37 --format json
  upgate plan --target v1.37 --partial-ok`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			if cfg.Format != "text" && cfg.Format != "json" {
				return usageErrorf("--format: plan prints text or json, not %q", cfg.Format)
			}
			_, p, err := a.plan(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if cfg.Format == "json" {
				err = p.WriteJSON(&buf)
			} else {
				err = p.WriteText(&buf)
			}
			if err != nil {
				return err
			}
			if err := a.writeOutput(cfg.Output, buf.Bytes()); err != nil {
				return err
			}
			if p.Blocked {
				return blockedf("findings block the plan to %s; upgate check --target %s gives the way out of each", p.TargetVersion, p.TargetVersion)
			}
			return nil
		},
	}
	addCheckFlags(cmd.Flags())
	cmd.Flags().Bool("partial-ok", false, "plan to skip flagged workers (skip: true); a flagged etcd or control-plane node still blocks")
	cmd.Flags().Bool("node-stats", false, nodeStatsUsage)
	return cmd
}

// plan evaluates the policies and orders the upgrade with the findings of
// scope run: those that stop the run before it starts. A skipped minor
// (path.minor-skip, scope hop) is what the plan's hops answer: it does not
// block the plan the way it blocks a direct upgrade. A finding of scope
// node only waits for its node's gate.
func (a *app) plan(ctx context.Context, cfg *Config) (*evaluation, *executor.Plan, error) {
	ev, err := a.evaluate(ctx, cfg, reports.PhasePreflight)
	if err != nil {
		return nil, nil, err
	}
	// The plan is judged on the checks of scope run: path.minor-skip is
	// of scope hop, since the plan turns a skipped minor into hops.
	findings := ev.result.InScope(reports.ScopeRun)
	rules, err := hopRules()
	if err != nil {
		return nil, nil, err
	}
	opts := executor.PlanOptions{Rules: rules, PartialOK: cfg.PartialOK}
	return ev, executor.NewPlan(ev.inv, ev.current, ev.target, targetString(cfg.Target, ev.target), findings, opts), nil
}

// hopRules are the release facts of the embedded policies that plan hops.
func hopRules() (executor.HopRules, error) {
	f, err := policies.LoadFacts()
	if err != nil {
		return executor.HopRules{}, fmt.Errorf("%w: %v", policies.ErrInvalidPolicy, err)
	}
	n := f.Skew.Node
	return executor.HopRules{
		LatestPatch:                 f.Releases.LatestPatch,
		KubeletMaxMinorsOlder:       n.MaxMinorsOlder,
		KubeletLegacyBelowMinor:     n.LegacyBelowMinor,
		KubeletLegacyMaxMinorsOlder: n.LegacyMaxMinorsOlder,
	}, nil
}

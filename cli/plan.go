package cli

import (
	"bytes"
	"context"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/reports"
)

func (a *app) planCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan --target VERSION",
		Short: "Show the staged plan: hops, stages, node order and per-node blockers",
		Long: `Show how upgate would upgrade the cluster to --target: the minor-version
hops (path.minor-skip becomes a hop each), the stages (etcd backup, etcd,
control plane, cloud controller manager, workers, add-ons), the order of
nodes in each stage, and the blocking findings about each node.

Exit 0 when nothing blocks, 1 when a finding blocks, 2 for bad input, 3 for
a cluster or runtime failure.`,
		Example: `  upgate plan --target v1.36
  upgate plan --from snapshot.json --target 1.37 --format json`,
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
	findings := ev.result.InScope(reports.ScopeRun)
	return ev, executor.NewPlan(ev.inv, ev.current, ev.target, targetString(cfg.Target, ev.target), findings), nil
}

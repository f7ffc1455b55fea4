package cli

import (
	"bytes"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
	"github.com/upgate-dev/upgate/policies"
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
	ev, err := a.evaluate(ctx, cfg, finding.PhasePreflight)
	if err != nil {
		return nil, nil, err
	}
	// The plan is judged on the checks of scope run: path.minor-skip is
	// of scope hop, since the plan turns a skipped minor into hops.
	findings := ev.result.InScope(finding.ScopeRun)
	rules, err := hopRules()
	if err != nil {
		return nil, nil, err
	}
	opts := executor.PlanOptions{Rules: rules, PartialOK: cfg.PartialOK}
	label := targetString(cfg.Target, ev.target)
	p := executor.NewPlan(ev.inv, ev.current, ev.target, label, findings, opts)
	if len(p.Hops) < 2 {
		return ev, p, nil
	}
	// Several hops: the checks of scope hop judge each hop on the state
	// it starts from against its own version, not today's state against
	// the final target (a kubelet three minors behind the target is not
	// too old when a hop moves it on the way).
	hopFindings, err := judgeHops(ctx, cfg, ev, p)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range findings {
		if !f.In(finding.ScopeHop) {
			hopFindings = append(hopFindings, f)
		}
	}
	return ev, executor.NewPlan(ev.inv, ev.current, ev.target, label, hopFindings, opts), nil
}

// judgeHops evaluates the policies once per hop of p, on the state the hop
// starts from (executor.AtHop) against the hop's version, and returns the
// findings of scope hop, each message saying which hop it is about. A
// finding that fires in several hops is kept once, from the first.
func judgeHops(ctx context.Context, cfg *Config, ev *evaluation, p *executor.Plan) ([]finding.Finding, error) {
	var out []finding.Finding
	seen := map[string]bool{}
	for i, h := range p.Hops {
		target, err := kubever.Parse(h.To)
		if err != nil {
			return nil, fmt.Errorf("hop %d (%s → %s): %w", i+1, h.From, h.To, err)
		}
		hcfg := *cfg
		hcfg.ServerVersion = ""
		err = executor.AtHop(ev.inv, p, i, func(inv *inventory.Inventory) error {
			if i > 0 {
				// The hop starts with the control plane at its From.
				hcfg.ServerVersion = h.From
			}
			hev, err := judge(ctx, &hcfg, ev.engine, inv, target, finding.PhasePreflight, nil)
			if err != nil {
				return err
			}
			for _, f := range hev.result.InScope(finding.ScopeHop) {
				if f.Severity == finding.SeverityInfo {
					continue // "already at" a catch-up hop's version says nothing
				}
				key := f.Check + "\x00" + f.Node + "\x00" + f.Subject.String()
				if seen[key] {
					continue
				}
				seen[key] = true
				f.Message = fmt.Sprintf("hop %d of %d (%s → %s): %s", i+1, len(p.Hops), h.From, h.To, f.Message)
				out = append(out, f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
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

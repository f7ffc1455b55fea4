package cli

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/reports"
)

func (a *app) runCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --target VERSION",
		Short: "Run the gated, staged upgrade (etcd backup, etcd, control plane, CCM, workers, add-ons)",
		Long: `Run the staged upgrade to --target while the policies pass: per node, gate
(policies for that node), cordon, drain through the eviction API (PDBs
respected), upgrade through the node driver, wait Ready at the target,
uncordon, validate. One executor runs at a time (a Lease); progress is
recorded in node annotations under upgate.dev/ and a later run resumes it.

This build executes --dry-run only: it gates and prints the steps it would
take. Without --dry-run it stops with exit 3 before changing anything,
because no node upgrade driver is configured.`,
		Example: `  upgate run --target v1.36 --dry-run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			switch cfg.Mode {
			case "online":
			case "offline":
				// Offline upgrades take the workloads down anyway: the safety
				// table guards online drains only.
				cfg.IgnoreSafetyChecks = true
			default:
				return usageErrorf("--mode: %q is not online or offline", cfg.Mode)
			}
			ev, err := a.evaluate(cmd.Context(), cfg, reports.PhasePreflight)
			if err != nil {
				return err
			}
			var findings []reports.Finding
			for _, f := range ev.result.Findings {
				if f.Check != "path.minor-skip" {
					findings = append(findings, f)
				}
			}
			p := executor.NewPlan(ev.inv, ev.current, ev.target, targetString(cfg.Target, ev.target), findings)
			if cfg.PartialOK {
				if err := executor.RefusePartial(p); err != nil {
					return usageError(err)
				}
			}
			var buf bytes.Buffer
			if err := executor.WriteSteps(&buf, p, executor.StepOptions{PartialOK: cfg.PartialOK, MaxUnavailable: cfg.MaxUnavailable}); err != nil {
				return err
			}
			if _, err := a.streams.Out.Write(buf.Bytes()); err != nil {
				return err
			}
			if executor.Gated(p, cfg.PartialOK) {
				return errBlocked
			}
			if !cfg.DryRun {
				return runtimeErrorf("no node upgrade driver is configured in this build: nothing was changed (use --dry-run to see the steps)")
			}
			_, err = fmt.Fprintln(a.streams.Out, "Dry run: nothing was changed.")
			return err
		},
	}
	addCheckFlags(cmd.Flags())
	f := cmd.Flags()
	f.Bool("dry-run", false, "gate and print the steps without changing the cluster")
	f.String("mode", "online", "online (drain and keep workloads up) or offline (skips safety checks)")
	f.Bool("partial-ok", false, "skip flagged workers and upgrade the rest; refused if an etcd or control-plane node is flagged")
	return cmd
}

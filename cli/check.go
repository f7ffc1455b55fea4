package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/reports"
	"github.com/upgate-dev/upgate/signing"
)

func (a *app) checkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check --target VERSION",
		Short: "Evaluate the upgrade policies; the exit code is the gate",
		Long: `Evaluate the version-skew, upgrade-path, safety, health, API and webhook
policies against the live cluster (or --from files) for an upgrade to
--target, print the findings, and exit 0 (passed), 1 (blocked), 2 (bad
input) or 3 (cluster or runtime failure).

A finding is ignored (reported, never blocking) when the annotation
upgate.dev/ignore: "CHECK,CHECK" (or "*") is on its subject, the subject's
controlling workload, its node or its namespace, or when a config-file
exception matches it. --ignore-safety-checks lets no safety.* finding block.

--phase postflight --baseline PRE compares the state after the upgrade with
PRE (a snapshot, manifests, or a JSON report that recorded its snapshot).

--from reads regular files, directories of them and stdin (-); a FIFO or a
device is refused, and all inputs together may hold at most
--max-input-size (default 4Gi). Bad input, exit 2: state with no Node
(nothing to judge), a target more than 10 minors above the current
version, an object that names a member twice (kind and Kind).`,
		Example: `  upgate check --target v1.36
  upgate check --from cluster-dump.yaml --target 1.36 --format junit --output report.xml
  kubectl get nodes,pods,deploy,rs,sts,ds,pdb -A -o yaml | upgate check --from - --target v1.36
  upgate check --target v1.36 --format json --output report.json --sign-key cosign.key
  upgate check --phase postflight --baseline before.json --target v1.36`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			return a.check(cmd.Context(), cfg)
		},
	}
	addCheckFlags(cmd.Flags())
	cmd.Flags().String("phase", string(finding.PhasePreflight), "preflight (before the upgrade) or postflight (after it, with --baseline)")
	cmd.Flags().String("baseline", "", "postflight: the state before the upgrade (snapshot, manifests or a JSON report with its snapshot)")
	cmd.Flags().Bool("embed-snapshot", false, "json format: record the evaluated state in the report, so it can serve as a --baseline")
	cmd.Flags().Bool("node-stats", false, nodeStatsUsage)
	return cmd
}

// addCheckFlags adds the flags check, plan, run and serve share.
func addCheckFlags(f *pflag.FlagSet) {
	f.String("target", "", "target Kubernetes version: 1.36, v1.36 or v1.36.2 (required)")
	f.StringSlice("from", nil, "read manifests or snapshots instead of the live cluster (repeatable; file, directory or - for stdin)")
	addMaxInputSizeFlag(f)
	f.String("server-version", "", "current control-plane version, overriding what the input says")
	f.String("format", "text", "output format: text, json, junit or markdown")
	f.String("output", "", "write the report to this file instead of stdout (whole or not at all)")
	f.StringSlice("policy-dir", nil, "directory of extra Rego policies (packages under upgate.*, type-checked against the input schema policies/schema/input.json), repeatable")
	addPolicyBundleFlags(f)
	f.Bool("ignore-safety-checks", false, "run safety.* checks but let none of them block")
	f.String("sign-key", "", "cosign private key: also write OUTPUT.sig (password in COSIGN_PASSWORD)")
	f.Duration("timeout", 0, "limit for each API call (0: no limit beyond the command's)")
	f.Int("max-unavailable", 1, "nodes drained at once, for the drain-capacity check")
}

// addMaxInputSizeFlag adds the bound on what --from reads.
func addMaxInputSizeFlag(f *pflag.FlagSet) {
	f.String("max-input-size", resource.NewQuantity(inventory.DefaultMaxInputBytes, resource.BinarySI).String(),
		"most bytes --from (and --baseline) may read, all inputs together: a larger input is refused (exit 2)")
}

// evaluation is one policy run and what it was computed from.
type evaluation struct {
	inv     *inventory.Inventory
	current *version.Version
	target  *version.Version
	from    string
	engine  *policies.Engine
	result  *policies.Result
}

// evaluate reads the state and runs the policies, ignores applied.
func (a *app) evaluate(ctx context.Context, cfg *Config, phase finding.Phase) (*evaluation, error) {
	return a.evaluateWith(ctx, cfg, phase, nil)
}

// evaluateWith is evaluate with the policies already compiled (serve
// compiles them once, not every interval); nil compiles them.
func (a *app) evaluateWith(ctx context.Context, cfg *Config, phase finding.Phase, engine *policies.Engine) (*evaluation, error) {
	return a.evaluateFrom(ctx, cfg, phase, engine, nil)
}

// evaluateFrom is evaluateWith on the state load reads (nil: loadState,
// the --from files or the live cluster listed).
func (a *app) evaluateFrom(ctx context.Context, cfg *Config, phase finding.Phase, engine *policies.Engine,
	load func(ctx context.Context) (*inventory.Inventory, error)) (*evaluation, error) {
	if err := requireTarget(cfg); err != nil {
		return nil, err
	}
	target, err := kubever.Parse(cfg.Target)
	if err != nil {
		return nil, usageErrorf("--target: %s", oneLine(err))
	}
	if cfg.MaxUnavailable < 1 {
		return nil, usageErrorf("--max-unavailable must be at least 1")
	}
	var baseline *inventory.Inventory
	switch phase {
	case finding.PhasePreflight:
		if cfg.Baseline != "" {
			return nil, usageErrorf("--baseline needs --phase postflight")
		}
	case finding.PhasePostflight:
		if cfg.Baseline == "" {
			return nil, usageErrorf("--phase postflight needs --baseline (the snapshot or report taken before the upgrade)")
		}
		if baseline, err = inventory.ReadContext(ctx, []string{cfg.Baseline}, a.streams.In, readOptions(cfg)); err != nil {
			return nil, fmt.Errorf("--baseline: %w", err)
		}
		if len(baseline.Nodes) == 0 {
			return nil, usageErrorf("--baseline %s holds no Node: nothing to compare against", cfg.Baseline)
		}
		baseline.RoleSelectors = cfg.RoleSelectors
	default:
		return nil, usageErrorf("--phase: %q is not preflight or postflight", cfg.Phase)
	}
	if engine == nil {
		opts, _, err := readPolicies(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if engine, err = policies.New(ctx, opts); err != nil {
			return nil, err
		}
	}
	if load == nil {
		load = func(ctx context.Context) (*inventory.Inventory, error) { return a.loadState(ctx, cfg) }
	}
	inv, err := load(ctx)
	if err != nil {
		return nil, err
	}
	return judge(ctx, cfg, engine, inv, target, phase, baseline)
}

// judge evaluates the policies on state already read and applies the
// ignores: the one path from state to findings that check, plan, serve
// and run's per-node gates share.
func judge(ctx context.Context, cfg *Config, engine *policies.Engine, inv *inventory.Inventory,
	target *version.Version, phase finding.Phase, baseline *inventory.Inventory) (*evaluation, error) {
	return judgeNode(ctx, cfg, engine, inv, target, phase, baseline, "", nil)
}

// judgeNode is judge for one node's gate (preflight) or validation
// (postflight) when node is set: the engine evaluates only what can stop
// or fail that node, on the input restricted to it (policies.Request.Node).
// memo, when not nil, is the run's policies.Memo: inv shares its objects
// with the states judged before it (the watched state).
func judgeNode(ctx context.Context, cfg *Config, engine *policies.Engine, inv *inventory.Inventory,
	target *version.Version, phase finding.Phase, baseline *inventory.Inventory, node string, memo *policies.Memo) (*evaluation, error) {
	if len(inv.Nodes) == 0 {
		// No node, no upgrade to judge: passing would vouch for a cluster
		// nobody looked at (an empty List, a file of ConfigMaps).
		if len(cfg.From) > 0 {
			return nil, usageErrorf("--from holds no Node: nothing to judge (%d other objects); add the nodes to the input (kubectl get nodes -o yaml)", objects(inv))
		}
		return nil, usageErrorf("the cluster has no Node: nothing to judge")
	}
	current, from, err := inv.CurrentVersion(cfg.ServerVersion)
	if err != nil {
		return nil, err
	}
	// Before any policy runs: a target no upgrade path reaches (v1.2000000000)
	// is a typo, not a plan of a billion hops. Hops start from the oldest
	// kube-apiserver when one is behind (a run stopped mid-hop): the gap
	// counts from there too.
	start := current
	for _, c := range inv.Components() {
		if c.Name == inventory.ComponentAPIServer && c.Known() && c.Version.LessThan(start) {
			start = c.Version
		}
	}
	if err := kubever.CheckGap(start, target); err != nil {
		return nil, usageErrorf("--target: %s", oneLine(err))
	}
	res, err := engine.Evaluate(ctx, policies.Request{
		Inventory: inv, Current: current, Target: target, Phase: phase,
		Baseline: baseline, MaxUnavailable: cfg.MaxUnavailable, Node: node, Memo: memo,
		Underway: executor.Underway(inv),
	})
	if err != nil {
		return nil, err
	}
	policies.ApplyIgnores(res.Findings, inv, policies.IgnoreOptions{
		IgnoreSafetyChecks: cfg.IgnoreSafetyChecks, Exceptions: cfg.Exceptions,
	})
	return &evaluation{inv: inv, current: current, target: target, from: from, engine: engine, result: res}, nil
}

// objects counts what an inventory holds.
func objects(inv *inventory.Inventory) int {
	n := 0
	for _, c := range inv.Counts() {
		n += c
	}
	return n
}

func (a *app) check(ctx context.Context, cfg *Config) error {
	format, err := reports.ParseFormat(cfg.Format)
	if err != nil {
		return usageErrorf("--format: %s", oneLine(err))
	}
	if cfg.SignKey != "" && (cfg.Output == "" || cfg.Output == "-") {
		return usageErrorf("--sign-key needs --output FILE: the signature is written to FILE.sig")
	}
	phase := finding.Phase(cfg.Phase)
	if phase == "" {
		phase = finding.PhasePreflight
	}
	ev, err := a.evaluate(ctx, cfg, phase)
	if err != nil {
		return err
	}
	rep, err := a.report(ev, cfg, phase)
	if err != nil {
		return err
	}
	if len(rep.Input.Gaps) > 0 {
		// One line, apart from the one a failure prints.
		fmt.Fprintf(a.streams.ErrOut, "upgate: warning: %s\n", reports.GapsLine(rep.Input.Gaps))
	}
	var buf bytes.Buffer
	opts := reports.RenderOptions{
		Color: format == reports.FormatText && cfg.Output == "" && isTerminal(a.streams.Out),
		Rerun: a.commandLine,
	}
	if err := reports.Render(&buf, rep, format, opts); err != nil {
		return err
	}
	// Sign before writing anything: a bad key or password leaves neither
	// an unsigned report nor a stale signature behind.
	var sig string
	if cfg.SignKey != "" {
		key, err := os.ReadFile(cfg.SignKey)
		if err != nil {
			return usageErrorf("--sign-key: %s", oneLine(err))
		}
		if sig, err = signing.SignBytes(buf.Bytes(), key, []byte(os.Getenv("COSIGN_PASSWORD"))); err != nil {
			return fmt.Errorf("--sign-key %s: %w", cfg.SignKey, err)
		}
	}
	perm := os.FileMode(0o644)
	if cfg.EmbedSnapshot {
		perm = privateFile // the report holds the state
	}
	if err := a.writeOutputPerm(cfg.Output, buf.Bytes(), perm); err != nil {
		return err
	}
	if sig != "" {
		if err := a.writeOutput(cfg.Output+signing.SigSuffix, []byte(sig)); err != nil {
			return err
		}
	}
	if rep.Blocked() {
		where := "above"
		if cfg.Output != "" && cfg.Output != "-" {
			where = "in " + cfg.Output
		}
		return blockedf("%d blocking finding(s) for the upgrade to %s; the report %s gives the way out of each (fix it, or annotate %s)",
			rep.Summary.Block, rep.TargetVersion, where, policies.IgnoreAnnotation)
	}
	return nil
}

// report builds the typed report of an evaluation, recording what it was
// computed from so a signed "passed" cannot be replayed for other state.
func (a *app) report(ev *evaluation, cfg *Config, phase finding.Phase) (*finding.Report, error) {
	in := finding.Input{
		Source: "cluster", Files: ev.inv.Sources, Counts: ev.inv.Counts(),
		VersionFrom: ev.from,
	}
	var err error
	if len(cfg.From) > 0 {
		// Files were hashed as they were read; encoding the state again
		// only to hash it cost seconds at 150,000 pods.
		in.Source, in.InputDigest = "files", ev.inv.InputDigest
		if ev.inv.CollectedAt.IsZero() {
			// Plain manifests list what their author asked kubectl for,
			// not every kind; a snapshot or the live cluster lists all.
			in.Gaps = policies.InputGaps(in.Counts)
		}
	} else if in.SnapshotDigest, err = ev.inv.SnapshotDigest(); err != nil {
		// Live state has no file: hash its snapshot while encoding it,
		// never holding it.
		return nil, err
	}
	in.Baseline = cfg.Baseline
	rep := finding.New(phase, kubever.Canonical(ev.current), targetString(cfg.Target, ev.target),
		ev.result.Findings, in, finding.Producer{UpgateVersion: Version(), PolicyDigest: ev.engine.Digest()}, time.Now())
	rep.Checks = ev.result.Checks
	rep.IgnoreSafetyChecks = cfg.IgnoreSafetyChecks
	if cfg.EmbedSnapshot {
		if rep.Snapshot, err = ev.inv.Snapshot(); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// targetString renders the target as the user meant it: a minor stays a
// minor (v1.36), a patch release is shown in full.
func targetString(raw string, v *version.Version) string {
	if kubever.HasPatch(raw) {
		return kubever.Canonical(v)
	}
	return kubever.Minor(v)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

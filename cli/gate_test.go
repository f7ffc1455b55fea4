package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/policies"
)

// fromFiles stands in for the live cluster: the state read from dir.
func fromFiles(dir string) func(context.Context, string) (*inventory.Inventory, error) {
	return func(context.Context, string) (*inventory.Inventory, error) { return inventory.Read([]string{dir}, nil) }
}

func gateKeys(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Check+" "+f.Subject.String()+" @"+f.Node)
	}
	slices.Sort(out)
	return out
}

// run's per-node gate takes what the policies declare for scope node: a
// user's policy (--policy-dir) of scope node gates the node it is about
// and no other; the path checks (scope run and hop) gate none, even when
// they block the upgrade as a whole.
func TestLiveGateTakesScopeNode(t *testing.T) {
	ctx := context.Background()
	engine, err := policies.New(ctx, policies.Options{PolicyDirs: []string{"../policies/testdata/userpolicy"}})
	if err != nil {
		t.Fatal(err)
	}
	g := &liveGate{cfg: &Config{Target: "v1.37.0", MaxUnavailable: 1}, engine: engine,
		state: fromFiles("../policies/testdata/clean-cluster")}
	w1, err := g.gate(ctx, "worker-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(gateKeys(w1), "house.change-freeze Node/worker-1 @worker-1") {
		t.Errorf("gate(worker-1) = %q, want the change freeze", gateKeys(w1))
	}
	w2, err := g.gate(ctx, "worker-2")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(w1, w2...) {
		if f.Check == "house.change-freeze" && f.Node != "worker-1" || strings.HasPrefix(f.Check, "path.") {
			t.Errorf("gate holds %s about %q", f.Check, f.Node)
		}
	}
	if slices.ContainsFunc(w2, func(f finding.Finding) bool { return f.Check == "house.change-freeze" }) {
		t.Errorf("gate(worker-2) = %q holds worker-1's freeze", gateKeys(w2))
	}
}

// smokePolicy is a user's check of scope validate, whose findings it
// builds by hand: the engine takes their scope from the rule's METADATA.
const smokePolicy = `# METADATA
# title: Smoke tests
# description: Nodes whose smoke test failed after their upgrade.
package upgate.smoke

# METADATA
# title: Smoke test failed
# description: The node failed its smoke test after the upgrade.
# custom:
#   check: smoke.failed
#   severity: block
#   scope: [validate]
#   remediation: Fix the node.
findings contains f if {
	some n in object.get(input, ["safety", "nodes"], [])
	n.name == "worker-2"
	f := {"check": "smoke.failed", "severity": "block", "subject": {"kind": "Node", "name": n.name},
		"node": n.name, "message": sprintf("node %s failed its smoke test", [n.name])}
}
`

// run's validation of a node takes what the policies declare for scope
// validate, about that node: the kubelet behind the target fails it, and
// so does a user's check of scope validate, whatever its ID; the kube-proxy
// DaemonSet pod behind the target (an add-on upgraded after every node,
// declared postflight only) does not.
func TestLiveValidateTakesScopeValidate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smoke.rego"), []byte(smokePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	engine, err := policies.New(ctx, policies.Options{PolicyDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	before, err := inventory.Read([]string{"../policies/testdata/post/before"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &liveGate{cfg: &Config{Target: "1.36", MaxUnavailable: 1}, engine: engine, baseline: before,
		state: fromFiles("../policies/testdata/post/after")}
	got, err := g.validate(ctx, "worker-2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"health.node-not-ready Node/worker-2 @worker-2",
		"post.node-not-ready Node/worker-2 @worker-2",
		"post.version-mismatch Node/worker-2 @worker-2",
		"smoke.failed Node/worker-2 @worker-2",
	}
	if !slices.Equal(gateKeys(got), want) {
		t.Errorf("validate(worker-2) =\n %q\nwant\n %q", gateKeys(got), want)
	}
	// Scope validate only: it gates no node before its upgrade.
	pre, err := g.gate(ctx, "worker-2")
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(pre, func(f finding.Finding) bool { return f.Check == "smoke.failed" }) {
		t.Errorf("gate(worker-2) = %q holds a check of scope validate", gateKeys(pre))
	}
}

// The plan, and so the run's gate before it starts, takes the findings of
// scope run: a skipped minor (scope hop) becomes hops and a user's check
// of scope node waits for its node's gate, while check reports and blocks
// on both.
func TestPlanTakesScopeRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"skipped minor", []string{"--from", "testdata/cluster.yaml", "--target", "v1.37"}},
		{"node-only user check", []string{"--from", "testdata/cluster.yaml", "--target", "v1.36", "--policy-dir", "../policies/testdata/userpolicy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := run(t, "", append([]string{"plan"}, tc.args...)...); code != 0 {
				t.Errorf("plan: exit %d, want 0: %s", code, stderr)
			}
			if code, _, _ := run(t, "", append([]string{"check"}, tc.args...)...); code != 1 {
				t.Errorf("check: exit %d, want 1", code)
			}
		})
	}
}

// run's cloud-controller-manager gate takes addon.ccm-behind-target
// judged against the hop's version, not the run's target: in a run to
// v1.37, the hop to v1.35.4 leaves a v1.35.1 CCM alone, the hop to v1.36.6
// waits for it. A CCM whose tag is no version is not held against it
// (skew.version-unknown says so), and an ignored finding holds nothing.
func TestLiveGateCloudControllerJudgesTheHop(t *testing.T) {
	ctx := context.Background()
	engine, err := policies.New(ctx, policies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := &liveGate{cfg: &Config{Target: "v1.37", ServerVersion: "v1.35.4", MaxUnavailable: 1}, engine: engine,
		state: fromFiles("../policies/testdata/addon/ccm")}
	hop := func(n int, from, to string) context.Context {
		return executor.WithHop(ctx, executor.HopRef{Number: n, Of: 3, From: from, To: to})
	}
	same, err := g.cloudController(hop(1, "v1.34.3", "v1.35.4"))
	if err != nil {
		t.Fatal(err)
	}
	if len(same) != 0 {
		t.Errorf("hop to v1.35.4: %q, want nothing: the CCM is at the hop's minor", gateKeys(same))
	}
	behind, err := g.cloudController(hop(2, "v1.35.4", "v1.36.6"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"addon.ccm-behind-target Pod/kube-system/cloud-controller-manager-cp-1 @cp-1"}; !slices.Equal(gateKeys(behind), want) {
		t.Errorf("hop to v1.36.6: %q, want %q", gateKeys(behind), want)
	}
	if !strings.Contains(behind[0].Message, "below the target v1.36.6") {
		t.Errorf("message %q does not judge the hop's version", behind[0].Message)
	}
	// Not a node's gate: the check is declared for scopes run and hop.
	if fs, _ := g.gate(hop(2, "v1.35.4", "v1.36.6"), "cp-1"); slices.ContainsFunc(fs, func(f finding.Finding) bool { return f.Check == policies.CheckCCMBehindTarget }) {
		t.Errorf("a node's gate holds %s", policies.CheckCCMBehindTarget)
	}

	t.Run("ignored", func(t *testing.T) {
		res := &policies.Result{Findings: []finding.Finding{
			{Check: policies.CheckCCMBehindTarget, Severity: finding.SeverityWarn, Ignored: true, Scope: []finding.Scope{finding.ScopeRun, finding.ScopeHop}},
			{Check: policies.CheckCCMBehindTarget, Severity: finding.SeverityWarn, Scope: []finding.Scope{finding.ScopeRun}},
			{Check: "skew.control-plane-too-old", Severity: finding.SeverityBlock, Scope: []finding.Scope{finding.ScopeRun, finding.ScopeHop}},
		}}
		if got := res.CloudControllerBehind(); len(got) != 0 {
			t.Errorf("CloudControllerBehind() = %+v, want none: ignored, not of scope hop, another check", got)
		}
	})
}

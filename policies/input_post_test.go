package policies

import (
	"slices"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/finding"
)

var postChecks = []string{"post.version-mismatch", "post.node-not-ready", "post.node-left-cordoned", "post.workload-regressed"}

func TestPostflight(t *testing.T) {
	before, after := readTestdata(t, "post/before"), readTestdata(t, "post/after")
	common := []string{
		"post.node-left-cordoned Node/worker-3 @worker-3",
		"post.node-not-ready Node/worker-2 @worker-2",
		"post.version-mismatch Node/worker-2 @worker-2",
		"post.version-mismatch Pod/kube-system/kube-proxy-w2 @worker-2",
		"post.version-mismatch Pod/kube-system/kube-scheduler-cp-1 @cp-1",
		"post.workload-regressed Deployment/shop/web @",
	}
	withKCM := slices.Clone(common)
	withKCM = append(withKCM, "post.version-mismatch Pod/kube-system/kube-controller-manager-cp-1 @cp-1")
	slices.Sort(withKCM)
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"v1.36.0", withKCM},
		{"1.36", common},
	} {
		t.Run(tc.target, func(t *testing.T) {
			res := bkRun(t, Request{Inventory: after, Baseline: before, Phase: finding.PhasePostflight, Target: mustVer(t, tc.target)})
			if got := bkKeys(res.Findings, postChecks...); !slices.Equal(got, tc.want) {
				t.Fatalf("findings:\n got %q\nwant %q", got, tc.want)
			}
			bkMessages(t, res.Findings, postChecks,
				"kubelet on node worker-2 is at v1.35.2 after the upgrade, not at the target v1.36",
				"kube-proxy kube-system/kube-proxy-w2 on node worker-2 is at v1.35.2 after the upgrade",
				"kube-scheduler kube-system/kube-scheduler-cp-1 on node cp-1 is at v1.35.2 after the upgrade",
				"node worker-2 is not Ready after the upgrade (Ready=Unknown, NodeStatusUnknown)",
				"node worker-3 is cordoned after the upgrade but was schedulable before it",
				"Deployment shop/web has 2 ready pods after the upgrade, 3 before it",
			)
			for _, f := range res.Findings {
				if strings.HasPrefix(f.Check, "post.") && f.Severity != finding.SeverityBlock {
					t.Errorf("%s: severity %s", f.Check, f.Severity)
				}
			}
			// Postflight runs the post.* and health.* checks only.
			for _, c := range res.Checks {
				if !strings.HasPrefix(c, "post.") && !strings.HasPrefix(c, "health.") {
					t.Errorf("postflight evaluated %s", c)
				}
			}
			for _, c := range append(slices.Clone(postChecks), healthChecks...) {
				if !slices.Contains(res.Checks, c) {
					t.Errorf("Checks lacks %s: %v", c, res.Checks)
				}
			}
			// Validating worker-2 after its upgrade: its kubelet, not the
			// kube-proxy add-on the add-on stage upgrades after every node
			// (the policy gives that one scope postflight only).
			if got := bkKeys(res.NodeValidation("worker-2"), postChecks...); !slices.Equal(got, []string{
				"post.node-not-ready Node/worker-2 @worker-2",
				"post.version-mismatch Node/worker-2 @worker-2",
			}) {
				t.Errorf("NodeValidation(worker-2) = %q", got)
			}
			if got := bkKeys(res.InScope(finding.ScopePostflight), "post.version-mismatch"); !slices.Contains(got, "post.version-mismatch Pod/kube-system/kube-proxy-w2 @worker-2") {
				t.Errorf("the kube-proxy mismatch is not in the postflight scope: %q", got)
			}
			// A regressed workload is about no node: the run's postflight.
			if got := bkKeys(res.NodeValidation(""), postChecks...); len(got) != 0 {
				t.Errorf("NodeValidation(\"\") = %q", got)
			}
			// health.* look at the state after the upgrade.
			if got := bkKeys(res.Findings, "health.node-not-ready"); !slices.Equal(got, []string{"health.node-not-ready Node/worker-2 @worker-2"}) {
				t.Errorf("health.node-not-ready after: %q", got)
			}
		})
	}
}

func TestPostChecksNeedPostflightAndBaseline(t *testing.T) {
	before, after := readTestdata(t, "post/before"), readTestdata(t, "post/after")
	// Preflight, even with a baseline: no post.* check runs.
	res := bkRun(t, Request{Inventory: after, Baseline: before, Phase: finding.PhasePreflight})
	for _, c := range res.Checks {
		if strings.HasPrefix(c, "post.") {
			t.Errorf("preflight evaluated %s", c)
		}
	}
	// Postflight without a baseline: nothing to compare with.
	res = bkRun(t, Request{Inventory: after, Phase: finding.PhasePostflight})
	if got := bkKeys(res.Findings, postChecks...); len(got) != 0 {
		t.Errorf("post findings without a baseline: %q", got)
	}
	// The same state on both sides, at the target: nothing regressed.
	res = bkRun(t, Request{Inventory: before, Baseline: before, Phase: finding.PhasePostflight, Target: mustVer(t, "v1.35.2")})
	if got := bkKeys(res.Findings, postChecks...); len(got) != 0 {
		t.Errorf("post findings for an unchanged cluster: %q", got)
	}
}

// Package findingtest has report fixtures for the tests of the packages
// that render, sign and serve reports.
package findingtest

import (
	"time"

	"github.com/upgate-dev/upgate/finding"
)

// FixedTime is when every fixture report was generated.
var FixedTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// Blocked is a blocked preflight report. It has every tier, text that needs escaping (| < & *), a
// check that ran clean and one whose findings were all ignored.
func Blocked() *finding.Report {
	r := finding.New(finding.PhasePreflight, "v1.35.2", "v1.36.0", []finding.Finding{
		{Check: "safety.emptydir", Severity: finding.SeverityBlock, Node: "worker-1",
			Subject:     finding.Subject{Kind: "Pod", Namespace: "shop", Name: "cart-7d9f"},
			Message:     "pod shop/cart-7d9f has emptyDir volume \"cache\"; its data is lost when the node is drained",
			Remediation: "move the data to a PersistentVolumeClaim, or annotate the pod upgate.dev/ignore=safety.emptydir",
			Scope:       []finding.Scope{finding.ScopeRun, finding.ScopeNode}},
		{Check: "safety.pdb-blocks-drain", Severity: finding.SeverityBlock, Node: "worker-1",
			Subject:     finding.Subject{Kind: "PodDisruptionBudget", Namespace: "shop", Name: "cart"},
			Message:     "PodDisruptionBudget shop/cart allows 0 disruptions (minAvailable: 100% | maxUnavailable: <none>) & covers pod shop/cart-7d9f",
			Remediation: "scale Deployment shop/cart to 2+ replicas or relax the budget"},
		{Check: "health.node-pressure", Severity: finding.SeverityWarn, Node: "worker-2",
			Subject: finding.Subject{Kind: "Node", Name: "worker-2"},
			Message: "node worker-2 has MemoryPressure=True"},
		{Check: "skew.version-unknown", Severity: finding.SeverityInfo, Node: "worker-2",
			Subject: finding.Subject{Kind: "Pod", Namespace: "kube-system", Name: "kube-proxy-x8k2p"},
			Message: "kube-proxy on worker-2 runs image tag *latest*; its version is unknown"},
		{Check: "safety.singleton", Severity: finding.SeverityBlock, Ignored: true,
			Subject:   finding.Subject{Kind: "Deployment", Namespace: "dev", Name: "scratch"},
			Message:   "Deployment dev/scratch has 1 replica; it is down while its node drains",
			IgnoredBy: "annotation upgate.dev/ignore on Namespace/dev"},
	}, finding.Input{
		Source:      "files",
		Files:       []string{"testdata/cluster.yaml", "snapshots/pre upgrade.json"},
		Counts:      map[string]int{"Pod": 12, "Node": 3, "Deployment": 2, "PodDisruptionBudget": 1},
		VersionFrom: "snapshot",
	}, finding.Producer{UpgateVersion: "v0.1.0", PolicyDigest: "sha256:0f1e2d"}, FixedTime)
	r.Checks = []string{"safety.singleton", "path.downgrade", "safety.emptydir", "safety.pdb-blocks-drain",
		"health.node-pressure", "skew.version-unknown", "path.downgrade"}
	r.Finalize()
	return r
}

// Passed is a live-cluster preflight with one warning.
func Passed() *finding.Report {
	r := finding.New(finding.PhasePreflight, "v1.35.2", "v1.36.0", []finding.Finding{
		{Check: "health.node-cordoned", Severity: finding.SeverityWarn,
			Subject: finding.Subject{Kind: "Node", Name: "worker-3"}, Node: "worker-3",
			Message: "node worker-3 is already unschedulable", Remediation: "kubectl uncordon worker-3 if that was not intended"},
	}, finding.Input{Source: "cluster", Files: []string{"https://10.0.0.1:6443"}, Counts: map[string]int{"Node": 3, "Pod": 20}},
		finding.Producer{UpgateVersion: "v0.1.0"}, FixedTime)
	r.Checks = []string{"health.node-cordoned", "path.downgrade", "safety.emptydir"}
	r.Finalize()
	return r
}

// Postflight is a blocked postflight against a named baseline, with
// only non-safety blockers (so no --ignore-safety-checks is offered).
func Postflight() *finding.Report {
	return finding.New(finding.PhasePostflight, "v1.36.0", "v1.36.0", []finding.Finding{
		{Check: "post.node-left-cordoned", Severity: finding.SeverityBlock, Node: "worker-1",
			Subject: finding.Subject{Kind: "Node", Name: "worker-1"},
			Message: "node worker-1 is unschedulable after the upgrade but was schedulable before", Remediation: "kubectl uncordon worker-1"},
	}, finding.Input{Source: "files", Files: []string{"post.json"}, Counts: map[string]int{"Node": 3}, Baseline: "pre.json"},
		finding.Producer{UpgateVersion: "v0.1.0"}, FixedTime)
}

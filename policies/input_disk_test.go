package policies

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

func diskNode(name string, diskPressure bool) *corev1.Node {
	status := corev1.ConditionFalse
	if diskPressure {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			{Type: corev1.NodeDiskPressure, Status: status},
		},
		NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.2"},
	}}
}

func bytesPtr(n uint64) *uint64 { return &n }

// health.node-disk-free from the inventory: the stats summary decides
// where it was read, DiskPressure where it was not, and the message names
// the source. It gates the run (scope run), not a node's own gate, and is
// not a postflight check.
func TestNodeDiskFree(t *testing.T) {
	inv := &inventory.Inventory{
		Nodes: []*corev1.Node{
			diskNode("worker-1", false), diskNode("worker-2", true),
			diskNode("worker-3", true), diskNode("worker-4", false), diskNode("worker-5", true),
		},
		NodeStats: []inventory.NodeStat{
			{Node: "worker-1", AvailableBytes: bytesPtr(524288000), CapacityBytes: bytesPtr(20e9)},
			{Node: "worker-2", Error: "forbidden: reading it needs get on nodes/proxy"},
			{Node: "worker-3", AvailableBytes: bytesPtr(50e9)},
			{Node: "worker-4", Error: "no answer within 5s"},
			// worker-5: no entry, though summaries were collected.
		},
	}
	res := bkRun(t, Request{Inventory: inv})
	got := map[string]string{}
	for _, f := range ofCheck(res.Findings, "health.node-disk-free") {
		got[f.Node] = f.Message
		if f.Severity != finding.SeverityBlock || !slices.Equal(f.Scope, []finding.Scope{finding.ScopeRun}) {
			t.Errorf("%s: severity %s scope %v, want block [run]", f.Node, f.Severity, f.Scope)
		}
	}
	want := map[string]string{
		"worker-1": "node worker-1 has 524288000 bytes (524 MB of 20000 MB) free on its root filesystem, less than the 1 GB (1000000000 bytes) the upgrade needs; source: kubelet stats summary",
		"worker-2": "node worker-2 reports DiskPressure=True: its root filesystem may have less than the 1 GB the upgrade needs; source: DiskPressure condition, because the kubelet stats summary could not be read (forbidden: reading it needs get on nodes/proxy)",
		"worker-5": "node worker-5 reports DiskPressure=True: its root filesystem may have less than the 1 GB the upgrade needs; source: DiskPressure condition, because the kubelet stats summary could not be read (no stats summary was recorded for this node)",
	}
	for node, msg := range want {
		if got[node] != msg {
			t.Errorf("%s:\n got %q\nwant %q", node, got[node], msg)
		}
	}
	for _, node := range []string{"worker-3", "worker-4"} {
		if m, ok := got[node]; ok {
			t.Errorf("%s fired: %s", node, m)
		}
	}
	if n := len(ofCheck(res.InScope(finding.ScopeRun), "health.node-disk-free")); n != 3 {
		t.Errorf("%d findings of scope run, want 3", n)
	}
	if g := ofCheck(res.NodeGate("worker-1"), "health.node-disk-free"); len(g) != 0 {
		t.Errorf("worker-1's own gate holds %+v: the check is the run's readiness", g)
	}

	// Summaries not collected (check without --node-stats): DiskPressure
	// only, saying the summary was not collected.
	inv.NodeStats = nil
	res = bkRun(t, Request{Inventory: inv})
	fs := ofCheck(res.Findings, "health.node-disk-free")
	var nodes []string
	for _, f := range fs {
		nodes = append(nodes, f.Node)
		if !strings.HasSuffix(f.Message, "source: DiskPressure condition, because the kubelet stats summary was not collected (upgate run reads it; check, plan and snapshot with --node-stats)") {
			t.Errorf("%s: %s", f.Node, f.Message)
		}
	}
	if !slices.Equal(nodes, []string{"worker-2", "worker-3", "worker-5"}) {
		t.Errorf("without summaries fired on %v, want the DiskPressure nodes", nodes)
	}

	post := bkRun(t, Request{Inventory: inv, Baseline: inv, Phase: finding.PhasePostflight})
	if n := len(ofCheck(post.Findings, "health.node-disk-free")); n != 0 {
		t.Errorf("%d health.node-disk-free findings in postflight, want none (readiness is preflight)", n)
	}
}

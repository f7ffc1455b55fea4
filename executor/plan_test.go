package executor

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

func node(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func pod(ns, name, nodeName string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: corev1.PodSpec{NodeName: nodeName}}
}

func TestHops(t *testing.T) {
	tests := []struct {
		current, target string
		want            string
	}{
		// An intermediate hop goes to the newest patch the release data
		// knows, else to its .0; the last to the target as given.
		{"v1.34.2", "v1.36", "v1.34.2>v1.35.10 v1.35.10>v1.36"},
		{"v1.33.1", "v1.36.2", "v1.33.1>v1.34.0 v1.34.0>v1.35.10 v1.35.10>v1.36.2"},
		{"v1.35.2", "v1.36.1", "v1.35.2>v1.36.1"},
		{"v1.36.0", "v1.36", ""},
		{"v1.36.0", "v1.35", ""},
	}
	for _, tt := range tests {
		c, _ := kubever.Parse(tt.current)
		g, _ := kubever.Parse(tt.target)
		var parts []string
		for _, h := range Hops(c, g, tt.target, map[string]int{"1.35": 10, "1.36": 6}) {
			parts = append(parts, h.From+">"+h.To)
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("Hops(%s, %s) = %q, want %q", tt.current, tt.target, got, tt.want)
		}
	}
}

func TestPlanStagesAndBlockers(t *testing.T) {
	cp := map[string]string{inventory.LabelControlPlane: ""}
	inv := &inventory.Inventory{
		Nodes: []*corev1.Node{node("w-b", nil), node("w-a", nil), node("cp-1", cp), node("etcd-1", nil)},
		Pods: inventory.PodsOf([]*corev1.Pod{
			pod("kube-system", "etcd-etcd-1", "etcd-1", map[string]string{"component": "etcd"}),
			pod("app", "x", "w-b", nil), pod("app", "y", "w-b", nil), pod("app", "z", "w-a", nil),
		}),
	}
	c, _ := kubever.Parse("v1.35.2")
	g, _ := kubever.Parse("v1.36")
	findings := []finding.Finding{
		{Check: "safety.emptydir", Severity: finding.SeverityBlock, Subject: finding.Subject{Kind: "Pod", Namespace: "app", Name: "z"}, Node: "w-a", Message: "z has emptyDir"},
		{Check: "health.node-cordoned", Severity: finding.SeverityWarn, Subject: finding.Subject{Kind: "Node", Name: "w-b"}, Node: "w-b"},
	}
	p := NewPlan(inv, c, g, "v1.36", findings, PlanOptions{})
	order := map[StageName][]string{}
	for _, st := range p.Stages {
		for _, n := range st.Nodes {
			order[st.Name] = append(order[st.Name], n.Name)
		}
	}
	if got := strings.Join(order[StageEtcd], ","); got != "etcd-1" {
		t.Errorf("etcd stage = %q", got)
	}
	if got := strings.Join(order[StageControlPlane], ","); got != "cp-1" {
		t.Errorf("control-plane stage = %q", got)
	}
	// w-a has fewer pods to move, so it goes first.
	if got := strings.Join(order[StageWorkers], ","); got != "w-a,w-b" {
		t.Errorf("workers = %q, want w-a,w-b", got)
	}
	if !p.Blocked || len(p.Blockers) != 0 {
		t.Errorf("plan should be blocked by a node finding only: blocked=%v blockers=%v", p.Blocked, p.Blockers)
	}
	if Gated(p, true) {
		t.Errorf("--partial-ok may skip a flagged worker")
	}
	if !Gated(p, false) {
		t.Errorf("without --partial-ok a flagged worker closes the gate")
	}
	var buf bytes.Buffer
	if err := WriteSteps(&buf, p, StepOptions{PartialOK: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "SKIP (--partial-ok) w-a") {
		t.Errorf("steps should skip w-a:\n%s", buf.String())
	}
	findings = append(findings, finding.Finding{Check: "safety.etcd-quorum", Severity: finding.SeverityBlock, Node: "etcd-1", Subject: finding.Subject{Kind: "Node", Name: "etcd-1"}})
	p = NewPlan(inv, c, g, "v1.36", findings, PlanOptions{})
	if err := RefusePartial(p); err == nil || !strings.Contains(err.Error(), "etcd-1") {
		t.Errorf("--partial-ok must be refused when an etcd node is flagged, got %v", err)
	}
}

// TestPlanIgnoresBlockersOfNodesAlreadyAtTheTarget: a run stopped after
// its first control-plane node leaves that node at the target with its
// controller-manager newer than the other API servers. The next run does
// not touch it, so that finding must not block the plan; the same finding
// on a node the run still upgrades, or one in flight, does.
func TestPlanIgnoresBlockersOfNodesAlreadyAtTheTarget(t *testing.T) {
	cp := map[string]string{inventory.LabelControlPlane: ""}
	done, behind, inflight, upgraded := node("cp-1", cp), node("cp-2", cp), node("cp-3", cp), node("cp-4", cp)
	done.Status.NodeInfo.KubeletVersion = "v1.36.0"
	inflight.Status.NodeInfo.KubeletVersion = "v1.36.0"
	inflight.Annotations = map[string]string{AnnotationPhase: string(PhaseDrained), AnnotationTarget: "v1.36"}
	upgraded.Status.NodeInfo.KubeletVersion = "v1.36.0"
	upgraded.Annotations = map[string]string{AnnotationPhase: string(PhaseUpgraded), AnnotationTarget: "v1.36"}
	behind.Status.NodeInfo.KubeletVersion = "v1.35.2"
	c, _ := kubever.Parse("v1.35.2")
	g, _ := kubever.Parse("v1.36")
	flagged := func(n string) finding.Finding {
		return finding.Finding{Check: "skew.control-plane-newer", Severity: finding.SeverityBlock,
			Subject: finding.Subject{Kind: "Pod", Namespace: "kube-system", Name: "kube-controller-manager-" + n}, Node: n}
	}
	for _, tt := range []struct {
		name    string
		flagged string
		blocked bool
	}{
		{"node at the target", "cp-1", false},
		{"node still to upgrade", "cp-2", true},
		{"node in flight before its driver", "cp-3", true},
		{"node past its driver (the soak's case)", "cp-4", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{Nodes: []*corev1.Node{done, behind, inflight, upgraded}}
			p := NewPlan(inv, c, g, "v1.36", []finding.Finding{flagged(tt.flagged)}, PlanOptions{})
			if p.Blocked != tt.blocked {
				t.Errorf("blocked = %t, want %t (finding on %s)", p.Blocked, tt.blocked, tt.flagged)
			}
			if len(p.Findings) != 1 {
				t.Errorf("the plan's findings lost the finding: %v", p.Findings)
			}
		})
	}
}

// TestUnderway: every node a run has started (any phase, failed too) or
// finished maps to its upgrade's version; a node without upgate's record,
// or with a target that is not a version, maps to nothing.
func TestUnderway(t *testing.T) {
	annotated := func(name, phase, target string) *corev1.Node {
		n := node(name, nil)
		if phase != "" || target != "" {
			n.Annotations = map[string]string{AnnotationPhase: phase, AnnotationTarget: target}
		}
		return n
	}
	inv := &inventory.Inventory{Nodes: []*corev1.Node{
		annotated("upgrading", string(PhaseUpgrading), "v1.37"),
		annotated("failed", string(PhaseFailed), "v1.37.2"),
		annotated("done", string(PhaseDone), "v1.36"),
		annotated("untouched", "", ""),
		annotated("target-only", "", "v1.37"),
		annotated("garbled", string(PhaseUpgrading), "soon"),
	}}
	got := map[string]string{}
	for n, v := range Underway(inv) {
		got[n] = v.String()
	}
	want := map[string]string{"upgrading": "1.37", "failed": "1.37.2", "done": "1.36"}
	if !maps.Equal(got, want) {
		t.Errorf("Underway = %v, want %v", got, want)
	}
	if u := Underway(&inventory.Inventory{Nodes: []*corev1.Node{annotated("untouched", "", "")}}); u != nil {
		t.Errorf("no run under way: %v, want nil", u)
	}
}

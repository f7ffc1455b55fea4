package executor

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// planReport is the contract's Plan report, as a consumer decodes it.
type planReport struct {
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	CurrentVersion string `json:"currentVersion"`
	TargetVersion  string `json:"targetVersion"`
	Verdict        string `json:"verdict"`
	Hops           []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Stages []struct {
			Name  string `json:"name"`
			Nodes []struct {
				Name     string   `json:"name"`
				Roles    []string `json:"roles"`
				Skip     *bool    `json:"skip"`
				Blockers []string `json:"blockers"`
			} `json:"nodes"`
		} `json:"stages"`
	} `json:"hops"`
	Findings []finding.Finding `json:"findings"`
}

func reportInventory(reverse bool) *inventory.Inventory {
	cp := map[string]string{inventory.LabelControlPlane: ""}
	inv := &inventory.Inventory{
		Nodes: []*corev1.Node{
			kubeletNode("cp-1", "v1.35.2", cp), kubeletNode("cp-2", "v1.35.2", cp),
			kubeletNode("w-a", "v1.35.2", nil), kubeletNode("w-b", "v1.35.2", nil),
		},
		Pods: inventory.PodsOf([]*corev1.Pod{
			pod("kube-system", "etcd-cp-1", "cp-1", map[string]string{"component": "etcd"}),
			pod("app", "x", "w-a", nil),
		}),
	}
	if reverse {
		slices.Reverse(inv.Nodes)
		slices.Reverse(inv.Pods)
	}
	return inv
}

func reportFindings(reverse bool, extra ...finding.Finding) []finding.Finding {
	fs := append([]finding.Finding{
		{Check: "safety.emptydir", Severity: finding.SeverityBlock, Subject: finding.Subject{Kind: "Pod", Namespace: "app", Name: "x"}, Node: "w-a", Message: "x has emptyDir"},
		{Check: "health.node-cordoned", Severity: finding.SeverityWarn, Subject: finding.Subject{Kind: "Node", Name: "w-b"}, Node: "w-b", Message: "cordoned"},
	}, extra...)
	if reverse {
		slices.Reverse(fs)
	}
	return fs
}

func planJSON(t *testing.T, inv *inventory.Inventory, fs []finding.Finding, partialOK bool) ([]byte, planReport) {
	t.Helper()
	c, _ := kubever.Parse("v1.35.2")
	g, _ := kubever.Parse("v1.37")
	var buf bytes.Buffer
	if err := NewPlan(inv, c, g, "v1.37", fs, PlanOptions{Rules: testRules, PartialOK: partialOK}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var r planReport
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	return buf.Bytes(), r
}

// TestPlanReport: the contract's Plan report: its fields, the stage names
// in the fixed order, each node once per hop in its earliest stage and only
// in the hops that upgrade it, --partial-ok's skip, the verdict, and the
// same bytes whatever order the state and findings came in.
func TestPlanReport(t *testing.T) {
	b, r := planJSON(t, reportInventory(false), reportFindings(false), true)
	if r.APIVersion != "upgate.dev/v1alpha1" || r.Kind != "Plan" || r.CurrentVersion != "v1.35.2" || r.TargetVersion != "v1.37" || r.Verdict != "passed" {
		t.Errorf("header %+v", r)
	}
	if len(r.Hops) != 2 || r.Hops[0].From != "v1.35.2" || r.Hops[0].To != "v1.36.6" || r.Hops[1].From != "v1.36.6" || r.Hops[1].To != "v1.37" {
		t.Fatalf("hops %+v", r.Hops)
	}
	order := []string{"images", "etcd-backup", "etcd", "control-plane", "cloud-controller-manager", "workers", "addons"}
	where := map[string][]string{} // node -> "hop:stage" it appears in
	for i, h := range r.Hops {
		last := -1
		for _, st := range h.Stages {
			at := slices.Index(order, st.Name)
			if at <= last {
				t.Errorf("hop %d: stage %q out of the contract's order", i+1, st.Name)
			}
			last = at
			for _, n := range st.Nodes {
				where[n.Name] = append(where[n.Name], h.To+":"+st.Name)
				if n.Skip == nil || n.Blockers == nil || n.Roles == nil {
					t.Errorf("%s: skip, roles and blockers must always be written: %+v", n.Name, n)
				}
				switch n.Name {
				case "cp-1":
					if !slices.Equal(n.Roles, []string{"control-plane", "etcd"}) {
						t.Errorf("cp-1 roles %v", n.Roles)
					}
				case "w-a":
					if !*n.Skip || !slices.Equal(n.Blockers, []string{"safety.emptydir"}) {
						t.Errorf("w-a: skip %v blockers %v, want skipped for safety.emptydir", *n.Skip, n.Blockers)
					}
				}
			}
		}
	}
	want := map[string][]string{
		"cp-1": {"v1.36.6:etcd", "v1.37:etcd"},
		"cp-2": {"v1.36.6:control-plane", "v1.37:control-plane"},
		"w-a":  {"v1.37:workers"},
		"w-b":  {"v1.37:workers"},
	}
	for n, w := range want {
		if !slices.Equal(where[n], w) {
			t.Errorf("%s appears in %v, want %v", n, where[n], w)
		}
	}
	if len(r.Findings) != 2 || r.Findings[0].Check != "health.node-cordoned" {
		t.Errorf("findings %+v: want both, sorted", r.Findings)
	}

	again, _ := planJSON(t, reportInventory(true), reportFindings(true), true)
	if !bytes.Equal(b, again) {
		t.Errorf("the same state in another order gave other bytes:\n%s\n---\n%s", b, again)
	}

	if _, r := planJSON(t, reportInventory(false), reportFindings(false), false); r.Verdict != "blocked" {
		t.Errorf("without --partial-ok a flagged worker blocks: verdict %s", r.Verdict)
	}
	etcd := finding.Finding{Check: "safety.etcd-quorum", Severity: finding.SeverityBlock, Subject: finding.Subject{Kind: "Node", Name: "cp-1"}, Node: "cp-1"}
	if _, r := planJSON(t, reportInventory(false), reportFindings(false, etcd), true); r.Verdict != "blocked" {
		t.Errorf("a flagged etcd node blocks even with --partial-ok: verdict %s", r.Verdict)
	}
}

// TestPartialOKKeepsAWorkerThatMustMoveEarly: a flagged worker that must
// reach an intermediate hop cannot be skipped: left behind, it would be
// outside the kubelet skew window of the next hop's control plane.
func TestPartialOKKeepsAWorkerThatMustMoveEarly(t *testing.T) {
	cp := map[string]string{inventory.LabelControlPlane: ""}
	inv := &inventory.Inventory{Nodes: []*corev1.Node{kubeletNode("cp-1", "v1.33.4", cp), kubeletNode("w-1", "v1.33.4", nil), kubeletNode("w-2", "v1.33.4", nil)}}
	c, _ := kubever.Parse("v1.33.4")
	g, _ := kubever.Parse("v1.37")
	fs := []finding.Finding{{Check: "safety.emptydir", Severity: finding.SeverityBlock, Node: "w-1", Subject: finding.Subject{Kind: "Node", Name: "w-1"}}}
	p := NewPlan(inv, c, g, "v1.37", fs, PlanOptions{Rules: testRules, PartialOK: true})
	if err := RefusePartial(p); err == nil || !p.Blocked || p.Verdict != VerdictBlocked {
		t.Errorf("RefusePartial %v, blocked %t: w-1 must reach v1.36.6 before v1.37", err, p.Blocked)
	}
}

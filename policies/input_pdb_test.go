package policies

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// bkRun evaluates req through the real engine (preflight v1.35.2 → v1.36.0
// unless req says otherwise).
func bkRun(t *testing.T, req Request) *Result {
	t.Helper()
	if req.Current == nil {
		req.Current = mustVer(t, "v1.35.2")
	}
	if req.Target == nil {
		req.Target = mustVer(t, "v1.36.0")
	}
	if req.Phase == "" {
		req.Phase = finding.PhasePreflight
	}
	res, err := testEngine(t).Evaluate(context.Background(), req)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return res
}

// bkKeys names the findings of the given checks as
// "check Kind/namespace/name @node", sorted.
func bkKeys(fs []finding.Finding, checks ...string) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(checks, f.Check) {
			continue
		}
		out = append(out, f.Check+" "+f.Subject.String()+" @"+f.Node)
	}
	slices.Sort(out)
	return out
}

// bkMessages checks that every want is a substring of some message among
// fs, and that every finding has a remediation.
func bkMessages(t *testing.T, fs []finding.Finding, checks []string, want ...string) {
	t.Helper()
	var msgs []string
	for _, f := range fs {
		if slices.Contains(checks, f.Check) {
			msgs = append(msgs, f.Message)
			if f.Remediation == "" {
				t.Errorf("%s %s: no remediation", f.Check, f.Subject)
			}
		}
	}
	for _, w := range want {
		if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, w) }) {
			t.Errorf("no message contains %q; messages:\n%s", w, strings.Join(msgs, "\n"))
		}
	}
}

func TestPDBBlocksDrain(t *testing.T) {
	checks := []string{"safety.pdb-blocks-drain"}
	for _, tc := range []struct {
		dir  string
		want []string
		msgs []string
	}{
		{"status-zero", []string{
			"safety.pdb-blocks-drain PodDisruptionBudget/shop/web @worker-1",
			"safety.pdb-blocks-drain PodDisruptionBudget/shop/web @worker-2",
		}, []string{
			"PodDisruptionBudget shop/web allows 0 disruptions (status.disruptionsAllowed is 0: 2 healthy, 2 desired, 2 expected) and holds pod web-6b9f-a on node worker-1: draining worker-1 would wait forever to evict it (the budget holds 2 pods in all, also on worker-2)",
			"holds pod web-6b9f-b on node worker-2",
		}},
		{"spec-max-zero", []string{
			"safety.pdb-blocks-drain PodDisruptionBudget/data/db @worker-3",
		}, []string{
			"PodDisruptionBudget data/db allows 0 disruptions (maxUnavailable 0 of 2 expected pods, 2 healthy) and holds pods db-0, db-1 on node worker-3: draining worker-3 would wait forever to evict them",
		}},
		{"spec-percent", []string{
			"safety.pdb-blocks-drain PodDisruptionBudget/shop/api @worker-1",
			"safety.pdb-blocks-drain PodDisruptionBudget/shop/api @worker-2",
			"safety.pdb-blocks-drain PodDisruptionBudget/shop/api @worker-3",
		}, []string{
			"(minAvailable 67% with 3 expected pods, 3 healthy) and holds pod api-rs-0 on node worker-1",
		}},
		{"silent", nil, nil},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			res := bkRun(t, Request{Inventory: readTestdata(t, "pdb/base", "pdb/"+tc.dir)})
			if got := bkKeys(res.Findings, checks...); !slices.Equal(got, tc.want) {
				t.Fatalf("findings:\n got %q\nwant %q", got, tc.want)
			}
			bkMessages(t, res.Findings, checks, tc.msgs...)
			if !slices.Contains(res.Checks, "safety.pdb-blocks-drain") {
				t.Errorf("Checks lacks safety.pdb-blocks-drain: %v", res.Checks)
			}
		})
	}
}

// pdbStatusOf without a status follows the disruption controller.
func TestPDBAllowedFromSpec(t *testing.T) {
	three := int32(3)
	ready := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	unready := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}
	yes := true
	pod := func(name string, st corev1.PodStatus, owner string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Status: st}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "StatefulSet", Name: owner, Controller: &yes}}
		}
		return p
	}
	inv := &inventory.Inventory{
		StatefulSets: []*appsv1.StatefulSet{{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}}},
	}
	inv.StatefulSets[0].Spec.Replicas = &three
	ix := newIndex(inv, &Request{})
	scale := func() map[objRef]int32 { return pdbScales(ix) }
	io := func(s string) *intstr.IntOrString { v := intstr.Parse(s); return &v }
	for _, tc := range []struct {
		name                 string
		min, maxU            *intstr.IntOrString
		pods                 []corev1.Pod
		allowed, exp, desire int32
	}{
		{"maxUnavailable 1 of scale 3", nil, io("1"), []corev1.Pod{pod("a", ready, "db"), pod("b", ready, "db"), pod("c", ready, "db")}, 1, 3, 2},
		{"maxUnavailable 0", nil, io("0"), []corev1.Pod{pod("a", ready, "db")}, 0, 3, 3},
		{"maxUnavailable 10% rounds up to 1", nil, io("10%"), []corev1.Pod{pod("a", ready, "db"), pod("b", ready, "db"), pod("c", ready, "db")}, 1, 3, 2},
		{"minAvailable 2 of 2 pods", io("2"), nil, []corev1.Pod{pod("a", ready, "db"), pod("b", ready, "db")}, 0, 2, 2},
		{"minAvailable 1 of 2 pods, one unready", io("1"), nil, []corev1.Pod{pod("a", ready, "db"), pod("b", unready, "db")}, 0, 2, 1},
		{"minAvailable 50% of scale 3 rounds up to 2", io("50%"), nil, []corev1.Pod{pod("a", ready, "db"), pod("b", ready, "db"), pod("c", ready, "db")}, 1, 3, 2},
		{"unmanaged pods count no scale", nil, io("1"), []corev1.Pod{pod("a", ready, ""), pod("b", ready, "")}, 0, 0, 0},
		{"neither set", nil, nil, []corev1.Pod{pod("a", ready, "db")}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: tc.min, MaxUnavailable: tc.maxU}}
			var ptrs []*inventory.Pod
			for i := range tc.pods {
				ptrs = append(ptrs, inventory.PodOf(&tc.pods[i]))
			}
			st := pdbStatusOf(ix, pdb, ptrs, scale)
			if st.from != "spec" || st.allowed != tc.allowed || st.expected != tc.exp || st.desired != tc.desire {
				t.Errorf("got %+v, want allowed %d expected %d desired %d", st, tc.allowed, tc.exp, tc.desire)
			}
		})
	}
}

// The clean cluster, with its disruption budgets (maxUnavailable: 1, and
// minAvailable below its healthy pods) and a served webhook, passes every
// check added beyond the Kismatic ones, one node at a time or two.
func TestCleanClusterPassesBeyondKismatic(t *testing.T) {
	inv := readTestdata(t, "clean-cluster")
	if len(inv.PodDisruptionBudgets) < 2 || len(inv.ValidatingWebhooks) < 1 {
		t.Fatalf("clean cluster lacks its budgets or webhook: %d PDBs, %d webhooks", len(inv.PodDisruptionBudgets), len(inv.ValidatingWebhooks))
	}
	ours := []string{"safety.pdb-blocks-drain", "safety.drain-capacity", "webhook.no-endpoints", "addon.ccm-behind-target"}
	ours = append(ours, healthChecks...)
	for _, n := range []int{1, 2} {
		res := bkRun(t, Request{Inventory: inv, MaxUnavailable: n})
		for _, f := range res.Findings {
			if slices.Contains(ours, f.Check) {
				t.Errorf("--max-unavailable %d: unexpected %s %s: %s", n, f.Check, f.Severity, f.Message)
			}
		}
		for _, c := range ours {
			if !slices.Contains(res.Checks, c) {
				t.Errorf("Checks lacks %s", c)
			}
		}
	}
	// The budgets were read and judged: web's allowed disruption worked out
	// from its spec, pg's from its status.
	// Both are listed for pdb.rego to judge, each allowing a disruption,
	// so without their pods (no rule reads them).
	ix := newIndex(inv, &Request{})
	v, err := buildPDB(ix)
	if err != nil || v == nil {
		t.Fatalf("pdb section = %v, %v; want both budgets", v, err)
	}
	budgets := v.(ast.Object).Get(ast.StringTerm("budgets")).Value.(*ast.Array)
	if budgets.Len() != 2 {
		t.Fatalf("pdb section = %v; want both budgets", v)
	}
	budgets.Foreach(func(b *ast.Term) {
		o := b.Value.(ast.Object)
		if a := o.Get(ast.StringTerm("allowed")); a == nil || a.String() != "1" || o.Get(ast.StringTerm("pods")) != nil {
			t.Errorf("budget %v: want allowed 1 and no pods", b)
		}
	})
	scale := func() map[objRef]int32 { return pdbScales(ix) }
	var web []*inventory.Pod
	for i := range inv.Pods {
		if p := inv.Pods[i]; p.Namespace == "shop" && p.Labels["app"] == "web" {
			web = append(web, p)
		}
	}
	for i := range inv.PodDisruptionBudgets {
		pdb := inv.PodDisruptionBudgets[i]
		if pdb.Name != "web" {
			continue
		}
		st := pdbStatusOf(ix, pdb, web, scale)
		if st.from != "spec" || st.allowed != 1 || st.expected != 3 || st.desired != 2 {
			t.Errorf("web budget: %+v, want 1 allowed of 3 expected, 2 desired", st)
		}
	}
}

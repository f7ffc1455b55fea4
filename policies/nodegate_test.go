package policies

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
	"github.com/upgate-dev/upgate/synth"
)

// A node's gate and validation evaluated on the node-restricted input
// (Request.Node) stop and fail exactly what the whole-cluster evaluation
// stops and fails for that node: on every cluster under testdata/, on
// the CLI's example cluster and on a generated one, for every node, with
// one and with two nodes drained at once. This is what lets upgate run
// gate each node at a fraction of a whole check's cost.
func TestNodeRestrictedEvaluationMatchesWholeCluster(t *testing.T) {
	e := testEngine(t)
	type tc struct {
		name string
		inv  *inventory.Inventory
	}
	var cases []tc
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || filepath.Base(filepath.Dir(d)) == "fuzz" {
			continue
		}
		rel, _ := filepath.Rel("testdata", d)
		cases = append(cases, tc{rel, readTestdata(t, rel)})
	}
	cases = append(cases, tc{"clean-cluster", readTestdata(t, "clean-cluster")})
	cli, err := inventory.Read([]string{filepath.Join("..", "cli", "testdata", "cluster.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"cli-cluster", cli})
	cases = append(cases, tc{"synth", synth.Collected(synth.Cluster(synth.Options{Nodes: 24}))})

	// One memo for every node's evaluation, as a run keeps one: it
	// meets several inventories here, and must answer each from its own.
	memo := NewMemo()
	compared := 0
	for _, c := range cases {
		if len(c.inv.Nodes) == 0 {
			continue
		}
		current, _, err := c.inv.CurrentVersion("")
		if err != nil {
			current = mustVer(t, "1.35.2")
		}
		target, err := kubever.Parse(fmt.Sprintf("1.%d", current.Minor()+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, maxUnavailable := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/max-unavailable=%d", c.name, maxUnavailable), func(t *testing.T) {
				for _, phase := range []finding.Phase{finding.PhasePreflight, finding.PhasePostflight} {
					req := Request{Inventory: c.inv, Current: current, Target: target, Phase: phase, MaxUnavailable: maxUnavailable}
					if phase == finding.PhasePostflight {
						req.Baseline = c.inv
					}
					whole, err := e.Evaluate(context.Background(), req)
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range c.inv.Nodes {
						nreq := req
						nreq.Node = n.Name
						nreq.Memo = memo
						one, err := e.Evaluate(context.Background(), nreq)
						if err != nil {
							t.Fatal(err)
						}
						want, got := whole.NodeGate(n.Name), one.NodeGate(n.Name)
						if phase == finding.PhasePostflight {
							want, got = whole.NodeValidation(n.Name), one.NodeValidation(n.Name)
						}
						if !slices.EqualFunc(want, got, sameFinding) {
							t.Errorf("%s, node %s: node-restricted evaluation gives\n%v\nwhole cluster gives\n%v", phase, n.Name, got, want)
						}
						compared += len(want)
					}
				}
			})
		}
	}
	if compared == 0 {
		t.Fatal("no node was gated or failed by any finding: the comparison proved nothing")
	}
	t.Logf("%d findings compared", compared)
}

// A run's memo answers from the pods of the state it is given: a pod the
// watch replaced (a new object: other requests, no controller any more)
// is judged as it is now, never as the memo first met it. Each node's
// gate with the memo, state after state, matches a gate without one.
func TestMemoJudgesReplacedPodsAfresh(t *testing.T) {
	e := testEngine(t)
	before := synth.Collected(synth.Cluster(synth.Options{Nodes: 12}))
	memo := NewMemo()
	req := Request{Inventory: before, Current: mustVer(t, "1.35.2"), Target: mustVer(t, "1.36"), Phase: finding.PhasePreflight, MaxUnavailable: 1}
	gate := func(inv *inventory.Inventory, node string, m *Memo) []finding.Finding {
		t.Helper()
		r := req
		r.Inventory, r.Node, r.Memo = inv, node, m
		res, err := e.Evaluate(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return res.NodeGate(node)
	}
	worker := ""
	for _, n := range before.Nodes {
		gate(before, n.Name, memo) // the memo meets every pod
		if worker == "" && before.NodeRoles()[n.Name].Worker {
			worker = n.Name
		}
	}
	// The state after: the worker's evictable pods replaced by new
	// objects that request a whole node each and have no controller.
	after := *before
	after.Pods = slices.Clone(before.Pods)
	replaced := 0
	for i, p := range after.Pods {
		if p.Spec.NodeName != worker || !inventory.Evictable(p) {
			continue
		}
		np := p.DeepCopy()
		np.OwnerReferences = nil
		for j := range np.Spec.Containers {
			np.Spec.Containers[j].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}
		}
		after.Pods[i] = np
		replaced++
	}
	if replaced == 0 {
		t.Fatalf("no evictable pod on %s to replace", worker)
	}
	got, want := gate(&after, worker, memo), gate(&after, worker, nil)
	if !slices.EqualFunc(want, got, sameFinding) {
		t.Fatalf("with the memo:\n%v\nwithout:\n%v", got, want)
	}
	var unmanaged, capacity bool
	for _, f := range got {
		unmanaged = unmanaged || f.Check == "safety.unmanaged-pod"
		capacity = capacity || f.Check == "safety.drain-capacity"
	}
	if !unmanaged || !capacity {
		var checks []string
		for _, f := range got {
			checks = append(checks, f.Check)
		}
		t.Fatalf("the replaced pods should be judged unmanaged and too large to place; got %v", checks)
	}
}

func sameFinding(a, b finding.Finding) bool {
	return a.Check == b.Check && a.Severity == b.Severity && a.Subject == b.Subject && a.Node == b.Node &&
		a.Message == b.Message && a.Remediation == b.Remediation && slices.Equal(a.Scope, b.Scope)
}

// The post testdata's baseline and state after an upgrade: each node's
// validation, restricted to it, fails on what the whole evaluation holds
// against it.
func TestNodeRestrictedValidationAfterAnUpgrade(t *testing.T) {
	e := testEngine(t)
	before, after := readTestdata(t, "post/before"), readTestdata(t, "post/after")
	req := Request{Inventory: after, Baseline: before, Current: mustVer(t, "1.36.0"), Target: mustVer(t, "1.36.0"), Phase: finding.PhasePostflight}
	whole, err := e.Evaluate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, n := range after.Nodes {
		req.Node = n.Name
		one, err := e.Evaluate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		want, got := whole.NodeValidation(n.Name), one.NodeValidation(n.Name)
		if !slices.EqualFunc(want, got, sameFinding) {
			t.Errorf("node %s: restricted %v, whole %v", n.Name, got, want)
		}
		failed += len(want)
	}
	if failed == 0 {
		t.Fatal("the post testdata fails no node's validation: nothing was compared")
	}
}

// A node-restricted evaluation runs only the topics that can gate a node:
// the upgrade path (scope run and hop) is not among its checks.
func TestNodeRestrictedEvaluationSkipsRunOnlyTopics(t *testing.T) {
	e := testEngine(t)
	inv := readTestdata(t, "clean-cluster")
	res, err := e.Evaluate(context.Background(), Request{Inventory: inv, Current: mustVer(t, "1.35.2"), Target: mustVer(t, "1.37"),
		Phase: finding.PhasePreflight, Node: inv.Nodes[0].Name})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Checks, "path.minor-skip") || len(ofCheck(res.Findings, "path.minor-skip")) != 0 {
		t.Errorf("a node's gate evaluated the path topic: checks %v", res.Checks)
	}
	if !slices.Contains(res.Checks, "safety.emptydir") {
		t.Errorf("a node's gate did not evaluate the safety topic: checks %v", res.Checks)
	}
}

// A node's gate or validation builds only the input sections of the
// topics it evaluates, which is right only while each built-in topic reads
// no input section but its own (besides phase, current and target).
func TestBuiltinTopicsReadTheirOwnSection(t *testing.T) {
	ref := regexp.MustCompile(`input\.([a-z_]+)|object\.get\(input,\s*\[?"([a-z_]+)"|input\[`)
	names, err := fs.Glob(embedded, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(embedded, name)
		if err != nil {
			t.Fatal(err)
		}
		topic := strings.TrimSuffix(name, ".rego")
		for _, m := range ref.FindAllStringSubmatch(string(src), -1) {
			key := m[1] + m[2]
			if key == "" {
				t.Errorf("%s reads input with a computed key (%s): a node's gate cannot tell which sections it needs", name, m[0])
				continue
			}
			if key != topic && !reserved[key] {
				t.Errorf("%s reads input.%s, another topic's section", name, key)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no input reference found in the embedded policies")
	}
	if _, ok := sections["safety"]; !ok {
		t.Fatal("no safety section registered")
	}
}

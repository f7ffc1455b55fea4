package policies

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/upgate-dev/upgate/inventory"
)

func TestDrainCapacity(t *testing.T) {
	checks := []string{"safety.drain-capacity"}
	for _, tc := range []struct {
		name           string
		dir            string
		maxUnavailable int
		want           []string
		msgs           []string
	}{
		{"full", "full", 1, []string{
			"safety.drain-capacity Node/worker-1 @worker-1",
			"safety.drain-capacity Node/worker-2 @worker-2",
			"safety.drain-capacity Node/worker-3 @worker-3",
		}, []string{
			"draining node worker-1 leaves 1 of its 1 evictable pods without room on the 2 other schedulable nodes that admit them: " +
				"short by 500m CPU (pods to move request 1500m CPU, 1024Mi memory, 1 pod slots; " +
				"free there 1000m CPU, 6144Mi memory, 218 pod slots): shop/big-a",
			"draining node worker-2 leaves 1 of its 1 evictable pods without room on the 2 other schedulable nodes that admit them: " +
				"short by 600m CPU (pods to move request 1500m CPU, 1024Mi memory, 1 pod slots; " +
				"free there 900m CPU, 6080Mi memory, 217 pod slots): shop/big-b",
		}},
		{"one node at a time fits", "window", 1, nil, nil},
		// The run upgrades the workers fewest evictable pods first, so
		// worker-4 (none) goes first and worker-3 last, together with
		// worker-2: the windows follow that order, not the names.
		{"two nodes at a time do not", "window", 2, []string{
			"safety.drain-capacity Node/worker-1 @worker-1",
			"safety.drain-capacity Node/worker-2 @worker-2",
			"safety.drain-capacity Node/worker-3 @worker-3",
		}, []string{
			"draining node worker-1 together with worker-2 (--max-unavailable 2) leaves 1 of its 1 evictable pods without room on the one other schedulable node that admits them: " +
				"short by 1000m CPU (pods to move request 2000m CPU, 1024Mi memory, 2 pod slots; free there 1000m CPU, 3584Mi memory, 109 pod slots): shop/mid-a",
			"draining node worker-2 together with worker-3 (--max-unavailable 2)",
			"draining node worker-3 together with worker-2 (--max-unavailable 2)",
		}},
		{"constraints", "constraints", 1, []string{
			"safety.drain-capacity Node/worker-1 @worker-1",
			"safety.drain-capacity Node/worker-2 @worker-2",
			"safety.drain-capacity Node/worker-3 @worker-3",
		}, []string{
			"draining node worker-1 leaves 1 of its 1 evictable pods with no node to go to: no other Ready, uncordoned node meets their nodeSelector, required node affinity and taints: shop/ssd-x",
			"draining node worker-2 leaves 1 of its 1 evictable pods with no node to go to: no other Ready, uncordoned node meets their nodeSelector, required node affinity and taints: shop/pinned-x",
			"draining node worker-3 leaves 1 of its 2 evictable pods without room on the 3 other schedulable nodes that admit them " +
				"(pods to move request 4950m CPU, 1152Mi memory, 2 pod slots; free there 11800m CPU, 24320Mi memory, 328 pod slots): shop/init-x",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := bkRun(t, Request{Inventory: readTestdata(t, "capacity/base", "capacity/"+tc.dir), MaxUnavailable: tc.maxUnavailable})
			if got := bkKeys(res.Findings, checks...); !slices.Equal(got, tc.want) {
				t.Fatalf("findings:\n got %q\nwant %q", got, tc.want)
			}
			bkMessages(t, res.Findings, checks, tc.msgs...)
			if !slices.Contains(res.Checks, "safety.drain-capacity") {
				t.Errorf("Checks lacks safety.drain-capacity: %v", res.Checks)
			}
		})
	}
}

func TestCapaWindow(t *testing.T) {
	g := []string{"w1", "w2", "w3", "w4", "w5"}
	for _, tc := range []struct {
		name, stage string
		n           int
		want        []string
	}{
		{"w1", "workers", 1, nil},
		{"w1", "workers", 3, []string{"w2", "w3"}},
		{"w4", "workers", 3, []string{"w3", "w5"}},
		{"w5", "workers", 2, []string{"w4"}},
		{"w2", "workers", 9, []string{"w1", "w3", "w4", "w5"}},
		{"w2", "control-plane", 3, nil},
	} {
		if got := capaWindow(g, slices.Index(g, tc.name), tc.stage, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("capaWindow(%s, %s, %d) = %v, want %v", tc.name, tc.stage, tc.n, got, tc.want)
		}
	}
}

// capaCluster is a synthetic cluster: nodes workers with perNode evictable
// pods each, every pod requesting 100m and 128Mi, some pinned by hostname.
func capaCluster(nodes, perNode int) *inventory.Inventory {
	inv := &inventory.Inventory{}
	yes := true
	for i := range nodes {
		name := fmt.Sprintf("worker-%05d", i)
		inv.Nodes = append(inv.Nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "zone": fmt.Sprint(i % 3)}},
			Status: corev1.NodeStatus{
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			},
		})
		for j := range perNode {
			p := corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: fmt.Sprintf("app-%d-%d", i, j), Namespace: fmt.Sprintf("ns-%d", j%20),
					OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: fmt.Sprintf("rs-%d", j), Controller: &yes}},
				},
				Spec: corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				}}}, Tolerations: []corev1.Toleration{
					{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
					{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			}
			switch j % 10 {
			case 0: // pinned to its node: it fits nowhere else
				p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": name}
			case 1: // a zone
				p.Spec.NodeSelector = map[string]string{"zone": fmt.Sprint(i % 3)}
			}
			inv.Pods = append(inv.Pods, inventory.PodOf(&p))
		}
	}
	return inv
}

// Every node of a 2,000-node cluster with 30 pods each, a tenth of them
// pinned to their node, is worked out, none left unchecked by the bound
// (its time is logged; BenchmarkScaleSections measures it).
func TestDrainCapacityScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	inv := capaCluster(2000, 30)
	ix := newIndex(inv, &Request{MaxUnavailable: 2})
	start := time.Now()
	v, err := buildCapacity(ix)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("capacity for %d nodes, %d pods: %v", len(inv.Nodes), len(inv.Pods), took)
	// Each node's pinned pods (3) fit nowhere else; nothing is unchecked.
	nodes := v.(ast.Object).Get(ast.StringTerm("nodes")).Value.(*ast.Array)
	if nodes.Len() != len(inv.Nodes) {
		t.Fatalf("%d node results, want %d", nodes.Len(), len(inv.Nodes))
	}
	for i := range nodes.Len() {
		r := nodes.Elem(i).Value.(ast.Object)
		if r.Get(ast.StringTerm("unchecked")) != nil {
			t.Fatalf("node result %v unchecked", r)
		}
		if u := r.Get(ast.StringTerm("unplaced")); u == nil || u.String() != "3" {
			t.Fatalf("node result %v: want 3 unplaced", r)
		}
		if u := r.Get(ast.StringTerm("no_eligible")); u == nil || u.String() != "3" {
			t.Fatalf("node result %v: want 3 with no eligible node", r)
		}
	}
}

// Past its bound the fit reports nodes unchecked, and the rule blocks them:
// the gate fails closed rather than pass on a partial computation.
func TestDrainCapacityBudgetFailsClosed(t *testing.T) {
	res := bkRun(t, Request{Inventory: readTestdata(t, "capacity/base", "capacity/window"), capaProbes: 3})
	got := bkKeys(res.Findings, "safety.drain-capacity")
	if len(got) == 0 {
		t.Fatal("no safety.drain-capacity finding past the bound")
	}
	bkMessages(t, res.Findings, []string{"safety.drain-capacity"}, "was not worked out: the fit computation reached its bound")
}

// A pod's requests are the scheduler's (component-helpers PodRequests),
// whether capaRequests takes its short way (containers only) or not.
func TestCapaRequestsAreTheSchedulers(t *testing.T) {
	res := func(cpu, mem string) corev1.ResourceRequirements {
		r := corev1.ResourceList{}
		if cpu != "" {
			r[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			r[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return corev1.ResourceRequirements{Requests: r}
	}
	always := corev1.ContainerRestartPolicyAlways
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
	}{
		{"none", corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}},
		{"two containers", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: res("100m", "64Mi")}, {Name: "b", Resources: res("0.25", "1G")}}}},
		{"below a millicore", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: res("0.4m", "")}, {Name: "b", Resources: res("0.4m", "1")}}}},
		{"cpu only", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: res("2", "")}}}},
		{"one container below a millicore", corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: res("0.4m", "1.5")}}}},
		{"init container", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", Resources: res("3", "2Gi")}},
			Containers: []corev1.Container{{Name: "a", Resources: res("1", "1Gi")}}}},
		{"sidecar", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "s", RestartPolicy: &always, Resources: res("500m", "128Mi")}},
			Containers: []corev1.Container{{Name: "a", Resources: res("1", "1Gi")}}}},
		{"overhead", corev1.PodSpec{Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Containers: []corev1.Container{{Name: "a", Resources: res("1", "1Gi")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: tc.spec}
			r := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
			want := capaRes{cpu: r.Cpu().MilliValue(), mem: r.Memory().Value(), pods: 1}
			if got := capaRequests(inventory.PodOf(p)); got != want {
				t.Errorf("capaRequests = %+v, PodRequests gives %+v", got, want)
			}
		})
	}
}

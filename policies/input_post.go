package policies

import (
	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// input.post: the state after an upgrade, compared in Go with the baseline
// taken before it. Present only in postflight with a baseline.
//
//	input.post.components = [{          // every kubelet, kube-proxy,
//	    "name": "kubelet", "node",      // kube-apiserver, kube-controller-manager
//	    "namespace", "pod",             // and kube-scheduler after the upgrade
//	    "raw": "v1.36.0",               // (contract "component versions")
//	    "version": {...},               // omitted when it cannot be read
//	}]
//	input.post.nodes = [{               // nodes not Ready or cordoned after
//	    "name",
//	    "ready": "False" | "Unknown" | "Missing", "reason", // omitted when Ready
//	    "unschedulable": true,          // cordoned after the upgrade
//	    "in_baseline": true,            // the node is in the baseline
//	    "baseline_unschedulable": true, // and was cordoned there already
//	}]
//	input.post.workloads = [{           // Deployments, StatefulSets and
//	    "kind", "namespace", "name",    // DaemonSets in both states whose
//	    "before": 3, "after": 1,        // ready replicas changed (readyReplicas,
//	}]                                  // a DaemonSet's numberReady)
//
// Whether a change is a regression is post.rego's to decide; workloads
// whose count did not change are left out, as no comparison can flag them
// (at 150,000 pods they would only make the input larger).
func init() { registerSection("post", buildPost) }

// postComponents are the components that must be at the target after an
// upgrade.
var postComponents = map[string]bool{
	inventory.ComponentKubelet:           true,
	inventory.ComponentKubeProxy:         true,
	inventory.ComponentAPIServer:         true,
	inventory.ComponentControllerManager: true,
	inventory.ComponentScheduler:         true,
}

func buildPost(ix *index) (ast.Value, error) {
	if ix.req == nil || ix.req.Phase != finding.PhasePostflight || ix.req.Baseline == nil {
		return nil, nil
	}
	after, before := ix.inv, ix.req.Baseline

	var comps []*ast.Term
	for _, c := range ix.comps() {
		if !postComponents[c.Name] || !ix.aboutComponent(c) {
			continue
		}
		comps = append(comps, componentTerm(c))
	}

	baseNodes := make(map[string]*corev1.Node, len(before.Nodes))
	for i := range before.Nodes {
		baseNodes[before.Nodes[i].Name] = before.Nodes[i]
	}
	var nodes []*ast.Term
	for i := range after.Nodes {
		n := after.Nodes[i]
		ready, cond := healthNodeReady(n)
		if ready && !n.Spec.Unschedulable {
			continue
		}
		var f fields
		f.str("name", n.Name)
		if !ready {
			status := "Missing"
			if cond != nil {
				status = string(cond.Status)
				f.str("reason", cond.Reason)
			}
			f.str("ready", status)
		}
		f.flag("unschedulable", n.Spec.Unschedulable)
		if b, ok := baseNodes[n.Name]; ok {
			f.flag("in_baseline", true)
			f.flag("baseline_unschedulable", b.Spec.Unschedulable)
		}
		nodes = append(nodes, f.obj())
	}

	type key struct{ kind, namespace, name string }
	readyOf := func(inv *inventory.Inventory) map[key]int32 {
		m := make(map[key]int32, len(inv.Deployments)+len(inv.StatefulSets)+len(inv.DaemonSets))
		for i := range inv.Deployments {
			d := inv.Deployments[i]
			m[key{"Deployment", d.Namespace, d.Name}] = d.Status.ReadyReplicas
		}
		for i := range inv.StatefulSets {
			s := inv.StatefulSets[i]
			m[key{"StatefulSet", s.Namespace, s.Name}] = s.Status.ReadyReplicas
		}
		for i := range inv.DaemonSets {
			d := inv.DaemonSets[i]
			m[key{"DaemonSet", d.Namespace, d.Name}] = d.Status.NumberReady
		}
		return m
	}
	baseReady := readyOf(before)
	var workloads []*ast.Term
	addWorkload := func(k key, now int32) {
		was, ok := baseReady[k]
		if !ok || now == was {
			return
		}
		var f fields
		f.str("kind", k.kind)
		f.str("namespace", k.namespace)
		f.str("name", k.name)
		f.num("before", int(was))
		f.num("after", int(now))
		workloads = append(workloads, f.obj())
	}
	// In inventory order (sorted by namespace and name), kind by kind.
	for i := range after.Deployments {
		d := after.Deployments[i]
		addWorkload(key{"Deployment", d.Namespace, d.Name}, d.Status.ReadyReplicas)
	}
	for i := range after.StatefulSets {
		s := after.StatefulSets[i]
		addWorkload(key{"StatefulSet", s.Namespace, s.Name}, s.Status.ReadyReplicas)
	}
	for i := range after.DaemonSets {
		d := after.DaemonSets[i]
		addWorkload(key{"DaemonSet", d.Namespace, d.Name}, d.Status.NumberReady)
	}

	var f fields
	f.term("components", ast.ArrayTerm(comps...))
	f.term("nodes", ast.ArrayTerm(nodes...))
	f.term("workloads", ast.ArrayTerm(workloads...))
	return f.obj().Value, nil
}

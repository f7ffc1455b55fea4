package policies

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/upgate-dev/upgate/inventory"
)

// input.pdb: the PodDisruptionBudgets, joined in Go with the evictable
// pods they cover (same namespace, the PDB's label selector; policy/v1: a
// null selector selects nothing, {} everything). Which of those pods the
// eviction API would refuse to evict is pdb.rego's to decide.
//
//	input.pdb.budgets = [{
//	    "namespace", "name",
//	    "allowed": 0,                // disruptions allowed
//	    "from": "status" | "spec",   // status.disruptionsAllowed, or worked
//	                                 // out from the spec and pods when the
//	                                 // PDB has no status (manifests)
//	    "min_available": "3" | "50%",   // as written; omitted when unset
//	    "max_unavailable": "0" | "10%", // as written; omitted when unset
//	    "unhealthy_pod_eviction_policy": "AlwaysAllow", // as written; omitted
//	                                 // when unset (IfHealthyBudget)
//	    "expected": 3,               // expected pods (status or computed)
//	    "desired_healthy": 3, "current_healthy": 3,
//	    "pods": [{"name", "node",    // the evictable pods it covers
//	        "pending": true,         // status.phase Pending
//	        "deleting": true,        // metadata.deletionTimestamp set
//	        "unready": true}],       // not Ready (healthPodNotReady)
//	}]
//
// Every budget covering an evictable pod is listed; its pods only when it
// allows no disruption, since no rule reads the pods of the others (at
// 150,000 pods they would only make the input larger). The allowed
// disruptions of a budget without a status are worked out here as the
// disruption controller does (intstr scaling, controllers' scale), a fact
// that needs Kubernetes' own arithmetic.
func init() { registerSection("pdb", buildPDB) }

func buildPDB(ix *index) (ast.Value, error) {
	inv := ix.inv
	if len(inv.PodDisruptionBudgets) == 0 {
		return nil, nil
	}
	// In a node-restricted input, only the budgets that select an
	// evictable pod on the focus node can hold it: the others are left
	// out before any pod of the cluster is classed.
	var focusPods []*inventory.Pod
	focusNamespaces := map[string]bool{}
	if ix.focus != "" {
		for i, f := range ix.podFacts() {
			if p := inv.Pods[i]; f.node == ix.focus && f.evictable {
				focusPods = append(focusPods, p)
				focusNamespaces[p.Namespace] = true
			}
		}
	}
	type selected struct {
		pdb *policyv1.PodDisruptionBudget
		sel labels.Selector
	}
	var chosen []selected
	namespaces := map[string]bool{}
	for i := range inv.PodDisruptionBudgets {
		pdb := inv.PodDisruptionBudgets[i]
		if ix.focus != "" && !focusNamespaces[pdb.Namespace] {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			// The API server validates selectors; one that does not parse
			// selects nothing it could enforce.
			continue
		}
		if ix.focus != "" && !slices.ContainsFunc(focusPods, func(p *inventory.Pod) bool {
			return p.Namespace == pdb.Namespace && sel.Matches(labels.Set(p.Labels))
		}) {
			continue
		}
		chosen = append(chosen, selected{pdb, sel})
		namespaces[pdb.Namespace] = true
	}
	if len(chosen) == 0 {
		return nil, nil
	}
	classes := pdbPodClasses(inv, namespaces)
	// Only budgets without a status need their pods' controllers' scale.
	scale := sync.OnceValue(func() map[objRef]int32 { return pdbScales(ix) })

	var budgets []*ast.Term
	for _, c := range chosen {
		pdb, sel := c.pdb, c.sel
		var pods []*inventory.Pod
		for _, c := range classes[pdb.Namespace] {
			if sel.Matches(c.labels) {
				pods = append(pods, c.pods...)
			}
		}
		evictable := slices.DeleteFunc(slices.Clone(pods), func(p *inventory.Pod) bool { return !inventory.Evictable(p) })
		if len(evictable) == 0 {
			continue
		}
		st := pdbStatusOf(ix, pdb, pods, scale)
		var f fields
		f.str("namespace", pdb.Namespace)
		f.str("name", pdb.Name)
		f.num("allowed", int(st.allowed))
		f.str("from", st.from)
		if pdb.Spec.MinAvailable != nil {
			f.str("min_available", pdb.Spec.MinAvailable.String())
		}
		if pdb.Spec.MaxUnavailable != nil {
			f.str("max_unavailable", pdb.Spec.MaxUnavailable.String())
		}
		if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil {
			f.str("unhealthy_pod_eviction_policy", string(*p))
		}
		f.num("expected", int(st.expected))
		f.num("desired_healthy", int(st.desired))
		f.num("current_healthy", int(st.healthy))
		if st.allowed < 1 {
			f.term("pods", pdbPodTerms(evictable))
		}
		budgets = append(budgets, f.obj())
	}
	if len(budgets) == 0 {
		return nil, nil
	}
	return ast.NewObject(kv("budgets", ast.ArrayTerm(budgets...))), nil
}

// pdbClass is the pods of one namespace that share one label set: PDB
// selectors are matched once per class, not once per pod (a ReplicaSet's
// pods share their labels).
type pdbClass struct {
	labels labels.Set
	pods   []*inventory.Pod
}

func pdbPodClasses(inv *inventory.Inventory, namespaces map[string]bool) map[string][]*pdbClass {
	byKey := map[string]*pdbClass{}
	out := map[string][]*pdbClass{}
	var b strings.Builder
	var last *inventory.Pod // a workload's pods are next to each other
	var lastClass *pdbClass
	for i := range inv.Pods {
		p := inv.Pods[i]
		if !namespaces[p.Namespace] {
			continue
		}
		if last != nil && last.Namespace == p.Namespace && maps.Equal(last.Labels, p.Labels) {
			lastClass.pods = append(lastClass.pods, p)
			last = p
			continue
		}
		keys := make([]string, 0, len(p.Labels))
		for k := range p.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.Reset()
		b.WriteString(p.Namespace)
		for _, k := range keys {
			b.WriteByte(0)
			b.WriteString(k)
			b.WriteByte(1)
			b.WriteString(p.Labels[k])
		}
		key := b.String()
		c := byKey[key]
		if c == nil {
			c = &pdbClass{labels: labels.Set(p.Labels)}
			byKey[key] = c
			out[p.Namespace] = append(out[p.Namespace], c)
		}
		c.pods = append(c.pods, p)
		last, lastClass = p, c
	}
	return out
}

// pdbScales maps each workload that can own pods to its spec.replicas,
// the disruption controller's "scale" (Deployment, ReplicaSet,
// StatefulSet, ReplicationController; an unset replicas means 1).
func pdbScales(ix *index) map[objRef]int32 {
	inv := ix.inv
	m := map[objRef]int32{}
	rep := func(r *int32) int32 {
		if r == nil {
			return 1
		}
		return *r
	}
	for i := range inv.Deployments {
		d := inv.Deployments[i]
		m[objRef{"Deployment", d.Namespace, d.Name}] = rep(d.Spec.Replicas)
	}
	for i := range inv.ReplicaSets {
		r := inv.ReplicaSets[i]
		m[objRef{"ReplicaSet", r.Namespace, r.Name}] = rep(r.Spec.Replicas)
	}
	for i := range inv.StatefulSets {
		s := inv.StatefulSets[i]
		m[objRef{"StatefulSet", s.Namespace, s.Name}] = rep(s.Spec.Replicas)
	}
	for i := range inv.ReplicationControllers {
		r := inv.ReplicationControllers[i]
		m[objRef{"ReplicationController", r.Namespace, r.Name}] = rep(r.Spec.Replicas)
	}
	return m
}

// pdbStatus is a budget's allowed disruptions and the counts behind them.
type pdbStatus struct {
	from                                string
	allowed, expected, desired, healthy int32
}

// pdbHasStatus reports whether the disruption controller has written the
// budget's status; manifests written by hand usually have none.
func pdbHasStatus(pdb *policyv1.PodDisruptionBudget) bool {
	s := &pdb.Status
	return s.ObservedGeneration > 0 || s.DisruptionsAllowed != 0 || s.ExpectedPods != 0 ||
		s.CurrentHealthy != 0 || s.DesiredHealthy != 0 || len(s.Conditions) > 0
}

// pdbStatusOf is the budget's status, or, without one, what the
// disruption controller would compute (pkg/controller/disruption): with
// maxUnavailable or a percentage minAvailable the expected count is the
// sum of the scales of the pods' controllers (a Deployment's, not its
// ReplicaSet's, when the ReplicaSet is owned by one), percentages rounded
// up; with an integer minAvailable it is the number of pods. Allowed is
// healthy (Ready, not being deleted; a pod reporting no conditions counts
// by its phase, see healthPodNotReady) minus desired, and 0 when negative
// or when nothing is expected.
func pdbStatusOf(ix *index, pdb *policyv1.PodDisruptionBudget, pods []*inventory.Pod, scale func() map[objRef]int32) pdbStatus {
	if pdbHasStatus(pdb) {
		s := &pdb.Status
		return pdbStatus{"status", s.DisruptionsAllowed, s.ExpectedPods, s.DesiredHealthy, s.CurrentHealthy}
	}
	st := pdbStatus{from: "spec"}
	for _, p := range pods {
		if p.DeletionTimestamp == nil && !healthPodNotReady(p) {
			st.healthy++
		}
	}
	expectedScale := func() int32 {
		seen := map[objRef]bool{}
		var n int32
		for _, p := range pods {
			c, ok := podController(p)
			if !ok {
				continue // the controller skips unmanaged pods
			}
			// The disruption controller's finders resolve a ReplicaSet
			// owned by a Deployment to the Deployment's scale.
			if up := ix.controllers(c); len(up) > 0 {
				c = up[len(up)-1]
			}
			if seen[c] {
				continue
			}
			seen[c] = true
			if s, ok := scale()[c]; ok {
				n += s
			} else {
				n++ // controller not in the inventory: count the pod
			}
		}
		return n
	}
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		st.expected = expectedScale()
		mu, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(st.expected), true)
		if err != nil {
			mu = 0
		}
		st.desired = max(st.expected-int32(mu), 0)
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		st.desired = pdb.Spec.MinAvailable.IntVal
		st.expected = int32(len(pods))
	case pdb.Spec.MinAvailable != nil:
		st.expected = expectedScale()
		ma, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(st.expected), true)
		if err != nil {
			ma = int(st.expected)
		}
		st.desired = int32(ma)
	}
	st.allowed = st.healthy - st.desired
	if st.expected <= 0 || st.allowed < 0 {
		st.allowed = 0
	}
	return st
}

// pdbPodTerms renders a budget's evictable pods for Rego, in inventory
// order (pdb.rego sorts what it prints).
func pdbPodTerms(pods []*inventory.Pod) *ast.Term {
	terms := make([]*ast.Term, 0, len(pods))
	for _, p := range pods {
		var f fields
		f.str("name", p.Name)
		f.str("node", p.Spec.NodeName)
		f.flag("pending", p.Status.Phase == corev1.PodPending)
		f.flag("deleting", p.DeletionTimestamp != nil)
		f.flag("unready", healthPodNotReady(p))
		terms = append(terms, f.obj())
	}
	return ast.ArrayTerm(terms...)
}

package policies

import (
	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/inventory"
)

// index holds the joins input sections share, computed once per Evaluate
// (and once per ApplyIgnores). It is the one file every section's author may
// extend: add a field and compute it in newIndex (or lazily, behind a
// method) when more than one section needs the same join.
type index struct {
	// req is the evaluation request; nil when the index serves ApplyIgnores.
	req *Request
	inv *inventory.Inventory
	// focus is Request.Node: the node whose gate or validation is
	// evaluated; "" for the whole cluster.
	focus string

	// roles are every node's derived roles (contract "Roles").
	roles map[string]inventory.Roles
	// owners maps a workload to its controlling owner when that owner is
	// itself a workload in the inventory (ReplicaSet → Deployment,
	// Job → CronJob is recorded too if CronJobs are ever read).
	owners map[objRef]objRef
	// podsByNode lists the pods bound to each node, in inventory order.
	podsByNode map[string][]*corev1.Pod

	components []inventory.Component
	compDone   bool
	pods       map[objRef]*corev1.Pod
	terms      map[string]*ast.Term
}

// objRef names an object.
type objRef struct {
	Kind, Namespace, Name string
}

func (r objRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

func newIndex(inv *inventory.Inventory, req *Request) *index {
	ix := &index{
		req:        req,
		inv:        inv,
		roles:      inv.NodeRoles(),
		owners:     map[objRef]objRef{},
		podsByNode: make(map[string][]*corev1.Pod, len(inv.Nodes)),
	}
	if req != nil {
		ix.focus = req.Node
	}
	addOwner := func(kind string, m *metav1.ObjectMeta) {
		if c, ok := controllerRef(m.OwnerReferences); ok {
			ix.owners[objRef{kind, m.Namespace, m.Name}] = objRef{c.Kind, m.Namespace, c.Name}
		}
	}
	for i := range inv.ReplicaSets {
		addOwner("ReplicaSet", &inv.ReplicaSets[i].ObjectMeta)
	}
	for i := range inv.Jobs {
		addOwner("Job", &inv.Jobs[i].ObjectMeta)
	}
	for i := range inv.Pods {
		p := &inv.Pods[i]
		if p.Spec.NodeName != "" {
			ix.podsByNode[p.Spec.NodeName] = append(ix.podsByNode[p.Spec.NodeName], p)
		}
	}
	return ix
}

// about reports whether an input entry bound to node belongs in the
// input: always for the whole cluster; in a node-restricted input (see
// "Node-restricted input" in input.go), when it is bound to the focus node
// or to no node.
func (ix *index) about(node string) bool {
	return ix.focus == "" || node == "" || node == ix.focus
}

// controllerRef returns the owner reference with controller: true.
func controllerRef(refs []metav1.OwnerReference) (metav1.OwnerReference, bool) {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r, true
		}
	}
	return metav1.OwnerReference{}, false
}

// podController is the pod's direct controller (a ReplicaSet, Job, ...).
func podController(p *corev1.Pod) (objRef, bool) {
	c, ok := controllerRef(p.OwnerReferences)
	if !ok {
		return objRef{}, false
	}
	return objRef{c.Kind, p.Namespace, c.Name}, true
}

// controllers lists ref's controlling owners, nearest first, following
// owners recorded in the inventory (ReplicaSet → Deployment).
func (ix *index) controllers(ref objRef) []objRef {
	var out []objRef
	for i := 0; i < 8; i++ { // owner chains are short; a cycle must not hang us
		o, ok := ix.owners[ref]
		if !ok {
			break
		}
		out = append(out, o)
		ref = o
	}
	return out
}

// workload is the pod's controlling workload: its controller, followed up
// to the top (ReplicaSet → Deployment). ok is false for a pod with no
// controller.
func (ix *index) workload(p *corev1.Pod) (objRef, bool) {
	c, ok := podController(p)
	if !ok {
		return objRef{}, false
	}
	if up := ix.controllers(c); len(up) > 0 {
		return up[len(up)-1], true
	}
	return c, true
}

// pod finds a pod by namespace and name.
func (ix *index) pod(namespace, name string) *corev1.Pod {
	if ix.pods == nil {
		ix.pods = make(map[objRef]*corev1.Pod, len(ix.inv.Pods))
		for i := range ix.inv.Pods {
			p := &ix.inv.Pods[i]
			ix.pods[objRef{"Pod", p.Namespace, p.Name}] = p
		}
	}
	return ix.pods[objRef{"Pod", namespace, name}]
}

// term returns a shared string term for s: input values repeated across
// many objects (namespaces, node names, kinds) are allocated once.
func (ix *index) term(s string) *ast.Term {
	if t, ok := ix.terms[s]; ok {
		return t
	}
	if ix.terms == nil {
		ix.terms = map[string]*ast.Term{}
	}
	t := ast.StringTerm(s)
	ix.terms[s] = t
	return t
}

// comps is the inventory's component instances with their versions.
func (ix *index) comps() []inventory.Component {
	if !ix.compDone {
		ix.components, ix.compDone = ix.inv.Components(), true
	}
	return ix.components
}

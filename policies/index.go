package policies

import (
	"iter"
	"slices"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
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
	// Job → CronJob is recorded too if CronJobs are ever read); built on
	// first use (ownerOf).
	owners map[objRef]objRef
	// ownersSorted caches ownerListsSorted: 1 yes, -1 no, 0 not known.
	ownersSorted int
	// podsByNode lists the pods bound to each node, in inventory order;
	// built on first use (nodePods).
	podsByNode map[string][]*inventory.Pod

	// memo is Request.Memo, locked for the index's evaluation; nil when
	// there is none.
	memo *Memo
	// factList is podFacts' result.
	factList []*podFacts

	components []inventory.Component
	compDone   bool
	pods       map[objRef]*inventory.Pod
	podsSorted bool
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
	ix := &index{req: req, inv: inv, roles: inv.NodeRoles()}
	if req != nil {
		ix.focus = req.Node
		ix.memo = req.Memo
	}
	return ix
}

// ownerOf is ref's controlling owner when the inventory holds it: only
// ReplicaSets and Jobs are followed up (to a Deployment, a CronJob). A
// node-restricted input follows a few chains: it finds each owner by
// binary search in the inventory's sorted lists; a whole check follows a
// chain per pod, through a map built once.
func (ix *index) ownerOf(ref objRef) (objRef, bool) {
	if ref.Kind != "ReplicaSet" && ref.Kind != "Job" {
		return objRef{}, false
	}
	if ix.owners == nil && ix.focus != "" && ix.ownerListsSorted() {
		var m *metav1.ObjectMeta
		if ref.Kind == "ReplicaSet" {
			if r := findObject(ix.inv.ReplicaSets, ref.Namespace, ref.Name); r != nil {
				m = &r.ObjectMeta
			}
		} else if j := findObject(ix.inv.Jobs, ref.Namespace, ref.Name); j != nil {
			m = &j.ObjectMeta
		}
		if m == nil {
			return objRef{}, false
		}
		if c, ok := controllerRef(m.OwnerReferences); ok {
			return objRef{c.Kind, ref.Namespace, c.Name}, true
		}
		return objRef{}, false
	}
	if ix.owners == nil {
		ix.owners = buildOwners(ix.inv)
	}
	o, ok := ix.owners[ref]
	return o, ok
}

// ownerListsSorted reports whether the ReplicaSets and Jobs are in the
// inventory's order (Sort; every reader's result, not every hand-built
// inventory), with no name twice.
func (ix *index) ownerListsSorted() bool {
	if ix.ownersSorted == 0 {
		ix.ownersSorted = -1
		if strictlySorted(ix.inv.ReplicaSets) && strictlySorted(ix.inv.Jobs) {
			ix.ownersSorted = 1
		}
	}
	return ix.ownersSorted > 0
}

func strictlySorted[T interface {
	GetNamespace() string
	GetName() string
}](list []T) bool {
	for i := 1; i < len(list); i++ {
		a, b := list[i-1], list[i]
		if a.GetNamespace() > b.GetNamespace() || (a.GetNamespace() == b.GetNamespace() && a.GetName() >= b.GetName()) {
			return false
		}
	}
	return true
}

// findObject finds an object by namespace and name by binary search in
// a list in the inventory's order (strictlySorted); nil when it is not
// there.
func findObject[T interface {
	GetNamespace() string
	GetName() string
}](list []T, namespace, name string) T {
	i := sort.Search(len(list), func(i int) bool {
		ns, n := list[i].GetNamespace(), list[i].GetName()
		return ns > namespace || (ns == namespace && n >= name)
	})
	var zero T
	if i < len(list) && list[i].GetNamespace() == namespace && list[i].GetName() == name {
		return list[i]
	}
	return zero
}

// buildOwners maps ReplicaSets and Jobs to their controllers.
func buildOwners(inv *inventory.Inventory) map[objRef]objRef {
	owners := make(map[objRef]objRef, len(inv.ReplicaSets)+len(inv.Jobs))
	addOwner := func(kind string, m *metav1.ObjectMeta) {
		if c, ok := controllerRef(m.OwnerReferences); ok {
			owners[objRef{kind, m.Namespace, m.Name}] = objRef{c.Kind, m.Namespace, c.Name}
		}
	}
	for _, r := range inv.ReplicaSets {
		addOwner("ReplicaSet", &r.ObjectMeta)
	}
	for _, j := range inv.Jobs {
		addOwner("Job", &j.ObjectMeta)
	}
	return owners
}

// nodePods is the pods bound to each node, in inventory order.
func (ix *index) nodePods() map[string][]*inventory.Pod {
	if ix.podsByNode == nil {
		ix.podsByNode = make(map[string][]*inventory.Pod, len(ix.inv.Nodes))
		for i, f := range ix.podFacts() {
			if f.node != "" {
				ix.podsByNode[f.node] = append(ix.podsByNode[f.node], ix.inv.Pods[i])
			}
		}
	}
	return ix.podsByNode
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
func podController(p *inventory.Pod) (objRef, bool) {
	c, ok := controllerRef(p.OwnerReferences)
	if !ok {
		return objRef{}, false
	}
	return objRef{c.Kind, p.Namespace, c.Name}, true
}

// controllers lists ref's controlling owners, nearest first, following
// owners recorded in the inventory (ReplicaSet → Deployment).
func (ix *index) controllers(ref objRef) []objRef {
	return slices.Collect(ix.up(ref))
}

// up yields ref's controlling owners, nearest first, as controllers
// lists them, without building the list.
func (ix *index) up(ref objRef) iter.Seq[objRef] {
	return func(yield func(objRef) bool) {
		for i := 0; i < 8; i++ { // owner chains are short; a cycle must not hang us
			o, ok := ix.ownerOf(ref)
			if !ok || !yield(o) {
				return
			}
			ref = o
		}
	}
}

// pod finds a pod by namespace and name: by binary search when the
// inventory is in its order (Sort; every reader's result), else through a
// map built once.
func (ix *index) pod(namespace, name string) *inventory.Pod {
	if ix.pods == nil {
		ix.pods = map[objRef]*inventory.Pod{}
		if ix.podsSorted = strictlySorted(ix.inv.Pods); !ix.podsSorted {
			for _, p := range ix.inv.Pods {
				ix.pods[objRef{"Pod", p.Namespace, p.Name}] = p
			}
		}
	}
	if ix.podsSorted {
		return findObject(ix.inv.Pods, namespace, name)
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

// strs is a list of strings repeated across many objects (node names),
// each a shared term.
func (ix *index) strs(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ix.term(s)
	}
	return ast.ArrayTerm(ts...)
}

// comps is the inventory's component instances with their versions.
func (ix *index) comps() []inventory.Component {
	if !ix.compDone {
		ix.components, ix.compDone = ix.inv.Components(), true
	}
	return ix.components
}

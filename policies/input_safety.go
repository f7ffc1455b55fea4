package policies

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// input.safety: what the Kismatic-style drain safety rules read.
//
//	input.safety.pods = [{                  // evictable pods only (below)
//	    "namespace", "name", "node",
//	    "controller": {"kind", "name"},     // the controller owner reference
//	    "workload": {"kind", "name"},       // controller followed RS → Deployment
//	    "emptydir": ["volume", ...],
//	    "hostpath": [{"volume", "path"}],
//	    "claims": [{"volume", "claim", "pv", "source", "path"}],
//	        // PVC → PV joined: source is the PV's volume source
//	        // ("hostPath", "local", "csi", "nfs", ... "" when unbound)
//	}]
//	input.safety.workloads = [{             // Deployments, StatefulSets,
//	    "kind", "namespace", "name",        // ReplicaSets, ReplicationControllers
//	    "replicas": 1,                      // omitted when spec.replicas is unset
//	    "owner": {"kind", "name"},          // controller owner reference
//	    "nodes": ["worker-1"],              // nodes of its running pods (a
//	                                        // Deployment's and its ReplicaSet's)
//	}]
//	input.safety.daemonsets = [{"namespace", "name",
//	    "pod_nodes": [...],                 // nodes its pods are bound to
//	    "scheduled": n}]                    // status.currentNumberScheduled
//	input.safety.nodes = [{"name", "control_plane", "etcd", "worker",
//	    "ingress", "storage"}]              // roles; false ones omitted
//	input.safety.counts = {"control_plane": n, "etcd": n, "worker": n}
//
// Only evictable pods are listed: those a drain would evict, as
// inventory.Evictable decides (bound to a node, not a mirror/static pod, not
// DaemonSet-owned, not Succeeded/Failed), the one definition the drain,
// PDB and capacity code share. Deciding it per pod in Rego cost more than
// every safety rule together at 150,000 pods.
func init() { registerSection("safety", buildSafety) }

func buildSafety(ix *index) (ast.Value, error) {
	inv := ix.inv

	// PVC → PV.
	pvs := make(map[string]*corev1.PersistentVolume, len(inv.PersistentVolumes))
	for i := range inv.PersistentVolumes {
		pvs[inv.PersistentVolumes[i].Name] = inv.PersistentVolumes[i]
	}
	pvcs := make(map[objRef]*corev1.PersistentVolumeClaim, len(inv.PersistentVolumeClaims))
	for i := range inv.PersistentVolumeClaims {
		c := inv.PersistentVolumeClaims[i]
		pvcs[objRef{"PersistentVolumeClaim", c.Namespace, c.Name}] = c
	}

	workloadNodes, dsNodes := newNodeSets(), newNodeSets()
	var runs map[objRef]bool
	if ix.focus != "" {
		runs = make(map[objRef]bool, len(inv.Deployments)+len(inv.ReplicaSets)+len(inv.StatefulSets)+len(inv.Jobs))
	}
	var lastRunning objRef // a workload's pods are next to each other

	// The controller and workload objects repeat across a workload's pods.
	refTerms := map[objRef]*ast.Term{}
	refTerm := func(r objRef) *ast.Term {
		t, ok := refTerms[r]
		if !ok {
			t = obj(kv("kind", ix.term(r.Kind)), kv("name", ix.term(r.Name)))
			refTerms[r] = t
		}
		return t
	}

	pods := make([]*ast.Term, 0, len(inv.Pods))
	// A controller's pods are next to each other (the inventory's order):
	// its chain of workloads (its ReplicaSet, the Deployment above) and
	// their node lists are looked up once per controller, not per pod.
	var chainOf objRef
	var chain []*nodeList
	var top objRef
	for i, pf := range ix.podFacts() {
		c, controlled := pf.ctrl, pf.controlled
		if controlled && (chain == nil || c != chainOf) {
			chainOf, top = c, c
			chain = append(chain[:0], workloadNodes.list(c))
			for up := range ix.up(c) {
				chain = append(chain, workloadNodes.list(up))
				top = up
			}
		}
		switch {
		case !controlled || !pf.running():
		case c.Kind == "DaemonSet":
			dsNodes.list(c).add(pf.node)
		default:
			// Every workload of the chain runs the pod: its ReplicaSet
			// and the Deployment above it. A node-restricted input lists
			// only the focus node among a workload's nodes, and notes
			// which controllers run a pod at all (their owners below).
			if ix.focus != "" && c != lastRunning {
				lastRunning = c
				runs[c] = true
			}
			if ix.about(pf.node) {
				for _, l := range chain {
					l.add(pf.node)
				}
			}
		}
		if !ix.about(pf.node) || !pf.evictable {
			continue
		}
		p := inv.Pods[i]
		f := make(fields, 0, 8)
		f.shared(ix, "namespace", p.Namespace)
		f.str("name", p.Name)
		f.shared(ix, "node", p.Spec.NodeName)
		if controlled {
			f.term("controller", refTerm(c))
			f.term("workload", refTerm(top)) // the top of its chain (ix.workload)
		}
		var emptyDirs, hostPaths, claims []*ast.Term
		for _, v := range p.Spec.Volumes {
			switch {
			case v.EmptyDir != nil:
				emptyDirs = append(emptyDirs, str(v.Name))
			case v.HostPath != nil:
				hostPaths = append(hostPaths, obj(kv("volume", str(v.Name)), kv("path", str(v.HostPath.Path))))
			case v.PersistentVolumeClaim != nil:
				claims = append(claims, claimTerm(v.Name, p.Namespace, v.PersistentVolumeClaim.ClaimName, pvcs, pvs))
			}
		}
		f.term("emptydir", ast.ArrayTerm(emptyDirs...)) // nil/empty lists are skipped
		f.term("hostpath", ast.ArrayTerm(hostPaths...))
		f.term("claims", ast.ArrayTerm(claims...))
		pods = append(pods, f.obj())
	}

	var workloads []*ast.Term
	addWorkload := func(kind string, m *metav1.ObjectMeta, replicas *int32) {
		ref := objRef{kind, m.Namespace, m.Name}
		nodes := workloadNodes.of(ref)
		if ix.focus != "" && len(nodes) == 0 && ((replicas != nil && *replicas == 0) || runs[ref]) {
			// It runs on other nodes only, or wants no pod and runs none
			// (a Deployment's old ReplicaSets): no drain of this node
			// touches it.
			return
		}
		f := make(fields, 0, 6)
		f.shared(ix, "kind", kind)
		f.shared(ix, "namespace", m.Namespace)
		f.str("name", m.Name)
		if replicas != nil {
			f.num("replicas", int(*replicas))
		}
		if c, ok := controllerRef(m.OwnerReferences); ok {
			f.term("owner", refTerm(objRef{c.Kind, m.Namespace, c.Name}))
		}
		f.term("nodes", ix.strs(nodes))
		workloads = append(workloads, f.obj())
	}
	if ix.focus != "" {
		// A ReplicaSet or Job that runs a pod runs it for its owners too:
		// each is read from the object's own owner reference, not looked
		// up for every pod.
		propagate := func(kind string, m *metav1.ObjectMeta) {
			if !runs[objRef{kind, m.Namespace, m.Name}] {
				return
			}
			if c, ok := controllerRef(m.OwnerReferences); ok {
				up := objRef{c.Kind, m.Namespace, c.Name}
				runs[up] = true
				if up.Kind == "ReplicaSet" || up.Kind == "Job" { // chains longer than one hop (ownerOf)
					for u := range ix.up(up) {
						runs[u] = true
					}
				}
			}
		}
		for _, r := range inv.ReplicaSets {
			propagate("ReplicaSet", &r.ObjectMeta)
		}
		for _, j := range inv.Jobs {
			propagate("Job", &j.ObjectMeta)
		}
	}
	for i := range inv.Deployments {
		d := inv.Deployments[i]
		addWorkload("Deployment", &d.ObjectMeta, d.Spec.Replicas)
	}
	for i := range inv.StatefulSets {
		s := inv.StatefulSets[i]
		addWorkload("StatefulSet", &s.ObjectMeta, s.Spec.Replicas)
	}
	for i := range inv.ReplicaSets {
		r := inv.ReplicaSets[i]
		addWorkload("ReplicaSet", &r.ObjectMeta, r.Spec.Replicas)
	}
	for i := range inv.ReplicationControllers {
		r := inv.ReplicationControllers[i]
		addWorkload("ReplicationController", &r.ObjectMeta, r.Spec.Replicas)
	}

	daemonsets := make([]*ast.Term, 0, len(inv.DaemonSets))
	for i := range inv.DaemonSets {
		d := inv.DaemonSets[i]
		var f fields
		f.str("namespace", d.Namespace)
		f.str("name", d.Name)
		f.term("pod_nodes", ix.strs(dsNodes.of(objRef{"DaemonSet", d.Namespace, d.Name})))
		f.num("scheduled", int(d.Status.CurrentNumberScheduled))
		daemonsets = append(daemonsets, f.obj())
	}

	var cp, etcd, workers int
	nodes := make([]*ast.Term, 0, len(inv.Nodes))
	for _, n := range inv.Nodes {
		r := ix.roles[n.Name]
		var f fields
		f.str("name", n.Name)
		f.flag("control_plane", r.ControlPlane)
		f.flag("etcd", r.Etcd)
		f.flag("worker", r.Worker)
		f.flag("ingress", r.Ingress)
		f.flag("storage", r.Storage)
		nodes = append(nodes, f.obj())
		if r.ControlPlane {
			cp++
		}
		if r.Etcd {
			etcd++
		}
		if r.Worker {
			workers++
		}
	}

	return ast.NewObject(
		kv("pods", ast.ArrayTerm(pods...)),
		kv("workloads", ast.ArrayTerm(workloads...)),
		kv("daemonsets", ast.ArrayTerm(daemonsets...)),
		kv("nodes", ast.ArrayTerm(nodes...)),
		kv("counts", obj(kv("control_plane", num(cp)), kv("etcd", num(etcd)), kv("worker", num(workers)))),
	), nil
}

// nodeSets records the nodes each object's pods run on.
type nodeSets struct {
	nodes map[objRef]*nodeList
}

// nodeList is one object's nodes, in the order its pods were met, with
// repeats: a node met again right after itself is not added twice (a
// workload's pods on one node are mostly next to each other), the others
// are dropped by of.
type nodeList []string

func newNodeSets() *nodeSets {
	return &nodeSets{nodes: map[objRef]*nodeList{}}
}

// list returns r's node list, to add to.
func (s *nodeSets) list(r objRef) *nodeList {
	l, ok := s.nodes[r]
	if !ok {
		l = new(nodeList)
		s.nodes[r] = l
	}
	return l
}

func (l *nodeList) add(node string) {
	if n := len(*l); n > 0 && (*l)[n-1] == node {
		return
	}
	*l = append(*l, node)
}

// of returns r's nodes, sorted, each once.
func (s *nodeSets) of(r objRef) []string {
	l, ok := s.nodes[r]
	if !ok {
		return nil
	}
	slices.Sort(*l)
	*l = slices.Compact(*l)
	return *l
}

// claimTerm joins a pod's PVC volume to its PersistentVolume.
func claimTerm(volume, namespace, claim string, pvcs map[objRef]*corev1.PersistentVolumeClaim, pvs map[string]*corev1.PersistentVolume) *ast.Term {
	var f fields
	f.str("volume", volume)
	f.str("claim", claim)
	pvc := pvcs[objRef{"PersistentVolumeClaim", namespace, claim}]
	if pvc == nil || pvc.Spec.VolumeName == "" {
		return f.obj()
	}
	f.str("pv", pvc.Spec.VolumeName)
	if pv := pvs[pvc.Spec.VolumeName]; pv != nil {
		src, path := pvSource(pv)
		f.str("source", src)
		f.str("path", path)
	}
	return f.obj()
}

// pvSource names a PersistentVolume's volume source as its spec field is
// named, with the host path for hostPath and local volumes.
func pvSource(pv *corev1.PersistentVolume) (string, string) {
	s := pv.Spec.PersistentVolumeSource
	switch {
	case s.HostPath != nil:
		return "hostPath", s.HostPath.Path
	case s.Local != nil:
		return "local", s.Local.Path
	case s.CSI != nil:
		return "csi", ""
	case s.NFS != nil:
		return "nfs", ""
	case s.ISCSI != nil:
		return "iscsi", ""
	case s.FC != nil:
		return "fc", ""
	default:
		return "other", ""
	}
}

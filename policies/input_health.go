package policies

import (
	"cmp"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/inventory"
)

// input.health: what is unhealthy in the cluster as it is (before the
// upgrade, or after it in postflight). Only objects with something wrong
// are listed; the rules decide what is worth a finding.
//
//	input.health.nodes = [{           // nodes not Ready, under pressure or cordoned
//	    "name",
//	    "ready": "False" | "Unknown" | "Missing",  // omitted when True
//	    "reason", "message",          // of the Ready condition, when given
//	    "pressure": ["MemoryPressure", "DiskPressure", "PIDPressure"], // True ones
//	    "unschedulable": true,        // spec.unschedulable (cordoned)
//	}]
//	input.health.workloads = [{       // fewer ready than desired (status observed)
//	    "kind": "Deployment" | "StatefulSet" | "DaemonSet",
//	    "namespace", "name",
//	    "desired": 3,                 // spec.replicas (unset: 1), or a
//	                                  // DaemonSet's status.desiredNumberScheduled
//	    "ready": 1,                   // status.readyReplicas / numberReady
//	}]
//	input.health.pods = [{            // Pending/Unknown, or a container waiting
//	    "namespace", "name", "node",  // node omitted when unbound
//	    "phase": "Pending",
//	    "container": "app",           // the worst waiting container: one in
//	    "waiting": "CrashLoopBackOff",//   CrashLoopBackOff, else the most restarted
//	    "restarts": 12,               // its restartCount
//	}]
//	input.health.control_plane_pods = [{ // kube-system pods labelled
//	    "namespace", "name", "node",     // component=kube-apiserver|
//	    "component": "kube-apiserver",   // kube-controller-manager|
//	    "phase": "Running",              // kube-scheduler|etcd whose Ready
//	    "reason": "CrashLoopBackOff",    // condition is not True; reason: a
//	}]                                   // waiting container's, else the
//	                                     // condition's, else the phase
//	input.health.disk = [{            // nodes whose root filesystem is measured
//	    "name",                       //   or in doubt
//	    "available_bytes": 524288000, // node.fs of the kubelet stats summary,
//	    "capacity_bytes": 2e10,       //   when it was read
//	    "summary_error": "forbidden: ...", // it was asked for and not read: why
//	    "disk_pressure": true,        // the DiskPressure condition is True
//	}]
//
// A node is listed under disk when its stats summary was asked for (every
// node then: bytes or the reason) or when it reports DiskPressure; a node
// whose summary was not asked for and that reports no DiskPressure is not.
// Control-plane pods are listed only under control_plane_pods.
//
// Only what a status reports is judged, so that manifests written by hand
// (no status, or only a phase) do not read as an unhealthy cluster: a
// workload whose controller has not reported (status.observedGeneration 0)
// is not listed; a pod that reports no conditions is judged by its phase
// alone. A node is the unit of the upgrade and fails closed: one with no
// Ready condition is listed as "Missing".
func init() { registerSection("health", buildHealth) }

// healthControlPlane are the control-plane components whose pods'
// readiness health.control-plane-pod-not-ready reports.
var healthControlPlane = map[string]bool{
	inventory.ComponentAPIServer:         true,
	inventory.ComponentControllerManager: true,
	inventory.ComponentScheduler:         true,
	inventory.ComponentEtcd:              true,
}

func buildHealth(ix *index) (ast.Value, error) {
	inv := ix.inv
	var nodes []*ast.Term
	for i := range inv.Nodes {
		n := inv.Nodes[i]
		var f fields
		ready, cond := healthNodeReady(n)
		if !ready {
			status := "Missing"
			if cond != nil {
				status = string(cond.Status)
				f.str("reason", cond.Reason)
				f.str("message", cond.Message)
			}
			f.str("ready", status)
		}
		var pressure []string
		for _, c := range n.Status.Conditions {
			switch c.Type {
			case corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
				if c.Status == corev1.ConditionTrue {
					pressure = append(pressure, string(c.Type))
				}
			}
		}
		sort.Strings(pressure)
		f.term("pressure", strs(pressure))
		f.flag("unschedulable", n.Spec.Unschedulable)
		if len(f) == 0 {
			continue
		}
		f = append(fields{kv("name", str(n.Name))}, f...)
		nodes = append(nodes, f.obj())
	}

	var workloads []*ast.Term
	addWorkload := func(kind string, m *metav1.ObjectMeta, observed int64, desired, ready int32) {
		if observed == 0 || ready >= desired {
			return
		}
		var f fields
		f.str("kind", kind)
		f.str("namespace", m.Namespace)
		f.str("name", m.Name)
		f.num("desired", int(desired))
		f.num("ready", int(ready))
		workloads = append(workloads, f.obj())
	}
	for i := range inv.Deployments {
		d := inv.Deployments[i]
		addWorkload("Deployment", &d.ObjectMeta, d.Status.ObservedGeneration, healthReplicas(d.Spec.Replicas), d.Status.ReadyReplicas)
	}
	for i := range inv.StatefulSets {
		s := inv.StatefulSets[i]
		addWorkload("StatefulSet", &s.ObjectMeta, s.Status.ObservedGeneration, healthReplicas(s.Spec.Replicas), s.Status.ReadyReplicas)
	}
	for i := range inv.DaemonSets {
		d := inv.DaemonSets[i]
		addWorkload("DaemonSet", &d.ObjectMeta, d.Status.ObservedGeneration, d.Status.DesiredNumberScheduled, d.Status.NumberReady)
	}

	var pods, cpPods []*ast.Term
	for i, pf := range ix.podFacts() {
		if pf.terminal || (!pf.kubeSystem && !ix.about(pf.node)) {
			continue
		}
		p := inv.Pods[i]
		if comp := p.Labels["component"]; pf.kubeSystem && healthControlPlane[comp] {
			if !healthPodNotReady(p) {
				continue
			}
			var f fields
			f.str("namespace", p.Namespace)
			f.str("name", p.Name)
			f.str("node", p.Spec.NodeName)
			f.str("component", comp)
			f.str("phase", string(p.Status.Phase))
			f.str("reason", healthPodReason(p))
			cpPods = append(cpPods, f.obj())
			continue
		}
		if !ix.about(p.Spec.NodeName) {
			continue
		}
		c, waiting := healthWorstWaiting(p)
		if p.Status.Phase != corev1.PodPending && p.Status.Phase != corev1.PodUnknown && waiting == nil {
			continue
		}
		var f fields
		f.str("namespace", p.Namespace)
		f.str("name", p.Name)
		f.str("node", p.Spec.NodeName)
		f.str("phase", string(p.Status.Phase))
		if waiting != nil {
			f.str("container", c.Name)
			f.str("waiting", waiting.Reason)
			f.num("restarts", int(c.RestartCount))
		}
		pods = append(pods, f.obj())
	}

	var f fields
	f.term("nodes", ast.ArrayTerm(nodes...))
	f.term("disk", healthDisk(inv))
	f.term("workloads", ast.ArrayTerm(workloads...))
	f.term("pods", ast.ArrayTerm(pods...))
	f.term("control_plane_pods", ast.ArrayTerm(cpPods...))
	return f.obj().Value, nil
}

// healthDisk lists each node's root filesystem as input.health.disk
// describes it: the stats summary's bytes where it was read, else why not,
// and the DiskPressure condition. Which source a rule uses is the rule's
// business.
func healthDisk(inv *inventory.Inventory) *ast.Term {
	asked := len(inv.NodeStats) > 0
	stats := make(map[string]*inventory.NodeStat, len(inv.NodeStats))
	for i := range inv.NodeStats {
		stats[inv.NodeStats[i].Node] = &inv.NodeStats[i]
	}
	var out []*ast.Term
	for i := range inv.Nodes {
		n := inv.Nodes[i]
		var f fields
		switch st := stats[n.Name]; {
		case st != nil && st.Read():
			f.term("available_bytes", ast.UIntNumberTerm(*st.AvailableBytes))
			if st.CapacityBytes != nil {
				f.term("capacity_bytes", ast.UIntNumberTerm(*st.CapacityBytes))
			}
		case st != nil:
			f.str("summary_error", cmp.Or(st.Error, "the stats summary gave no available bytes"))
		case asked:
			f.str("summary_error", "no stats summary was recorded for this node")
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeDiskPressure {
				f.flag("disk_pressure", c.Status == corev1.ConditionTrue)
			}
		}
		if len(f) == 0 {
			continue
		}
		out = append(out, append(fields{kv("name", str(n.Name))}, f...).obj())
	}
	return ast.ArrayTerm(out...)
}

func healthReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// healthNodeReady reports whether the node's Ready condition is True, and
// the condition (nil when the node has none).
func healthNodeReady(n *corev1.Node) (bool, *corev1.NodeCondition) {
	for i := range n.Status.Conditions {
		c := &n.Status.Conditions[i]
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue, c
		}
	}
	return false, nil
}

// healthPodNotReady reports a pod known not to be Ready: its Ready
// condition is not True, or, when it reports no conditions at all, its
// phase is not Running.
func healthPodNotReady(p *inventory.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status != corev1.ConditionTrue
		}
	}
	if len(p.Status.Conditions) > 0 {
		return true // scheduled or initialising, not yet Ready
	}
	return p.Status.Phase != corev1.PodRunning
}

// healthWorstWaiting picks the pod's container (init containers included)
// that is waiting after a crash: one in CrashLoopBackOff, else the waiting
// container with the most restarts; nil when none is waiting after having
// run (a first start, ContainerCreating, is no crash loop).
func healthWorstWaiting(p *inventory.Pod) (*inventory.ContainerStatus, *corev1.ContainerStateWaiting) {
	var best *inventory.ContainerStatus
	for _, list := range [][]inventory.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			c := &list[i]
			w := c.State.Waiting
			if w == nil || (w.Reason != "CrashLoopBackOff" && c.RestartCount == 0) {
				continue
			}
			switch {
			case best == nil:
				best = c
			case (w.Reason == "CrashLoopBackOff") != (best.State.Waiting.Reason == "CrashLoopBackOff"):
				if w.Reason == "CrashLoopBackOff" {
					best = c
				}
			case c.RestartCount > best.RestartCount:
				best = c
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, best.State.Waiting
}

// healthPodReason says why a pod is not Ready, as kubectl would show it.
func healthPodReason(p *inventory.Pod) string {
	for _, list := range [][]inventory.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, c := range list {
			if c.State.Waiting != nil && c.State.Waiting.Reason != "" {
				return c.State.Waiting.Reason
			}
			if c.State.Terminated != nil && c.State.Terminated.Reason != "" {
				return c.State.Terminated.Reason
			}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Reason != "" {
			return c.Reason
		}
	}
	if p.Status.Phase != "" {
		return string(p.Status.Phase)
	}
	return "no status"
}

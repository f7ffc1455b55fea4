# METADATA
# title: Cluster health
# description: >-
#   Is the cluster healthy enough to start an upgrade, or, in postflight, did
#   it come out of it healthy? Nodes Ready and without pressure, nothing
#   cordoned, workloads at their desired ready count, pods running,
#   control-plane pods Ready. Reads input.health (input_health.go), which
#   lists only what is unhealthy.
# custom:
#   phases: [preflight, postflight]
package upgate.health

import data.upgate.lib

# crash_restarts is how many restarts make a waiting container a crash loop
# when the kubelet does not (yet) say CrashLoopBackOff.
crash_restarts := 5

node_subject(name) := {"kind": "Node", "name": name}

# METADATA
# title: Node not Ready
# description: >-
#   A node whose Ready condition is not True: its pods cannot be drained
#   cleanly, and upgrading it cannot be checked. Kubernetes upgrade guides
#   start from a healthy cluster.
# custom:
#   check: health.node-not-ready
#   severity: block
#   scope: [run, node, validate, postflight]
#   remediation: >-
#     Bring the node back to Ready (kubectl describe node NAME: kubelet,
#     container runtime, network) or remove it from the cluster before the
#     upgrade.
findings contains f if {
	some n in input.health.nodes
	n.ready
	msg := sprintf("node %s is not Ready (Ready=%s%s)", [n.name, n.ready, condition_reason(n)])
	f := lib.finding(rego.metadata.rule(), node_subject(n.name), n.name, msg)
}

condition_reason(n) := sprintf(", %s: %s", [n.reason, n.message]) if {
	n.reason
	n.message
} else := sprintf(", %s", [n.reason]) if {
	n.reason
} else := ""

# METADATA
# title: Node under pressure
# description: >-
#   A node reports MemoryPressure, DiskPressure or PIDPressure: the kubelet
#   may be evicting pods already, and pods moved onto it during the upgrade
#   may be evicted again.
# custom:
#   check: health.node-pressure
#   severity: warn
#   scope: [run, node, validate, postflight]
#   remediation: >-
#     Free memory, disk or process IDs on the node (kubectl describe node
#     NAME shows which), or add room, before the upgrade.
findings contains f if {
	some n in input.health.nodes
	count(object.get(n, "pressure", [])) > 0
	msg := sprintf("node %s reports %s", [n.name, concat(", ", n.pressure)])
	f := lib.finding(rego.metadata.rule(), node_subject(n.name), n.name, msg)
}

# min_free_bytes is the free space each node's root filesystem needs
# before the upgrade: 1 GB, Kismatic's threshold, in SI bytes (10^9, not
# 1 GiB) as Kismatic states it.
min_free_bytes := 1000000000

# METADATA
# title: Node root filesystem short of space
# description: >-
#   Readiness before any node is touched, dry run included: each node needs
#   at least 1 GB (10^9 bytes, Kismatic's threshold) free on its root
#   filesystem, where the upgrade writes new images and the kubelet's and
#   runtime's state. The free bytes come from the kubelet's stats summary
#   (node.fs.availableBytes, read through the API server's node proxy by
#   upgate run, and by check, plan and snapshot with --node-stats). Where
#   the summary was not read, the node's DiskPressure condition stands in
#   for it; the message says which source was used, and why. A summary
#   that was read decides alone (DiskPressure is health.node-pressure's).
# custom:
#   check: health.node-disk-free
#   severity: block
#   scope: [run]
#   remediation: >-
#     Free space on the node's root filesystem (remove unused images with
#     crictl rmi --prune, old logs) or grow it, then run again. If the
#     stats summary could not be read, grant get on nodes/proxy (the
#     chart's rbac.executor does) so the free bytes are measured.
findings contains f if {
	some d in input.health.disk
	msg := disk_short(d)
	f := lib.finding(rego.metadata.rule(), node_subject(d.name), d.name, msg)
}

# disk_short says why a node's root filesystem is short of space, naming
# the source: the stats summary's bytes when it was read, else DiskPressure.
disk_short(d) := sprintf("node %s has %d bytes (%d MB%s) free on its root filesystem, less than the 1 GB (%d bytes) the upgrade needs; source: kubelet stats summary", [d.name, d.available_bytes, megabytes(d.available_bytes), of_capacity(d), min_free_bytes]) if {
	d.available_bytes < min_free_bytes
} else := sprintf("node %s reports DiskPressure=True: its root filesystem may have less than the 1 GB the upgrade needs; source: DiskPressure condition, %s", [d.name, no_summary(d)]) if {
	object.get(d, "available_bytes", null) == null
	d.disk_pressure
}

megabytes(b) := floor(b / 1000000)

of_capacity(d) := sprintf(" of %d MB", [megabytes(d.capacity_bytes)]) if {
	d.capacity_bytes
} else := ""

no_summary(d) := sprintf("because the kubelet stats summary could not be read (%s)", [d.summary_error]) if {
	d.summary_error
} else := "because the kubelet stats summary was not collected (upgate run reads it; check, plan and snapshot with --node-stats)"

# METADATA
# title: Node already cordoned
# description: >-
#   A node is already unschedulable (spec.unschedulable): it takes none of
#   the pods other drains evict, and the upgrade will uncordon it when it is
#   done with it, which may not be what whoever cordoned it wanted.
# custom:
#   check: health.node-cordoned
#   severity: warn
#   scope: [run, node, validate, postflight]
#   remediation: >-
#     Find out why the node is cordoned; uncordon it (kubectl uncordon NAME)
#     or remove it from the cluster before the upgrade.
findings contains f if {
	some n in input.health.nodes
	n.unschedulable
	msg := sprintf("node %s is already cordoned (spec.unschedulable): it takes no evicted pods during the upgrade", [n.name])
	f := lib.finding(rego.metadata.rule(), node_subject(n.name), n.name, msg)
}

# METADATA
# title: Workload below its desired ready count
# description: >-
#   A Deployment or StatefulSet with fewer ready replicas than spec.replicas,
#   or a DaemonSet with fewer ready pods than it should schedule: draining
#   nodes now takes away more of a workload that is already short.
# custom:
#   check: health.workload-unavailable
#   severity: warn
#   scope: [run, node, validate, postflight]
#   remediation: >-
#     Find why its pods are not ready (kubectl describe and kubectl get pods
#     for the workload) and fix it before the upgrade, or scale it to what
#     can run.
findings contains f if {
	some w in input.health.workloads
	w.ready < w.desired
	msg := sprintf("%s %s/%s has %d of %d desired pods ready", [w.kind, w.namespace, w.name, w.ready, w.desired])
	f := lib.finding(rego.metadata.rule(), {"kind": w.kind, "namespace": w.namespace, "name": w.name}, "", msg)
}

# METADATA
# title: Pod not running
# description: >-
#   A pod that is Pending, Unknown, or crash-looping (a container waiting in
#   CrashLoopBackOff, or waiting after many restarts): the cluster is not in
#   a known-good state to compare the upgrade against.
# custom:
#   check: health.pod-not-running
#   severity: warn
#   scope: [run, node, validate, postflight]
#   remediation: >-
#     Look at the pod (kubectl describe pod, kubectl logs --previous) and fix
#     or delete it before the upgrade.
findings contains f if {
	some p in input.health.pods
	why := pod_problem(p)
	msg := sprintf("pod %s/%s%s %s", [p.namespace, p.name, on_node(p), why])
	f := lib.finding(rego.metadata.rule(), {"kind": "Pod", "namespace": p.namespace, "name": p.name}, object.get(p, "node", ""), msg)
}

pod_problem(p) := sprintf("is crash-looping: container %s is in CrashLoopBackOff (%d restarts)", [p.container, p.restarts]) if {
	p.waiting == "CrashLoopBackOff"
} else := sprintf("is crash-looping: container %s is waiting (%s) after %d restarts", [p.container, p.waiting, p.restarts]) if {
	p.restarts >= crash_restarts
} else := sprintf("is Pending and not scheduled to a node%s", [waiting_note(p)]) if {
	p.phase == "Pending"
	not p.node
} else := sprintf("is Pending%s", [waiting_note(p)]) if {
	p.phase == "Pending"
} else := "is in phase Unknown: its node stopped reporting" if {
	p.phase == "Unknown"
}

waiting_note(p) := sprintf(" (container %s waiting: %s)", [p.container, p.waiting]) if {
	p.waiting
} else := ""

on_node(p) := sprintf(" on node %s", [p.node]) if {
	p.node
} else := ""

# METADATA
# title: Control-plane pod not Ready
# description: >-
#   A kube-apiserver, kube-controller-manager, kube-scheduler or etcd pod in
#   kube-system (label component=...) whose Ready condition is not True.
#   Upgrading a control plane that is already degraded risks losing it
#   (kubeadm upgrade likewise checks the control plane's health before it
#   starts). Reported under its own ID, not health.pod-not-running.
# custom:
#   check: health.control-plane-pod-not-ready
#   severity: block
#   scope: [run, node, validate, postflight]
#   remediation: >-
#     Fix the component first: kubectl -n kube-system describe pod NAME and
#     kubectl -n kube-system logs NAME, or the static pod manifest and
#     kubelet logs on the node.
findings contains f if {
	some p in input.health.control_plane_pods
	msg := sprintf("%s pod %s/%s%s is not Ready (%s)", [p.component, p.namespace, p.name, on_node(p), p.reason])
	f := lib.finding(rego.metadata.rule(), {"kind": "Pod", "namespace": p.namespace, "name": p.name}, object.get(p, "node", ""), msg)
}

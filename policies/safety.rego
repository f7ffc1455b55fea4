# METADATA
# title: Drain and upgrade safety
# description: >-
#   What draining or upgrading a node would break, after Kismatic's upgrade
#   safety checks: pods nothing recreates or whose data is lost on eviction,
#   single replicas, and nodes whose role cannot be taken down without an
#   outage. Pod rules look at evictable pods only, those a drain would
#   evict: bound to a node, not a mirror/static pod, not owned by a
#   DaemonSet, not Succeeded/Failed (decided in Go, inventory.Evictable).
#   Reads input.safety.
# custom:
#   phases: [preflight]
package upgate.safety

import data.upgate.lib

# The evictable pods: Go lists only those a drain would evict (bound to a
# node, not a mirror/static pod, not DaemonSet-owned, not Succeeded/Failed).
evictable_pods := input.safety.pods

pod_subject(p) := {"kind": "Pod", "namespace": p.namespace, "name": p.name}

node_subject(n) := {"kind": "Node", "name": n.name}

names(items) := concat(", ", items)

# The kinds whose pods are recreated elsewhere after an eviction. The rule
# below compares with each inline: per pod, that is cheaper than a function
# call or `not managed_kinds[kind]` (a test checks the two agree).
managed_kinds := {"ReplicationController", "ReplicaSet", "Job", "DaemonSet", "StatefulSet"}

unmanaged_reason(p) := sprintf("is controlled by %s %s, not by", [p.controller.kind, p.controller.name]) if {
	p.controller
} else := "has no controller among"

# METADATA
# title: Unmanaged pod
# description: >-
#   An evictable pod not controlled by a ReplicationController, ReplicaSet,
#   Job, DaemonSet or StatefulSet: a drain refuses it without --force, and
#   once deleted nothing recreates it.
# custom:
#   check: safety.unmanaged-pod
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Run it under a Deployment, StatefulSet or Job, or delete it if it is no
#     longer needed. To accept losing it, annotate the pod or its namespace or
#     node with upgate.dev/ignore: "safety.unmanaged-pod", or pass
#     --ignore-safety-checks.
findings contains f if {
	some p in evictable_pods
	kind := object.get(p, ["controller", "kind"], "")
	kind != "ReplicaSet"
	kind != "StatefulSet"
	kind != "Job"
	kind != "ReplicationController"
	kind != "DaemonSet"
	msg := sprintf(
		"pod %s/%s on node %s %s a ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet: once evicted, nothing recreates it",
		[p.namespace, p.name, p.node, unmanaged_reason(p)],
	)
	f := lib.finding(rego.metadata.rule(), pod_subject(p), p.node, msg)
}

singleton_kinds := {"Deployment", "StatefulSet", "ReplicationController"}

# A Deployment's ReplicaSets are counted through the Deployment.
singleton_candidate(w) if singleton_kinds[w.kind]

singleton_candidate(w) if {
	w.kind == "ReplicaSet"
	not deployment_owned(w)
}

deployment_owned(w) if w.owner.kind == "Deployment"

# The nodes draining which takes a workload down: those its running pods
# are on (several for a moment, while a rollout replaces its pod), or ""
# when none runs, which stops every node.
workload_nodes(w) := w.nodes if count(object.get(w, "nodes", [])) > 0

else := [""]

where(node) := sprintf(" (its pod runs on node %s)", [node]) if node != ""

else := ""

# METADATA
# title: Single replica
# description: >-
#   A Deployment, StatefulSet, ReplicationController or ReplicaSet not owned
#   by a Deployment with spec.replicas 1 (or unset): draining its node takes
#   it down until its pod is rescheduled and ready elsewhere.
# custom:
#   check: safety.singleton
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Scale it to 2 or more replicas (with a PodDisruptionBudget) before the
#     upgrade. To accept the downtime, annotate the workload or its namespace
#     with upgate.dev/ignore: "safety.singleton", or pass
#     --ignore-safety-checks.
findings contains f if {
	some w in input.safety.workloads
	object.get(w, "replicas", 1) == 1 # spec.replicas defaults to 1; most fail here
	singleton_candidate(w)
	some node in workload_nodes(w)
	msg := sprintf(
		"%s %s/%s has a single replica%s: draining its node takes it down until it is running again elsewhere",
		[w.kind, w.namespace, w.name, where(node)],
	)
	subject := {"kind": w.kind, "namespace": w.namespace, "name": w.name}
	f := lib.finding(rego.metadata.rule(), subject, node, msg)
}

# The nodes a DaemonSet runs on: those its pods are bound to, or its
# status when the input holds none of its pods.
ds_node_count(ds) := count(ds.pod_nodes) if ds.pod_nodes

else := object.get(ds, "scheduled", 0)

ds_node(ds) := ds.pod_nodes[0] if ds.pod_nodes

else := ""

ds_where(ds) := sprintf(" (%s)", [ds.pod_nodes[0]]) if ds.pod_nodes

else := ""

# METADATA
# title: DaemonSet on a single node
# description: >-
#   A DaemonSet scheduled on exactly one node: what it provides is gone while
#   that node is upgraded.
# custom:
#   check: safety.daemonset-single-node
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Let the DaemonSet run on more nodes (widen its nodeSelector or
#     tolerations) if its service must stay up. To accept the gap, annotate
#     the DaemonSet or its namespace with upgate.dev/ignore:
#     "safety.daemonset-single-node", or pass --ignore-safety-checks.
findings contains f if {
	some ds in input.safety.daemonsets
	ds_node_count(ds) == 1
	msg := sprintf(
		"DaemonSet %s/%s is scheduled on a single node%s: what it provides is unavailable while that node is upgraded",
		[ds.namespace, ds.name, ds_where(ds)],
	)
	subject := {"kind": "DaemonSet", "namespace": ds.namespace, "name": ds.name}
	f := lib.finding(rego.metadata.rule(), subject, ds_node(ds), msg)
}

# METADATA
# title: Pod with emptyDir
# description: >-
#   An evictable pod with an emptyDir volume: its contents are deleted when
#   the pod is evicted.
# custom:
#   check: safety.emptydir
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Move data that must survive to a PersistentVolume. If the emptyDir holds
#     only scratch data, annotate the pod, its workload, node or namespace
#     with upgate.dev/ignore: "safety.emptydir", or pass
#     --ignore-safety-checks.
findings contains f if {
	some p in evictable_pods
	p.emptydir
	msg := sprintf(
		"pod %s/%s on node %s has emptyDir volume(s) %s: their contents are lost when the pod is evicted",
		[p.namespace, p.name, p.node, names(p.emptydir)],
	)
	f := lib.finding(rego.metadata.rule(), pod_subject(p), p.node, msg)
}

# METADATA
# title: Pod with hostPath
# description: >-
#   An evictable pod with a hostPath volume: rescheduled on another node, it
#   no longer sees the data it wrote on this one.
# custom:
#   check: safety.hostpath
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Use a PersistentVolume for data that must follow the pod. If the host
#     path is node-local by design, annotate the pod, its workload, node or
#     namespace with upgate.dev/ignore: "safety.hostpath", or pass
#     --ignore-safety-checks.
findings contains f if {
	some p in evictable_pods
	p.hostpath
	vols := [sprintf("%s (%s)", [v.volume, v.path]) | some v in p.hostpath]
	msg := sprintf(
		"pod %s/%s on node %s mounts hostPath volume(s) %s: rescheduled on another node it loses that data",
		[p.namespace, p.name, p.node, names(vols)],
	)
	f := lib.finding(rego.metadata.rule(), pod_subject(p), p.node, msg)
}

node_local_sources := {"hostPath", "local"}

# METADATA
# title: Pod on a hostPath or local PersistentVolume
# description: >-
#   An evictable pod whose PersistentVolumeClaim is bound to a hostPath or
#   local PersistentVolume: the data stays on the node, so the pod cannot run
#   elsewhere while the node is drained.
# custom:
#   check: safety.hostpath-pv
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Move the data to network-attached or replicated storage, or upgrade the
#     node while the workload may be down. To accept that, annotate the pod,
#     its workload, node or namespace with upgate.dev/ignore:
#     "safety.hostpath-pv", or pass --ignore-safety-checks.
findings contains f if {
	some p in evictable_pods
	some c in p.claims
	node_local_sources[c.source]
	msg := sprintf(
		"pod %s/%s on node %s uses PersistentVolumeClaim %s bound to %s PersistentVolume %s (%s): the data stays on the node",
		[p.namespace, p.name, p.node, c.claim, c.source, c.pv, object.get(c, "path", "")],
	)
	f := lib.finding(rego.metadata.rule(), pod_subject(p), p.node, msg)
}

nodes := input.safety.nodes

counts := input.safety.counts

# METADATA
# title: etcd quorum at risk
# description: >-
#   An etcd node in a cluster with fewer than 3 etcd nodes: taking it down
#   for its upgrade loses etcd quorum, and with it the API.
# custom:
#   check: safety.etcd-quorum
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Grow etcd to 3 or more members first, or take a backup and accept API
#     downtime: annotate the node with upgate.dev/ignore: "safety.etcd-quorum",
#     or pass --ignore-safety-checks.
findings contains f if {
	counts.etcd < 3
	some n in nodes
	n.etcd
	msg := sprintf(
		"node %s runs etcd and the cluster has %d etcd node(s): upgrading it loses etcd quorum (3 or more are needed to upgrade one at a time)",
		[n.name, counts.etcd],
	)
	f := lib.finding(rego.metadata.rule(), node_subject(n), n.name, msg)
}

# METADATA
# title: Single control-plane node
# description: >-
#   A control-plane node in a cluster with fewer than 2: the API server is
#   unavailable while it is upgraded.
# custom:
#   check: safety.single-control-plane
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Add control-plane nodes for an HA control plane, or accept API downtime
#     during the upgrade: annotate the node with upgate.dev/ignore:
#     "safety.single-control-plane", or pass --ignore-safety-checks.
findings contains f if {
	counts.control_plane < 2
	some n in nodes
	n.control_plane
	msg := sprintf(
		"node %s is the only control-plane node: the API server is unavailable while it is upgraded",
		[n.name],
	)
	f := lib.finding(rego.metadata.rule(), node_subject(n), n.name, msg)
}

# METADATA
# title: Single worker node
# description: >-
#   A worker node in a cluster with fewer than 2 workers: its pods have
#   nowhere to go while it is drained.
# custom:
#   check: safety.single-worker
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Add a worker node before the upgrade, or accept workload downtime:
#     annotate the node with upgate.dev/ignore: "safety.single-worker", or
#     pass --ignore-safety-checks.
findings contains f if {
	counts.worker < 2
	some n in nodes
	n.worker
	msg := sprintf(
		"node %s is the only worker node: its pods have nowhere to go while it is drained",
		[n.name],
	)
	f := lib.finding(rego.metadata.rule(), node_subject(n), n.name, msg)
}

# METADATA
# title: Ingress node
# description: >-
#   A node with the ingress role (label node-role.kubernetes.io/ingress):
#   traffic it receives is interrupted while it is upgraded, unless a load
#   balancer sends it elsewhere.
# custom:
#   check: safety.ingress-node
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Take the node out of the load balancer first, then annotate it with
#     upgate.dev/ignore: "safety.ingress-node" (or pass
#     --ignore-safety-checks) to go ahead.
findings contains f if {
	some n in nodes
	n.ingress
	msg := sprintf(
		"node %s has the ingress role (node-role.kubernetes.io/ingress): ingress traffic it receives is interrupted while it is upgraded",
		[n.name],
	)
	f := lib.finding(rego.metadata.rule(), node_subject(n), n.name, msg)
}

# METADATA
# title: Storage node
# description: >-
#   A node with the storage role (label node-role.kubernetes.io/storage):
#   volumes it serves may be unavailable while it is upgraded.
# custom:
#   check: safety.storage-node
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Make sure the storage it serves is replicated elsewhere, then annotate
#     it with upgate.dev/ignore: "safety.storage-node" (or pass
#     --ignore-safety-checks) to go ahead.
findings contains f if {
	some n in nodes
	n.storage
	msg := sprintf(
		"node %s has the storage role (node-role.kubernetes.io/storage): volumes it serves may be unavailable while it is upgraded",
		[n.name],
	)
	f := lib.finding(rego.metadata.rule(), node_subject(n), n.name, msg)
}

package upgate.safety_test

import data.upgate.safety

rs_owned := {"controller": {"kind": "ReplicaSet", "name": "web-5d8f"}, "workload": {"kind": "Deployment", "name": "web"}}

# pod builds an evictable (input.safety.pods lists no other), ReplicaSet-managed
# pod on worker-1, with extra fields.
pod(name, extra) := object.union(
	object.union({"namespace": "shop", "name": name, "node": "worker-1"}, rs_owned),
	extra,
)

# Three control-plane/etcd nodes and three workers: no node check fires.
ha_nodes := [
	{"name": "cp-1", "control_plane": true, "etcd": true},
	{"name": "cp-2", "control_plane": true, "etcd": true},
	{"name": "cp-3", "control_plane": true, "etcd": true},
	{"name": "worker-1", "worker": true},
	{"name": "worker-2", "worker": true},
	{"name": "worker-3", "worker": true},
]

ha_counts := {"control_plane": 3, "etcd": 3, "worker": 3}

run(section) := fs if {
	fs := safety.findings with input as {"phase": "preflight", "safety": section}
}

pods(ps) := run({"pods": ps})

by_check(fs, check) := [f | some f in fs; f.check == check]

test_healthy_cluster_is_silent if {
	count(run({
		"pods": [pod("web-1", {}), pod("web-2", {"node": "worker-2"})],
		"workloads": [{"kind": "Deployment", "namespace": "shop", "name": "web", "replicas": 2, "nodes": ["worker-1", "worker-2"]}],
		"daemonsets": [{"namespace": "kube-system", "name": "kube-proxy", "pod_nodes": ["worker-1", "worker-2"], "scheduled": 2}],
		"nodes": ha_nodes, "counts": ha_counts,
	})) == 0
}

# safety.unmanaged-pod

test_unmanaged_pod_fires_without_controller if {
	[f] := by_check(pods([{"namespace": "hazards", "name": "bare", "node": "worker-1"}]), "safety.unmanaged-pod")
	f.severity == "block"
	f.subject == {"kind": "Pod", "namespace": "hazards", "name": "bare"}
	f.node == "worker-1"
	f.message == "pod hazards/bare on node worker-1 has no controller among a ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet: once evicted, nothing recreates it"
	contains(f.remediation, "upgate.dev/ignore: \"safety.unmanaged-pod\"")
	contains(f.remediation, "--ignore-safety-checks")
}

test_unmanaged_pod_fires_for_other_controller if {
	[f] := by_check(pods([pod("op-1", {"controller": {"kind": "Rollout", "name": "op"}})]), "safety.unmanaged-pod")
	f.message == "pod shop/op-1 on node worker-1 is controlled by Rollout op, not by a ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet: once evicted, nothing recreates it"
}

test_unmanaged_pod_silent_for_managed_kinds if {
	ps := [pod(k, {"controller": {"kind": k, "name": "x"}}) | some k in safety.managed_kinds]
	count(ps) == 5
	count(by_check(pods(ps), "safety.unmanaged-pod")) == 0
}

# safety.singleton

test_singleton_fires if {
	fs := run({"workloads": [
		{"kind": "Deployment", "namespace": "shop", "name": "db", "replicas": 1, "nodes": ["worker-1"]},
		{"kind": "StatefulSet", "namespace": "shop", "name": "cache"},
	]})
	[f, g] := by_check(fs, "safety.singleton")
	f.subject == {"kind": "Deployment", "namespace": "shop", "name": "db"}
	f.node == "worker-1"
	f.message == "Deployment shop/db has a single replica (its pod runs on node worker-1): draining its node takes it down until it is running again elsewhere"
	g.subject == {"kind": "StatefulSet", "namespace": "shop", "name": "cache"}
	g.node == ""
	g.message == "StatefulSet shop/cache has a single replica: draining its node takes it down until it is running again elsewhere"
}

# While a rollout replaces its pod, a single-replica workload runs on two
# nodes: draining either takes one of them down, and no other node's
# gate is stopped by it.
test_singleton_fires_once_per_node_its_pods_run_on if {
	fs := run({"workloads": [{"kind": "Deployment", "namespace": "shop", "name": "db", "replicas": 1, "nodes": ["worker-1", "worker-2"]}]})
	{f.node | some f in by_check(fs, "safety.singleton")} == {"worker-1", "worker-2"}
}

test_singleton_fires_for_bare_replicaset_and_rc if {
	fs := run({"workloads": [
		{"kind": "ReplicaSet", "namespace": "shop", "name": "rs", "replicas": 1},
		{"kind": "ReplicationController", "namespace": "shop", "name": "rc", "replicas": 1},
	]})
	count(by_check(fs, "safety.singleton")) == 2
}

test_singleton_silent if {
	fs := run({"workloads": [
		{"kind": "Deployment", "namespace": "shop", "name": "web", "replicas": 3},
		{"kind": "Deployment", "namespace": "shop", "name": "off", "replicas": 0},
		{"kind": "ReplicaSet", "namespace": "shop", "name": "web-5d8f", "replicas": 1, "owner": {"kind": "Deployment", "name": "web1"}},
		{"kind": "StatefulSet", "namespace": "shop", "name": "zk", "replicas": 3},
	]})
	count(by_check(fs, "safety.singleton")) == 0
}

# safety.daemonset-single-node

test_daemonset_single_node_fires if {
	[f] := by_check(run({"daemonsets": [{"namespace": "storage", "name": "nfs", "pod_nodes": ["worker-2"], "scheduled": 1}]}), "safety.daemonset-single-node")
	f.subject == {"kind": "DaemonSet", "namespace": "storage", "name": "nfs"}
	f.node == "worker-2"
	f.message == "DaemonSet storage/nfs is scheduled on a single node (worker-2): what it provides is unavailable while that node is upgraded"
}

test_daemonset_single_node_from_status if {
	[f] := by_check(run({"daemonsets": [{"namespace": "storage", "name": "nfs", "scheduled": 1}]}), "safety.daemonset-single-node")
	f.message == "DaemonSet storage/nfs is scheduled on a single node: what it provides is unavailable while that node is upgraded"
}

test_daemonset_single_node_silent if {
	fs := run({"daemonsets": [
		{"namespace": "kube-system", "name": "kube-proxy", "pod_nodes": ["a", "b"], "scheduled": 2},
		{"namespace": "kube-system", "name": "gpu", "scheduled": 0},
	]})
	count(by_check(fs, "safety.daemonset-single-node")) == 0
}

# safety.emptydir

test_emptydir_fires if {
	[f] := by_check(pods([pod("cache-1", {"emptydir": ["scratch", "tmp"]})]), "safety.emptydir")
	f.subject == {"kind": "Pod", "namespace": "shop", "name": "cache-1"}
	f.node == "worker-1"
	f.message == "pod shop/cache-1 on node worker-1 has emptyDir volume(s) scratch, tmp: their contents are lost when the pod is evicted"
}

test_emptydir_silent if {
	count(by_check(pods([pod("web-1", {}), pod("logs-1", {"hostpath": [{"volume": "varlog", "path": "/var/log"}]})]), "safety.emptydir")) == 0
}

# safety.hostpath

test_hostpath_fires if {
	[f] := by_check(pods([pod("logs-1", {"hostpath": [{"volume": "varlog", "path": "/var/log"}]})]), "safety.hostpath")
	f.message == "pod shop/logs-1 on node worker-1 mounts hostPath volume(s) varlog (/var/log): rescheduled on another node it loses that data"
}

test_hostpath_silent if {
	count(by_check(pods([pod("web-1", {"emptydir": ["x"]})]), "safety.hostpath")) == 0
}

# safety.hostpath-pv

test_hostpath_pv_fires if {
	p := pod("db-0", {"claims": [
		{"volume": "data", "claim": "data-db-0", "pv": "pv-local-1", "source": "local", "path": "/mnt/disks/ssd1"},
		{"volume": "logs", "claim": "logs-db-0", "pv": "pvc-123", "source": "csi"},
	]})
	[f] := by_check(pods([p]), "safety.hostpath-pv")
	f.message == "pod shop/db-0 on node worker-1 uses PersistentVolumeClaim data-db-0 bound to local PersistentVolume pv-local-1 (/mnt/disks/ssd1): the data stays on the node"
}

test_hostpath_pv_silent if {
	p := pod("db-0", {"claims": [{"volume": "data", "claim": "data-db-0", "pv": "pvc-1", "source": "csi"}, {"volume": "x", "claim": "unbound"}]})
	count(by_check(pods([p]), "safety.hostpath-pv")) == 0
}

# safety.etcd-quorum

test_etcd_quorum_fires if {
	fs := run({"nodes": [{"name": "cp-1", "control_plane": true, "etcd": true}, {"name": "etcd-2", "etcd": true}], "counts": {"control_plane": 1, "etcd": 2, "worker": 0}})
	[f, _] := by_check(fs, "safety.etcd-quorum")
	f.subject == {"kind": "Node", "name": "cp-1"}
	f.node == "cp-1"
	f.message == "node cp-1 runs etcd and the cluster has 2 etcd node(s): upgrading it loses etcd quorum (3 or more are needed to upgrade one at a time)"
}

test_etcd_quorum_silent_with_three if {
	count(by_check(run({"nodes": ha_nodes, "counts": ha_counts}), "safety.etcd-quorum")) == 0
}

# safety.single-control-plane

test_single_control_plane_fires if {
	fs := run({"nodes": [{"name": "cp-1", "control_plane": true}], "counts": {"control_plane": 1, "etcd": 0, "worker": 0}})
	[f] := by_check(fs, "safety.single-control-plane")
	f.message == "node cp-1 is the only control-plane node: the API server is unavailable while it is upgraded"
}

test_single_control_plane_silent if {
	count(by_check(run({"nodes": ha_nodes, "counts": ha_counts}), "safety.single-control-plane")) == 0
}

# safety.single-worker

test_single_worker_fires if {
	fs := run({"nodes": [{"name": "worker-1", "worker": true}], "counts": {"control_plane": 0, "etcd": 0, "worker": 1}})
	[f] := by_check(fs, "safety.single-worker")
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.message == "node worker-1 is the only worker node: its pods have nowhere to go while it is drained"
}

test_single_worker_silent if {
	count(by_check(run({"nodes": ha_nodes, "counts": ha_counts}), "safety.single-worker")) == 0
}

# safety.ingress-node

test_ingress_node_fires if {
	fs := run({"nodes": array.concat(ha_nodes, [{"name": "edge-1", "worker": true, "ingress": true}]), "counts": ha_counts})
	[f] := by_check(fs, "safety.ingress-node")
	f.message == "node edge-1 has the ingress role (node-role.kubernetes.io/ingress): ingress traffic it receives is interrupted while it is upgraded"
}

test_ingress_node_silent if {
	count(by_check(run({"nodes": ha_nodes, "counts": ha_counts}), "safety.ingress-node")) == 0
}

# safety.storage-node

test_storage_node_fires if {
	fs := run({"nodes": array.concat(ha_nodes, [{"name": "ceph-1", "worker": true, "storage": true}]), "counts": ha_counts})
	[f] := by_check(fs, "safety.storage-node")
	f.message == "node ceph-1 has the storage role (node-role.kubernetes.io/storage): volumes it serves may be unavailable while it is upgraded"
}

test_storage_node_silent if {
	count(by_check(run({"nodes": ha_nodes, "counts": ha_counts}), "safety.storage-node")) == 0
}

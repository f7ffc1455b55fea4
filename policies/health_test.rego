package upgate.health_test

import data.upgate.health

run(h) := fs if {
	fs := health.findings with input as {"phase": "preflight", "health": h}
}

of(fs, check) := [f | some f in fs; f.check == check]

# health.node-not-ready

test_node_not_ready_fires if {
	fs := run({"nodes": [{"name": "worker-1", "ready": "False", "reason": "KubeletNotReady", "message": "container runtime is down"}]})
	[f] := of(fs, "health.node-not-ready")
	f.severity == "block"
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.node == "worker-1"
	f.message == "node worker-1 is not Ready (Ready=False, KubeletNotReady: container runtime is down)"
}

test_node_not_ready_fires_without_condition if {
	[f] := of(run({"nodes": [{"name": "worker-2", "ready": "Missing"}]}), "health.node-not-ready")
	f.message == "node worker-2 is not Ready (Ready=Missing)"
}

test_node_not_ready_silent_for_ready_node if {
	count(of(run({"nodes": [{"name": "worker-1", "unschedulable": true}]}), "health.node-not-ready")) == 0
}

# health.node-pressure

test_node_pressure_fires if {
	[f] := of(run({"nodes": [{"name": "worker-1", "pressure": ["DiskPressure", "MemoryPressure"]}]}), "health.node-pressure")
	f.severity == "warn"
	f.message == "node worker-1 reports DiskPressure, MemoryPressure"
}

test_node_pressure_silent_without_pressure if {
	count(of(run({"nodes": [{"name": "worker-1", "ready": "False"}]}), "health.node-pressure")) == 0
}

# health.node-disk-free

test_node_disk_free_fires_on_stats_summary if {
	d := {"name": "worker-1", "available_bytes": 524288000, "capacity_bytes": 20000000000}
	[f] := of(run({"disk": [d]}), "health.node-disk-free")
	f.severity == "block"
	f.scope == ["run"]
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.node == "worker-1"
	f.message == "node worker-1 has 524288000 bytes (524 MB of 20000 MB) free on its root filesystem, less than the 1 GB (1000000000 bytes) the upgrade needs; source: kubelet stats summary"
}

test_node_disk_free_summary_decides_over_disk_pressure if {
	# Enough space measured: DiskPressure alone is health.node-pressure's.
	count(of(run({"disk": [{"name": "worker-1", "available_bytes": 1000000000, "disk_pressure": true}]}), "health.node-disk-free")) == 0
	[f] := of(run({"disk": [{"name": "worker-2", "available_bytes": 999999999}]}), "health.node-disk-free")
	f.message == "node worker-2 has 999999999 bytes (999 MB) free on its root filesystem, less than the 1 GB (1000000000 bytes) the upgrade needs; source: kubelet stats summary"
}

test_node_disk_free_fires_on_zero_bytes if {
	[f] := of(run({"disk": [{"name": "worker-1", "available_bytes": 0, "disk_pressure": true}]}), "health.node-disk-free")
	contains(f.message, "has 0 bytes (0 MB)")
	endswith(f.message, "source: kubelet stats summary")
}

test_node_disk_free_silent_with_enough_space if {
	d := {"name": "worker-1", "available_bytes": 50000000000, "capacity_bytes": 100000000000}
	count(of(run({"disk": [d]}), "health.node-disk-free")) == 0
}

test_node_disk_free_falls_back_to_disk_pressure if {
	d := {"name": "worker-3", "summary_error": "forbidden: reading it needs get on nodes/proxy", "disk_pressure": true}
	[f] := of(run({"disk": [d]}), "health.node-disk-free")
	f.severity == "block"
	f.node == "worker-3"
	f.message == "node worker-3 reports DiskPressure=True: its root filesystem may have less than the 1 GB the upgrade needs; source: DiskPressure condition, because the kubelet stats summary could not be read (forbidden: reading it needs get on nodes/proxy)"
}

test_node_disk_free_disk_pressure_when_not_collected if {
	[f] := of(run({"disk": [{"name": "worker-3", "disk_pressure": true}]}), "health.node-disk-free")
	f.message == "node worker-3 reports DiskPressure=True: its root filesystem may have less than the 1 GB the upgrade needs; source: DiskPressure condition, because the kubelet stats summary was not collected (upgate run reads it; check, plan and snapshot with --node-stats)"
}

test_node_disk_free_silent_without_summary_or_pressure if {
	d := {"name": "worker-3", "summary_error": "not found: the kubelet (or what stands in for it) does not serve /stats/summary"}
	count(of(run({"disk": [d]}), "health.node-disk-free")) == 0
	count(of(run({"nodes": [{"name": "worker-3", "unschedulable": true}]}), "health.node-disk-free")) == 0
}

# health.node-cordoned

test_node_cordoned_fires if {
	[f] := of(run({"nodes": [{"name": "worker-3", "unschedulable": true}]}), "health.node-cordoned")
	f.severity == "warn"
	f.node == "worker-3"
	f.message == "node worker-3 is already cordoned (spec.unschedulable): it takes no evicted pods during the upgrade"
}

test_node_cordoned_silent_when_schedulable if {
	count(of(run({"nodes": [{"name": "worker-3", "pressure": ["PIDPressure"]}]}), "health.node-cordoned")) == 0
}

# health.workload-unavailable

test_workload_unavailable_fires if {
	fs := run({"workloads": [{"kind": "StatefulSet", "namespace": "db", "name": "pg", "desired": 3, "ready": 1}]})
	[f] := of(fs, "health.workload-unavailable")
	f.severity == "warn"
	f.subject == {"kind": "StatefulSet", "namespace": "db", "name": "pg"}
	f.node == ""
	f.message == "StatefulSet db/pg has 1 of 3 desired pods ready"
}

test_workload_unavailable_silent_when_ready if {
	fs := run({"workloads": [{"kind": "Deployment", "namespace": "shop", "name": "web", "desired": 2, "ready": 2}]})
	count(of(fs, "health.workload-unavailable")) == 0
}

# health.pod-not-running

test_pod_not_running_fires_on_crash_loop if {
	p := {"namespace": "shop", "name": "web-1", "node": "worker-1", "phase": "Running", "container": "app", "waiting": "CrashLoopBackOff", "restarts": 12}
	[f] := of(run({"pods": [p]}), "health.pod-not-running")
	f.severity == "warn"
	f.subject == {"kind": "Pod", "namespace": "shop", "name": "web-1"}
	f.node == "worker-1"
	f.message == "pod shop/web-1 on node worker-1 is crash-looping: container app is in CrashLoopBackOff (12 restarts)"
}

test_pod_not_running_fires_on_many_restarts if {
	p := {"namespace": "shop", "name": "web-2", "node": "worker-1", "phase": "Running", "container": "app", "waiting": "RunContainerError", "restarts": 6}
	[f] := of(run({"pods": [p]}), "health.pod-not-running")
	f.message == "pod shop/web-2 on node worker-1 is crash-looping: container app is waiting (RunContainerError) after 6 restarts"
}

test_pod_not_running_fires_on_pending_and_unknown if {
	fs := of(run({"pods": [
		{"namespace": "shop", "name": "big", "phase": "Pending"},
		{"namespace": "shop", "name": "pull", "node": "worker-2", "phase": "Pending", "container": "app", "waiting": "ImagePullBackOff", "restarts": 0},
		{"namespace": "shop", "name": "lost", "node": "worker-3", "phase": "Unknown"},
	]}), "health.pod-not-running")
	{f.message | some f in fs} == {
		"pod shop/big is Pending and not scheduled to a node",
		"pod shop/pull on node worker-2 is Pending (container app waiting: ImagePullBackOff)",
		"pod shop/lost on node worker-3 is in phase Unknown: its node stopped reporting",
	}
}

test_pod_not_running_silent_on_few_restarts if {
	p := {"namespace": "shop", "name": "web-3", "node": "worker-1", "phase": "Running", "container": "app", "waiting": "Error", "restarts": 1}
	count(of(run({"pods": [p]}), "health.pod-not-running")) == 0
}

# health.control-plane-pod-not-ready

test_control_plane_pod_not_ready_fires if {
	p := {"namespace": "kube-system", "name": "kube-apiserver-cp-1", "node": "cp-1", "component": "kube-apiserver", "phase": "Running", "reason": "CrashLoopBackOff"}
	fs := run({"control_plane_pods": [p]})
	[f] := of(fs, "health.control-plane-pod-not-ready")
	f.severity == "block"
	f.subject == {"kind": "Pod", "namespace": "kube-system", "name": "kube-apiserver-cp-1"}
	f.node == "cp-1"
	f.message == "kube-apiserver pod kube-system/kube-apiserver-cp-1 on node cp-1 is not Ready (CrashLoopBackOff)"
	count(of(fs, "health.pod-not-running")) == 0
}

test_control_plane_pod_not_ready_silent_when_healthy if {
	count(run({})) == 0
	fs := health.findings with input as {"phase": "postflight"}
	count(fs) == 0
}

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

package upgate.post_test

import data.upgate.post

ver(minor, patch) := {"version": sprintf("v1.%d.%d", [minor, patch]), "major": 1, "minor": minor, "patch": patch, "has_patch": true}

minor_only(minor) := {"version": sprintf("v1.%d", [minor]), "major": 1, "minor": minor, "patch": 0, "has_patch": false}

run(p, target) := fs if {
	fs := post.findings with input as {"phase": "postflight", "current": ver(35, 2), "target": target, "post": p}
}

of(fs, check) := [f | some f in fs; f.check == check]

# post.version-mismatch

test_version_mismatch_fires_on_minor if {
	comps := [
		{"name": "kubelet", "node": "worker-1", "raw": "v1.35.2", "version": ver(35, 2)},
		{"name": "kube-apiserver", "node": "cp-1", "namespace": "kube-system", "pod": "kube-apiserver-cp-1", "raw": "registry.k8s.io/kube-apiserver:v1.36.0", "version": ver(36, 0)},
	]
	[f] := of(run({"components": comps}, ver(36, 0)), "post.version-mismatch")
	f.severity == "block"
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.node == "worker-1"
	f.message == "kubelet on node worker-1 is at v1.35.2 after the upgrade, not at the target v1.36.0"
}

test_version_mismatch_fires_on_patch_when_target_names_one if {
	comps := [{"name": "kube-scheduler", "node": "cp-1", "namespace": "kube-system", "pod": "kube-scheduler-cp-1", "raw": "x", "version": ver(36, 1)}]
	[f] := of(run({"components": comps}, ver(36, 2)), "post.version-mismatch")
	f.subject == {"kind": "Pod", "namespace": "kube-system", "name": "kube-scheduler-cp-1"}
	f.message == "kube-scheduler kube-system/kube-scheduler-cp-1 on node cp-1 is at v1.36.1 after the upgrade, not at the target v1.36.2"
}

test_version_mismatch_silent_at_target if {
	comps := [
		{"name": "kube-proxy", "node": "worker-1", "raw": "v1.36.1", "version": ver(36, 1)},
		{"name": "kubelet", "node": "worker-2", "raw": "latest"},
	]
	count(of(run({"components": comps}, minor_only(36)), "post.version-mismatch")) == 0
	count(of(run({"components": [comps[0]]}, ver(36, 1)), "post.version-mismatch")) == 0
}

test_version_mismatch_kube_proxy_addon_is_postflight_only if {
	comps := [
		{"name": "kube-proxy", "node": "worker-1", "namespace": "kube-system", "pod": "kube-proxy-w1", "raw": "registry.k8s.io/kube-proxy:v1.35.2", "version": ver(35, 2)},
		{"name": "kubelet", "node": "worker-1", "raw": "v1.35.2", "version": ver(35, 2)},
	]
	fs := of(run({"components": comps}, ver(36, 0)), "post.version-mismatch")
	[p] := [f | some f in fs; f.subject.kind == "Pod"]
	p.severity == "block"
	p.node == "worker-1"
	p.message == "kube-proxy kube-system/kube-proxy-w1 on node worker-1 is at v1.35.2 after the upgrade, not at the target v1.36.0"
	p.scope == ["postflight"]
	[k] := [f | some f in fs; f.subject.kind == "Node"]
	k.scope == ["validate", "postflight"]
}

test_version_mismatch_kube_proxy_without_pod_validates_the_node if {
	# No kube-proxy pod: the version the node reports, set by its upgrade.
	comps := [{"name": "kube-proxy", "node": "worker-1", "raw": "v1.35.2", "version": ver(35, 2)}]
	[f] := of(run({"components": comps}, ver(36, 0)), "post.version-mismatch")
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.message == "kube-proxy on node worker-1 is at v1.35.2 after the upgrade, not at the target v1.36.0"
	f.scope == ["validate", "postflight"]
}

test_version_mismatch_kube_proxy_addon_silent_at_target if {
	comps := [{"name": "kube-proxy", "node": "worker-1", "namespace": "kube-system", "pod": "kube-proxy-w1", "raw": "x", "version": ver(36, 0)}]
	count(of(run({"components": comps}, minor_only(36)), "post.version-mismatch")) == 0
}

# post.node-not-ready

test_post_node_not_ready_fires if {
	[f] := of(run({"nodes": [{"name": "worker-2", "ready": "Unknown", "reason": "NodeStatusUnknown", "in_baseline": true}]}, ver(36, 0)), "post.node-not-ready")
	f.severity == "block"
	f.node == "worker-2"
	f.message == "node worker-2 is not Ready after the upgrade (Ready=Unknown, NodeStatusUnknown)"
}

test_post_node_not_ready_silent_when_ready if {
	count(of(run({"nodes": [{"name": "worker-2", "unschedulable": true, "in_baseline": true}]}, ver(36, 0)), "post.node-not-ready")) == 0
}

# post.node-left-cordoned

test_node_left_cordoned_fires if {
	[f] := of(run({"nodes": [{"name": "worker-3", "unschedulable": true, "in_baseline": true}]}, ver(36, 0)), "post.node-left-cordoned")
	f.severity == "block"
	f.subject == {"kind": "Node", "name": "worker-3"}
	f.message == "node worker-3 is cordoned after the upgrade but was schedulable before it"
}

test_node_left_cordoned_silent_when_cordoned_before_or_new if {
	nodes := [
		{"name": "worker-3", "unschedulable": true, "in_baseline": true, "baseline_unschedulable": true},
		{"name": "worker-9", "unschedulable": true},
	]
	count(of(run({"nodes": nodes}, ver(36, 0)), "post.node-left-cordoned")) == 0
}

# post.workload-regressed

test_workload_regressed_fires if {
	[f] := of(run({"workloads": [{"kind": "Deployment", "namespace": "shop", "name": "web", "before": 3, "after": 1}]}, ver(36, 0)), "post.workload-regressed")
	f.severity == "block"
	f.subject == {"kind": "Deployment", "namespace": "shop", "name": "web"}
	f.message == "Deployment shop/web has 1 ready pods after the upgrade, 3 before it"
}

test_workload_regressed_silent_with_more_ready if {
	count(of(run({"workloads": [{"kind": "Deployment", "namespace": "shop", "name": "web", "before": 1, "after": 3}]}, ver(36, 0)), "post.workload-regressed")) == 0
}

test_workload_regressed_silent if {
	count(of(run({"workloads": [{"kind": "DaemonSet", "namespace": "kube-system", "name": "kube-proxy", "before": 3, "after": 3}]}, ver(36, 0)), "post.workload-regressed")) == 0
	fs := post.findings with input as {"phase": "postflight", "target": ver(36, 0)}
	count(fs) == 0
}

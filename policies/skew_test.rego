package upgate.skew_test

import data.upgate.skew

ver(minor) := {"version": sprintf("v1.%d.0", [minor]), "major": 1, "minor": minor, "patch": 0, "has_patch": true}

# pod builds a component running as a kube-system pod; its pod is named
# after the component and node.
pod(name, node, minor) := {
	"name": name, "node": node, "namespace": "kube-system", "pod": sprintf("%s-%s", [name, node]),
	"raw": sprintf("registry.k8s.io/%s:v1.%d.0", [name, minor]), "version": ver(minor),
}

kubelet(node, minor) := {"name": "kubelet", "node": node, "raw": sprintf("v1.%d.0", [minor]), "version": ver(minor)}

# cluster groups components by name as the input does.
cluster(cs) := {name: [c | some c in cs; c.name == name] | some x in cs; name := x.name}

run(cs, current, target) := running(cs, current, target, {})

# running judges cs while upgate has the upgrades of underway (node ->
# minor) under way.
running(cs, current, target, underway) := fs if {
	fs := skew.findings with input as {
		"phase": "preflight", "current": ver(current), "target": ver(target),
		"skew": {"components": cluster(cs), "underway": {n: ver(m) | some n, m in underway}},
	}
}

by_check(fs, check) := [f | some f in fs; f.check == check]

# A healthy 1.35 cluster being upgraded to 1.36.
healthy := [
	pod("kube-apiserver", "cp-1", 35), pod("kube-apiserver", "cp-2", 35),
	pod("kube-controller-manager", "cp-1", 35), pod("kube-scheduler", "cp-1", 35),
	kubelet("cp-1", 35), kubelet("worker-1", 33), pod("kube-proxy", "worker-1", 35),
]

test_healthy_cluster_is_silent if {
	count(run(healthy, 35, 36)) == 0
}

# skew.apiserver-ha

test_apiserver_ha_fires if {
	[f] := by_check(run([pod("kube-apiserver", "cp-1", 35), pod("kube-apiserver", "cp-2", 33)], 33, 34), "skew.apiserver-ha")
	f.severity == "block"
	f.subject == {"kind": "Pod", "namespace": "kube-system", "name": "kube-apiserver-cp-2"}
	f.node == "cp-2"
	f.message == "kube-apiserver kube-system/kube-apiserver-cp-2 on node cp-2 is at v1.33.0, 2 minors behind the newest kube-apiserver (v1.35.0): HA kube-apiserver instances may be at most 1 minor apart"
}

test_apiserver_ha_silent_one_minor_apart if {
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35)], 35, 36), "skew.apiserver-ha")) == 0
}

# skew.kubelet-newer

test_kubelet_newer_fires if {
	[f] := by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35), kubelet("worker-1", 36)], 35, 36), "skew.kubelet-newer")
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.message == "kubelet on node worker-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.0): components must not be newer than kube-apiserver"
}

test_kubelet_newer_uses_current_without_apiserver_pods if {
	[f] := by_check(run([kubelet("worker-1", 36)], 35, 36), "skew.kubelet-newer")
	contains(f.message, "newer than the oldest kube-apiserver (v1.35.0)")
}

test_kubelet_newer_silent_at_apiserver_minor if {
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), kubelet("worker-1", 36)], 36, 36), "skew.kubelet-newer")) == 0
}

# skew.kubelet-too-old

test_kubelet_too_old_fires if {
	[f] := by_check(run([kubelet("worker-1", 32)], 35, 36), "skew.kubelet-too-old")
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.message == "kubelet on node worker-1 is at v1.32.0, 4 minors behind the target control plane v1.36.0: a kubelet may be at most 3 minors older than kube-apiserver"
}

test_kubelet_too_old_legacy_window if {
	[f] := by_check(run([kubelet("worker-1", 24)], 26, 27), "skew.kubelet-too-old")
	contains(f.message, "3 minors behind the target control plane v1.27.0: a kubelet may be at most 2 minors older")
	count(by_check(run([kubelet("worker-1", 25)], 27, 28), "skew.kubelet-too-old")) == 0
}

test_kubelet_too_old_silent_three_behind if {
	count(by_check(run([kubelet("worker-1", 33)], 35, 36), "skew.kubelet-too-old")) == 0
}

test_kubelet_too_old_reads_window_from_data if {
	fs := run([kubelet("worker-1", 33)], 35, 36) with data.upgate_facts.skew.node.max_minors_older as 2
	count(by_check(fs, "skew.kubelet-too-old")) == 1
}

# skew.kube-proxy-newer

test_kube_proxy_newer_fires if {
	[f] := by_check(run([pod("kube-apiserver", "cp-1", 35), pod("kube-proxy", "worker-1", 36)], 35, 36), "skew.kube-proxy-newer")
	f.subject == {"kind": "Pod", "namespace": "kube-system", "name": "kube-proxy-worker-1"}
	f.node == "worker-1"
	f.message == "kube-proxy kube-system/kube-proxy-worker-1 on node worker-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.0): components must not be newer than kube-apiserver"
}

test_kube_proxy_newer_silent if {
	count(by_check(run([pod("kube-apiserver", "cp-1", 35), pod("kube-proxy", "worker-1", 35)], 35, 36), "skew.kube-proxy-newer")) == 0
}

# skew.kube-proxy-too-old

test_kube_proxy_too_old_fires if {
	[f] := by_check(run([pod("kube-proxy", "worker-1", 31)], 34, 35), "skew.kube-proxy-too-old")
	f.message == "kube-proxy kube-system/kube-proxy-worker-1 on node worker-1 is at v1.31.0, 4 minors behind the target control plane v1.35.0: a kube-proxy may be at most 3 minors older than kube-apiserver"
}

test_kube_proxy_too_old_silent if {
	count(by_check(run([pod("kube-proxy", "worker-1", 32)], 34, 35), "skew.kube-proxy-too-old")) == 0
}

# skew.control-plane-newer

test_control_plane_newer_fires if {
	fs := run([pod("kube-apiserver", "cp-1", 35), pod("kube-scheduler", "cp-1", 36), pod("cloud-controller-manager", "cp-1", 36)], 35, 36)
	[f, g] := by_check(fs, "skew.control-plane-newer")
	{f.subject.name, g.subject.name} == {"kube-scheduler-cp-1", "cloud-controller-manager-cp-1"}
	some h in [f, g]
	h.message == "kube-scheduler kube-system/kube-scheduler-cp-1 on node cp-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.0): components must not be newer than kube-apiserver"
}

test_control_plane_newer_silent if {
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-controller-manager", "cp-1", 36)], 36, 36), "skew.control-plane-newer")) == 0
}

# A resumed run's half-way state: cp-1 upgraded whole to 1.36 (by a run
# that stopped before it could record so), cp-2 still at 1.35.
halfway := [
	pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35),
	pod("kube-controller-manager", "cp-1", 36), pod("kube-scheduler", "cp-1", 36),
	kubelet("cp-1", 36), pod("kube-proxy", "cp-1", 36),
	pod("kube-controller-manager", "cp-2", 35), kubelet("cp-2", 35),
]

newer_checks := {"skew.kubelet-newer", "skew.kube-proxy-newer", "skew.control-plane-newer"}

test_newer_fires_on_a_node_no_run_is_upgrading if {
	fs := run(halfway, 35, 36)
	{f.check | some f in fs} == newer_checks
	{f.node | some f in fs} == {"cp-1"}
}

# not_ignored keeps the findings that block.
not_ignored(fs) := [f | some f in fs; not f.ignoredBy]

test_newer_reported_ignored_on_the_node_upgate_is_upgrading_to_that_version if {
	fs := running(halfway, 35, 36, {"cp-1": 36})
	{f.check | some f in fs} == newer_checks
	count(not_ignored(fs)) == 0
	some f in fs
	f.check == "skew.kubelet-newer"
	f.message == "kubelet on node cp-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.0): components must not be newer than kube-apiserver"
	f.ignoredBy == "upgate run: node cp-1 is being upgraded to v1.36.0 (upgate.dev/target); the other control-plane nodes follow in the same run"
}

test_newer_blocks_beyond_the_version_under_way if {
	# cp-1's upgrade is to 1.36, but its scheduler runs 1.37.
	cs := array.concat(halfway, [pod("kube-scheduler", "cp-1", 37)])
	[f] := not_ignored(running(cs, 35, 36, {"cp-1": 36}))
	f.check == "skew.control-plane-newer"
	f.message == "kube-scheduler kube-system/kube-scheduler-cp-1 on node cp-1 is at v1.37.0, newer than the oldest kube-apiserver (v1.35.0): components must not be newer than kube-apiserver"
}

test_newer_blocks_when_the_upgrade_under_way_passes_the_target if {
	# A run to 1.36 left cp-1 there; this check is for 1.35.
	count(by_check(not_ignored(running(halfway, 35, 35, {"cp-1": 36})), "skew.control-plane-newer")) == 2
}

test_newer_blocks_on_other_nodes_while_one_is_under_way if {
	cs := array.concat(halfway, [kubelet("worker-1", 36)])
	[f] := not_ignored(running(cs, 35, 36, {"cp-1": 36}))
	f.check == "skew.kubelet-newer"
	f.node == "worker-1"
}

# skew.control-plane-too-old

test_control_plane_too_old_fires if {
	[f] := by_check(run([pod("kube-controller-manager", "cp-1", 34)], 35, 36), "skew.control-plane-too-old")
	f.message == "kube-controller-manager kube-system/kube-controller-manager-cp-1 on node cp-1 is at v1.34.0, 2 minors behind the target control plane v1.36.0: kube-controller-manager may be at most 1 minor older than kube-apiserver"
}

test_control_plane_too_old_silent_one_behind if {
	count(by_check(run([pod("kube-controller-manager", "cp-1", 35)], 35, 36), "skew.control-plane-too-old")) == 0
}

# skew.version-unknown

test_version_unknown_fires_and_nothing_guesses if {
	latest := {"name": "kube-apiserver", "node": "cp-1", "namespace": "kube-system", "pod": "kube-apiserver-cp-1", "raw": "registry.k8s.io/kube-apiserver:latest"}
	blank := {"name": "kubelet", "node": "worker-1", "raw": ""}
	fs := run([latest, blank], 35, 36)
	count(fs) == 2
	{f.check | some f in fs} == {"skew.version-unknown"}
	some f in fs
	f.subject.name == "kube-apiserver-cp-1"
	f.severity == "info"
	f.message == "kube-apiserver kube-system/kube-apiserver-cp-1 on node cp-1: version \"registry.k8s.io/kube-apiserver:latest\" cannot be read, so its version skew is not checked"
	some g in fs
	g.message == "kubelet on node worker-1: version (empty) cannot be read, so its version skew is not checked"
}

test_version_unknown_silent_when_known if {
	count(by_check(run(healthy, 35, 36), "skew.version-unknown")) == 0
}

# The Kubernetes "Version Skew Policy" page's worked examples, current 1.36.

# kube-apiserver: newest at 1.36, others supported at 1.36 and 1.35.
test_policy_example_apiservers if {
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35)], 35, 36), "skew.apiserver-ha")) == 0
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 34)], 34, 36), "skew.apiserver-ha")) == 1
}

# kubelet: kube-apiserver at 1.36 → kubelet 1.36, 1.35, 1.34, 1.33 supported.
test_policy_example_kubelet_single_apiserver if {
	every m in [33, 34, 35, 36] {
		count(run([pod("kube-apiserver", "cp-1", 36), kubelet("w", m)], 36, 36)) == 0
	}
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), kubelet("w", 32)], 36, 36), "skew.kubelet-too-old")) == 1
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), kubelet("w", 37)], 36, 36), "skew.kubelet-newer")) == 1
}

# kubelet: kube-apiservers at 1.36 and 1.35 → kubelet 1.35, 1.34, 1.33
# supported; 1.36 is newer than the 1.35 instance.
test_policy_example_kubelet_ha_apiservers if {
	apis := [pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35)]
	every m in [33, 34, 35] {
		count(run(array.concat(apis, [kubelet("w", m)]), 35, 36)) == 0
	}
	count(by_check(run(array.concat(apis, [kubelet("w", 36)]), 35, 36), "skew.kubelet-newer")) == 1
	count(by_check(run(array.concat(apis, [kubelet("w", 32)]), 35, 36), "skew.kubelet-too-old")) == 1
}

# controller-manager, scheduler, cloud-controller-manager: kube-apiserver at
# 1.36 → supported at 1.36 and 1.35; apiservers at 1.36 and 1.35 → only 1.35.
test_policy_example_control_plane if {
	every name in skew.control_plane_components {
		every m in [35, 36] {
			count(run([pod("kube-apiserver", "cp-1", 36), pod(name, "cp-1", m)], 36, 36)) == 0
		}
		count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod(name, "cp-1", 34)], 36, 36), "skew.control-plane-too-old")) == 1
		count(run([pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35), pod(name, "cp-1", 35)], 35, 36)) == 0
		count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-apiserver", "cp-2", 35), pod(name, "cp-1", 36)], 35, 36), "skew.control-plane-newer")) == 1
	}
}

# kube-proxy follows the kubelet's rules.
test_policy_example_kube_proxy if {
	every m in [33, 34, 35, 36] {
		count(run([pod("kube-apiserver", "cp-1", 36), pod("kube-proxy", "w", m)], 36, 36)) == 0
	}
	count(by_check(run([pod("kube-apiserver", "cp-1", 36), pod("kube-proxy", "w", 32)], 36, 36), "skew.kube-proxy-too-old")) == 1
}

package upgate.pdb_test

import data.upgate.pdb

run(budgets) := fs if {
	fs := pdb.findings with input as {"phase": "preflight", "pdb": {"budgets": budgets}}
}

pod(name, node) := {"name": name, "node": node}

web_status := {
	"namespace": "shop", "name": "web", "allowed": 0, "from": "status",
	"min_available": "3", "expected": 3, "desired_healthy": 3, "current_healthy": 3,
	"pods": [pod("web-b", "worker-1"), pod("web-a", "worker-1"), pod("web-c", "worker-2")],
}

test_pdb_blocks_drain_fires_per_node if {
	fs := run([web_status])
	count(fs) == 2
	some f in fs
	f.node == "worker-1"
	f.check == "safety.pdb-blocks-drain"
	f.severity == "block"
	f.subject == {"kind": "PodDisruptionBudget", "namespace": "shop", "name": "web"}
	f.message == concat("", [
		"PodDisruptionBudget shop/web allows 0 disruptions (status.disruptionsAllowed is 0: 3 healthy, 3 desired, 3 expected) ",
		"and holds pods web-a, web-b on node worker-1: draining worker-1 would wait forever to evict them ",
		"(the budget holds 3 pods in all, also on worker-2)",
	])
	contains(f.remediation, "maxUnavailable: 1")
	some g in fs
	g.node == "worker-2"
	startswith(g.message, "PodDisruptionBudget shop/web allows 0 disruptions")
	contains(g.message, "holds pod web-c on node worker-2: draining worker-2 would wait forever to evict it (the budget holds 3 pods in all, also on worker-1)")
}

test_pdb_blocks_drain_explains_spec_max_unavailable if {
	b := {
		"namespace": "db", "name": "pg", "allowed": 0, "from": "spec", "max_unavailable": "0",
		"expected": 2, "desired_healthy": 2, "current_healthy": 2, "pods": [pod("pg-0", "worker-3")],
	}
	[f] := [f | some f in run([b])]
	f.message == "PodDisruptionBudget db/pg allows 0 disruptions (maxUnavailable 0 of 2 expected pods, 2 healthy) and holds pod pg-0 on node worker-3: draining worker-3 would wait forever to evict it"
}

test_pdb_blocks_drain_explains_spec_min_available if {
	b := {
		"namespace": "db", "name": "pg", "allowed": 0, "from": "spec", "min_available": "100%",
		"expected": 2, "desired_healthy": 2, "current_healthy": 2, "pods": [pod("pg-0", "worker-3")],
	}
	[f] := [f | some f in run([b])]
	contains(f.message, "(minAvailable 100% with 2 expected pods, 2 healthy)")
}

test_pdb_blocks_drain_silent_when_disruption_allowed if {
	count(run([object.union(web_status, {"allowed": 1})])) == 0
}

# The eviction API lets some pods go whatever the budget.

web_with(p) := object.union(web_status, {"pods": [p]})

test_pdb_blocks_drain_silent_for_pending_and_deleting_pods if {
	count(run([web_with(object.union(pod("web-a", "worker-1"), {"pending": true}))])) == 0
	count(run([web_with(object.union(pod("web-a", "worker-1"), {"deleting": true}))])) == 0
}

test_pdb_blocks_drain_lets_unready_pods_go_as_the_budget_says if {
	unready := object.union(pod("web-a", "worker-1"), {"unready": true})

	# AlwaysAllow: an unready pod goes, however few are healthy.
	always := object.union(web_with(unready), {"unhealthy_pod_eviction_policy": "AlwaysAllow", "current_healthy": 1})
	count(run([always])) == 0

	# IfHealthyBudget (the default): it goes while the budget has its
	# desired healthy pods, and is held when it does not.
	count(run([web_with(unready)])) == 0
	[f] := [x | some x in run([object.union(web_with(unready), {"current_healthy": 2})])]
	contains(f.message, "holds pod web-a on node worker-1")
	[g] := [x | some x in run([object.union(web_with(unready), {"unhealthy_pod_eviction_policy": "IfHealthyBudget", "current_healthy": 2})])]
	g.node == "worker-1"
}

test_pdb_blocks_drain_holds_only_refused_pods if {
	b := object.union(web_status, {"pods": [pod("web-a", "worker-1"), object.union(pod("web-b", "worker-1"), {"pending": true}), object.union(pod("web-c", "worker-2"), {"deleting": true})]})
	[f] := [x | some x in run([b])]
	f.message == concat("", [
		"PodDisruptionBudget shop/web allows 0 disruptions (status.disruptionsAllowed is 0: 3 healthy, 3 desired, 3 expected) ",
		"and holds pod web-a on node worker-1: draining worker-1 would wait forever to evict it",
	])
}

test_pdb_blocks_drain_silent_without_budgets if {
	fs := pdb.findings with input as {"phase": "preflight"}
	count(fs) == 0
}

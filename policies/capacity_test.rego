package upgate.capacity_test

import data.upgate.capacity

run(nodes, n) := fs if {
	fs := capacity.findings with input as {"phase": "preflight", "capacity": {"max_unavailable": n, "nodes": nodes}}
}

short := {
	"node": "worker-1", "evictable": 4, "targets": 2,
	"need": {"cpu_m": 3000, "memory": 4294967296, "pods": 4},
	"free": {"cpu_m": 1000, "memory": 8589934592, "pods": 200},
	"unplaced": 2, "unplaced_pods": ["shop/api-1", "shop/api-2"],
}

test_drain_capacity_fires_with_shortfall if {
	[f] := [f | some f in run([short], 1)]
	f.check == "safety.drain-capacity"
	f.severity == "block"
	f.subject == {"kind": "Node", "name": "worker-1"}
	f.node == "worker-1"
	f.message == concat("", [
		"draining node worker-1 leaves 2 of its 4 evictable pods without room on the 2 other schedulable nodes that admit them: ",
		"short by 2000m CPU (pods to move request 3000m CPU, 4096Mi memory, 4 pod slots; ",
		"free there 1000m CPU, 8192Mi memory, 200 pod slots): shop/api-1, shop/api-2",
	])
	contains(f.remediation, "--max-unavailable")
}

test_drain_capacity_names_window_and_constraints if {
	r := object.union(short, {
		"window": ["worker-2"], "targets": 1, "evictable": 9, "unplaced": 7, "no_eligible": 1,
		"need": {"cpu_m": 500, "memory": 1048576, "pods": 9},
		"free": {"cpu_m": 1000, "memory": 8589934592, "pods": 5},
		"unplaced_pods": ["a/1", "a/2", "a/3", "a/4", "a/5"],
	})
	[f] := [f | some f in run([r], 2)]
	f.message == concat("", [
		"draining node worker-1 together with worker-2 (--max-unavailable 2) leaves 7 of its 9 evictable pods ",
		"without room on the one other schedulable node that admits them: short by 4 pod slots (pods to move request 500m CPU, 1Mi memory, 9 pod slots; ",
		"free there 1000m CPU, 8192Mi memory, 5 pod slots); 1 of them fit no schedulable node's nodeSelector, ",
		"required node affinity or taints: a/1, a/2, a/3, a/4, a/5 and 2 more",
	])
}

test_drain_capacity_no_targets if {
	r := object.union(short, {"targets": 0, "free": {"cpu_m": 0, "memory": 0, "pods": 0}})
	[f] := [f | some f in run([r], 1)]
	f.message == concat("", [
		"draining node worker-1 leaves 2 of its 4 evictable pods with no node to go to: no other Ready, uncordoned node ",
		"meets their nodeSelector, required node affinity and taints: shop/api-1, shop/api-2",
	])
}

test_drain_capacity_fires_when_unchecked if {
	[f] := [f | some f in run([{"node": "worker-9", "unchecked": true}], 1)]
	f.check == "safety.drain-capacity"
	f.message == "room for the evictable pods of node worker-9 was not worked out: the fit computation reached its bound before this node"
}

test_drain_capacity_silent_when_all_fit if {
	count(run([], 1)) == 0
	count(run([object.union(short, {"unplaced": 0, "unplaced_pods": []})], 1)) == 0
	fs := capacity.findings with input as {"phase": "preflight"}
	count(fs) == 0
}

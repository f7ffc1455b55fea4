# METADATA
# title: Room for drained pods
# description: >-
#   Before a node is drained, the pods it evicts must fit on the nodes left
#   schedulable, or they stay Pending for the whole upgrade. The fit (cpu and
#   memory requests, pod slots, nodeSelector, required node affinity,
#   NoSchedule/NoExecute taints; first-fit decreasing, --max-unavailable
#   nodes at once) is worked out in Go (input_capacity.go), for speed: a
#   bin-packing of up to 150,000 pods with the scheduler's own request
#   arithmetic (component-helpers) and label and taint matching
#   (apimachinery), bounded so it fails closed. It is a fact like a pod's
#   owner; the verdict is here. These rules read its result in
#   input.capacity.nodes, one entry per node whose pods do not all fit (or
#   were not worked out).
# custom:
#   phases: [preflight]
package upgate.capacity

import data.upgate.lib

results := input.capacity.nodes

# METADATA
# title: Not enough room for a drained node's pods
# description: >-
#   A node's evictable pods do not fit on the other schedulable nodes (Ready,
#   not cordoned, not drained at the same time) given their allocatable cpu,
#   memory and pods minus the requests of the pods already there, and the
#   pods' nodeSelector, required node affinity and tolerations. Pods that
#   find no room stay Pending until the node comes back.
# custom:
#   check: safety.drain-capacity
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Add nodes or free room before the upgrade (scale down or lower the
#     requests of other workloads, uncordon nodes), fix the pods' nodeSelector,
#     affinity or tolerations, or upgrade with a lower --max-unavailable. If
#     the pods may stay Pending while the node is upgraded, mark the node
#     upgate.dev/ignore: "safety.drain-capacity".
findings contains f if {
	some r in results
	not r.unchecked
	r.unplaced > 0
	msg := sprintf("draining node %s%s leaves %d of its %d evictable pods %s: %s", [
		r.node, together(r), r.unplaced, r.evictable, where(r), pods(r),
	])
	f := lib.finding(rego.metadata.rule(), {"kind": "Node", "name": r.node}, r.node, msg)
}

# METADATA
# title: Room for drained pods not worked out
# description: >-
#   The bounded fit computation stopped before this node (a very large
#   cluster): the gate fails closed rather than pass on a guess.
# custom:
#   check: safety.drain-capacity
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Check by hand that the other nodes can take this node's pods, then mark
#     the node upgate.dev/ignore: "safety.drain-capacity"; or run the check on
#     a part of the cluster.
findings contains f if {
	some r in results
	r.unchecked
	msg := sprintf("room for the evictable pods of node %s was not worked out: the fit computation reached its bound before this node", [r.node])
	f := lib.finding(rego.metadata.rule(), {"kind": "Node", "name": r.node}, r.node, msg)
}

together(r) := sprintf(" together with %s (--max-unavailable %d)", [concat(", ", r.window), input.capacity.max_unavailable]) if {
	count(object.get(r, "window", [])) > 0
} else := ""

# where says why the pods do not fit. targets counts the schedulable nodes,
# outside those drained at the same time, that admit at least one of the
# pods to move.
where(r) := "with no node to go to: no other Ready, uncordoned node meets their nodeSelector, required node affinity and taints" if {
	r.targets == 0
} else := sprintf("without room on %s%s (%s)%s", [targets(r.targets), short_by(r), need_free(r), no_eligible(r)])

targets(n) := "the one other schedulable node that admits them" if n == 1

targets(n) := sprintf("the %d other schedulable nodes that admit them", [n]) if n > 1

# short_by names the resources whose total need exceeds the total free.
short_by(r) := sprintf(": short by %s", [concat(", ", parts)]) if {
	parts := [p |
		some d in ["cpu_m", "memory", "pods"]
		r.need[d] > r.free[d]
		p := amount(d, r.need[d] - r.free[d])
	]
	count(parts) > 0
} else := ""

need_free(r) := sprintf("pods to move request %s; free there %s", [amounts(r.need), amounts(r.free)])

amounts(x) := concat(", ", [amount("cpu_m", x.cpu_m), amount("memory", x.memory), amount("pods", x.pods)])

amount("cpu_m", v) := sprintf("%dm CPU", [v])

amount("memory", v) := sprintf("%dMi memory", [ceil(v / 1048576)])

amount("pods", v) := sprintf("%d pod slots", [v])

no_eligible(r) := sprintf("; %d of them fit no schedulable node's nodeSelector, required node affinity or taints", [r.no_eligible]) if {
	r.no_eligible > 0
} else := ""

pods(r) := concat("", [concat(", ", r.unplaced_pods), more]) if {
	extra := r.unplaced - count(r.unplaced_pods)
	more := sprintf(" and %d more", [extra])
	extra > 0
} else := concat(", ", r.unplaced_pods)

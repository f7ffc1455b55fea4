# METADATA
# title: PodDisruptionBudgets that stop a drain
# description: >-
#   A drain evicts pods through the eviction API, which refuses (429) to evict
#   a pod whose PodDisruptionBudget allows no disruption; kubectl drain and
#   every upgrade tool built on it then retry forever. Reads input.pdb.budgets
#   (input_pdb.go): each budget with its allowed disruptions and, when it
#   allows none, the evictable pods it covers (the selector join and the
#   disruption controller's arithmetic for a budget without a status are
#   done in Go, where they cost little at 150,000 pods).
# custom:
#   phases: [preflight]
package upgate.pdb

import data.upgate.lib

budgets := input.pdb.budgets

# METADATA
# title: PodDisruptionBudget allows no disruption
# description: >-
#   A PodDisruptionBudget whose allowed disruptions are 0 covers an evictable
#   pod: draining the node that runs it hangs, because the eviction API
#   refuses the eviction until another pod of the budget becomes healthy,
#   which for a budget at its minimum never happens by itself. This is the
#   most reported upgrade failure (kops #2537, openshift-ansible #11503,
#   kubespray #8093, rancher #26400). Allowed disruptions are the budget's
#   status.disruptionsAllowed; without a status (manifests) they are worked
#   out as the disruption controller does: maxUnavailable 0, or minAvailable
#   at or above the expected pods, allows none (percentages rounded up).
#   One finding per node that runs a pod the budget would hold, so the plan
#   attaches it to each of them.
# custom:
#   check: safety.pdb-blocks-drain
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Let the budget allow at least one disruption before the upgrade: scale
#     the workload above minAvailable, or use maxUnavailable: 1 (or a lower
#     minAvailable). If losing the pods is acceptable, delete the budget for
#     the upgrade, or mark it upgate.dev/ignore: "safety.pdb-blocks-drain" and
#     expect the drain to wait until the pods are deleted by hand.
findings contains f if {
	some b in budgets
	b.allowed < 1
	held := [p | some p in b.pods; refused(b, p)]
	nodes := {p.node | some p in held}
	some node in nodes
	pods := sort([p.name | some p in held; p.node == node])
	others := [n | some n in nodes; n != node]
	msg := sprintf(
		"PodDisruptionBudget %s/%s allows 0 disruptions (%s) and holds %s on node %s: draining %s would wait forever to evict %s%s",
		[b.namespace, b.name, why(b), pod_list(pods), node, node, them(pods), elsewhere(count(held), others)],
	)
	f := lib.finding(rego.metadata.rule(), {"kind": "PodDisruptionBudget", "namespace": b.namespace, "name": b.name}, node, msg)
}

# refused(b, p): the eviction API refuses to evict p for budget b, which
# allows no disruption (pkg/registry/core/pod/storage/eviction.go). It
# lets go, whatever the budget, a Pending pod and one being deleted; and
# an unready pod when the budget says so.
refused(b, p) if {
	not p.pending
	not p.deleting
	not unready_let_go(b, p)
}

# unready_let_go(b, p): p is not Ready and b's unhealthyPodEvictionPolicy
# lets it go: always with AlwaysAllow; with IfHealthyBudget (the default)
# when the budget already has its desired healthy pods.
unready_let_go(b, p) if {
	p.unready
	b.unhealthy_pod_eviction_policy == "AlwaysAllow"
}

unready_let_go(b, p) if {
	p.unready
	object.get(b, "unhealthy_pod_eviction_policy", "IfHealthyBudget") != "AlwaysAllow"
	b.desired_healthy > 0
	b.current_healthy >= b.desired_healthy
}

# why explains the 0: the status, or the spec it was worked out from.
why(b) := sprintf("status.disruptionsAllowed is 0: %d healthy, %d desired, %d expected", [b.current_healthy, b.desired_healthy, b.expected]) if {
	b.from == "status"
} else := sprintf("maxUnavailable %s of %d expected pods, %d healthy", [b.max_unavailable, b.expected, b.current_healthy]) if {
	b.max_unavailable
} else := sprintf("minAvailable %s with %d expected pods, %d healthy", [b.min_available, b.expected, b.current_healthy]) if {
	b.min_available
} else := "neither minAvailable nor maxUnavailable is set"

pod_list(pods) := sprintf("pod %s", [pods[0]]) if {
	count(pods) == 1
} else := sprintf("pods %s", [concat(", ", pods)])

them(pods) := "it" if count(pods) == 1

them(pods) := "them" if count(pods) > 1

elsewhere(_, others) := "" if count(others) == 0

elsewhere(held, others) := sprintf(" (the budget holds %d pods in all, also on %s)", [held, concat(", ", others)]) if {
	count(others) > 0
}

# METADATA
# title: Change freeze
# description: >-
#   An example of a user's own policy (--policy-dir): nodes under a change
#   freeze are not drained or upgraded. Its rule declares scope node only,
#   so upgate run checks it in each node's gate, just before the node is
#   touched: the run starts, the other nodes go ahead, and a frozen node's
#   gate waits (--gate-wait) and then stops the run there. Reads
#   input.safety.nodes.
package upgate.house

import data.upgate.lib

# frozen names the nodes under a change freeze.
frozen := {"worker-1"}

# METADATA
# title: Node under a change freeze
# description: The node is under a change freeze; its upgrade waits for the end of it.
# custom:
#   check: house.change-freeze
#   severity: block
#   scope: [node]
#   remediation: >-
#     Wait for the freeze to end, or annotate the node
#     upgate.dev/ignore: "house.change-freeze".
findings contains f if {
	some n in input.safety.nodes
	n.name in frozen
	msg := sprintf("node %s is under a change freeze", [n.name])
	f := lib.finding(rego.metadata.rule(), {"kind": "Node", "name": n.name}, n.name, msg)
}

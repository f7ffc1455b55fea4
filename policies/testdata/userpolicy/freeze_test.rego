package upgate.house_test

import data.upgate.house

test_change_freeze_fires_on_frozen_node if {
	fs := house.findings with input as {"safety": {"nodes": [{"name": "worker-1", "worker": true}, {"name": "worker-2", "worker": true}]}}
	[f] := [x | some x in fs]
	f.check == "house.change-freeze"
	f.node == "worker-1"
	f.message == "node worker-1 is under a change freeze"
	f.scope == ["node"]
}

test_change_freeze_silent_on_other_nodes if {
	fs := house.findings with input as {"safety": {"nodes": [{"name": "worker-2", "worker": true}]}}
	count(fs) == 0
}

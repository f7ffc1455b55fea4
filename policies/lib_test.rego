package upgate.lib_test

import data.upgate.lib

test_finding_reads_rule_metadata if {
	meta := {"custom": {"check": "x.y", "severity": "warn", "remediation": "do z", "scope": ["node"]}}
	lib.finding(meta, {"kind": "Node", "name": "n1"}, "n1", "m") == {
		"check": "x.y", "severity": "warn", "subject": {"kind": "Node", "name": "n1"},
		"node": "n1", "message": "m", "remediation": "do z", "scope": ["node"],
	}
}

test_finding_without_scope_leaves_it_to_the_engine if {
	meta := {"custom": {"check": "x.y", "severity": "warn", "remediation": "do z"}}
	lib.finding(meta, {"kind": "Cluster", "name": "cluster"}, "", "m").scope == []
}

test_minor_index_orders_by_minor if {
	lib.minor_index({"major": 1, "minor": 36}) - lib.minor_index({"major": 1, "minor": 33}) == 3
	lib.minor_index({"major": 2, "minor": 0}) > lib.minor_index({"major": 1, "minor": 99})
}

test_qname if {
	lib.qname({"namespace": "shop", "name": "db"}) == "shop/db"
	lib.qname({"name": "worker-1"}) == "worker-1"
	lib.qname({"namespace": "", "name": "worker-1"}) == "worker-1"
}

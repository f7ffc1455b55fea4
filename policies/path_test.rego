package upgate.path_test

import data.upgate.path

ver(major, minor, patch) := {
	"version": sprintf("v%d.%d.%d", [major, minor, patch]),
	"major": major, "minor": minor, "patch": patch, "has_patch": true,
}

minor_only(major, minor) := {
	"version": sprintf("v%d.%d", [major, minor]),
	"major": major, "minor": minor, "patch": 0, "has_patch": false,
}

run(current, target) := fs if {
	fs := path.findings with input as {"phase": "preflight", "current": current, "target": target}
}

by_check(fs, check) := [f | some f in fs; f.check == check]

# path.downgrade

test_downgrade_fires_on_older_minor if {
	[f] := by_check(run(ver(1, 36, 2), ver(1, 35, 0)), "path.downgrade")
	f.severity == "block"
	f.subject == {"kind": "Cluster", "name": "cluster"}
	f.message == "target v1.35.0 is older than the current control plane v1.36.2: Kubernetes does not support downgrades"
	contains(f.remediation, "etcd backup")
	f.scope == ["run", "hop"]
}

test_downgrade_fires_on_older_patch if {
	[f] := by_check(run(ver(1, 36, 2), ver(1, 36, 1)), "path.downgrade")
	contains(f.message, "target v1.36.1 is older than the current control plane v1.36.2")
}

test_downgrade_silent_on_upgrade_and_minor_target if {
	count(by_check(run(ver(1, 35, 2), ver(1, 36, 0)), "path.downgrade")) == 0
	count(by_check(run(ver(1, 36, 2), minor_only(1, 36)), "path.downgrade")) == 0
	count(by_check(run(minor_only(1, 36), ver(1, 36, 0)), "path.downgrade")) == 0
}

# path.minor-skip

test_minor_skip_fires if {
	[f] := by_check(run(ver(1, 34, 3), ver(1, 37, 0)), "path.minor-skip")
	f.severity == "block"
	f.message == "target v1.37.0 is 3 minor versions above the current control plane v1.34.3: upgrade one minor at a time (v1.35 → v1.36 → v1.37)"

	# The plan turns it into hops: it stops a hop, not the run.
	f.scope == ["hop"]
}

test_minor_skip_silent_on_next_minor if {
	count(by_check(run(ver(1, 35, 2), ver(1, 36, 0)), "path.minor-skip")) == 0
	count(by_check(run(ver(1, 35, 2), minor_only(1, 36)), "path.minor-skip")) == 0
}

test_minor_skip_reads_the_hop_from_data if {
	count(by_check(run(ver(1, 35, 2), ver(1, 37, 0)), "path.minor-skip")) == 1
	fs := run(ver(1, 35, 2), ver(1, 37, 0)) with data.upgate_facts.path.max_minor_hop as 2
	count(by_check(fs, "path.minor-skip")) == 0
}

# path.same-version

test_same_version_fires if {
	[f] := by_check(run(ver(1, 36, 2), ver(1, 36, 2)), "path.same-version")
	f.severity == "info"
	f.message == "the control plane is already at v1.36.2 (target v1.36.2)"
}

test_same_version_fires_for_minor_target if {
	[f] := by_check(run(ver(1, 36, 2), minor_only(1, 36)), "path.same-version")
	f.message == "the control plane is already at v1.36.2 (target v1.36)"
}

test_same_version_silent_on_patch_upgrade if {
	fs := run(ver(1, 36, 1), ver(1, 36, 2))
	count(fs) == 0
}

# METADATA
# title: Upgrade path
# description: >-
#   Is the target a version the control plane can be upgraded to, in one step,
#   from where it is? Reads input.current and input.target.
# custom:
#   phases: [preflight]
package upgate.path

import data.upgate.lib

# METADATA
# title: Downgrade
# description: >-
#   The target is older than the current control plane. Kubernetes does not
#   support downgrading a control plane: etcd data written by a newer API
#   server may not be readable by an older one.
# custom:
#   check: path.downgrade
#   severity: block
#   scope: [run, hop]
#   remediation: >-
#     Choose a target at or above the current version. To go back to an older
#     version, restore the etcd backup taken before the upgrade instead.
findings contains f if {
	older(input.target, input.current)
	msg := sprintf(
		"target %s is older than the current control plane %s: Kubernetes does not support downgrades",
		[input.target.version, input.current.version],
	)
	f := lib.finding(rego.metadata.rule(), lib.cluster, "", msg)
}

# METADATA
# title: Minor version skipped
# description: >-
#   The target is more than one minor above the current control plane. The
#   control plane must be upgraded one minor at a time; `upgate plan` turns
#   such a target into hops, so it stops no run (scope hop only): each hop
#   is checked against its own from and to versions.
# custom:
#   check: path.minor-skip
#   severity: block
#   scope: [hop]
#   remediation: >-
#     Upgrade one minor version at a time: run `upgate plan` for the hops, or
#     pass the next minor as --target.
findings contains f if {
	gap := lib.minor_index(input.target) - lib.minor_index(input.current)
	gap > data.upgate_facts.path.max_minor_hop
	msg := sprintf(
		"target %s is %d minor versions above the current control plane %s: upgrade one minor at a time (%s)",
		[input.target.version, gap, input.current.version, hops(input.current, input.target)],
	)
	f := lib.finding(rego.metadata.rule(), lib.cluster, "", msg)
}

# METADATA
# title: Already at target
# description: The control plane already runs the target version; there is nothing to upgrade.
# custom:
#   check: path.same-version
#   severity: info
#   scope: [run, hop]
#   remediation: Nothing to do; pass a newer --target to upgrade.
findings contains f if {
	same(input.target, input.current)
	msg := sprintf("the control plane is already at %s (target %s)", [input.current.version, input.target.version])
	f := lib.finding(rego.metadata.rule(), lib.cluster, "", msg)
}

# A target without a patch ("1.36") means that minor: it is compared by minor
# only. Patches are compared only when both versions name one.
older(t, c) if lib.minor_index(t) < lib.minor_index(c)

older(t, c) if {
	lib.minor_index(t) == lib.minor_index(c)
	t.has_patch
	c.has_patch
	t.patch < c.patch
}

same(t, c) if {
	lib.minor_index(t) == lib.minor_index(c)
	not t.has_patch
}

same(t, c) if {
	lib.minor_index(t) == lib.minor_index(c)
	t.has_patch
	c.has_patch
	t.patch == c.patch
}

# hops lists the minors to pass through, "v1.36 → v1.37"; across a major
# version it names only the target.
hops(c, t) := concat(" → ", [sprintf("v%d.%d", [c.major, m]) | some m in numbers.range(c.minor + 1, t.minor)]) if {
	c.major == t.major
} else := t.version

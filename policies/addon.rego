# METADATA
# title: Cluster add-ons behind the target
# description: >-
#   Add-ons that must be upgraded with the control plane. Reads
#   input.addon.ccm (input_addon.go): the cloud-controller-manager pods in
#   kube-system (label component=cloud-controller-manager) and their image
#   versions.
# custom:
#   phases: [preflight]
package upgate.addon

import data.upgate.lib

# METADATA
# title: cloud-controller-manager behind the target
# description: >-
#   A cloud-controller-manager whose minor version is below the target's.
#   Kubelets of the new version rely on it to initialise their nodes (the
#   node.cloudprovider.kubernetes.io/uninitialized taint), so it should be
#   upgraded right after the control plane, before new nodes join. A
#   version that cannot be read is left to skew.version-unknown.
# custom:
#   check: addon.ccm-behind-target
#   severity: warn
#   scope: [run, hop]
#   remediation: >-
#     Upgrade the cloud-controller-manager to the target's minor version
#     right after the control plane (upgate run does it in its
#     cloud-controller-manager stage).
findings contains f if {
	some c in input.addon.ccm
	c.version
	lib.minor_index(c.version) < lib.minor_index(input.target)
	msg := sprintf("cloud-controller-manager %s/%s on node %s is at %s, below the target %s: upgrade it before new nodes join", [
		c.namespace, c.pod, c.node, c.version.version, input.target.version,
	])
	f := lib.finding(rego.metadata.rule(), {"kind": "Pod", "namespace": c.namespace, "name": c.pod}, c.node, msg)
}

# METADATA
# title: Version skew
# description: >-
#   The Kubernetes version skew policy, checked for the cluster as it is and
#   for the target: kube-apiserver instances within one minor of each other;
#   kubelet, kube-proxy, controller-manager, scheduler and
#   cloud-controller-manager never newer than the oldest kube-apiserver and
#   not too far behind the target control plane. Minors only are compared.
#   The windows are data (data.upgate_facts.skew). A component whose version
#   cannot be read gets skew.version-unknown and no other skew finding.
#   A "newer" finding about a component at the version of an upgrade upgate
#   has under way on its node (input.skew.underway) is reported ignored,
#   naming that upgrade: it is the state a run leaves between a hop's first
#   and last control-plane node (kubeadm's own order, one control-plane
#   node at a time, kubelet with it), which the next run must be able to
#   finish.
#   Reads input.skew.components, input.skew.underway, input.current and
#   input.target.
# custom:
#   phases: [preflight]
package upgate.skew

import data.upgate.lib

facts := data.upgate_facts.skew

components := input.skew.components

# known lists the instances of a component whose version could be read.
known(name) := [c | some c in components[name]; c.version]

apiserver_indexes := {lib.minor_index(c.version) | some c in known("kube-apiserver")}

# The oldest kube-apiserver: among the instances read, or, when the input
# has none (a managed control plane), the current control-plane version.
oldest_apiserver := v if {
	count(apiserver_indexes) > 0
	i := min(apiserver_indexes)
	v := [c.version | some c in known("kube-apiserver"); lib.minor_index(c.version) == i][0]
} else := input.current

newest_apiserver := [c.version | some c in known("kube-apiserver"); lib.minor_index(c.version) == max(apiserver_indexes)][0]

# subject: the component's pod, or its node for a kubelet (and a kube-proxy
# known only from nodeInfo).
subject(c) := {"kind": "Pod", "namespace": c.namespace, "name": c.pod} if {
	c.pod
} else := {"kind": "Node", "name": c.node}

describe(c) := sprintf("%s %s/%s on node %s", [c.name, c.namespace, c.pod, c.node]) if {
	c.pod
} else := sprintf("%s on node %s", [c.name, c.node])

plural(n) := "minor" if n == 1

plural(n) := "minors" if n != 1

# behind is how many minors the component is behind the target.
behind(c) := lib.minor_index(input.target) - lib.minor_index(c.version)

# node_window is how many minors a kubelet or kube-proxy may trail the
# control plane: 3, or 2 for one older than 1.25.
node_window(v) := facts.node.legacy_max_minors_older if {
	lib.minor_index(v) < lib.minor_index({"major": 1, "minor": facts.node.legacy_below_minor})
} else := facts.node.max_minors_older

# underway maps each node that an upgate run has started upgrading (or has
# upgraded) to that upgrade's version, from the node's upgate.dev/target.
underway := input.skew.underway

# halfway(c): c runs the version its node is being upgraded to, no newer
# than the target. It is the run's own half-way state, reported but not a
# skew to stop on: a resumed run must be able to finish the node and then
# the others.
halfway(c) if {
	v := underway[c.node]
	lib.minor_index(c.version) == lib.minor_index(v)
	lib.minor_index(v) <= lib.minor_index(input.target)
}

newer_than_apiserver(name) := [c | some c in known(name); lib.minor_index(c.version) > lib.minor_index(oldest_apiserver)]

# newer_finding is a "newer" finding about c, ignored (ignoredBy) when it
# is the half-way state of the upgrade upgate has under way on c's node.
newer_finding(meta, c) := object.union(lib.finding(meta, subject(c), c.node, newer_message(c)), {"ignoredBy": sprintf(
	"upgate run: node %s is being upgraded to %s (upgate.dev/target); the other control-plane nodes follow in the same run",
	[c.node, underway[c.node].version],
)}) if {
	halfway(c)
} else := lib.finding(meta, subject(c), c.node, newer_message(c))

node_too_old(name) := [c | some c in known(name); behind(c) > node_window(c.version)]

newer_message(c) := sprintf(
	"%s is at %s, newer than the oldest kube-apiserver (%s): components must not be newer than kube-apiserver",
	[describe(c), c.version.version, oldest_apiserver.version],
)

node_too_old_message(c) := sprintf(
	"%s is at %s, %d %s behind the target control plane %s: a %s may be at most %d minors older than kube-apiserver",
	[describe(c), c.version.version, behind(c), plural(behind(c)), input.target.version, c.name, node_window(c.version)],
)

# METADATA
# title: kube-apiserver instances too far apart
# description: >-
#   In an HA control plane the newest and oldest kube-apiserver must be within
#   one minor version. Each instance more than one minor behind the newest is
#   reported.
# custom:
#   check: skew.apiserver-ha
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Finish upgrading the lagging control-plane node(s) to the newest
#     kube-apiserver's minor (one minor at a time) before going further.
findings contains f if {
	some c in known("kube-apiserver")
	gap := lib.minor_index(newest_apiserver) - lib.minor_index(c.version)
	gap > facts.apiserver_max_minor_spread
	msg := sprintf(
		"%s is at %s, %d minors behind the newest kube-apiserver (%s): HA kube-apiserver instances may be at most %d minor apart",
		[describe(c), c.version.version, gap, newest_apiserver.version, facts.apiserver_max_minor_spread],
	)
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, msg)
}

# METADATA
# title: kubelet newer than kube-apiserver
# description: A kubelet must not be newer than the oldest kube-apiserver.
# custom:
#   check: skew.kubelet-newer
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Upgrade every kube-apiserver to at least the kubelet's minor first (the
#     control plane is upgraded before the nodes), or reinstall the node's
#     kubelet at the control plane's version.
findings contains f if {
	some c in newer_than_apiserver("kubelet")
	f := newer_finding(rego.metadata.rule(), c)
}

# METADATA
# title: kubelet too old for the target
# description: >-
#   After the control plane reaches the target, a kubelet may be at most three
#   minors older than it (two when the kubelet is older than 1.25).
# custom:
#   check: skew.kubelet-too-old
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Upgrade the node's kubelet first (to within the window of the target) or
#     choose a nearer target; `upgate plan` shows the hops.
findings contains f if {
	some c in node_too_old("kubelet")
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, node_too_old_message(c))
}

# METADATA
# title: kube-proxy newer than kube-apiserver
# description: kube-proxy must not be newer than the oldest kube-apiserver.
# custom:
#   check: skew.kube-proxy-newer
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Roll the kube-proxy DaemonSet back to the control plane's version, or
#     upgrade every kube-apiserver first.
findings contains f if {
	some c in newer_than_apiserver("kube-proxy")
	f := newer_finding(rego.metadata.rule(), c)
}

# METADATA
# title: kube-proxy too old for the target
# description: >-
#   After the control plane reaches the target, kube-proxy may be at most three
#   minors older than it (two when kube-proxy is older than 1.25).
# custom:
#   check: skew.kube-proxy-too-old
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Upgrade the kube-proxy DaemonSet (to within the window of the target)
#     before the control plane, or choose a nearer target.
findings contains f if {
	some c in node_too_old("kube-proxy")
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, node_too_old_message(c))
}

control_plane_components := ["kube-controller-manager", "kube-scheduler", "cloud-controller-manager"]

# METADATA
# title: Control-plane component newer than kube-apiserver
# description: >-
#   kube-controller-manager, kube-scheduler and cloud-controller-manager must
#   not be newer than the oldest kube-apiserver they may talk to.
# custom:
#   check: skew.control-plane-newer
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Upgrade every kube-apiserver to at least that minor first, or roll the
#     component back to the oldest kube-apiserver's version.
findings contains f if {
	some name in control_plane_components
	some c in newer_than_apiserver(name)
	f := newer_finding(rego.metadata.rule(), c)
}

# METADATA
# title: Control-plane component too old for the target
# description: >-
#   kube-controller-manager, kube-scheduler and cloud-controller-manager may be
#   at most one minor older than kube-apiserver at the target.
# custom:
#   check: skew.control-plane-too-old
#   severity: block
#   scope: [run, hop, node]
#   remediation: >-
#     Upgrade the component to within one minor of the target (kubeadm upgrades
#     it with its node; a cloud-controller-manager is upgraded by its
#     provider's release), or choose a nearer target.
findings contains f if {
	some name in control_plane_components
	some c in known(name)
	behind(c) > facts.control_plane.max_minors_older
	msg := sprintf(
		"%s is at %s, %d minors behind the target control plane %s: %s may be at most %d minor older than kube-apiserver",
		[describe(c), c.version.version, behind(c), input.target.version, c.name, facts.control_plane.max_minors_older],
	)
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, msg)
}

# METADATA
# title: Component version unknown
# description: >-
#   A component's version cannot be read (an image tag such as latest, a
#   digest, an empty nodeInfo): no skew rule guesses, so its skew is unchecked.
# custom:
#   check: skew.version-unknown
#   severity: info
#   scope: [run, hop, node]
#   remediation: >-
#     Run the component from an image tagged with its version (for example
#     registry.k8s.io/kube-apiserver:v1.35.2) so its skew can be checked, or
#     check it by hand.
findings contains f if {
	some cs in components
	some c in cs
	not c.version
	msg := sprintf("%s: version %s cannot be read, so its version skew is not checked", [describe(c), unknown_raw(c)])
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, msg)
}

unknown_raw(c) := sprintf("%q", [c.raw]) if {
	c.raw != ""
} else := "(empty)"

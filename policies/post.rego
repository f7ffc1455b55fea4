# METADATA
# title: After the upgrade
# description: >-
#   Postflight: did the upgrade reach the target and leave the cluster as it
#   found it? Compares the state after the upgrade with the baseline taken
#   before it. Reads input.post (input_post.go), present only in postflight
#   with a baseline: component versions after, nodes not Ready or cordoned
#   after (with their baseline state), and workloads whose ready pods
#   changed since the baseline, each with both counts, joined in Go.
# custom:
#   phases: [postflight]
package upgate.post

import data.upgate.lib

# at_target: same major and minor as the target and, when the target names
# a patch, the same patch.
at_target(v) if {
	lib.minor_index(v) == lib.minor_index(input.target)
	not input.target.has_patch
}

at_target(v) if {
	lib.minor_index(v) == lib.minor_index(input.target)
	input.target.has_patch
	v.patch == input.target.patch
}

subject(c) := {"kind": "Pod", "namespace": c.namespace, "name": c.pod} if {
	c.pod
} else := {"kind": "Node", "name": c.node}

describe(c) := sprintf("%s %s/%s on node %s", [c.name, c.namespace, c.pod, c.node]) if {
	c.pod
} else := sprintf("%s on node %s", [c.name, c.node])

# mismatch: a component whose version is read and is not at the target.
mismatch(c) if {
	c.version
	not at_target(c.version)
}

# addon: kube-proxy run by the kube-proxy DaemonSet (a pod labelled
# k8s-app=kube-proxy), an add-on upgrade upgrades in its add-on stage after
# every node, not with the node. Without such a pod kube-proxy's version is
# the one the node reports (nodeInfo.kubeProxyVersion), which the node's own
# upgrade sets.
addon(c) if {
	c.name == "kube-proxy"
	c.pod
}

mismatch_message(c) := sprintf("%s is at %s after the upgrade, not at the target %s", [describe(c), c.version.version, input.target.version])

# METADATA
# title: Component not at the target after the upgrade
# description: >-
#   After the upgrade a kubelet, kube-proxy, kube-apiserver,
#   kube-controller-manager or kube-scheduler does not run the target
#   version: minors are compared, and patches too when the target names
#   one. A version that cannot be read (an image tag such as latest) is not
#   reported. These are upgraded with their node, so each also fails the
#   validation of the node just upgraded (scope validate).
# custom:
#   check: post.version-mismatch
#   severity: block
#   scope: [validate, postflight]
#   remediation: >-
#     Finish the upgrade of that node or component (upgate run resumes where
#     it stopped), then run the postflight check again.
findings contains f if {
	some c in input.post.components
	mismatch(c)
	not addon(c)
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, mismatch_message(c))
}

# METADATA
# title: kube-proxy add-on not at the target after the upgrade
# description: >-
#   The kube-proxy DaemonSet's pod on a node does not run the target version
#   after the upgrade (same comparison as for the other components).
#   kube-proxy is an add-on: upgate run upgrades it in the add-on stage,
#   after every node, so right after a node's own upgrade it is still at the
#   old version. It is held against the upgrade as a whole (scope
#   postflight), never against the node just upgraded.
# custom:
#   check: post.version-mismatch
#   severity: block
#   scope: [postflight]
#   remediation: >-
#     Upgrade the kube-proxy DaemonSet's image to the target (upgate run does
#     it in its add-on stage, after every node), then run the postflight check
#     again.
findings contains f if {
	some c in input.post.components
	mismatch(c)
	addon(c)
	f := lib.finding(rego.metadata.rule(), subject(c), c.node, mismatch_message(c))
}

# METADATA
# title: Node not Ready after the upgrade
# description: A node whose Ready condition is not True after the upgrade.
# custom:
#   check: post.node-not-ready
#   severity: block
#   scope: [validate, postflight]
#   remediation: >-
#     Look at the node's kubelet and container runtime (kubectl describe node
#     NAME, journalctl -u kubelet on the node); roll the node back or repair
#     it before going on.
findings contains f if {
	some n in input.post.nodes
	n.ready
	msg := sprintf("node %s is not Ready after the upgrade (Ready=%s%s)", [n.name, n.ready, reason(n)])
	f := lib.finding(rego.metadata.rule(), {"kind": "Node", "name": n.name}, n.name, msg)
}

reason(n) := sprintf(", %s", [n.reason]) if {
	n.reason
} else := ""

# METADATA
# title: Node left cordoned
# description: >-
#   A node that was schedulable in the baseline is still cordoned after the
#   upgrade: the upgrade stopped between drain and uncordon, and the node
#   takes no pods.
# custom:
#   check: post.node-left-cordoned
#   severity: block
#   scope: [validate, postflight]
#   remediation: >-
#     If the node is Ready at the target, uncordon it (kubectl uncordon NAME);
#     otherwise resume the upgrade (upgate run), which uncordons it when done.
findings contains f if {
	some n in input.post.nodes
	n.unschedulable
	n.in_baseline
	not n.baseline_unschedulable
	msg := sprintf("node %s is cordoned after the upgrade but was schedulable before it", [n.name])
	f := lib.finding(rego.metadata.rule(), {"kind": "Node", "name": n.name}, n.name, msg)
}

# METADATA
# title: Workload regressed
# description: >-
#   A Deployment, StatefulSet or DaemonSet present before and after the
#   upgrade has fewer ready pods than before it.
# custom:
#   check: post.workload-regressed
#   severity: block
#   scope: [postflight]
#   remediation: >-
#     Find why its pods are not ready since the upgrade (kubectl describe and
#     kubectl get pods for the workload: Pending for lack of room, image or
#     API changes in the new version) and fix it.
findings contains f if {
	some w in input.post.workloads
	w.after < w.before
	msg := sprintf("%s %s/%s has %d ready pods after the upgrade, %d before it", [w.kind, w.namespace, w.name, w.after, w.before])
	f := lib.finding(rego.metadata.rule(), {"kind": w.kind, "namespace": w.namespace, "name": w.name}, "", msg)
}

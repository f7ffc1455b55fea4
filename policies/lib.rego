# METADATA
# title: Shared helpers
# description: >-
#   Functions the upgate topic packages share to shape findings and compare
#   versions. It defines no findings, so the engine does not evaluate it as a
#   topic.
package upgate.lib

# METADATA
# title: Finding from rule metadata
# description: >-
#   Builds a finding from the calling rule's METADATA (custom.check,
#   custom.severity, custom.remediation and custom.scope, read with
#   rego.metadata.rule()) and what the rule found: the subject, its node (""
#   for none) and the message. A rule without custom.scope gives an empty
#   scope, which the engine replaces with its package's default (see the
#   Go package doc of policies).
finding(meta, subject, node, message) := {
	"check": meta.custom.check,
	"severity": meta.custom.severity,
	"subject": subject,
	"node": node,
	"message": message,
	"remediation": meta.custom.remediation,
	"scope": object.get(meta, ["custom", "scope"], []),
}

# METADATA
# title: Minor index
# description: >-
#   Orders versions by major and minor only, as the skew policy compares them:
#   the difference of two indexes is the number of minors between them.
minor_index(v) := (v.major * 1000) + v.minor

# METADATA
# title: Cluster subject
# description: The subject of findings about the whole cluster (the upgrade path).
cluster := {"kind": "Cluster", "name": "cluster"}

# METADATA
# title: Qualified name
# description: namespace/name, or just the name of a cluster-scoped object.
qname(o) := sprintf("%s/%s", [o.namespace, o.name]) if {
	o.namespace != ""
} else := o.name

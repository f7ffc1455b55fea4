# METADATA
# title: Deprecated and removed APIs
# description: >-
#   Objects that use an API version Kubernetes has scheduled for removal, and
#   requests to such versions that the API server recorded in its
#   apiserver_requested_deprecated_apis metric. An object uses an API version
#   when it is returned at it, when its kubectl last-applied-configuration
#   names it, or when a managedFields entry records it. Reads input.api
#   (built from Kubernetes' own lifecycle data, package apilifecycle) and
#   input.target. Deprecations with no removal release (core v1 Endpoints,
#   v1 ComponentStatus) never reach input.api.
# custom:
#   phases: [preflight]
package upgate.api

import data.upgate.lib

# METADATA
# title: API version removed in the target
# description: >-
#   An object uses, or a client was recorded calling, an API version that is
#   removed at or before the target release. After the upgrade the API
#   server no longer serves it: manifests, charts and clients written for it
#   fail, and a last-applied-configuration or managedFields entry at it
#   breaks the next kubectl apply.
# custom:
#   check: api.removed-in-target
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Move every manifest, chart and client to the replacement API version and
#     re-apply the object at it before upgrading; for requests recorded by the
#     API server, find the caller in the audit log (requests to deprecated APIs
#     carry the k8s.io/deprecated annotation).
findings contains f if {
	some hit in removed_hits
	f := object.union(
		lib.finding(rego.metadata.rule(), hit.subject, "", hit.message),
		{"remediation": hit.remediation},
	)
}

# METADATA
# title: API version deprecated
# description: >-
#   An object uses, or a client was recorded calling, an API version that is
#   deprecated at the target release but still served by it: the upgrade
#   works, a later one that removes the version will not.
# custom:
#   check: api.deprecated
#   severity: warn
#   scope: [run, node]
#   remediation: >-
#     Move to the replacement API version before the release that removes it;
#     the upgrade to this target can go ahead.
findings contains f if {
	some hit in deprecated_hits
	f := object.union(
		lib.finding(rego.metadata.rule(), hit.subject, "", hit.message),
		{"remediation": hit.remediation},
	)
}

removed_hits contains hit if {
	some o in input.api.objects
	removed_by_target(o)
	hit := {
		"subject": object_subject(o),
		"message": sprintf(
			"%s %s uses %s (seen %s), which Kubernetes %s removes: the target %s does not serve it",
			[o.kind, lib.qname(o), o.apiVersion, seen(o), o.removed.release, input.target.version],
		),
		"remediation": object_remediation(o),
	}
}

removed_hits contains hit if {
	some r in input.api.requests
	removed_by_target(r)
	hit := {
		"subject": request_subject(r),
		"message": sprintf(
			"the API server recorded requests to %s (apiserver_requested_deprecated_apis), which Kubernetes %s removes: clients still calling it fail once the control plane is at %s",
			[r.name, r.removed.release, input.target.version],
		),
		"remediation": request_remediation(r),
	}
}

deprecated_hits contains hit if {
	some o in input.api.objects
	deprecated_at_target(o)
	not removed_by_target(o)
	hit := {
		"subject": object_subject(o),
		"message": sprintf(
			"%s %s uses %s (seen %s), deprecated%s and removed in Kubernetes %s: the target %s still serves it",
			[o.kind, lib.qname(o), o.apiVersion, seen(o), deprecated_in(o), o.removed.release, input.target.version],
		),
		"remediation": object_remediation(o),
	}
}

deprecated_hits contains hit if {
	some r in input.api.requests
	not removed_by_target(r)
	hit := {
		"subject": request_subject(r),
		"message": sprintf(
			"the API server recorded requests to %s (apiserver_requested_deprecated_apis), deprecated and removed in Kubernetes %s: the target %s still serves it",
			[r.name, r.removed.release, input.target.version],
		),
		"remediation": request_remediation(r),
	}
}

removed_by_target(x) if lib.minor_index(x.removed) <= lib.minor_index(input.target)

# An object's version is deprecated at the target from its deprecation
# release on; a removal release without one counts as a deprecation (the
# metric only lists deprecated APIs, and names no deprecation release).
deprecated_at_target(x) if not x.deprecated

deprecated_at_target(x) if lib.minor_index(x.deprecated) <= lib.minor_index(input.target)

deprecated_in(o) := sprintf(" in %s", [o.deprecated.release]) if {
	o.deprecated
} else := ""

object_subject(o) := {"kind": o.kind, "namespace": o.namespace, "name": o.name} if {
	o.namespace
} else := {"kind": o.kind, "name": o.name}

request_subject(r) := {"kind": "APIRequest", "name": r.name}

# seen says how and where: "via served, last-applied-configuration in a.yaml".
seen(o) := sprintf("via %s in %s", [concat(", ", o.via), concat(", ", o.sources)]) if {
	o.sources
} else := sprintf("via %s", [concat(", ", o.via)])

object_remediation(o) := sprintf(
	"Move %s %s to %s: write its manifest at the new apiVersion (kubectl convert can help) and re-apply it, so its last-applied-configuration and managedFields record the new version; update the charts, operators and pipelines that write it.",
	[o.kind, lib.qname(o), o.replacement],
) if {
	o.replacement
} else := sprintf("%s %s: %s.", [o.kind, lib.qname(o), o.note]) if {
	o.note
} else := sprintf(
	"Kubernetes names no replacement for %s %s: remove the object, or what uses it, before the release that removes the API.",
	[o.apiVersion, o.kind],
)

request_remediation(r) := sprintf(
	"Move the clients calling %s to %s: find them in the API server's audit log (the k8s.io/deprecated annotation) or by the deprecation warning kubectl and client-go print. The metric records requests since the API server started, not that they still happen.",
	[r.name, r.replacement],
) if {
	r.replacement
} else := sprintf(
	"Find the clients calling %s in the API server's audit log (the k8s.io/deprecated annotation) and move them off it%s.",
	[r.name, note_suffix(r)],
)

note_suffix(r) := sprintf(": %s", [r.note]) if {
	r.note
} else := ""

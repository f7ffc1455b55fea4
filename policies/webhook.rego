# METADATA
# title: Admission webhooks that would fail closed
# description: >-
#   During an upgrade every drained pod is re-created, and the API server
#   itself restarts: an admission webhook with failurePolicy Fail whose
#   Service has no ready endpoint rejects those requests, and the cluster
#   cannot heal. Reads input.webhook.webhooks (input_webhook.go): every
#   webhook called through a Service, with the ready endpoints counted from
#   its EndpointSlices in Go.
# custom:
#   phases: [preflight]
package upgate.webhook

import data.upgate.lib

webhooks := input.webhook.webhooks

# METADATA
# title: Fail-closed webhook without endpoints
# description: >-
#   A ValidatingWebhookConfiguration or MutatingWebhookConfiguration webhook
#   with failurePolicy Fail (the admissionregistration/v1 default) whose
#   clientConfig.service has no ready endpoint (EndpointSlices labelled
#   kubernetes.io/service-name; an endpoint with conditions.ready unset
#   counts as ready). Every request it matches is rejected, so pods evicted
#   by the drains may never come back. Webhooks called by URL, and Services
#   of type ExternalName, are not checked.
# custom:
#   check: webhook.no-endpoints
#   severity: block
#   scope: [run, node]
#   remediation: >-
#     Bring the webhook's backend up (its Deployment and Service), or set the
#     webhook's failurePolicy to Ignore, or delete the configuration if the
#     webhook is gone.
findings contains f if {
	some w in webhooks
	w.failure_policy == "Fail"
	not w.external_name
	w.ready_endpoints == 0
	msg := sprintf("%s %s: webhook %s has failurePolicy Fail and its service %s/%s has no ready endpoint (%s)", [
		w.kind, w.configuration, w.name, w.service.namespace, w.service.name, why(w),
	])
	f := lib.finding(rego.metadata.rule(), {"kind": w.kind, "name": w.configuration}, "", msg)
}

why(w) := "the service does not exist" if {
	w.service_missing
} else := "no EndpointSlice labelled kubernetes.io/service-name for it" if {
	w.slices == 0
} else := sprintf("%d EndpointSlice(s), none with a ready endpoint", [w.slices])

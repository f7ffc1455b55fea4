package upgate.webhook_test

import data.upgate.webhook

run(hooks) := fs if {
	fs := webhook.findings with input as {"phase": "preflight", "webhook": {"webhooks": hooks}}
}

hook := {
	"kind": "ValidatingWebhookConfiguration", "configuration": "policy-agent",
	"name": "validate.policy.example.com", "failure_policy": "Fail",
	"service": {"namespace": "policy", "name": "agent"},
	"ready_endpoints": 0, "slices": 1,
}

test_webhook_no_endpoints_fires if {
	[f] := [f | some f in run([hook])]
	f.check == "webhook.no-endpoints"
	f.severity == "block"
	f.subject == {"kind": "ValidatingWebhookConfiguration", "name": "policy-agent"}
	f.node == ""
	f.message == "ValidatingWebhookConfiguration policy-agent: webhook validate.policy.example.com has failurePolicy Fail and its service policy/agent has no ready endpoint (1 EndpointSlice(s), none with a ready endpoint)"
	contains(f.remediation, "failurePolicy to Ignore")
}

test_webhook_no_endpoints_says_why if {
	[a] := [f.message | some f in run([object.union(hook, {"slices": 0})])]
	endswith(a, "(no EndpointSlice labelled kubernetes.io/service-name for it)")
	[b] := [f.message | some f in run([object.union(hook, {"slices": 0, "service_missing": true, "kind": "MutatingWebhookConfiguration"})])]
	b == "MutatingWebhookConfiguration policy-agent: webhook validate.policy.example.com has failurePolicy Fail and its service policy/agent has no ready endpoint (the service does not exist)"
}

test_webhook_no_endpoints_silent if {
	count(run([object.union(hook, {"ready_endpoints": 1})])) == 0
	count(run([object.union(hook, {"failure_policy": "Ignore"})])) == 0
	count(run([object.union(hook, {"external_name": true})])) == 0
	fs := webhook.findings with input as {"phase": "preflight"}
	count(fs) == 0
}

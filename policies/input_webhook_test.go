package policies

import (
	"slices"
	"testing"
)

func TestWebhookNoEndpoints(t *testing.T) {
	checks := []string{"webhook.no-endpoints"}
	res := bkRun(t, Request{Inventory: readTestdata(t, "webhook/cases")})
	want := []string{
		"webhook.no-endpoints MutatingWebhookConfiguration/sidecar-injector @",
		"webhook.no-endpoints ValidatingWebhookConfiguration/orphan @",
		"webhook.no-endpoints ValidatingWebhookConfiguration/policy-agent @",
	}
	if got := bkKeys(res.Findings, checks...); !slices.Equal(got, want) {
		t.Fatalf("findings:\n got %q\nwant %q", got, want)
	}
	bkMessages(t, res.Findings, checks,
		// The EndpointSlice for "agent" in another namespace does not count.
		"ValidatingWebhookConfiguration policy-agent: webhook validate.policy.example.com has failurePolicy Fail and its service policy/agent has no ready endpoint (no EndpointSlice labelled kubernetes.io/service-name for it)",
		"ValidatingWebhookConfiguration orphan: webhook orphan.example.com has failurePolicy Fail and its service removed/gone has no ready endpoint (the service does not exist)",
		"MutatingWebhookConfiguration sidecar-injector: webhook inject.mesh.example.com has failurePolicy Fail and its service mesh/injector has no ready endpoint (1 EndpointSlice(s), none with a ready endpoint)",
	)
	for _, f := range res.Findings {
		if slices.Contains(checks, f.Check) && f.Severity != "block" {
			t.Errorf("%s: severity %s", f.Check, f.Severity)
		}
	}
}

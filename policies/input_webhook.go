package policies

import (
	"github.com/open-policy-agent/opa/v1/ast"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// input.webhook: every admission webhook that calls an in-cluster Service,
// joined in Go with that Service's EndpointSlices (labelled
// kubernetes.io/service-name=<service>, in its namespace). Webhooks called
// by URL are left out: nothing here can tell whether a URL answers.
//
//	input.webhook.webhooks = [{
//	    "kind": "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration",
//	    "configuration": "policy-agent",   // the configuration's name
//	    "name": "validate.policy.example.com", // the webhook's name
//	    "failure_policy": "Fail" | "Ignore",   // unset is Fail (v1 default)
//	    "service": {"namespace", "name"},
//	    "ready_endpoints": 0,   // endpoints whose conditions.ready is true or unset
//	    "slices": 0,            // EndpointSlices found for the service
//	    "service_missing": true,  // the inventory holds Services, not this one
//	    "external_name": true,    // the Service is type ExternalName: the API
//	                              // server calls its DNS name, there are no
//	                              // endpoints to count
//	}]
func init() { registerSection("webhook", buildWebhook) }

func buildWebhook(ix *index) (ast.Value, error) {
	inv := ix.inv
	if len(inv.ValidatingWebhooks) == 0 && len(inv.MutatingWebhooks) == 0 {
		return nil, nil
	}
	type svcKey struct{ namespace, name string }
	type svcEndpoints struct{ slices, ready int }
	// Only the services the webhooks call are looked up: a handful,
	// against tens of thousands of services and endpoint slices.
	named := map[svcKey]bool{}
	for _, c := range inv.ValidatingWebhooks {
		for _, w := range c.Webhooks {
			if r := w.ClientConfig.Service; r != nil {
				named[svcKey{r.Namespace, r.Name}] = true
			}
		}
	}
	for _, c := range inv.MutatingWebhooks {
		for _, w := range c.Webhooks {
			if r := w.ClientConfig.Service; r != nil {
				named[svcKey{r.Namespace, r.Name}] = true
			}
		}
	}
	endpoints := map[svcKey]*svcEndpoints{}
	for i := range inv.EndpointSlices {
		s := inv.EndpointSlices[i]
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := svcKey{s.Namespace, svc}
		if !named[k] {
			continue
		}
		e := endpoints[k]
		if e == nil {
			e = &svcEndpoints{}
			endpoints[k] = e
		}
		e.slices++
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				e.ready++
			}
		}
	}
	services := map[svcKey]*corev1.Service{}
	for i := range inv.Services {
		s := inv.Services[i]
		if k := (svcKey{s.Namespace, s.Name}); named[k] {
			services[k] = s
		}
	}

	var hooks []*ast.Term
	add := func(kind, config, name string, fp *admissionregistrationv1.FailurePolicyType, cc admissionregistrationv1.WebhookClientConfig) {
		if cc.Service == nil {
			return
		}
		policy := admissionregistrationv1.Fail
		if fp != nil {
			policy = *fp
		}
		k := svcKey{cc.Service.Namespace, cc.Service.Name}
		var f fields
		f.str("kind", kind)
		f.str("configuration", config)
		f.str("name", name)
		f.str("failure_policy", string(policy))
		f.term("service", obj(kv("namespace", str(k.namespace)), kv("name", str(k.name))))
		e := endpoints[k]
		if e == nil {
			e = &svcEndpoints{}
		}
		f.num("ready_endpoints", e.ready)
		f.num("slices", e.slices)
		svc, found := services[k]
		f.flag("service_missing", len(inv.Services) > 0 && !found)
		f.flag("external_name", found && svc.Spec.Type == corev1.ServiceTypeExternalName)
		hooks = append(hooks, f.obj())
	}
	for i := range inv.ValidatingWebhooks {
		c := inv.ValidatingWebhooks[i]
		for _, w := range c.Webhooks {
			add("ValidatingWebhookConfiguration", c.Name, w.Name, w.FailurePolicy, w.ClientConfig)
		}
	}
	for i := range inv.MutatingWebhooks {
		c := inv.MutatingWebhooks[i]
		for _, w := range c.Webhooks {
			add("MutatingWebhookConfiguration", c.Name, w.Name, w.FailurePolicy, w.ClientConfig)
		}
	}
	if len(hooks) == 0 {
		return nil, nil
	}
	return ast.NewObject(kv("webhooks", ast.ArrayTerm(hooks...))), nil
}

package policies

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

func apiFindings(fs []finding.Finding) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if strings.HasPrefix(f.Check, "api.") {
			out = append(out, f)
		}
	}
	return out
}

// The api.* checks on manifests and a snapshot, read as --from reads them.
func TestAPIChecksOnManifests(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		name, dir, current, target string
		want                       []string // "check Kind/namespace/name" of every api.* finding
		msg                        string   // a message of one of them contains this
	}{
		{"ingress v1beta1 removed in 1.22", "ingress-v1beta1", "v1.21.5", "v1.22.0",
			[]string{"api.removed-in-target Ingress/shop/web"},
			"Ingress shop/web uses networking.k8s.io/v1beta1 (seen via served in testdata/api/ingress-v1beta1/manifest.yaml), which Kubernetes 1.22 removes: the target v1.22.0 does not serve it"},
		{"ingress v1beta1 still gone at 1.36", "ingress-v1beta1", "v1.35.2", "v1.36.0",
			[]string{"api.removed-in-target Ingress/shop/web"}, "which Kubernetes 1.22 removes"},
		{"ingress v1beta1 before its deprecation", "ingress-v1beta1", "v1.17.4", "v1.18.0", nil, ""},
		{"deployment last applied at extensions/v1beta1", "deployment-last-applied", "v1.35.2", "v1.36.0",
			[]string{"api.removed-in-target Deployment/shop/api"},
			"Deployment shop/api uses extensions/v1beta1 (seen via last-applied-configuration in testdata/api/deployment-last-applied/manifest.yaml), which Kubernetes 1.16 removes"},
		{"daemonset managedFields at apps/v1beta2", "daemonset-managedfields", "v1.35.2", "v1.36.0",
			[]string{"api.removed-in-target DaemonSet/monitoring/node-agent"},
			"DaemonSet monitoring/node-agent uses apps/v1beta2 (seen via managedFields in testdata/api/daemonset-managedfields/manifest.yaml), which Kubernetes 1.16 removes"},
		{"core v1 Endpoints and ComponentStatus at 1.36", "endpoints", "v1.35.2", "v1.36.0", nil, ""},
		{"core v1 Endpoints and ComponentStatus at 1.40", "endpoints", "v1.39.0", "v1.40.0", nil, ""},
		{"storage v1beta1 still served by 1.36", "volumeattributesclass-v1beta1", "v1.35.2", "v1.36.0",
			[]string{"api.deprecated VolumeAttributesClass//gold"},
			"VolumeAttributesClass gold uses storage.k8s.io/v1beta1 (seen via served in testdata/api/volumeattributesclass-v1beta1/manifest.yaml), deprecated in 1.34 and removed in Kubernetes 1.37: the target v1.36.0 still serves it"},
		{"storage v1beta1 removed in 1.37", "volumeattributesclass-v1beta1", "v1.36.2", "v1.37.0",
			[]string{"api.removed-in-target VolumeAttributesClass//gold"}, "which Kubernetes 1.37 removes"},
		{"recorded requests removed in 1.37", "requests", "v1.36.2", "v1.37.0",
			[]string{"api.removed-in-target APIRequest//volumeattributesclasses.storage.k8s.io/v1beta1"},
			"the API server recorded requests to volumeattributesclasses.storage.k8s.io/v1beta1 (apiserver_requested_deprecated_apis), which Kubernetes 1.37 removes"},
		{"recorded requests still served by 1.36", "requests", "v1.36.1", "v1.36.2",
			[]string{"api.deprecated APIRequest//volumeattributesclasses.storage.k8s.io/v1beta1"}, "the target v1.36.2 still serves it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := evaluate(t, e, readTestdata(t, "api/"+tc.dir), tc.current, tc.target)
			got := apiFindings(res.Findings)
			var keys []string
			for _, f := range got {
				keys = append(keys, f.Check+" "+f.Subject.Kind+"/"+f.Subject.Namespace+"/"+f.Subject.Name)
				if f.Remediation == "" {
					t.Errorf("finding without remediation: %+v", f)
				}
				if want := map[string]finding.Severity{"api.removed-in-target": finding.SeverityBlock, "api.deprecated": finding.SeverityWarn}[f.Check]; f.Severity != want {
					t.Errorf("%s has severity %s, want %s", f.Check, f.Severity, want)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.want) {
				t.Fatalf("api findings = %q, want %q\n%+v", keys, tc.want, got)
			}
			if tc.msg != "" && !slices.ContainsFunc(got, func(f finding.Finding) bool { return strings.Contains(f.Message, tc.msg) }) {
				t.Errorf("no message contains %q: %+v", tc.msg, got)
			}
			for _, c := range []string{"api.removed-in-target", "api.deprecated"} {
				if !slices.Contains(res.Checks, c) {
					t.Errorf("checks evaluated %v lack %s", res.Checks, c)
				}
			}
		})
	}
}

// apiSection builds input.api for inv and returns it as JSON-shaped Go
// values (nil when the section is omitted).
func apiSection(t *testing.T, inv *inventory.Inventory) map[string]any {
	t.Helper()
	v, err := buildAPI(newIndex(inv, nil))
	if err != nil {
		t.Fatalf("buildAPI: %v", err)
	}
	if v == nil {
		return nil
	}
	x, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := x.(map[string]any)
	if !ok {
		t.Fatalf("input.api is a %T", x)
	}
	return m
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// One entry per object and API version however many ways and files it was
// seen in; GA versions, custom resources and deprecations without a removal
// release are left out; recorded requests are merged across subresources.
func TestAPIInputSection(t *testing.T) {
	inv := &inventory.Inventory{
		APIUsages: []inventory.APIUsage{
			{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api", Via: inventory.ViaServed, Source: "b.yaml"},
			{APIVersion: "extensions/v1beta1", Kind: "Deployment", Namespace: "shop", Name: "api", Via: inventory.ViaManagedFields, Source: "b.yaml"},
			{APIVersion: "extensions/v1beta1", Kind: "Deployment", Namespace: "shop", Name: "api", Via: inventory.ViaLastApplied, Source: "b.yaml"},
			{APIVersion: "extensions/v1beta1", Kind: "Deployment", Namespace: "shop", Name: "api", Via: inventory.ViaLastApplied, Source: "a.yaml"},
			{APIVersion: "apps/v1beta2", Kind: "Deployment", Namespace: "shop", Name: "api", Via: inventory.ViaManagedFields},
			{APIVersion: "v1", Kind: "Endpoints", Namespace: "default", Name: "kubernetes", Via: inventory.ViaServed},
			{APIVersion: "v1", Kind: "ComponentStatus", Name: "scheduler", Via: inventory.ViaServed},
			{APIVersion: "example.com/v1beta1", Kind: "Widget", Namespace: "shop", Name: "w", Via: inventory.ViaServed},
			{APIVersion: "policy/v1beta1", Kind: "PodSecurityPolicy", Name: "restricted", Via: inventory.ViaServed},
		},
		DeprecatedRequests: []inventory.DeprecatedRequest{
			{Version: "v1", Resource: "endpoints"},
			{Group: "networking.k8s.io", Version: "v1beta1", Resource: "servicecidrs", Subresource: "status", RemovedRelease: "1.37"},
			{Group: "networking.k8s.io", Version: "v1beta1", Resource: "servicecidrs", RemovedRelease: "1.37"},
			{Group: "example.com", Version: "v1beta1", Resource: "widgets", RemovedRelease: "v1.40.0"},
		},
	}
	got := apiSection(t, inv)
	want := `{"objects":[` +
		`{"apiVersion":"extensions/v1beta1","deprecated":{"major":1,"minor":8,"release":"1.8"},"kind":"Deployment","name":"api","namespace":"shop",` +
		`"removed":{"major":1,"minor":16,"release":"1.16"},"replacement":"apps/v1 Deployment","sources":["a.yaml","b.yaml"],"via":["last-applied-configuration","managedFields"]},` +
		`{"apiVersion":"apps/v1beta2","deprecated":{"major":1,"minor":9,"release":"1.9"},"kind":"Deployment","name":"api","namespace":"shop",` +
		`"removed":{"major":1,"minor":16,"release":"1.16"},"replacement":"apps/v1 Deployment","via":["managedFields"]},` +
		`{"apiVersion":"policy/v1beta1","deprecated":{"major":1,"minor":21,"release":"1.21"},"kind":"PodSecurityPolicy","name":"restricted",` +
		`"note":"PodSecurityPolicy has no replacement API: enforce the Pod Security Standards with Pod Security Admission (pod-security.kubernetes.io/* namespace labels) or a policy engine, then delete the policy",` +
		`"removed":{"major":1,"minor":25,"release":"1.25"},"via":["served"]}],` +
		`"requests":[` +
		`{"group":"networking.k8s.io","name":"servicecidrs.networking.k8s.io/v1beta1","removed":{"major":1,"minor":37,"release":"1.37"},"removedRelease":"1.37",` +
		`"replacement":"networking.k8s.io/v1 ServiceCIDR","resource":"servicecidrs","version":"v1beta1"},` +
		`{"group":"example.com","name":"widgets.example.com/v1beta1","removed":{"major":1,"minor":40,"release":"1.40"},"removedRelease":"1.40","resource":"widgets","version":"v1beta1"}]}`
	if s := toJSON(t, got); s != want {
		t.Errorf("input.api =\n%s\nwant\n%s", s, want)
	}

	// Nothing on its way out: no section at all.
	quiet := &inventory.Inventory{
		APIUsages: []inventory.APIUsage{
			{APIVersion: "v1", Kind: "Endpoints", Namespace: "default", Name: "kubernetes", Via: inventory.ViaServed},
			{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "api", Via: inventory.ViaServed},
		},
		DeprecatedRequests: []inventory.DeprecatedRequest{{Version: "v1", Resource: "endpoints", RemovedRelease: " "}},
	}
	if got := apiSection(t, quiet); got != nil {
		t.Errorf("input.api = %v, want it omitted", got)
	}

	// A series whose removal release cannot be read fails closed.
	bad := &inventory.Inventory{DeprecatedRequests: []inventory.DeprecatedRequest{
		{Group: "networking.k8s.io", Version: "v1beta1", Resource: "ingresses", RemovedRelease: "soon"},
	}}
	if _, err := buildAPI(newIndex(bad, nil)); err == nil || !strings.Contains(err.Error(), "ingresses.networking.k8s.io/v1beta1") {
		t.Errorf("buildAPI with removed_release \"soon\": err = %v, want one naming the series", err)
	}
}

package apilifecycle

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/upgate-dev/upgate/kubever"
)

func rel(s string) Release {
	r, err := ParseRelease(s)
	if err != nil {
		panic(err)
	}
	return r
}

// plutoFacts is cross-checked against FairwindsOps/pluto versions.yaml
// (commit dd5ec8cccce5e42dfe8054b8250baa35546056a0, 2026-04-27): every k8s
// entry of that file except its *List kinds and the audit.k8s.io file
// format. pluto* are Pluto's deprecated-in and removed-in; want* are what
// Lookup must return. Where they differ, reason says why upgate keeps
// Kubernetes' own data (the generated APILifecycle* methods); where they
// agree, reason must be empty, so the table cannot hide a difference.
var plutoFacts = []struct {
	apiVersion, kind   string
	plutoDep, plutoRem string
	found              bool
	wantDep, wantRem   string
	reason             string
}{
	{"extensions/v1beta1", "Deployment", "1.9", "1.16", true, "1.8", "1.16",
		"Kubernetes tags deprecated=1.8 (apps/v1beta2 appeared); Pluto dates it from apps/v1 GA in 1.9"},
	{"extensions/v1beta1", "DaemonSet", "1.9", "1.16", true, "1.8", "1.16",
		"Kubernetes tags deprecated=1.8; Pluto dates it from apps/v1 GA in 1.9"},
	{"extensions/v1beta1", "ReplicaSet", "", "1.16", true, "1.8", "1.16",
		"Pluto records no deprecation release; Kubernetes tags deprecated=1.8"},
	{"extensions/v1beta1", "NetworkPolicy", "1.9", "1.16", true, "1.9", "1.16", ""},
	{"extensions/v1beta1", "Ingress", "1.14", "1.22", true, "1.14", "1.22", ""},
	{"extensions/v1beta1", "PodSecurityPolicy", "1.10", "1.16", true, "1.11", "1.16",
		"k8s.io/api v0.24.17 tags deprecated=1.11 (removed.yaml); Pluto says 1.10"},
	{"apps/v1beta1", "Deployment", "1.9", "1.16", true, "1.8", "1.16",
		"Kubernetes tags deprecated=1.8; Pluto dates it from apps/v1 GA in 1.9"},
	{"apps/v1beta1", "StatefulSet", "1.9", "1.16", true, "1.8", "1.16",
		"Kubernetes tags deprecated=1.8; Pluto dates it from apps/v1 GA in 1.9"},
	{"apps/v1beta1", "ReplicaSet", "", "1.16", false, "", "",
		"apps/v1beta1 never served ReplicaSet: k8s.io/api apps/v1beta1 has no such type"},
	{"apps/v1beta2", "Deployment", "1.9", "1.16", true, "1.9", "1.16", ""},
	{"apps/v1beta2", "StatefulSet", "1.9", "1.16", true, "1.9", "1.16", ""},
	{"apps/v1beta2", "DaemonSet", "1.9", "1.16", true, "1.9", "1.16", ""},
	{"apps/v1beta2", "ReplicaSet", "", "1.16", true, "1.9", "1.16",
		"Pluto records no deprecation release; Kubernetes tags deprecated=1.9"},
	{"networking.k8s.io/v1beta1", "Ingress", "1.19", "1.22", true, "1.19", "1.22", ""},
	{"networking.k8s.io/v1beta1", "IngressClass", "1.19", "1.22", true, "1.19", "1.22", ""},
	{"policy/v1beta1", "PodSecurityPolicy", "1.21", "1.25", true, "1.21", "1.25", ""},
	{"policy/v1beta1", "PodDisruptionBudget", "1.21", "1.25", true, "1.21", "1.25", ""},
	{"scheduling.k8s.io/v1beta1", "PriorityClass", "1.14", "1.22", true, "1.14", "1.22", ""},
	{"scheduling.k8s.io/v1alpha1", "PriorityClass", "1.14", "1.17", false, "", "",
		"an alpha k8s.io/api never tagged with lifecycle data; off by default, so not in removed.yaml"},
	{"apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "1.16", "1.22", true, "1.16", "1.22", ""},
	{"admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", "1.16", "1.22", true, "1.16", "1.22", ""},
	{"admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", "1.16", "1.22", true, "1.16", "1.22", ""},
	{"rbac.authorization.k8s.io/v1alpha1", "ClusterRole", "1.17", "1.22", false, "", "",
		"an alpha k8s.io/api never tagged with lifecycle data; off by default, so not in removed.yaml"},
	{"rbac.authorization.k8s.io/v1alpha1", "ClusterRoleBinding", "1.17", "1.22", false, "", "",
		"an alpha k8s.io/api never tagged with lifecycle data; off by default, so not in removed.yaml"},
	{"rbac.authorization.k8s.io/v1alpha1", "Role", "1.17", "1.22", false, "", "",
		"an alpha k8s.io/api never tagged with lifecycle data; off by default, so not in removed.yaml"},
	{"rbac.authorization.k8s.io/v1alpha1", "RoleBinding", "1.17", "1.22", false, "", "",
		"an alpha k8s.io/api never tagged with lifecycle data; off by default, so not in removed.yaml"},
	{"rbac.authorization.k8s.io/v1beta1", "ClusterRole", "1.17", "1.22", true, "1.17", "1.22", ""},
	{"rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "1.17", "1.22", true, "1.17", "1.22", ""},
	{"rbac.authorization.k8s.io/v1beta1", "Role", "1.17", "1.22", true, "1.17", "1.22", ""},
	{"rbac.authorization.k8s.io/v1beta1", "RoleBinding", "1.17", "1.22", true, "1.17", "1.22", ""},
	{"node.k8s.io/v1beta1", "RuntimeClass", "1.22", "1.25", true, "1.22", "1.25", ""},
	{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.22", "1.25", true, "1.22", "1.25", ""},
	{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.23", "1.26", true, "1.23", "1.26", ""},
	{"batch/v1beta1", "CronJob", "1.21", "1.25", true, "1.21", "1.25", ""},
	{"storage.k8s.io/v1beta1", "CSINode", "1.17", "1.22", true, "1.17", "1.22", ""},
	{"storage.k8s.io/v1beta1", "CSIDriver", "1.19", "1.22", true, "1.19", "1.22", ""},
	{"storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.24", "1.27", true, "1.24", "1.27", ""},
	{"storage.k8s.io/v1beta1", "StorageClass", "1.6", "1.22", true, "1.19", "1.22",
		"Kubernetes tags deprecated=1.19, when beta versions began to warn; Pluto dates it from storage.k8s.io/v1 GA in 1.6"},
	{"storage.k8s.io/v1beta1", "VolumeAttachment", "1.13", "1.22", true, "1.19", "1.22",
		"Kubernetes tags deprecated=1.19; Pluto dates it from storage.k8s.io/v1 GA in 1.13"},
	{"storage.k8s.io/v1beta1", "VolumeAttributesClass", "1.34", "", true, "1.34", "1.37",
		"Pluto has no removal release yet; Kubernetes tags removed=1.37 and a 1.36 API server reports removed_release=\"1.37\" (LOCAL-CLUSTER.md)"},
	{"storage.k8s.io/v1alpha1", "VolumeAttributesClass", "1.31", "1.35", true, "1.32", "1.35",
		"Kubernetes tags deprecated=1.32 (introduced 1.29 + 3); Pluto says 1.31"},
	{"apiregistration.k8s.io/v1beta1", "APIService", "1.10", "1.22", true, "1.19", "1.22",
		"k8s.io/kube-aggregator tags deprecated=1.19; Pluto dates it from apiregistration.k8s.io/v1 GA in 1.10"},
	{"authentication.k8s.io/v1beta1", "TokenReview", "1.6", "1.22", true, "1.19", "1.22",
		"Kubernetes tags deprecated=1.19; Pluto dates it from authentication.k8s.io/v1 GA in 1.6"},
	{"certificates.k8s.io/v1beta1", "CertificateSigningRequest", "1.19", "1.22", true, "1.19", "1.22", ""},
	{"coordination.k8s.io/v1beta1", "Lease", "1.14", "1.22", true, "1.19", "1.22",
		"Kubernetes tags deprecated=1.19; Pluto dates it from coordination.k8s.io/v1 GA in 1.14"},
	{"events.k8s.io/v1beta1", "Event", "1.19", "1.25", true, "1.22", "1.25",
		"Kubernetes tags deprecated=1.22; Pluto dates it from events.k8s.io/v1 GA in 1.19"},
	{"discovery.k8s.io/v1beta1", "EndpointSlice", "1.21", "1.25", true, "1.21", "1.25", ""},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowControl", "1.23", "1.26", false, "", "",
		"FlowControl is not a Kubernetes kind (Pluto's name for the group version); its FlowSchema and PriorityLevelConfiguration rows follow"},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "1.24", "1.29", true, "1.23", "1.26",
		"Pluto copied v1beta2's dates: Kubernetes tags 1.23/1.26, the API server stopped serving v1beta1 in 1.26, and Pluto's own FlowControl row says 1.23/1.26"},
	{"flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration", "1.24", "1.29", true, "1.23", "1.26",
		"Pluto copied v1beta2's dates: Kubernetes tags 1.23/1.26, the API server stopped serving v1beta1 in 1.26"},
	{"flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "1.24", "1.29", true, "1.26", "1.29",
		"Kubernetes tags deprecated=1.26 (when v1beta3 arrived); Pluto says 1.24"},
	{"flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", "1.24", "1.29", true, "1.26", "1.29",
		"Kubernetes tags deprecated=1.26 (when v1beta3 arrived); Pluto says 1.24"},
	{"flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.24", "1.32", true, "1.29", "1.32",
		"Kubernetes tags deprecated=1.29 (when v1 arrived); Pluto says 1.24, before v1beta3 existed (1.26)"},
	{"flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", "1.31", "1.32", true, "1.29", "1.32",
		"Kubernetes tags deprecated=1.29 (when v1 arrived); Pluto says 1.31"},
	{"admissionregistration.k8s.io/v1alpha1", "ValidatingAdmissionPolicy", "1.28", "1.33", true, "1.29", "1.32",
		"Kubernetes (k8s.io/api v0.36.3) tags deprecated=1.29, removed=1.32; Pluto says 1.28/1.33"},
	{"admissionregistration.k8s.io/v1alpha1", "ValidatingAdmissionPolicyBinding", "1.28", "1.33", true, "1.29", "1.32",
		"Kubernetes (k8s.io/api v0.36.3) tags deprecated=1.29, removed=1.32; Pluto says 1.28/1.33"},
	{"resource.k8s.io/v1beta1", "ResourceSlice", "1.33", "1.36", true, "1.35", "1.38",
		"Kubernetes tags 1.35/1.38 and a 1.36 API server still serves resource.k8s.io/v1beta1 (removed_release=\"1.38\", LOCAL-CLUSTER.md): Pluto's 1.36 would block an upgrade to a release that serves it"},
	{"resource.k8s.io/v1beta1", "ResourceClaim", "1.33", "1.36", true, "1.35", "1.38",
		"Kubernetes tags 1.35/1.38 and a 1.36 API server still serves resource.k8s.io/v1beta1 (LOCAL-CLUSTER.md)"},
	{"resource.k8s.io/v1beta1", "DeviceClass", "1.33", "1.36", true, "1.35", "1.38",
		"Kubernetes tags 1.35/1.38 and a 1.36 API server still serves resource.k8s.io/v1beta1 (LOCAL-CLUSTER.md)"},
	{"resource.k8s.io/v1beta1", "ResourceClaimTemplate", "1.33", "1.36", true, "1.35", "1.38",
		"Kubernetes tags 1.35/1.38 and a 1.36 API server still serves resource.k8s.io/v1beta1 (LOCAL-CLUSTER.md)"},
	{"resource.k8s.io/v1alpha3", "ResourceSlice", "1.32", "1.34", true, "1.34", "1.34",
		"k8s.io/api v0.33.0 tags deprecated=1.34 (introduced 1.31 + 3); the removal agrees (types gone from k8s.io/api v0.34)"},
	{"resource.k8s.io/v1alpha3", "ResourceClaim", "1.32", "1.34", true, "1.34", "1.34",
		"k8s.io/api v0.33.0 tags deprecated=1.34; the removal agrees"},
	{"resource.k8s.io/v1alpha3", "DeviceClass", "1.32", "1.34", true, "1.34", "1.34",
		"k8s.io/api v0.33.0 tags deprecated=1.34; the removal agrees"},
	{"resource.k8s.io/v1alpha3", "ResourceClaimTemplate", "1.32", "1.34", true, "1.34", "1.34",
		"k8s.io/api v0.33.0 tags deprecated=1.34; the removal agrees"},
	{"storagemigration.k8s.io/v1alpha1", "StorageVersionMigration", "1.35", "1.35", true, "1.33", "1.35",
		"k8s.io/api v0.34.1 tags deprecated=1.33 (introduced 1.30 + 3); the removal agrees (type gone from k8s.io/api v0.35)"},
}

func TestCrossCheckPluto(t *testing.T) {
	if len(plutoFacts) < 25 {
		t.Fatalf("only %d cross-checked facts", len(plutoFacts))
	}
	disagree := 0
	for _, f := range plutoFacts {
		name := f.apiVersion + " " + f.kind
		agrees := f.found && f.wantDep == f.plutoDep && f.wantRem == f.plutoRem
		if agrees != (f.reason == "") {
			t.Errorf("%s: table row is inconsistent: agrees with Pluto = %v but reason = %q", name, agrees, f.reason)
		}
		if !agrees {
			disagree++
		}
		l, ok := Lookup(f.apiVersion, f.kind)
		if ok != f.found {
			t.Errorf("%s: found = %v, want %v (%s)", name, ok, f.found, f.reason)
			continue
		}
		if !ok {
			continue
		}
		if got := l.Deprecated.String(); got != f.wantDep {
			t.Errorf("%s: deprecated %q, want %q (Pluto %q)", name, got, f.wantDep, f.plutoDep)
		}
		if got := l.Removed.String(); got != f.wantRem {
			t.Errorf("%s: removed %q, want %q (Pluto %q)", name, got, f.wantRem, f.plutoRem)
		}
	}
	t.Logf("%d facts cross-checked against Pluto, %d documented disagreements", len(plutoFacts), disagree)
}

// Facts the checks rely on, and LOCAL-CLUSTER.md's record of what a 1.36
// API server serves and reports.
func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		apiVersion, kind  string
		dep, rem, replace string
	}{
		{"networking.k8s.io/v1beta1", "Ingress", "1.19", "1.22", "networking.k8s.io/v1 Ingress"},
		// Kubernetes tags it "IngressClassList": an object's replacement is never a list.
		{"networking.k8s.io/v1beta1", "IngressClass", "1.19", "1.22", "networking.k8s.io/v1 IngressClass"},
		{"extensions/v1beta1", "Deployment", "1.8", "1.16", "apps/v1 Deployment"},
		{"extensions/v1beta1", "NetworkPolicy", "1.9", "1.16", "networking.k8s.io/v1 NetworkPolicy"},
		{"apps/v1beta2", "DaemonSet", "1.9", "1.16", "apps/v1 DaemonSet"},
		{"batch/v1beta1", "CronJob", "1.21", "1.25", "batch/v1 CronJob"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.21", "1.25", "policy/v1 PodDisruptionBudget"},
		// No replacement API: the note says what to do.
		{"policy/v1beta1", "PodSecurityPolicy", "1.21", "1.25", ""},
		// Kubernetes names policy/v1beta1, itself gone by 1.25: no replacement.
		{"extensions/v1beta1", "PodSecurityPolicy", "1.11", "1.16", ""},
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.23", "1.26", "autoscaling/v2 HorizontalPodAutoscaler"},
		// The chain v1beta1 → v1beta3 → v1 is followed to its end.
		{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1 FlowSchema"},
		{"flowcontrol.apiserver.k8s.io/v1alpha1", "PriorityLevelConfiguration", "1.20", "1.21", "flowcontrol.apiserver.k8s.io/v1 PriorityLevelConfiguration"},
		// Kubernetes names none: the group's GA version of the kind.
		{"events.k8s.io/v1beta1", "Event", "1.22", "1.25", "events.k8s.io/v1 Event"},
		{"resource.k8s.io/v1alpha3", "ResourceClaim", "1.34", "1.34", "resource.k8s.io/v1 ResourceClaim"},
		// Served by a 1.36 API server only when enabled, removed later.
		{"storage.k8s.io/v1beta1", "VolumeAttributesClass", "1.34", "1.37", "storage.k8s.io/v1 VolumeAttributesClass"},
		{"networking.k8s.io/v1beta1", "ServiceCIDR", "1.34", "1.37", "networking.k8s.io/v1 ServiceCIDR"},
		{"networking.k8s.io/v1beta1", "IPAddress", "1.34", "1.37", "networking.k8s.io/v1 IPAddress"},
		{"resource.k8s.io/v1beta1", "ResourceClaim", "1.35", "1.38", "resource.k8s.io/v1 ResourceClaim"},
		{"resource.k8s.io/v1beta2", "ResourceClaim", "1.36", "1.39", "resource.k8s.io/v1 ResourceClaim"},
		{"coordination.k8s.io/v1beta1", "LeaseCandidate", "1.36", "1.39", ""},
		// Deprecated with no removal release: never a finding.
		{"v1", "Endpoints", "1.33", "", "discovery.k8s.io/v1 EndpointSlice"},
		{"v1", "ComponentStatus", "1.19", "", ""},
		// GA: nothing.
		{"apps/v1", "Deployment", "", "", ""},
		{"networking.k8s.io/v1", "Ingress", "", "", ""},
	} {
		name := tc.apiVersion + " " + tc.kind
		l, ok := Lookup(tc.apiVersion, tc.kind)
		if !ok {
			t.Errorf("%s: not found", name)
			continue
		}
		if l.Deprecated.String() != tc.dep || l.Removed.String() != tc.rem || l.Replacement != tc.replace {
			t.Errorf("%s: deprecated %q removed %q replacement %q, want %q %q %q",
				name, l.Deprecated, l.Removed, l.Replacement, tc.dep, tc.rem, tc.replace)
		}
		if l.APIVersion() != tc.apiVersion || l.Kind != tc.kind || l.Introduced.IsZero() || l.Source == "" {
			t.Errorf("%s: bad identity or provenance: %+v", name, l)
		}
		if !l.Removed.IsZero() && l.Replacement == "" && l.Note == "" && tc.kind != "LeaseCandidate" {
			t.Errorf("%s: removed with neither a replacement nor a note", name)
		}
	}
	for _, tc := range [][2]string{
		{"example.com/v1", "Widget"}, {"apps/v1beta1", "ReplicaSet"}, {"not a version//", "Pod"}, {"v1", "PodList"},
	} {
		if l, ok := Lookup(tc[0], tc[1]); ok {
			t.Errorf("Lookup(%q, %q) = %+v, want not found", tc[0], tc[1], l)
		}
	}
}

// The metric names group, version and resource; the resource is the REST
// mapper's lower-case plural.
func TestLookupResource(t *testing.T) {
	for _, tc := range []struct{ group, version, resource, kind string }{
		{"networking.k8s.io", "v1beta1", "ingresses", "Ingress"},
		{"networking.k8s.io", "v1beta1", "ingressclasses", "IngressClass"},
		{"extensions", "v1beta1", "ingresses", "Ingress"},
		{"extensions", "v1beta1", "networkpolicies", "NetworkPolicy"},
		{"extensions", "v1beta1", "podsecuritypolicies", "PodSecurityPolicy"},
		{"policy", "v1beta1", "poddisruptionbudgets", "PodDisruptionBudget"},
		{"discovery.k8s.io", "v1beta1", "endpointslices", "EndpointSlice"},
		{"storage.k8s.io", "v1beta1", "csistoragecapacities", "CSIStorageCapacity"},
		{"storage.k8s.io", "v1beta1", "volumeattributesclasses", "VolumeAttributesClass"},
		{"networking.k8s.io", "v1beta1", "ipaddresses", "IPAddress"},
		{"flowcontrol.apiserver.k8s.io", "v1beta3", "prioritylevelconfigurations", "PriorityLevelConfiguration"},
		{"autoscaling", "v2beta2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"},
		{"apiextensions.k8s.io", "v1beta1", "customresourcedefinitions", "CustomResourceDefinition"},
		{"", "v1", "endpoints", "Endpoints"},
		{"", "v1", "componentstatuses", "ComponentStatus"},
	} {
		l, ok := LookupResource(tc.group, tc.version, tc.resource)
		if !ok || l.Kind != tc.kind {
			t.Errorf("LookupResource(%q, %q, %q) = %s, %v; want kind %s", tc.group, tc.version, tc.resource, l.Kind, ok, tc.kind)
		}
	}
	if _, ok := LookupResource("example.com", "v1", "widgets"); ok {
		t.Error("a custom resource was found")
	}
}

// Every version the generated code says is deprecated has a removal
// release or is GA (the contract's "deprecations with no removal release");
// lifecycle data is coherent; every deprecated kind has a resource no other
// deprecated kind of its group version claims.
func TestTableCoherent(t *testing.T) {
	all := All()
	if len(all) < 150 {
		t.Fatalf("only %d lifecycles: is client-go's scheme read?", len(all))
	}
	claimed := map[schema.GroupVersionResource]string{}
	for _, l := range all {
		name := l.APIVersion() + " " + l.Kind
		if strings.HasSuffix(l.Kind, "List") {
			t.Errorf("%s: list kinds are not objects", name)
		}
		if l.Introduced.IsZero() {
			t.Errorf("%s: no introduced release", name)
		}
		if !l.Deprecated.IsZero() && l.Deprecated.Compare(l.Introduced) < 0 {
			t.Errorf("%s: deprecated %s before introduced %s", name, l.Deprecated, l.Introduced)
		}
		if !l.Removed.IsZero() && (l.Deprecated.IsZero() || l.Removed.Compare(l.Deprecated) < 0) {
			t.Errorf("%s: removed %s without an earlier deprecation (%s)", name, l.Removed, l.Deprecated)
		}
		if l.Removed.IsZero() && !l.Deprecated.IsZero() && !isGA(l.Version) {
			t.Errorf("%s: a deprecated prerelease without a removal release", name)
		}
		if l.Replacement != "" {
			if _, err := parseReplacement(l.Replacement); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if l.Removed.IsZero() || l.Kind == "Scale" || l.Kind == "DeploymentRollback" {
			continue // not on its way out, or not a resource of its own
		}
		gvr := schema.GroupVersionResource{Group: l.Group, Version: l.Version, Resource: l.Resource}
		if other, dup := claimed[gvr]; dup {
			t.Errorf("%s and %s both map to %s", name, other, gvr)
		}
		claimed[gvr] = name
	}
}

// removed.yaml holds only what k8s.io/api no longer defines, and build
// rejects bad entries.
func TestRemovedYAML(t *testing.T) {
	var f removedFile
	if err := yaml.UnmarshalStrict(removedYAML, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.APIs) < 10 {
		t.Fatalf("removed.yaml has %d entries", len(f.APIs))
	}
	for _, bad := range []struct{ name, yaml, want string }{
		{"still in k8s.io/api", "apis:\n- {apiVersion: batch/v1beta1, kind: CronJob, introduced: '1.8', deprecated: '1.21', removed: '1.25', source: x}\n", "still defines"},
		{"no removal", "apis:\n- {apiVersion: example.io/v1beta1, kind: W, introduced: '1.8', deprecated: '1.21', source: x}\n", "needs removed"},
		{"deprecated after removed", "apis:\n- {apiVersion: example.io/v1beta1, kind: W, introduced: '1.8', deprecated: '1.26', removed: '1.25', source: x}\n", "after its removal"},
		{"unknown field", "apis:\n- {apiVersion: example.io/v1beta1, kind: W, removedIn: '1.25', source: x}\n", "unknown field"},
		{"bad release", "apis:\n- {apiVersion: example.io/v1beta1, kind: W, removed: 'soon', source: x}\n", "not a Kubernetes release"},
		{"bad replacement", "apis:\n- {apiVersion: example.io/v1beta1, kind: W, deprecated: '1.2', removed: '1.5', replacement: example.io/v1, source: x}\n", "replacement"},
	} {
		if _, err := build(scheme.Scheme, []byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want one containing %q", bad.name, err, bad.want)
		}
	}
}

func TestRelease(t *testing.T) {
	for in, want := range map[string]Release{
		"1.25": {1, 25}, "v1.25": {1, 25}, "v1.25.3": {1, 25}, "": {}, " 1.9 ": {1, 9},
	} {
		got, err := ParseRelease(in)
		if err != nil || got != want {
			t.Errorf("ParseRelease(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1", "1.x", "0.5", "1.2.3.4", "-1.2", "v"} {
		if _, err := ParseRelease(in); err == nil {
			t.Errorf("ParseRelease(%q) accepted", in)
		}
	}
	if rel("1.9").Compare(rel("1.10")) >= 0 || rel("1.10").Compare(rel("1.9")) <= 0 || rel("2.0").Compare(rel("1.40")) <= 0 {
		t.Error("Compare does not order minors numerically")
	}
	v, _ := kubever.Parse("v1.22.3")
	if !rel("1.22").AtOrBefore(v) || !rel("1.16").AtOrBefore(v) || rel("1.23").AtOrBefore(v) || (Release{}).AtOrBefore(v) {
		t.Error("AtOrBefore is wrong")
	}
	b, _ := json.Marshal(struct{ R Release }{rel("1.37")})
	if string(b) != `{"R":"1.37"}` {
		t.Errorf("marshal: %s", b)
	}
}

// DataRelease follows the k8s.io/api version go.mod requires.
func TestDataRelease(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "k8s.io/api" {
			continue
		}
		r, err := ParseRelease(strings.Replace(f[1], "v0.", "v1.", 1))
		if err != nil || r != DataRelease {
			t.Fatalf("go.mod requires k8s.io/api %s: DataRelease is %s, want %s (%v)", f[1], DataRelease, r, err)
		}
		return
	}
	t.Fatal("go.mod does not require k8s.io/api")
}

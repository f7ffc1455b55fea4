package upgate.api_test

import data.upgate.api

ver(minor) := {
	"version": sprintf("v1.%d.0", [minor]),
	"major": 1, "minor": minor, "patch": 0, "has_patch": true,
}

rel(minor) := {"release": sprintf("1.%d", [minor]), "major": 1, "minor": minor}

ingress := {
	"apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
	"namespace": "shop", "name": "web",
	"via": ["served"], "sources": ["manifests/ingress.yaml"],
	"deprecated": rel(19), "removed": rel(22),
	"replacement": "networking.k8s.io/v1 Ingress",
}

# A Deployment served at apps/v1 whose last-applied-configuration and
# managedFields still name extensions/v1beta1; read live (no sources).
deployment := {
	"apiVersion": "extensions/v1beta1", "kind": "Deployment",
	"namespace": "shop", "name": "api",
	"via": ["last-applied-configuration", "managedFields"],
	"deprecated": rel(8), "removed": rel(16),
	"replacement": "apps/v1 Deployment",
}

psp := {
	"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "name": "restricted",
	"via": ["served"], "deprecated": rel(21), "removed": rel(25),
	"note": "PodSecurityPolicy has no replacement API: use Pod Security Admission",
}

vac_requests := {
	"group": "storage.k8s.io", "version": "v1beta1", "resource": "volumeattributesclasses",
	"name": "volumeattributesclasses.storage.k8s.io/v1beta1",
	"removedRelease": "1.37", "removed": rel(37),
	"replacement": "storage.k8s.io/v1 VolumeAttributesClass",
}

run(section, target) := fs if {
	fs := api.findings with input as {
		"phase": "preflight", "current": ver(target - 1), "target": ver(target),
		"api": section,
	}
}

by_check(fs, check) := [f | some f in fs; f.check == check]

# api.removed-in-target

test_removed_in_target_fires_at_the_removal_release if {
	[f] := by_check(run({"objects": [ingress]}, 22), "api.removed-in-target")
	f.severity == "block"
	f.subject == {"kind": "Ingress", "namespace": "shop", "name": "web"}
	f.node == ""
	f.message == "Ingress shop/web uses networking.k8s.io/v1beta1 (seen via served in manifests/ingress.yaml), which Kubernetes 1.22 removes: the target v1.22.0 does not serve it"
	startswith(f.remediation, "Move Ingress shop/web to networking.k8s.io/v1 Ingress: ")
}

test_removed_in_target_fires_after_the_removal_release if {
	fs := run({"objects": [ingress, deployment]}, 36)
	count(by_check(fs, "api.removed-in-target")) == 2
	count(by_check(fs, "api.deprecated")) == 0
}

test_removed_in_target_names_vias_without_files if {
	[f] := by_check(run({"objects": [deployment]}, 16), "api.removed-in-target")
	f.message == "Deployment shop/api uses extensions/v1beta1 (seen via last-applied-configuration, managedFields), which Kubernetes 1.16 removes: the target v1.16.0 does not serve it"
	contains(f.remediation, "apps/v1 Deployment")
}

test_removed_in_target_cluster_scoped_with_note if {
	[f] := by_check(run({"objects": [psp]}, 25), "api.removed-in-target")
	f.subject == {"kind": "PodSecurityPolicy", "name": "restricted"}
	contains(f.message, "PodSecurityPolicy restricted uses policy/v1beta1")
	f.remediation == "PodSecurityPolicy restricted: PodSecurityPolicy has no replacement API: use Pod Security Admission."
}

test_removed_in_target_without_replacement_or_note if {
	bare := object.remove(psp, ["note"])
	[f] := by_check(run({"objects": [bare]}, 25), "api.removed-in-target")
	f.remediation == "Kubernetes names no replacement for policy/v1beta1 PodSecurityPolicy: remove the object, or what uses it, before the release that removes the API."
}

test_removed_in_target_fires_for_recorded_requests if {
	[f] := by_check(run({"requests": [vac_requests]}, 37), "api.removed-in-target")
	f.severity == "block"
	f.subject == {"kind": "APIRequest", "name": "volumeattributesclasses.storage.k8s.io/v1beta1"}
	f.message == "the API server recorded requests to volumeattributesclasses.storage.k8s.io/v1beta1 (apiserver_requested_deprecated_apis), which Kubernetes 1.37 removes: clients still calling it fail once the control plane is at v1.37.0"
	startswith(f.remediation, "Move the clients calling volumeattributesclasses.storage.k8s.io/v1beta1 to storage.k8s.io/v1 VolumeAttributesClass: ")
}

test_removed_in_target_request_without_replacement if {
	req := object.union(object.remove(vac_requests, ["replacement"]), {"note": "delete leftovers"})
	[f] := by_check(run({"requests": [req]}, 37), "api.removed-in-target")
	f.remediation == "Find the clients calling volumeattributesclasses.storage.k8s.io/v1beta1 in the API server's audit log (the k8s.io/deprecated annotation) and move them off it: delete leftovers."
}

test_removed_in_target_silent_before_removal if {
	count(by_check(run({"objects": [ingress]}, 21), "api.removed-in-target")) == 0
	count(by_check(run({"requests": [vac_requests]}, 36), "api.removed-in-target")) == 0
}

test_removed_in_target_silent_without_section if {
	count(run({}, 36)) == 0
	fs := api.findings with input as {"phase": "preflight", "current": ver(35), "target": ver(36)}
	count(fs) == 0
}

# api.deprecated

test_deprecated_fires_while_still_served if {
	fs := run({"objects": [ingress]}, 20)
	[f] := by_check(fs, "api.deprecated")
	count(fs) == 1
	f.severity == "warn"
	f.subject == {"kind": "Ingress", "namespace": "shop", "name": "web"}
	f.message == "Ingress shop/web uses networking.k8s.io/v1beta1 (seen via served in manifests/ingress.yaml), deprecated in 1.19 and removed in Kubernetes 1.22: the target v1.20.0 still serves it"
	contains(f.remediation, "networking.k8s.io/v1 Ingress")
}

test_deprecated_fires_at_the_deprecation_release if {
	count(by_check(run({"objects": [ingress]}, 19), "api.deprecated")) == 1
	count(by_check(run({"objects": [ingress]}, 21), "api.deprecated")) == 1
}

test_deprecated_fires_for_recorded_requests_still_served if {
	fs := run({"requests": [vac_requests]}, 36)
	[f] := by_check(fs, "api.deprecated")
	count(fs) == 1
	f.subject == {"kind": "APIRequest", "name": "volumeattributesclasses.storage.k8s.io/v1beta1"}
	f.message == "the API server recorded requests to volumeattributesclasses.storage.k8s.io/v1beta1 (apiserver_requested_deprecated_apis), deprecated and removed in Kubernetes 1.37: the target v1.36.0 still serves it"
}

test_deprecated_without_deprecation_release_counts_from_now if {
	undated := object.remove(ingress, ["deprecated"])
	[f] := by_check(run({"objects": [undated]}, 18), "api.deprecated")
	contains(f.message, "uses networking.k8s.io/v1beta1 (seen via served in manifests/ingress.yaml), deprecated and removed in Kubernetes 1.22")
}

test_deprecated_silent_before_deprecation if {
	count(run({"objects": [ingress]}, 18)) == 0
}

test_deprecated_silent_once_removed if {
	fs := run({"objects": [ingress], "requests": [vac_requests]}, 37)
	count(by_check(fs, "api.deprecated")) == 0
	count(by_check(fs, "api.removed-in-target")) == 2
}

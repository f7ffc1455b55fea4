package upgate.addon_test

import data.upgate.addon

ver(minor, patch) := {"version": sprintf("v1.%d.%d", [minor, patch]), "major": 1, "minor": minor, "patch": patch, "has_patch": true}

ccm(v) := {"namespace": "kube-system", "pod": "ccm-cp-1", "node": "cp-1", "raw": "registry.k8s.io/ccm:x", "version": v}

run(comps, target) := fs if {
	fs := addon.findings with input as {"phase": "preflight", "target": target, "addon": {"ccm": comps}}
}

test_ccm_behind_target_fires if {
	[f] := [f | some f in run([ccm(ver(35, 4))], ver(36, 0))]
	f.check == "addon.ccm-behind-target"
	f.severity == "warn"
	f.subject == {"kind": "Pod", "namespace": "kube-system", "name": "ccm-cp-1"}
	f.node == "cp-1"
	f.message == "cloud-controller-manager kube-system/ccm-cp-1 on node cp-1 is at v1.35.4, below the target v1.36.0: upgrade it before new nodes join"
}

test_ccm_behind_target_silent if {
	count(run([ccm(ver(36, 0))], ver(36, 2))) == 0
	count(run([ccm(ver(37, 0))], ver(36, 2))) == 0
	unknown := object.remove(ccm(ver(35, 0)), ["version"])
	count(run([unknown], ver(36, 0))) == 0
	fs := addon.findings with input as {"phase": "preflight", "target": ver(36, 0)}
	count(fs) == 0
}

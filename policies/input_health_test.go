package policies

import (
	"slices"
	"testing"

	"github.com/upgate-dev/upgate/finding"
)

var healthChecks = []string{
	"health.node-not-ready", "health.node-pressure", "health.node-cordoned", "health.workload-unavailable",
	"health.pod-not-running", "health.control-plane-pod-not-ready",
}

func TestHealthChecks(t *testing.T) {
	unhealthy := []string{
		"health.control-plane-pod-not-ready Pod/kube-system/kube-apiserver-cp-1 @cp-1",
		"health.node-cordoned Node/worker-3 @worker-3",
		"health.node-not-ready Node/worker-1 @worker-1",
		"health.node-pressure Node/worker-2 @worker-2",
		"health.pod-not-running Pod/shop/web-7c9d-a @worker-2",
		"health.pod-not-running Pod/shop/web-7c9d-b @",
		"health.pod-not-running Pod/shop/web-7c9d-c @worker-1",
		"health.workload-unavailable Deployment/shop/web @",
	}
	msgs := []string{
		"node worker-1 is not Ready (Ready=False, KubeletNotReady: container runtime network not ready)",
		"node worker-2 reports MemoryPressure",
		"node worker-3 is already cordoned (spec.unschedulable)",
		"kube-apiserver pod kube-system/kube-apiserver-cp-1 on node cp-1 is not Ready (CrashLoopBackOff)",
		"Deployment shop/web has 1 of 3 desired pods ready",
		"pod shop/web-7c9d-a on node worker-2 is crash-looping: container app is in CrashLoopBackOff (14 restarts)",
		"pod shop/web-7c9d-b is Pending and not scheduled to a node",
		"pod shop/web-7c9d-c on node worker-1 is in phase Unknown",
	}
	for _, tc := range []struct {
		name, dir string
		phase     finding.Phase
		want      []string
		msgs      []string
	}{
		{"unhealthy preflight", "health/unhealthy", finding.PhasePreflight, unhealthy, msgs},
		{"unhealthy postflight", "health/unhealthy", finding.PhasePostflight, unhealthy, msgs},
		{"healthy", "health/healthy", finding.PhasePreflight, nil, nil},
		{"healthy postflight", "health/healthy", finding.PhasePostflight, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Inventory: readTestdata(t, tc.dir), Phase: tc.phase}
			if tc.phase == finding.PhasePostflight {
				req.Baseline = readTestdata(t, tc.dir)
				req.Current = mustVer(t, "v1.35.2")
				req.Target = mustVer(t, "v1.35.2")
			}
			res := bkRun(t, req)
			if got := bkKeys(res.Findings, healthChecks...); !slices.Equal(got, tc.want) {
				t.Fatalf("findings:\n got %q\nwant %q", got, tc.want)
			}
			bkMessages(t, res.Findings, healthChecks, tc.msgs...)
			for _, f := range res.Findings {
				sev := finding.SeverityWarn
				if f.Check == "health.node-not-ready" || f.Check == "health.control-plane-pod-not-ready" {
					sev = finding.SeverityBlock
				}
				if slices.Contains(healthChecks, f.Check) && f.Severity != sev {
					t.Errorf("%s: severity %s, want %s", f.Check, f.Severity, sev)
				}
			}
			for _, c := range healthChecks {
				if !slices.Contains(res.Checks, c) {
					t.Errorf("Checks lacks %s: %v", c, res.Checks)
				}
			}
		})
	}
}

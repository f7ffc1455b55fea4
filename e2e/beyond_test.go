//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findings runs a live check and returns its report.
func liveReport(t *testing.T, args ...string) report {
	t.Helper()
	_, out, stderr := upgate(t, append([]string{"check", "--format", "json"}, args...)...)
	if strings.TrimSpace(out) == "" {
		t.Fatalf("no report; stderr: %s", stderr)
	}
	return parseReport(t, out)
}

func findingFor(r report, check, kind, name string) *finding {
	for i, f := range r.Findings {
		if f.Check == check && f.Subject.Kind == kind && f.Subject.Name == name {
			return &r.Findings[i]
		}
	}
	return nil
}

// eventually retries a live check until cond holds: controllers update
// status asynchronously.
func eventually(t *testing.T, what string, args []string, cond func(report) bool) report {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := liveReport(t, args...)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 60s; findings:\n%s", what, strings.Join(keys(r), "\n"))
		}
		time.Sleep(2 * time.Second)
	}
}

func TestWebhookWithoutEndpointsBlocks(t *testing.T) {
	// The webhook only matches namespaces labelled upgate-e2e=never, so it
	// cannot break the test cluster while it exists.
	kubectl(t, `
apiVersion: v1
kind: Namespace
metadata: {name: e2e-hooks}
---
apiVersion: v1
kind: Service
metadata: {name: hook, namespace: e2e-hooks}
spec:
  selector: {app: nothing-runs-this}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-hook}
webhooks:
- name: check.e2e.upgate.dev
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
  namespaceSelector: {matchLabels: {upgate-e2e: never}}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  clientConfig:
    service: {namespace: e2e-hooks, name: hook, path: /validate}
`, "apply", "-f", "-")
	defer kubectl(t, "", "delete", "validatingwebhookconfiguration", "e2e-hook", "--ignore-not-found")
	defer kubectl(t, "", "delete", "namespace", "e2e-hooks", "--ignore-not-found", "--wait=false")
	r := liveReport(t, "--target", target)
	f := findingFor(r, "webhook.no-endpoints", "ValidatingWebhookConfiguration", "e2e-hook")
	if f == nil || f.Severity != "block" {
		t.Fatalf("no blocking webhook.no-endpoints for e2e-hook; findings:\n%s", strings.Join(keys(r), "\n"))
	}
}

func TestNotReadyNodeBlocks(t *testing.T) {
	// No kwok.x-k8s.io/node annotation: nothing keeps this node Ready.
	kubectl(t, `
apiVersion: v1
kind: Node
metadata:
  name: orphan-1
  labels: {kubernetes.io/hostname: orphan-1}
`, "apply", "-f", "-")
	defer kubectl(t, "", "delete", "node", "orphan-1", "--ignore-not-found")
	r := liveReport(t, "--target", target)
	f := findingFor(r, "health.node-not-ready", "Node", "orphan-1")
	if f == nil || f.Severity != "block" {
		t.Fatalf("no blocking health.node-not-ready for orphan-1; findings:\n%s", strings.Join(keys(r), "\n"))
	}
}

func TestDeprecatedAPIRequestBlocksTheRemovingRelease(t *testing.T) {
	// The cluster serves storage.k8s.io/v1beta1 (deprecated, removed in
	// 1.37); creating through it is recorded by the API server's metric.
	kubectl(t, `
apiVersion: storage.k8s.io/v1beta1
kind: VolumeAttributesClass
metadata: {name: e2e-old-vac}
driverName: e2e.csi.upgate.dev
parameters: {iops: "100"}
`, "apply", "-f", "-")
	defer kubectl(t, "", "delete", "volumeattributesclasses.v1beta1.storage.k8s.io", "e2e-old-vac", "--ignore-not-found")
	subject := "volumeattributesclasses.storage.k8s.io/v1beta1"
	r := liveReport(t, "--target", "v1.37")
	if f := findingFor(r, "api.removed-in-target", "APIRequest", subject); f == nil || f.Severity != "block" {
		t.Errorf("target 1.37: no blocking api.removed-in-target for %s; findings:\n%s", subject, strings.Join(keys(r), "\n"))
	}
	r = liveReport(t, "--target", "v1.36.3")
	if f := findingFor(r, "api.deprecated", "APIRequest", subject); f == nil || f.Severity != "warn" {
		t.Errorf("target 1.36: no api.deprecated warning for %s; findings:\n%s", subject, strings.Join(keys(r), "\n"))
	}
	if f := findingFor(r, "api.removed-in-target", "APIRequest", subject); f != nil {
		t.Errorf("target 1.36 still serves %s, yet it was reported removed", subject)
	}
	// Core v1 Endpoints is deprecated with no removal release: never a finding.
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Check, "api.") && strings.HasPrefix(f.Subject.Name, "endpoints") {
			t.Errorf("v1 Endpoints reported: %s", f.key())
		}
	}
}

func TestHealthyClusterHasNoBlockingBeyondKismatic(t *testing.T) {
	// The seeded shop namespace has a normal PDB (maxUnavailable: 1) and
	// CoreDNS one too: none of the drain, health or webhook checks may
	// block on them.
	r := liveReport(t, "--target", target)
	for _, f := range r.Findings {
		if f.Severity != "block" {
			continue
		}
		switch {
		case f.Subject.Namespace == "shop", f.Subject.Namespace == "kube-system" && strings.HasPrefix(f.Subject.Name, "coredns"):
			t.Errorf("healthy workload blocked: %s", f.key())
		}
	}
}

func TestPostflightAgainstBaseline(t *testing.T) {
	dir := t.TempDir()
	baseline := filepath.Join(dir, "before.json")
	if code, _, stderr := upgate(t, "snapshot", "-o", baseline); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	// "Upgrade" worker-2's kubelet, leave it cordoned, and lose replicas.
	kubectl(t, "", "patch", "node", "worker-2", "--subresource=status", "--type=merge", "-p", `{"status":{"nodeInfo":{"kubeletVersion":"v1.36.3"}}}`)
	defer kubectl(t, "", "patch", "node", "worker-2", "--subresource=status", "--type=merge", "-p", `{"status":{"nodeInfo":{"kubeletVersion":"v1.35.2"}}}`)
	kubectl(t, "", "cordon", "worker-2")
	defer kubectl(t, "", "uncordon", "worker-2")
	kubectl(t, "", "-n", "shop", "scale", "deployment", "storefront", "--replicas=1")
	defer kubectl(t, "", "-n", "shop", "scale", "deployment", "storefront", "--replicas=3")

	args := []string{"--phase", "postflight", "--baseline", baseline, "--target", "v1.36.3"}
	r := eventually(t, "post.workload-regressed for shop/storefront", args, func(r report) bool {
		for _, f := range r.Findings {
			if f.Check == "post.workload-regressed" && f.Subject.Namespace == "shop" && f.Subject.Name == "storefront" {
				return true
			}
		}
		return false
	})
	if findingFor(r, "post.node-left-cordoned", "Node", "worker-2") == nil {
		t.Errorf("no post.node-left-cordoned for worker-2; findings:\n%s", strings.Join(keys(r), "\n"))
	}
	var mismatch1, mismatch2 bool
	for _, f := range r.Findings {
		if f.Check == "post.version-mismatch" && f.Node == "worker-1" && f.Subject.Kind == "Node" {
			mismatch1 = true
		}
		if f.Check == "post.version-mismatch" && f.Node == "worker-2" && strings.Contains(f.Subject.Name, "worker-2") && f.Subject.Kind == "Node" {
			mismatch2 = true
		}
	}
	if !mismatch1 {
		t.Errorf("worker-1's kubelet is still v1.35.2: want post.version-mismatch; findings:\n%s", strings.Join(keys(r), "\n"))
	}
	if mismatch2 {
		t.Errorf("worker-2's kubelet is at the target, yet reported as a mismatch")
	}
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Check, "safety.") || strings.HasPrefix(f.Check, "path.") {
			t.Errorf("postflight ran a preflight check: %s", f.key())
		}
	}
	// The baseline may also be a JSON report that recorded its snapshot.
	rep := filepath.Join(dir, "before-report.json")
	upgate(t, "check", "--target", target, "--format", "json", "--embed-snapshot", "--output", rep)
	if _, err := os.Stat(rep); err != nil {
		t.Fatalf("no report written: %v", err)
	}
	code, _, stderr := upgate(t, "check", "--phase", "postflight", "--baseline", rep, "--target", "v1.36.3", "--format", "json")
	if code != 0 && code != 1 {
		t.Errorf("postflight with a report as baseline: exit %d: %s", code, stderr)
	}
}

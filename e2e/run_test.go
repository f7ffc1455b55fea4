//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The executor tests change the cluster: they remove the hazards, upgrade
// every node with the kwok driver and cordon nodes on purpose. When they
// end, the cluster is as the other tests expect it: kubelets v1.35.2,
// control-plane images v1.36.3, no upgate.dev annotations, nothing
// cordoned, no executor Lease, and the hazards seeded again.

var (
	cpNodes     = []string{"cp-1", "cp-2", "cp-3"}
	workerNodes = []string{"worker-1", "worker-2", "worker-3"}
	allNodes    = append(append([]string{}, cpNodes...), workerNodes...)
)

const (
	seededKubelet = "v1.35.2"
	seededServer  = "v1.36.3"
	runTarget     = "v1.37"
	runTargetFull = "v1.37.0"
	// hazardKubelet is worker-3's kubelet among the seeded hazards
	// (hack/cluster.sh OLD_KUBELET_VERSION), outside the skew window.
	hazardKubelet = "v1.31.0"
)

var upgateAnnotations = []string{
	"upgate.dev/target", "upgate.dev/phase", "upgate.dev/cordoned-by",
	"upgate.dev/reason", "upgate.dev/updated-at", "upgate.dev/was-cordoned",
	"upgate.dev/run-target",
	"upgate.dev/holder",
}

func getNode(t *testing.T, name string) corev1.Node {
	t.Helper()
	var n corev1.Node
	if err := json.Unmarshal([]byte(kubectl(t, "", "get", "node", name, "-o", "json")), &n); err != nil {
		t.Fatalf("decode node %s: %v", name, err)
	}
	return n
}

func setKubelet(t *testing.T, node, v string) {
	t.Helper()
	kubectl(t, "", "patch", "node", node, "--subresource=status", "--type=merge",
		"-p", fmt.Sprintf(`{"status":{"nodeInfo":{"kubeletVersion":%q,"kubeProxyVersion":%q}}}`, v, v))
}

// clearProgress removes every upgate.dev annotation and the cordon.
func clearProgress(t *testing.T, node string) {
	t.Helper()
	args := []string{"annotate", "node", node}
	for _, a := range upgateAnnotations {
		args = append(args, a+"-")
	}
	kubectl(t, "", args...)
	kubectl(t, "", "uncordon", node)
}

// restoreCluster puts back what the executor tests changed.
func restoreCluster(t *testing.T) {
	t.Helper()
	kubectl(t, "", "delete", "namespace", "e2e-run", "--ignore-not-found", "--wait=true")
	resetVersions(t, allNodes)
	if out, err := cluster("seed-hazards"); err != nil {
		t.Errorf("seed hazards again: %v\n%s", err, out)
	}
}

// resetVersions puts nodes, the control-plane mirror pods and kube-proxy
// back at the seeded versions, with no upgate.dev annotation, no cordon
// and no executor Lease: the state before any run.
func resetVersions(t *testing.T, nodes []string) {
	t.Helper()
	kubectl(t, "", "-n", "kube-system", "delete", "lease", "upgate-executor", "--ignore-not-found")
	for _, n := range nodes {
		clearProgress(t, n)
		setKubelet(t, n, seededKubelet)
	}
	for _, n := range cpNodes {
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			kubectl(t, "", "-n", "kube-system", "set", "image", "pod/"+c+"-"+n,
				fmt.Sprintf("%s=registry.k8s.io/%s:%s", c, c, seededServer))
		}
	}
	kubectl(t, "", "-n", "kube-system", "set", "image", "daemonset/kube-proxy",
		"kube-proxy=registry.k8s.io/kube-proxy:"+seededKubelet)
	kubectl(t, "", "-n", "kube-system", "rollout", "status", "daemonset/kube-proxy", "--timeout=60s")
}

// runConfig writes a config file that excepts api.removed-in-target for
// API requests: the API server's deprecated-request metric keeps what
// another test requested through a beta API until it restarts, and it is
// not what these tests are about.
func runConfig(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "upgate.yaml")
	cfg := "exceptions:\n- check: api.removed-in-target\n  kind: APIRequest\n"
	if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// runUpgate runs `upgate run` with short timeouts; --yes, as CI must:
// the tests' stdin is no terminal.
func runUpgate(t *testing.T, cfg string, args ...string) (int, string, string) {
	t.Helper()
	base := []string{"run", "--yes", "--config", cfg, "--target", runTarget, "--driver", "kwok",
		"--drain-timeout", "60s", "--ready-timeout", "30s", "--gate-wait", "20s"}
	start := time.Now()
	code, out, stderr := upgate(t, append(base, args...)...)
	t.Logf("upgate run %v: exit %d in %s\n--- stdout\n%s--- stderr\n%s", args, code, time.Since(start).Round(time.Millisecond), out, stderr)
	return code, out, stderr
}

// withoutHazards takes the seeded hazards away (the hazards namespace and
// worker-3's kubelet outside the skew window), so that a run may go. Each
// subtest of TestRunExecutor sets up the state it needs itself, and none
// relies on what an earlier one left: any of them runs alone with -run.
func withoutHazards(t *testing.T) {
	t.Helper()
	kubectl(t, "", "delete", "namespace", "hazards", "--ignore-not-found", "--wait=true")
	if getNode(t, "worker-3").Status.NodeInfo.KubeletVersion == hazardKubelet {
		setKubelet(t, "worker-3", seededKubelet)
	}
}

func TestRunExecutor(t *testing.T) {
	cfg := runConfig(t)
	t.Cleanup(func() { restoreCluster(t) })

	t.Run("hazards block and nothing is touched", func(t *testing.T) {
		// The suite starts with them seeded; put them back only when an
		// earlier run of this test took them away.
		if kubectl(t, "", "get", "namespace", "hazards", "--ignore-not-found", "-o", "name") == "" ||
			getNode(t, "worker-3").Status.NodeInfo.KubeletVersion != hazardKubelet {
			restoreCluster(t)
		}
		code, _, _ := runUpgate(t, cfg)
		if code != 1 {
			t.Fatalf("exit %d, want 1 (blocked)", code)
		}
		for _, name := range allNodes {
			n := getNode(t, name)
			for k := range n.Annotations {
				if strings.HasPrefix(k, "upgate.dev/") {
					t.Errorf("node %s got annotation %s though the gate blocked", name, k)
				}
			}
			if n.Spec.Unschedulable {
				t.Errorf("node %s cordoned though the gate blocked", name)
			}
		}
	})

	// Without the hazards, the upgrade goes through.
	t.Run("upgrades every node", func(t *testing.T) {
		resetVersions(t, allNodes)
		withoutHazards(t)
		baseline := filepath.Join(t.TempDir(), "before.json")
		if code, _, stderr := upgate(t, "snapshot", "-o", baseline); code != 0 {
			t.Fatalf("snapshot: exit %d: %s", code, stderr)
		}
		code, out, _ := runUpgate(t, cfg)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(out, "nothing to back up") {
			t.Errorf("the kwok driver did not say it has nothing to back up")
		}
		for _, name := range allNodes {
			n := getNode(t, name)
			if got := n.Status.NodeInfo.KubeletVersion; got != runTargetFull {
				t.Errorf("node %s kubelet %s, want %s", name, got, runTargetFull)
			}
			if n.Spec.Unschedulable {
				t.Errorf("node %s left cordoned", name)
			}
			if got := n.Annotations["upgate.dev/phase"]; got != "done" {
				t.Errorf("node %s upgate.dev/phase=%q, want done", name, got)
			}
			if got := n.Annotations["upgate.dev/target"]; got != runTarget {
				t.Errorf("node %s upgate.dev/target=%q, want %s", name, got, runTarget)
			}
			if _, ok := n.Annotations["upgate.dev/cordoned-by"]; ok {
				t.Errorf("node %s still says upgate cordoned it", name)
			}
		}
		api := kubectl(t, "", "-n", "kube-system", "get", "pods", "-l", "component in (kube-apiserver,kube-controller-manager,kube-scheduler)",
			"-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image}{\"\\n\"}{end}")
		for _, line := range strings.Fields(api) {
			if !strings.HasSuffix(line, ":"+runTargetFull) {
				t.Errorf("control-plane pod not at the target: %s", line)
			}
		}
		// The add-on stage moved kube-proxy: its pods roll to the target.
		kubectl(t, "", "-n", "kube-system", "rollout", "status", "daemonset/kube-proxy", "--timeout=60s")
		if img := kubectl(t, "", "-n", "kube-system", "get", "daemonset", "kube-proxy", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); !strings.HasSuffix(img, ":"+runTargetFull) {
			t.Errorf("kube-proxy DaemonSet image %s, want the target %s", img, runTargetFull)
		}
		r := liveReport(t, "--config", cfg, "--phase", "postflight", "--baseline", baseline, "--target", runTarget)
		for _, f := range r.Findings {
			switch {
			case f.Check == "post.version-mismatch":
				t.Errorf("postflight: %s", f.key())
			case f.Check == "post.node-left-cordoned", f.Check == "post.node-not-ready":
				t.Errorf("postflight: %s", f.key())
			}
		}
	})

	t.Run("resumes a node a crashed run left drained", func(t *testing.T) {
		// What a run that died after draining worker-2 leaves behind: its
		// cordon counts as upgate's because the record names the run's
		// lock holder.
		withoutHazards(t)
		setKubelet(t, "worker-2", seededKubelet)
		kubectl(t, "", "cordon", "worker-2")
		kubectl(t, "", "annotate", "node", "worker-2", "--overwrite",
			"upgate.dev/target="+runTarget, "upgate.dev/phase=drained", "upgate.dev/cordoned-by=upgate",
			"upgate.dev/holder=crashed-run",
			"upgate.dev/reason=cordoned by upgate run to drain and upgrade it to "+runTarget)
		code, out, _ := runUpgate(t, cfg)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		first := -1
		for i, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "[etcd ") || strings.HasPrefix(line, "[control-plane ") || strings.HasPrefix(line, "[workers ") {
				first = i
				if !strings.Contains(line, "worker-2") {
					t.Errorf("first node line is not about worker-2: %q", line)
				}
				break
			}
		}
		if first < 0 || !strings.Contains(out, "Resuming worker-2 first") {
			t.Errorf("no sign of worker-2 being resumed first")
		}
		n := getNode(t, "worker-2")
		if n.Spec.Unschedulable {
			t.Errorf("worker-2 left cordoned")
		}
		if n.Annotations["upgate.dev/phase"] != "done" || n.Status.NodeInfo.KubeletVersion != runTargetFull {
			t.Errorf("worker-2 phase %q kubelet %s, want done at %s", n.Annotations["upgate.dev/phase"], n.Status.NodeInfo.KubeletVersion, runTargetFull)
		}
	})

	t.Run("a second executor is refused while the lock is held", func(t *testing.T) {
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
		kubectl(t, fmt.Sprintf(`
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: upgate-executor, namespace: kube-system}
spec:
  holderIdentity: other-upgate-run
  leaseDurationSeconds: 3600
  acquireTime: %q
  renewTime: %q
`, now, now), "apply", "-f", "-")
		defer kubectl(t, "", "-n", "kube-system", "delete", "lease", "upgate-executor", "--ignore-not-found")
		withoutHazards(t)
		setKubelet(t, "worker-1", seededKubelet)
		clearProgress(t, "worker-1")
		code, _, stderr := runUpgate(t, cfg)
		if code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
		if !strings.Contains(stderr, "other-upgate-run") {
			t.Errorf("stderr does not name the holder: %s", stderr)
		}
		if n := getNode(t, "worker-1"); n.Spec.Unschedulable || n.Annotations["upgate.dev/phase"] != "" {
			t.Errorf("worker-1 was touched without the lock: cordoned %t, phase %q", n.Spec.Unschedulable, n.Annotations["upgate.dev/phase"])
		}
	})

	t.Run("a PDB that blocks eviction fails the node and leaves it cordoned", func(t *testing.T) {
		withoutHazards(t)
		setKubelet(t, "worker-1", seededKubelet)
		clearProgress(t, "worker-1")
		kubectl(t, `
apiVersion: v1
kind: Namespace
metadata: {name: e2e-run}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: guarded, namespace: e2e-run}
spec:
  replicas: 2
  selector: {matchLabels: {app: guarded}}
  template:
    metadata: {labels: {app: guarded}}
    spec:
      nodeSelector: {kubernetes.io/hostname: worker-1}
      containers: [{name: web, image: docker.io/library/nginx:1.27}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded, namespace: e2e-run}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: guarded}}
`, "apply", "-f", "-")
		kubectl(t, "", "-n", "e2e-run", "rollout", "status", "deployment/guarded", "--timeout=60s")
		code, out, stderr := runUpgate(t, cfg, "--ignore-safety-checks", "--drain-timeout", "3s")
		if code != 3 {
			t.Errorf("exit %d, want 3 (a node failed at run time)", code)
		}
		if !strings.Contains(stderr, "worker-1") {
			t.Errorf("stderr does not name the failed node: %s", stderr)
		}
		n := getNode(t, "worker-1")
		if !n.Spec.Unschedulable {
			t.Errorf("worker-1 was uncordoned after its drain failed")
		}
		if got := n.Annotations["upgate.dev/phase"]; got != "failed" {
			t.Errorf("worker-1 upgate.dev/phase=%q, want failed", got)
		}
		if got := n.Annotations["upgate.dev/cordoned-by"]; got != "upgate" {
			t.Errorf("worker-1 upgate.dev/cordoned-by=%q, want upgate", got)
		}
		reason := n.Annotations["upgate.dev/reason"]
		if !strings.Contains(reason, "PodDisruptionBudget e2e-run/guarded") || !strings.Contains(reason, "blocked eviction") {
			t.Errorf("worker-1 upgate.dev/reason does not name the PDB: %q", reason)
		}
		if strings.Contains(out, "[workers worker-1] upgrading") {
			t.Errorf("worker-1 was upgraded though its drain failed")
		}

		// With the PDB gone, the next run retries the failed node.
		kubectl(t, "", "delete", "namespace", "e2e-run", "--wait=true")
		if code, _, _ := runUpgate(t, cfg); code != 0 {
			t.Fatalf("retry: exit %d, want 0", code)
		}
		n = getNode(t, "worker-1")
		if n.Spec.Unschedulable || n.Annotations["upgate.dev/phase"] != "done" {
			t.Errorf("worker-1 after the retry: cordoned %t, phase %q", n.Spec.Unschedulable, n.Annotations["upgate.dev/phase"])
		}
	})
}

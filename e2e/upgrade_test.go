//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upgradeTarget is the control plane hack/build-cluster-bins.sh builds
// beside the seeded one (UPGRADE_VERSION).
const upgradeTarget = "v1.37.2"

// TestTwoHopDryRunOnTheLiveCluster: with the control-plane mirror pods,
// kubelets and kube-proxy at v1.35.2, --target v1.37 is two hops, one
// minor each; run --dry-run prints the Plan report with both, the first
// to a v1.36 patch, and changes nothing.
func TestTwoHopDryRunOnTheLiveCluster(t *testing.T) {
	cfg := runConfig(t)
	t.Cleanup(func() { restoreCluster(t) })
	kubectl(t, "", "delete", "namespace", "hazards", "--ignore-not-found", "--wait=true")
	for _, n := range allNodes {
		setKubelet(t, n, seededKubelet)
	}
	for _, n := range cpNodes {
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			kubectl(t, "", "-n", "kube-system", "set", "image", "pod/"+c+"-"+n,
				fmt.Sprintf("%s=registry.k8s.io/%s:%s", c, c, seededKubelet))
		}
	}
	before := kubectl(t, "", "get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.spec.unschedulable} {.metadata.annotations}{\"\\n\"}{end}")
	code, out, stderr := upgate(t, "run", "--dry-run", "--config", cfg, "--target", runTarget, "--format", "json")
	if code != 0 {
		t.Fatalf("run --dry-run: exit %d\n%s\n%s", code, out, stderr)
	}
	var p struct {
		Kind, CurrentVersion, Verdict string
		Hops                          []struct{ From, To string }
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("the Plan report: %v\n%s", err, out)
	}
	if p.Kind != "Plan" || p.CurrentVersion != seededKubelet || len(p.Hops) != 2 ||
		p.Hops[0].From != seededKubelet || !strings.HasPrefix(p.Hops[0].To, "v1.36.") ||
		p.Hops[1].From != p.Hops[0].To || p.Hops[1].To != runTarget {
		t.Fatalf("plan %+v, want two hops v1.35.2 -> v1.36.x -> v1.37", p)
	}
	code, text, stderr := upgate(t, "run", "--dry-run", "--config", cfg, "--target", runTarget)
	if code != 0 || !strings.Contains(text, "in 2 hops") || !strings.Contains(text, "Hop 2/2: "+p.Hops[0].To+" -> "+runTarget) {
		t.Errorf("text dry run: exit %d\n%s\n%s", code, text, stderr)
	}
	after := kubectl(t, "", "get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.spec.unschedulable} {.metadata.annotations}{\"\\n\"}{end}")
	if after != before {
		t.Errorf("the dry run changed nodes:\nbefore %s\nafter  %s", before, after)
	}
}

// TestRealControlPlaneUpgrade upgrades the local cluster from v1.36.3 to
// v1.37.2 for real: hack/cluster-driver.sh, upgate's command driver here,
// stops the kube-apiserver, controller-manager and scheduler processes and
// starts the v1.37.2 binaries on the same etcd data, so the API server
// goes away under the run, and kwok's nodes get their kubelet versions.
// Six workers carry a Deployment and a StatefulSet under PDBs; a watcher
// started before the run sees every moment. The run must end with
// /version at v1.37.2, every node at the target and schedulable, a
// postflight that passes, no PDB below its minimum and never more than
// --max-unavailable workers unschedulable at once.
//
// The first run is killed (SIGKILL) just after the driver has upgraded
// the hop's first control-plane node and before upgate could record it:
// that node is left at upgate.dev/phase=upgrading, cordoned, its kubelet
// and components newer than the other control-plane nodes' kube-apiserver.
// The second run must resume it and finish, as an operator would expect.
//
// It runs last in the suite (files sort after the others) and puts the
// v1.36.3 control plane back when it ends.
func TestRealControlPlaneUpgrade(t *testing.T) {
	newBins := filepath.Join(cacheDir(), "bin", upgradeTarget)
	oldBins := filepath.Join(cacheDir(), "bin", seededServer)
	if _, err := os.Stat(filepath.Join(newBins, "kube-apiserver")); err != nil {
		t.Fatalf("no %s control plane in %s: hack/build-cluster-bins.sh builds it (UPGRADE_VERSION)", upgradeTarget, newBins)
	}
	cfg := runConfig(t)
	c := kubeClient(t)
	t.Cleanup(func() {
		// The v1.36.3 processes back on the same data, then the rest.
		for _, comp := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			if out, err := cluster("restart-component", comp, "0", filepath.Join(oldBins, comp)); err != nil {
				t.Errorf("put %s %s back: %v\n%s", comp, seededServer, err, out)
			}
			if comp == "kube-apiserver" {
				waitAPI(t)
			}
		}
		revive(t)
		soakTeardown(t)
	})
	soakSetup(t)
	// Every worker takes part here: the bare pod that blocks worker-6's
	// gate belongs to the soak's partial-run trials.
	kubectl(t, "", "-n", soakNS, "delete", "pod", "pinned", "--wait=true")
	waitSoakWorkload(t)

	dir := t.TempDir()
	before := filepath.Join(dir, "before.json")
	if code, _, stderr := upgate(t, "snapshot", "-o", before); code != 0 {
		t.Fatalf("snapshot before the upgrade: exit %d: %s", code, stderr)
	}
	workers := append(append([]string{}, workerNodes...), soakExtraWorkers...)
	w := watchRollout(t, c, soakNS, workers, nil)

	record := filepath.Join(dir, "run.json")
	driver := filepath.Join(repoRoot, "hack", "cluster-driver.sh")
	// --gate-wait 90s: the StatefulSet soak/db loses a pod to each batch's
	// drain, and its budget allows nothing until the pod is back and Ready,
	// or longer: the disruption controller may count the recreated,
	// same-named pod as the evicted one for up to 2 minutes (startRun in
	// soak_test.go).
	// With the whole suite behind it on 2 cores that once took more than
	// 30 s (2026-12-03: worker-5's and worker-2's gates closed on
	// safety.pdb-blocks-drain, 2 of 3 db pods healthy), and a gate that
	// closes is the right answer to that, not what this test is about.
	args := []string{"run", "--yes", "--config", cfg, "--target", upgradeTarget,
		"--max-unavailable", "2", "--drain-timeout", "2m", "--ready-timeout", "1m", "--gate-wait", "90s"}
	start := time.Now()

	// The first run, killed after its first control-plane driver call.
	killed, swapped := killAfterFirstControlPlaneDriver(t, driver, args)
	if !strings.Contains(swapped, "swapping kube-apiserver for "+newBins) {
		t.Errorf("the driver never swapped the API server's binary:\n%s", swapped)
	}
	n := getNode(t, killed)
	if p := n.Annotations["upgate.dev/phase"]; p != "upgrading" || !n.Spec.Unschedulable || n.Status.NodeInfo.KubeletVersion != upgradeTarget {
		t.Fatalf("the killed run left %s at phase %q, unschedulable %t, kubelet %s; want upgrading, cordoned, %s",
			killed, p, n.Spec.Unschedulable, n.Status.NodeInfo.KubeletVersion, upgradeTarget)
	}

	// The rerun, once the killed run's Lease has lapsed (a minute after its
	// last renewal: the Lease must outlast the API server's own restart).
	var code int
	var out, stderr string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(3 * time.Second) {
		code, out, stderr = upgate(t, append(args, "--driver", "command", "--driver-command", driver, "--output", record)...)
		if code != 3 || !(strings.Contains(stderr, "held by") || strings.Contains(stderr, "executor lock")) || time.Now().After(deadline) {
			break
		}
	}
	took := time.Since(start).Round(time.Second)
	t.Logf("upgate run to %s, resumed: exit %d, %s since the first run\n--- stdout\n%s--- stderr\n%s", upgradeTarget, code, took, out, stderr)
	if code != 0 {
		t.Fatalf("the resumed upgrade did not finish: exit %d", code)
	}
	if !strings.Contains(out, "in flight at phase upgrading") {
		t.Errorf("the rerun did not say it resumed %s at phase upgrading", killed)
	}
	var v struct {
		ServerVersion struct{ GitVersion string } `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "", "version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.ServerVersion.GitVersion != upgradeTarget {
		t.Errorf("/version says %s, want %s", v.ServerVersion.GitVersion, upgradeTarget)
	}
	for _, name := range append(append([]string{}, allNodes...), soakExtraWorkers...) {
		n := getNode(t, name)
		if got := n.Status.NodeInfo.KubeletVersion; got != upgradeTarget {
			t.Errorf("node %s kubelet %s, want %s", name, got, upgradeTarget)
		}
		if n.Spec.Unschedulable {
			t.Errorf("node %s left cordoned", name)
		}
		if p := n.Annotations["upgate.dev/phase"]; p != "done" {
			t.Errorf("node %s at phase %q, want done", name, p)
		}
	}
	code, post, stderr := upgate(t, "check", "--config", cfg, "--phase", "postflight", "--baseline", before, "--target", upgradeTarget)
	if code != 0 {
		t.Errorf("postflight: exit %d\n%s\n%s", code, post, stderr)
	}
	s := w.summary()
	var pdbs []string
	for name, min := range s.MinAvailable {
		pdbs = append(pdbs, fmt.Sprintf("%s fewest healthy %d (minAvailable %d)", name, s.MinHealthy[name], min))
	}
	report := fmt.Sprintf("UPGRADE: %s -> %s in %s; PDB violations %d: %s; most workers unschedulable at once %d (--max-unavailable 2): %s",
		seededServer, upgradeTarget, took, len(s.Violations), strings.Join(pdbs, "; "), s.MaxUnsched, s.MaxUnschedSet)
	fmt.Println(report)
	t.Log(report)
	if len(s.Violations) > 0 || s.MaxUnsched > 2 {
		t.Errorf("invariants broken: PDB %v, max unschedulable workers %d (%s)", s.Violations, s.MaxUnsched, s.MaxUnschedSet)
	}
	if len(s.MinAvailable) != 2 {
		t.Errorf("the watcher saw PDBs %v, want web and db", s.MinAvailable)
	}
}

// killAfterFirstControlPlaneDriver starts `upgate run args` with a driver
// that calls driver and, after its first etcd or control-plane call, holds
// still so that the run can be SIGKILLed before it records the node as
// upgraded. It returns that node and the driver's output.
func killAfterFirstControlPlaneDriver(t *testing.T, driver string, args []string) (node, output string) {
	t.Helper()
	dir := t.TempDir()
	mark, log := filepath.Join(dir, "mark"), filepath.Join(dir, "driver.log")
	wrapper := filepath.Join(dir, "driver.sh")
	script := fmt.Sprintf(`#!/usr/bin/env bash
set -euo pipefail
%q 2>>%q
case "${UPGATE_STAGE}" in
etcd | control-plane)
  if mkdir %q 2>/dev/null; then
    echo "$$ ${UPGATE_NODE}" >%q.tmp && mv %q.tmp %q
    sleep 300
  fi
  ;;
esac
`, driver, log, mark+".d", mark, mark, mark)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	run := startUpgate(t, append(args, "--driver", "command", "--driver-command", wrapper)...)
	var pid int
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if b, err := os.ReadFile(mark); err == nil {
			if _, err := fmt.Sscan(string(b), &pid, &node); err != nil {
				t.Fatalf("the driver's mark %q: %v", b, err)
			}
			break
		}
		select {
		case <-run.done:
			code, out, stderr := run.wait(t)
			t.Fatalf("the run ended (exit %d) before its first control-plane driver call finished\n%s\n%s", code, out, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no control-plane driver call within 5m")
		}
	}
	_ = run.cmd.Process.Signal(syscall.SIGKILL)
	code, _, _ := run.wait(t)
	if code != 128+int(syscall.SIGKILL) {
		t.Errorf("the first run exited %d before it was killed", code)
	}
	// The held driver, in its own process group, goes too.
	if pgid, err := syscall.Getpgid(pid); err == nil {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	b, _ := os.ReadFile(log)
	return node, string(b)
}

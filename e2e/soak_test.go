//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The soak (`make soak`): `upgate run` on the real local control plane,
// interrupted again and again, must always be resumable to the end without
// breaking what a rollout promises. Each trial starts from the seeded
// versions and injects one fault:
//   - SIGKILL at a random moment (UPGATE_SOAK_TRIALS of them), then reruns
//     until the run finishes, which is what an operator does;
//   - the API server stopped for UPGATE_SOAK_API_DOWN (default 30s) mid-run,
//     then started again with the same flags and data;
//   - the executor's Lease taken by another holder mid-node.
// A watcher started before the first trial checks, through watches, every
// moment: no PDB's healthy pods below its minimum, never more than
// --max-unavailable workers unschedulable, and the node whose gate blocks
// never cordoned or upgraded.

const (
	soakNS          = "soak"
	soakBlockedNode = "worker-6"
	soakMaxUnavail  = 2
)

var soakExtraWorkers = []string{"worker-4", "worker-5", "worker-6"}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q is not a count", name, v)
	}
	return n
}

func soakNodes() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i, n := range soakExtraWorkers {
		fmt.Fprintf(&b, `- apiVersion: v1
  kind: Node
  metadata:
    name: %[1]s
    annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
    labels: {kubernetes.io/os: linux, kubernetes.io/arch: amd64, kubernetes.io/hostname: %[1]s, type: kwok}
  spec:
    podCIDR: 127.1.%[2]d.0/24
    podCIDRs: [127.1.%[2]d.0/24]
  status:
    addresses: [{type: InternalIP, address: 127.0.0.%[2]d}, {type: Hostname, address: %[1]s}]
    capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
    allocatable: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
    nodeInfo: {kubeletVersion: %[3]s, kubeProxyVersion: %[3]s, containerRuntimeVersion: containerd://2.1.4, osImage: Ubuntu 24.04.3 LTS, kernelVersion: 6.8.0-86-generic, operatingSystem: linux, architecture: amd64, machineID: "", systemUUID: "", bootID: ""}
`, n, 24+i, seededKubelet)
	}
	return b.String()
}

// soakWorkload: a Deployment and a StatefulSet spread over the workers,
// each under a minAvailable PDB that allows one disruption, and a bare pod
// pinned to worker-6, whose gate therefore blocks (safety.unmanaged-pod):
// with --partial-ok the run must skip it and never touch it.
const soakWorkload = `
apiVersion: v1
kind: Namespace
metadata: {name: soak}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: soak}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: NotIn, values: [worker-6]}]}]}}}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: docker.io/library/nginx:1.27, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: soak}
spec:
  minAvailable: 5
  selector: {matchLabels: {app: web}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: soak}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: NotIn, values: [worker-6]}]}]}}}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: db}}}
      containers: [{name: db, image: docker.io/library/postgres:17, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db, namespace: soak}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: db}}
---
apiVersion: v1
kind: Pod
metadata: {name: pinned, namespace: soak}
spec:
  nodeName: worker-6
  containers: [{name: job, image: docker.io/library/busybox:1.37, command: [sleep, infinity]}]
`

// soakUpgradable are the nodes a finished soak run upgrades.
func soakUpgradable() []string {
	var out []string
	for _, n := range append(append([]string{}, allNodes...), soakExtraWorkers...) {
		if n != soakBlockedNode {
			out = append(out, n)
		}
	}
	return out
}

func TestSoak(t *testing.T) {
	trials := envInt(t, "UPGATE_SOAK_TRIALS", 0)
	if trials == 0 {
		t.Skip("the soak runs with UPGATE_SOAK_TRIALS=N (make soak)")
	}
	apiDown := time.Duration(envInt(t, "UPGATE_SOAK_API_DOWN", 30)) * time.Second
	seed := int64(envInt(t, "UPGATE_SOAK_SEED", int(time.Now().UnixNano()%1e9)))
	rng := rand.New(rand.NewSource(seed))
	t.Logf("soak: %d SIGKILL trials, API server down %s, seed %d (UPGATE_SOAK_SEED)", trials, apiDown, seed)

	cfg := runConfig(t)
	c := kubeClient(t)
	t.Cleanup(func() {
		// Restore while the extra nodes still run their kube-proxy pods:
		// a DaemonSet rollout waits on pods of a node being deleted.
		soakTeardown(t)
	})
	soakSetup(t)
	waitSoakWorkload(t)

	workers := append(append([]string{}, workerNodes...), soakExtraWorkers...)
	w := watchRollout(t, c, soakNS, workers, map[string]string{soakBlockedNode: seededKubelet})

	type trial struct {
		name  string
		fault func(t *testing.T, run *bgRun, d time.Duration) string
		// rideOut: the run must finish by itself, exit 0, without a rerun.
		rideOut bool
	}
	var list []trial
	list = append(list, trial{"calibration (no fault)", nil, false})
	// UPGATE_SOAK_API_DOWN=0 and UPGATE_SOAK_LEASE=0 leave those faults
	// out.
	if apiDown > 0 {
		// The API server away for seconds: the run keeps its lock (the
		// Lease counts as lost after 45s without renewal) and its API
		// calls retry, so it must ride the outage out: exit 0, no rerun.
		// Away for UPGATE_SOAK_API_DOWN (30s) plus its own stop and
		// start, which on a loaded machine can pass 45s: the run may
		// lose its lock and stop (exit 3), but no node may be failed for
		// it, and the rerun resumes.
		list = append(list, trial{"API server down 5s", faultAPIDown(rng, 5*time.Second), true})
		list = append(list, trial{"API server down " + apiDown.String(), faultAPIDown(rng, apiDown), false})
	}
	if envInt(t, "UPGATE_SOAK_LEASE", 1) > 0 {
		list = append(list, trial{"lease stolen mid-node", faultStealLease(c), false})
	}

	// The SIGKILLs last: the API server and Lease faults, one each, are
	// seen even when a short soak is stopped early.
	for i := 1; i <= trials; i++ {
		list = append(list, trial{fmt.Sprintf("SIGKILL %d", i), faultKill(rng), false})
	}

	var full time.Duration // how long an undisturbed run takes
	survived, runs := 0, 0
	for i, tr := range list {
		ok := t.Run(tr.name, func(t *testing.T) {
			if i > 0 {
				soakReset(t)
			}
			args := []string{"--partial-ok", "--max-unavailable", strconv.Itoa(soakMaxUnavail)}
			run := startRun(t, cfg, args...)
			what := "none"
			if tr.fault != nil {
				what = tr.fault(t, run, full)
			}
			code, out, stderr := run.wait(t)
			runs++
			if tr.fault == nil {
				if code != 0 {
					t.Fatalf("undisturbed run: exit %d\n%s\n%s", code, out, stderr)
				}
				full = run.took
			} else {
				t.Logf("fault %s: the run exited %d after %s", what, code, run.took.Round(time.Millisecond))
				if tr.rideOut && code != 0 {
					t.Errorf("the run did not ride the fault out: exit %d, want 0 without a rerun\n%s\nworkload:\n%s", code, stderr, soakWorkloadState(t))
				}
				// A fault of the cluster or the lock is never the node's
				// failure: a node stopped by it stays at a phase a rerun
				// resumes.
				if state := inFlight(t); strings.Contains(state, "@failed") {
					t.Errorf("after the fault a node was marked failed: %s\n%s", state, stderr)
				}
			}
			// Rerun until done, as an operator would: a lease left by a
			// killed run lapses within its 15s duration.
			deadline := time.Now().Add(5 * time.Minute)
			for code != 0 || !soakDone(t) {
				if time.Now().After(deadline) {
					t.Fatalf("not resumed to the end within 5m; last exit %d\n%s\nnodes:\n%s\nworkload:\n%s", code, stderr, soakNodeStates(t), soakWorkloadState(t))
				}
				if code != 0 && !strings.Contains(stderr, "held by") && !strings.Contains(stderr, "executor lock") {
					t.Logf("rerun after exit %d: %s", code, strings.TrimSpace(stderr))
				}
				if code != 0 {
					time.Sleep(3 * time.Second)
				}
				revive(t)
				r := startRun(t, cfg, args...)
				code, out, stderr = r.wait(t)
				runs++
			}
			_ = out
			soakAssertEnd(t)
			s := w.summary()
			if len(s.Violations) > 0 || s.MaxUnsched > soakMaxUnavail || len(s.Touched) > 0 {
				t.Fatalf("invariants broken: PDB %v, max unschedulable workers %d (%s), blocked node %v", s.Violations, s.MaxUnsched, s.MaxUnschedSet, s.Touched)
			}
		})
		if !ok {
			break
		}
		if tr.fault != nil {
			survived++
		}
	}
	s := w.summary()
	var pdbs []string
	for name, min := range s.MinAvailable {
		pdbs = append(pdbs, fmt.Sprintf("%s fewest healthy %d (minAvailable %d)", name, s.MinHealthy[name], min))
	}
	sort.Strings(pdbs)
	report := fmt.Sprintf("SOAK: %d trials, %d faults injected, %d survived (resumed to the end), %d upgate runs, seed %d\n"+
		"SOAK: PDB violations %d: %s\n"+
		"SOAK: most workers unschedulable at once %d (--max-unavailable %d): %s\n"+
		"SOAK: node %s, whose gate blocked, touched %d times",
		len(list), len(list)-1, survived, runs, seed, len(s.Violations), strings.Join(pdbs, "; "),
		s.MaxUnsched, soakMaxUnavail, s.MaxUnschedSet, soakBlockedNode, len(s.Touched))
	fmt.Println(report)
	t.Log(report)
	if survived != len(list)-1 {
		t.Errorf("only %d of %d faults survived", survived, len(list)-1)
	}
}

// soakSetup grows the cluster to six workers without the hazards and
// applies the soak's workload; soakTeardown undoes it. Restore while the
// extra nodes still run their kube-proxy pods: a DaemonSet rollout waits
// on pods of a node being deleted.
func soakSetup(t *testing.T) {
	t.Helper()
	kubectl(t, "", "delete", "namespace", "hazards", "--ignore-not-found", "--wait=true")
	setKubelet(t, "worker-3", seededKubelet)
	kubectl(t, soakNodes(), "apply", "-f", "-")
	kubectl(t, "", "wait", "--for=condition=Ready", "node", "--all", "--timeout=120s")
	for _, n := range soakExtraWorkers {
		setKubelet(t, n, seededKubelet)
	}
	kubectl(t, soakWorkload, "apply", "-f", "-")
}

func soakTeardown(t *testing.T) {
	t.Helper()
	kubectl(t, "", "delete", "namespace", soakNS, "--ignore-not-found", "--wait=true")
	restoreCluster(t)
	kubectl(t, "", append([]string{"delete", "node", "--ignore-not-found"}, soakExtraWorkers...)...)
}

func waitSoakWorkload(t *testing.T) {
	t.Helper()
	kubectl(t, "", "-n", soakNS, "rollout", "status", "deployment/web", "--timeout=120s")
	kubectl(t, "", "-n", soakNS, "rollout", "status", "statefulset/db", "--timeout=120s")
	kubectl(t, "", "-n", soakNS, "wait", "pod", "--all", "--for=condition=Ready", "--timeout=120s")
	// The disruption controller must have seen the pods, or the first
	// eviction is refused and the gate's PDB check closes.
	for _, pdb := range []string{"web", "db"} {
		kubectl(t, "", "-n", soakNS, "wait", "pdb/"+pdb, "--for=jsonpath={.status.disruptionsAllowed}=1", "--timeout=120s")
	}
}

// soakReset puts every node back at the seeded versions, as before a run.
func soakReset(t *testing.T) {
	t.Helper()
	resetVersions(t, append(append([]string{}, allNodes...), soakExtraWorkers...))
	waitSoakWorkload(t)
}

// soakDone: every upgradable node at the target, done, and schedulable.
func soakDone(t *testing.T) bool {
	t.Helper()
	for _, name := range soakUpgradable() {
		n := getNode(t, name)
		if n.Status.NodeInfo.KubeletVersion != runTargetFull || n.Spec.Unschedulable || n.Annotations["upgate.dev/phase"] != "done" {
			return false
		}
	}
	return true
}

// soakNodeStates says, per upgradable node, what keeps soakDone false.
func soakNodeStates(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, name := range soakUpgradable() {
		n := getNode(t, name)
		var ann []string
		for k, v := range n.Annotations {
			if strings.HasPrefix(k, "upgate.dev/") {
				ann = append(ann, k+"="+v)
			}
		}
		sort.Strings(ann)
		fmt.Fprintf(&b, "  %s kubelet=%s unschedulable=%t %s\n", name, n.Status.NodeInfo.KubeletVersion, n.Spec.Unschedulable, strings.Join(ann, " "))
	}
	return b.String()
}

// soakWorkloadState is the soak's pods and budgets as they are now, for a
// failed trial's log: a drain held by a budget is explained by the pod
// that did not come back (Pending, unready, or left terminating).
func soakWorkloadState(t *testing.T) string {
	t.Helper()
	return kubectl(t, "", "get", "pods,pdb", "-n", soakNS, "-o", "custom-columns="+
		"KIND:.kind,NAME:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,"+
		`READY:.status.conditions[?(@.type=="Ready")].status,DELETING:.metadata.deletionTimestamp,`+
		"ALLOWED:.status.disruptionsAllowed,HEALTHY:.status.currentHealthy")
}

func soakAssertEnd(t *testing.T) {
	t.Helper()
	for _, name := range soakUpgradable() {
		n := getNode(t, name)
		if got := n.Status.NodeInfo.KubeletVersion; got != runTargetFull {
			t.Errorf("node %s kubelet %s, want %s", name, got, runTargetFull)
		}
		if n.Spec.Unschedulable {
			t.Errorf("node %s left cordoned", name)
		}
	}
	b := getNode(t, soakBlockedNode)
	if b.Spec.Unschedulable || b.Status.NodeInfo.KubeletVersion != seededKubelet {
		t.Errorf("blocked node %s: cordoned %t, kubelet %s", soakBlockedNode, b.Spec.Unschedulable, b.Status.NodeInfo.KubeletVersion)
	}
}

// bgRun is an `upgate run` in the background.
type bgRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	start          time.Time
	took           time.Duration
	done           chan struct{}
	err            error
}

// startRun starts a soak run. Its drain timeout outlasts the disruption
// controller's DisruptedPods window (2 minutes): an eviction records the
// pod in its budget's status.disruptedPods, and kwok deletes the pod and
// the StatefulSet recreates it under the same name before the controller
// next syncs the budget, so the controller counts the new, Ready db-N as
// the evicted pod about to go, and the budget allows 0 until the record is
// 2 minutes old (a monitor of the budget saw such 2-minute windows in
// every soak it watched). Seen failing the soak (2026-12-03, seed
// 641181592): worker-2 and worker-3 were drained together under
// --max-unavailable 2, and worker-3's db-1 was refused for the whole of a
// 90 s drain timeout while the budget counted 2 healthy of three Ready db
// pods; db-2, recreated on worker-1, was most likely the pod worker-2's
// drain had evicted (the run does not log evictions that succeed). A
// drain that waits for its budget is upgate working as kubectl drain does
// (its default timeout is 5m); the soak is about faults, not this window.
// The gate wait stays short: the soak's blocked node waits it out on every
// run.
func startRun(t *testing.T, cfg string, args ...string) *bgRun {
	t.Helper()
	base := []string{"run", "--yes", "--config", cfg, "--target", runTarget, "--driver", "kwok",
		"--drain-timeout", "150s", "--ready-timeout", "30s", "--gate-wait", "30s"}
	return startUpgate(t, append(base, args...)...)
}

// startUpgate starts upgate with args in the background.
func startUpgate(t *testing.T, args ...string) *bgRun {
	t.Helper()
	r := &bgRun{cmd: exec.Command(upgateBin, args...), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start upgate run: %v", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		r.took = time.Since(r.start)
		close(r.done)
	}()
	return r
}

func (r *bgRun) wait(t *testing.T) (int, string, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Minute):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("upgate run did not end in 10m\n%s\n%s", r.stdout.String(), r.stderr.String())
	}
	code := 0
	if ee, ok := r.err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if r.err != nil {
		t.Fatalf("upgate run: %v", r.err)
	}
	return code, r.stdout.String(), r.stderr.String()
}

// during picks a random moment within an undisturbed run's duration.
func during(rng *rand.Rand, full time.Duration) time.Duration {
	if full <= 0 {
		full = 20 * time.Second
	}
	return time.Duration(float64(full) * (0.05 + 0.9*rng.Float64()))
}

func faultKill(rng *rand.Rand) func(*testing.T, *bgRun, time.Duration) string {
	return func(t *testing.T, run *bgRun, full time.Duration) string {
		at := during(rng, full)
		select {
		case <-run.done:
			return "SIGKILL (the run ended first)"
		case <-time.After(at):
		}
		_ = run.cmd.Process.Signal(syscall.SIGKILL)
		return fmt.Sprintf("SIGKILL at %s: %s", at.Round(time.Millisecond), inFlight(t))
	}
}

func faultAPIDown(rng *rand.Rand, down time.Duration) func(*testing.T, *bgRun, time.Duration) string {
	return func(t *testing.T, run *bgRun, full time.Duration) string {
		at := during(rng, full/2)
		time.Sleep(at)
		state := inFlight(t)
		out, err := cluster("restart-component", "kube-apiserver", strconv.Itoa(int(down/time.Second)))
		if err != nil {
			t.Fatalf("restart the API server: %v\n%s", err, out)
		}
		waitAPI(t)
		revive(t)
		return fmt.Sprintf("API server stopped at %s for %s (%s)", at.Round(time.Millisecond), down, state)
	}
}

// faultStealLease waits until a node is in hand, then gives the
// executor's Lease to another holder, as a second executor that found it
// expired would. The run must stop with exit 3 before it does anything
// more; the thief then lets the Lease go so that a rerun can resume.
func faultStealLease(c kubernetes.Interface) func(*testing.T, *bgRun, time.Duration) string {
	return func(t *testing.T, run *bgRun, full time.Duration) string {
		ctx := context.Background()
		deadline := time.Now().Add(2 * time.Minute)
		state := ""
		for {
			if state = inFlight(t); state != "no node in flight" {
				break
			}
			select {
			case <-run.done:
				return "lease steal (the run ended before a node was in hand)"
			case <-time.After(200 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no node in hand within 2m")
			}
		}
		leases := c.CoordinationV1().Leases("kube-system")
		l, err := leases.Get(ctx, "upgate-executor", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("read the executor lease: %v", err)
		}
		thief, dur, now := "soak-thief", int32(3600), metav1.NewMicroTime(time.Now())
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime, l.Spec.AcquireTime = &thief, &dur, &now, &now
		if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("steal the executor lease: %v", err)
		}
		stolen := time.Now()
		select {
		case <-run.done:
		case <-time.After(15 * time.Second):
			// It stops at the first renewal that reads the other holder
			// (every 5s), not after the 45s renew deadline.
			t.Errorf("the run went on for 15s after its lease was stolen")
			<-run.done
		}
		stopped := time.Since(stolen).Round(time.Millisecond)
		if err := leases.Delete(ctx, "upgate-executor", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("give the lease back: %v", err)
		}
		code, _, stderr := run.wait(t)
		if code != 3 {
			t.Errorf("exit %d after the lease was stolen, want 3", code)
		}
		if !strings.Contains(stderr, "lock") && !strings.Contains(stderr, "Lease") {
			t.Errorf("stderr does not say the lock was lost: %s", stderr)
		}
		return fmt.Sprintf("lease stolen while %s; the run stopped %s later", state, stopped)
	}
}

// inFlight names the nodes an interrupted run had in hand.
func inFlight(t *testing.T) string {
	t.Helper()
	out := kubectl(t, "", "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.upgate\.dev/phase} {end}`)
	var busy []string
	for _, f := range strings.Fields(out) {
		if name, phase, _ := strings.Cut(f, "="); phase != "" && phase != "done" {
			busy = append(busy, name+"@"+phase)
		}
	}
	if len(busy) == 0 {
		return "no node in flight"
	}
	return strings.Join(busy, ", ")
}

// revive starts again the control-plane processes that exited while the
// API server was away: the controller-manager and the scheduler exit when
// they cannot renew their leader lease, and in a real cluster the kubelet
// would restart them. Without them no evicted pod is replaced and no rerun
// can drain the next node within its PDB.
func revive(t *testing.T) {
	t.Helper()
	out, err := cluster("revive")
	if err != nil {
		t.Fatalf("revive the control plane: %v\n%s", err, out)
	}
}

func waitAPI(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		cmd := exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), "kubectl", "get", "--raw=/readyz")
		if cmd.Run() == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("the API server did not come back within 2m")
}

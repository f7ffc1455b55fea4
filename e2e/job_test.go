//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/internal/tooltest"
)

const (
	// jobImage is what the job driver's Jobs run in these tests. kwok runs
	// no container: its default pod-complete Stage ends a Job's pod
	// Succeeded, whatever the image.
	jobImage = "upgate.test/upgrader:1"
	// failImage makes kwok end a node's Job pod Failed, exit code 42
	// (the Stage upgate-job-failed in hack/cluster/kwok-stages.yaml).
	failImage = "upgate.test/fail:1"
	// hangImage keeps a node's Job pod Running for an hour (the Stage
	// upgate-job-hang).
	hangImage = "upgate.test/hang:1"
	// jobNamespace: the job driver's default, the lock's namespace.
	jobNamespace = "kube-system"
	jobSelector  = "app.kubernetes.io/managed-by=upgate"
)

// jobUpgrader plays the part of the upgrade script a real Job's image
// runs: a Job's success does not change the kubelet's version, so for each
// node Job upgate creates (label app.kubernetes.io/managed-by=upgate, env
// UPGATE_NODE) that does not run the failing image, it sets the node's
// versions to the Job's UPGATE_TARGET as the kwok driver does (kubelet
// and kube-proxy in the node's status, and a control-plane node's mirror
// pods' image tags), once per Job.
type jobUpgrader struct {
	mu   sync.Mutex
	seen map[string]string // Job UID -> node it upgraded ("" for a stage Job)
	stop context.CancelFunc
	done chan struct{}
}

func startJobUpgrader(t *testing.T, c kubernetes.Interface) *jobUpgrader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := &jobUpgrader{seen: map[string]string{}, stop: cancel, done: make(chan struct{})}
	kwok := &executor.KwokDriver{Client: c, Out: io.Discard}
	go func() {
		defer close(u.done)
		for ctx.Err() == nil {
			jobs, err := c.BatchV1().Jobs(jobNamespace).List(ctx, metav1.ListOptions{LabelSelector: jobSelector})
			if err == nil {
				for _, j := range jobs.Items {
					u.mu.Lock()
					_, seen := u.seen[string(j.UID)]
					u.mu.Unlock()
					if seen {
						continue
					}
					ctr := j.Spec.Template.Spec.Containers[0]
					env := map[string]string{}
					for _, e := range ctr.Env {
						env[e.Name] = e.Value
					}
					node := env["UPGATE_NODE"]
					if node != "" && ctr.Image != failImage && ctr.Image != hangImage {
						if err := kwok.Upgrade(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, env["UPGATE_TARGET"]); err != nil {
							continue // looked at again
						}
					}
					u.mu.Lock()
					u.seen[string(j.UID)] = node
					u.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(u.close)
	return u
}

func (u *jobUpgrader) close() {
	u.stop()
	<-u.done
}

// deleteJobs removes every Job upgate created (and, in the background,
// their pods).
func deleteJobs(t *testing.T) {
	t.Helper()
	kubectl(t, "", "-n", jobNamespace, "delete", "jobs", "-l", jobSelector, "--ignore-not-found", "--wait=true", "--cascade=foreground")
}

func listJobs(t *testing.T) []batchv1.Job {
	t.Helper()
	var l batchv1.JobList
	if err := json.Unmarshal([]byte(kubectl(t, "", "-n", jobNamespace, "get", "jobs", "-l", jobSelector, "-o", "json")), &l); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func listJobPods(t *testing.T) []corev1.Pod {
	t.Helper()
	var l corev1.PodList
	if err := json.Unmarshal([]byte(kubectl(t, "", "-n", jobNamespace, "get", "pods", "-l", jobSelector, "-o", "json")), &l); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func jobCondition(j batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestJobDriver upgrades the cluster with --driver job, the executor in
// the cluster: each node's upgrade is a Job pinned to the node, which kwok
// runs (its pod-complete Stage ends the pod Succeeded) while the test's
// jobUpgrader does what the Job's image would. First a run whose node Job
// hangs past --driver-timeout: the Job and its pod are deleted, the node
// fails. Then a run whose node Jobs
// fail (kwok's upgate-job-failed Stage, exit 42): the first node fails,
// stays cordoned, and its reason names the Job and how it ended. Then the
// retry with a working image: the failed Job is deleted and created anew,
// and every node, the three workers among them, is upgraded through a Job.
// The steps build on each other.
func TestJobDriver(t *testing.T) {
	cfg := runConfig(t)
	t.Cleanup(func() {
		deleteJobs(t)
		restoreCluster(t)
	})
	deleteJobs(t)
	resetVersions(t, allNodes)
	withoutHazards(t)
	c := kubeClient(t)
	u := startJobUpgrader(t, c)
	jobArgs := func(image string) []string {
		return []string{"--driver", "job", "--job-image", image, "--job-command", `upgrade-node "$UPGATE_NODE" "$UPGATE_TARGET"`, "--driver-timeout", "2m"}
	}

	t.Run("the driver timeout deletes the Job and fails its node", func(t *testing.T) {
		args := append(jobArgs(hangImage), "--driver-timeout", "8s")
		code, _, stderr := runUpgate(t, cfg, args...)
		if code != 3 {
			t.Fatalf("exit %d, want 3 (a node failed)", code)
		}
		var stopped string
		for _, name := range allNodes {
			n := getNode(t, name)
			if n.Annotations["upgate.dev/phase"] != "failed" {
				continue
			}
			stopped = name
			reason := n.Annotations["upgate.dev/reason"]
			job := executor.JobName(name, "", runTarget)
			if !n.Spec.Unschedulable || !strings.Contains(reason, "driver timeout") || !strings.Contains(reason, "Job "+jobNamespace+"/"+job+" stopped") || !strings.Contains(reason, "deleted it") {
				t.Errorf("%s cordoned %t, upgate.dev/reason %q: want cordoned, naming the timeout and the deleted Job", name, n.Spec.Unschedulable, reason)
			}
			if n.Status.NodeInfo.KubeletVersion != seededKubelet {
				t.Errorf("%s kubelet %s after its Job was stopped", name, n.Status.NodeInfo.KubeletVersion)
			}
			// Nothing goes on upgrading it: the Job and its pod are gone.
			deadline := time.Now().Add(30 * time.Second)
			for {
				left := kubectl(t, "", "-n", jobNamespace, "get", "jobs,pods", "-l", jobSelector+",upgate.dev/node="+name, "-o", "name")
				if strings.TrimSpace(left) == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("30s after the run stopped, still there: %s", left)
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		if stopped == "" {
			t.Fatalf("no node failed: %s", stderr)
		}
	})

	var failed string
	t.Run("a failing Job leaves its node cordoned with the reason", func(t *testing.T) {
		start := time.Now()
		code, out, stderr := runUpgate(t, cfg, jobArgs(failImage)...)
		t.Logf("failing run: %s", time.Since(start).Round(time.Millisecond))
		if code != 3 {
			t.Fatalf("exit %d, want 3 (a node failed)", code)
		}
		if !strings.Contains(out, "[etcd-backup] job driver: Job "+jobNamespace+"/"+executor.JobName("", executor.StageEtcdBackup, runTarget)+" complete") {
			t.Errorf("the etcd-backup stage's Job (no UPGATE_NODE: kwok completes it) did not complete")
		}
		for _, name := range allNodes {
			n := getNode(t, name)
			if n.Annotations["upgate.dev/phase"] != "failed" {
				continue
			}
			if failed != "" {
				t.Errorf("nodes %s and %s failed: the run did not stop at the first", failed, name)
			}
			failed = name
			if !n.Spec.Unschedulable {
				t.Errorf("%s was uncordoned after its Job failed", name)
			}
			job := executor.JobName(name, "", runTarget)
			reason := n.Annotations["upgate.dev/reason"]
			for _, want := range []string{
				"Job " + jobNamespace + "/" + job + " failed",
				"BackoffLimitExceeded",
				"container upgrade exited 42 (Error): upgate.test/fail: simulated node upgrade failure",
				"the node stays cordoned",
			} {
				if !strings.Contains(reason, want) {
					t.Errorf("%s upgate.dev/reason lacks %q: %s", name, want, reason)
				}
			}
			if !strings.Contains(stderr, job) {
				t.Errorf("stderr does not name the Job: %s", stderr)
			}
			if got := n.Status.NodeInfo.KubeletVersion; got != seededKubelet {
				t.Errorf("%s kubelet %s after a failed Job, want %s", name, got, seededKubelet)
			}
		}
		if failed == "" {
			t.Fatal("no node failed")
		}
		var seen bool
		for _, j := range listJobs(t) {
			if j.Name == executor.JobName(failed, "", runTarget) {
				seen = true
				if !jobCondition(j, batchv1.JobFailed) {
					t.Errorf("Job %s is not Failed: %+v", j.Name, j.Status.Conditions)
				}
			}
		}
		if !seen {
			t.Errorf("the failed Job of %s is gone: it is the record", failed)
		}
	})
	if failed == "" {
		t.FailNow()
	}

	t.Run("the retry replaces the failed Job and upgrades every node through Jobs", func(t *testing.T) {
		start := time.Now()
		code, out, _ := runUpgate(t, cfg, jobArgs(jobImage)...)
		t.Logf("job-driver run: %s", time.Since(start).Round(time.Millisecond))
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(out, "Job "+jobNamespace+"/"+executor.JobName(failed, "", runTarget)+" failed in an earlier run") {
			t.Errorf("the run did not say it replaced %s's failed Job", failed)
		}
		for _, name := range allNodes {
			n := getNode(t, name)
			if got := n.Status.NodeInfo.KubeletVersion; got != runTargetFull {
				t.Errorf("node %s kubelet %s, want %s", name, got, runTargetFull)
			}
			if n.Spec.Unschedulable || n.Annotations["upgate.dev/phase"] != "done" {
				t.Errorf("node %s cordoned %t phase %q, want done and schedulable", name, n.Spec.Unschedulable, n.Annotations["upgate.dev/phase"])
			}
		}
		jobs := map[string]batchv1.Job{}
		for _, j := range listJobs(t) {
			jobs[j.Name] = j
		}
		pods := map[string]corev1.Pod{} // by Job name
		for _, p := range listJobPods(t) {
			pods[p.Labels["batch.kubernetes.io/job-name"]] = p
		}
		for _, name := range allNodes {
			jn := executor.JobName(name, "", runTarget)
			j, ok := jobs[jn]
			if !ok {
				t.Errorf("no Job %s for node %s", jn, name)
				continue
			}
			if !jobCondition(j, batchv1.JobComplete) {
				t.Errorf("Job %s not Complete: %+v", jn, j.Status.Conditions)
			}
			if j.Labels["upgate.dev/node"] != name || j.Labels["upgate.dev/target"] != runTarget || j.Spec.Template.Spec.Containers[0].Image != jobImage {
				t.Errorf("Job %s labels %v image %s", jn, j.Labels, j.Spec.Template.Spec.Containers[0].Image)
			}
			env := map[string]string{}
			for _, e := range j.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			if env["UPGATE_NODE"] != name || env["UPGATE_TARGET"] != runTarget || env["UPGATE_HOP_FROM"] != seededServer || env["UPGATE_HOP_TO"] != runTarget || env["UPGATE_STAGE"] == "" {
				t.Errorf("Job %s env %v", jn, env)
			}
			p, ok := pods[jn]
			if !ok {
				t.Errorf("Job %s has no pod", jn)
				continue
			}
			// kwok ran it on the node, past the cordon and the
			// control-plane taint, to the end.
			if p.Spec.NodeName != name || p.Status.Phase != corev1.PodSucceeded {
				t.Errorf("pod %s of %s on %q phase %s, want Succeeded on %s", p.Name, jn, p.Spec.NodeName, p.Status.Phase, name)
			}
		}
		for _, st := range []executor.StageName{executor.StageEtcdBackup, executor.StageAddons} {
			jn := executor.JobName("", st, runTarget)
			j, ok := jobs[jn]
			if !ok || !jobCondition(j, batchv1.JobComplete) {
				t.Errorf("stage %s: Job %s missing or not Complete", st, jn)
				continue
			}
			if j.Spec.Template.Spec.NodeName != "" {
				t.Errorf("stage %s Job pinned to %s", st, j.Spec.Template.Spec.NodeName)
			}
			// The scheduler placed its pod and kwok ran it. (The etcd
			// backup's pod is gone by now: the drain of the worker it ran
			// on removed it, as kubectl drain removes finished pods.)
			if !strings.Contains(out, "["+string(st)+"] job driver: Job "+jobNamespace+"/"+jn+": pod "+jn+"-") || !strings.Contains(out, " Succeeded on worker-") {
				t.Errorf("stage %s: no sign of its pod running on a worker", st)
			}
		}
		u.mu.Lock()
		upgraded := map[string]bool{}
		for _, n := range u.seen {
			upgraded[n] = true
		}
		u.mu.Unlock()
		for _, w := range workerNodes {
			if !upgraded[w] {
				t.Errorf("worker %s was not upgraded through a Job", w)
			}
		}
	})
}

// TestExecutorJobChartOnTheLiveCluster: the chart with executorJob
// enabled renders objects the real API server accepts (a server-side dry
// run, every admission and schema check but no change), the executor Job
// among them.
func TestExecutorJobChartOnTheLiveCluster(t *testing.T) {
	helmBin := tooltest.Require(t, "helm")
	const ns = "upgate-jobchart"
	kubectl(t, "", "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "", "delete", "namespace", ns, "--ignore-not-found", "--wait=false") })
	cmd := exec.Command(helmBin, "template", "upgate", filepath.Join(repoRoot, "charts", "upgate"), "--namespace", ns,
		"--set", "rbac.executor=true", "--set", "executorJob.enabled=true", "--set", "executorJob.target="+runTarget,
		"--set", "executorJob.driver.image="+jobImage, "--set", "executorJob.driver.command=upgrade-node")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	rendered, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	out := kubectl(t, string(rendered), "apply", "--dry-run=server", "-f", "-")
	for _, want := range []string{
		"job.batch/upgate-run-v1-37 created (server dry run)",
		"serviceaccount/upgate-executor created (server dry run)",
		"role.rbac.authorization.k8s.io/upgate-executor-jobs created (server dry run)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply --dry-run=server lacks %q:\n%s", want, out)
		}
	}
	if left := kubectl(t, "", "-n", ns, "get", "jobs", "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("a dry run created %s", left)
	}
}

package executor

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func TestJobForANodeIsPinnedTolerantAndSaysWhatToDo(t *testing.T) {
	d := &JobDriver{Image: "registry.example/up:1", Command: `upgrade "$UPGATE_NODE"`, Namespace: "upgate-system", ServiceAccount: "upgrader", Deadline: 90*time.Second + time.Millisecond}
	hop := HopRef{Number: 1, Of: 2, From: "v1.35.2", To: "v1.36.4"}
	j := d.job(jobCall{node: "worker-1", target: "v1.36.4", stage: StageWorkers, hop: hop})

	if j.Namespace != "upgate-system" || j.Name != JobName("worker-1", StageWorkers, "v1.36.4") {
		t.Errorf("Job %s/%s", j.Namespace, j.Name)
	}
	ps := j.Spec.Template.Spec
	if ps.NodeName != "worker-1" {
		t.Errorf("nodeName %q, want worker-1 (pinned past the cordon)", ps.NodeName)
	}
	if len(ps.Tolerations) != 1 || ps.Tolerations[0].Operator != corev1.TolerationOpExists || ps.Tolerations[0].Key != "" || ps.Tolerations[0].Effect != "" {
		t.Errorf("tolerations %+v, want one operator Exists tolerating every taint", ps.Tolerations)
	}
	if ps.RestartPolicy != corev1.RestartPolicyNever || ps.ServiceAccountName != "upgrader" {
		t.Errorf("restartPolicy %s, serviceAccountName %q", ps.RestartPolicy, ps.ServiceAccountName)
	}
	if b := j.Spec.BackoffLimit; b == nil || *b != 0 {
		t.Errorf("backoffLimit %v, want 0", b)
	}
	if a := j.Spec.ActiveDeadlineSeconds; a == nil || *a != 91 {
		t.Errorf("activeDeadlineSeconds %v, want 91 (the driver timeout, rounded up)", a)
	}
	if j.Spec.TTLSecondsAfterFinished != nil {
		t.Errorf("ttlSecondsAfterFinished set: the Job is the record")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.Image != "registry.example/up:1" || !slices.Equal(c.Command, []string{"/bin/sh", "-c", `upgrade "$UPGATE_NODE"`}) || c.Args != nil {
		t.Errorf("container image %s command %q args %q", c.Image, c.Command, c.Args)
	}
	want := map[string]string{"UPGATE_NODE": "worker-1", "UPGATE_TARGET": "v1.36.4", "UPGATE_STAGE": "workers", "UPGATE_HOP_FROM": "v1.35.2", "UPGATE_HOP_TO": "v1.36.4"}
	if got := envOf(c); !maps.Equal(got, want) {
		t.Errorf("env %v, want %v", got, want)
	}
	wantLabels := map[string]string{"app.kubernetes.io/managed-by": "upgate", "upgate.dev/node": "worker-1", "upgate.dev/stage": "workers", "upgate.dev/target": "v1.36.4"}
	if !maps.Equal(j.Labels, wantLabels) || !maps.Equal(j.Spec.Template.Labels, wantLabels) {
		t.Errorf("labels %v, pod labels %v, want %v", j.Labels, j.Spec.Template.Labels, wantLabels)
	}
	if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("terminationMessagePolicy %s: a failure's last log lines would not reach the reason", c.TerminationMessagePolicy)
	}

	// No command: the image's entrypoint.
	d.Command = ""
	if c := d.job(jobCall{node: "worker-1", target: "v1.36.4", stage: StageWorkers}).Spec.Template.Spec.Containers[0]; c.Command != nil || c.Args != nil {
		t.Errorf("empty --job-command set command %q args %q", c.Command, c.Args)
	}
	// No deadline given: the default driver timeout.
	d.Deadline = 0
	if a := d.job(jobCall{node: "n", target: "v1.36"}).Spec.ActiveDeadlineSeconds; *a != int64(DefaultDriverTimeout.Seconds()) {
		t.Errorf("default activeDeadlineSeconds %d", *a)
	}
}

func TestStageJobIsUnpinnedWithoutNode(t *testing.T) {
	d := &JobDriver{Image: "img", Namespace: "kube-system"}
	for _, st := range []StageName{StageEtcdBackup, StageCloudCtrl, StageAddons} {
		j := d.job(jobCall{target: "v1.37", stage: st, hop: HopRef{From: "v1.36.3", To: "v1.37"}})
		ps := j.Spec.Template.Spec
		if ps.NodeName != "" || len(ps.Tolerations) != 0 {
			t.Errorf("%s: nodeName %q tolerations %v: a stage Job is not pinned", st, ps.NodeName, ps.Tolerations)
		}
		env := envOf(ps.Containers[0])
		if _, ok := env["UPGATE_NODE"]; ok {
			t.Errorf("%s: UPGATE_NODE set", st)
		}
		if env["UPGATE_STAGE"] != string(st) || env["UPGATE_TARGET"] != "v1.37" || env["UPGATE_HOP_TO"] != "v1.37" {
			t.Errorf("%s: env %v", st, env)
		}
		if _, ok := j.Labels[LabelJobNode]; ok {
			t.Errorf("%s: labelled with a node", st)
		}
		if j.Labels[LabelJobStage] != string(st) {
			t.Errorf("%s: stage label %q", st, j.Labels[LabelJobStage])
		}
	}
}

func TestJobNameIsDeterministicShortAndDNSSafe(t *testing.T) {
	long := strings.Repeat("very-long-node-name.", 12) + "example.com"
	names := map[string]string{}
	for _, tc := range []struct {
		node   string
		stage  StageName
		target string
	}{
		{"worker-1", StageWorkers, "v1.37"},
		{"worker-1", StageWorkers, "v1.37.2"},
		{"worker-2", StageWorkers, "v1.37"},
		{"ip-10-0-1-2.eu-west-1.compute.internal", StageWorkers, "v1.37"},
		{long, StageWorkers, "v1.37"},
		{long + "x", StageWorkers, "v1.37"},
		{"", StageEtcdBackup, "v1.37"},
		{"", StageAddons, "v1.37"},
		{"", StageCloudCtrl, "v1.37"},
		{"", StageEtcdBackup, ""},
	} {
		n := JobName(tc.node, tc.stage, tc.target)
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			t.Errorf("JobName(%q, %s, %q) = %q: %v", tc.node, tc.stage, tc.target, n, errs)
		}
		if n != JobName(tc.node, tc.stage, tc.target) {
			t.Errorf("JobName(%q, %q) not deterministic", tc.node, tc.target)
		}
		key := tc.node + "|" + string(tc.stage) + "|" + tc.target
		if tc.node != "" {
			key = tc.node + "|" + tc.target
		}
		for k, other := range names {
			if other == n {
				t.Errorf("%q and %q share the name %s", k, key, n)
			}
		}
		names[key] = n
	}
	// A node's Job does not depend on the stage it is in.
	if JobName("cp-1", StageEtcd, "v1.37") != JobName("cp-1", StageControlPlane, "v1.37") {
		t.Error("a node's Job name depends on its stage")
	}
	if n := JobName("worker-1", StageWorkers, "v1.37"); !strings.HasPrefix(n, "upgate-worker-1-v1-37-") {
		t.Errorf("JobName = %q, want upgate-worker-1-v1-37-<hash>", n)
	}
}

func failedJob(reason, msg string) *batchv1.Job {
	return &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: reason},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: msg},
	}}}
}

func TestJobOutcomeAndFailureLine(t *testing.T) {
	if _, done := jobOutcome(&batchv1.Job{}); done {
		t.Error("a Job without conditions is done")
	}
	running := &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionFalse}}}}
	if _, done := jobOutcome(running); done {
		t.Error("Failed=False is done")
	}
	complete := &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached"},
	}}}
	if out, done := jobOutcome(complete); !done || out.failed {
		t.Errorf("Complete: done %t failed %t", done, out.failed)
	}
	out, done := jobOutcome(failedJob("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
	if !done || !out.failed {
		t.Fatalf("Failed: done %t failed %t", done, out.failed)
	}
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "upgate-worker-1-x-abcde"}, Status: corev1.PodStatus{
		Phase: corev1.PodFailed,
		ContainerStatuses: []corev1.ContainerStatus{{Name: JobContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 42, Reason: "Error", Message: "kubelet package\nnot found\n",
		}}}},
	}}
	line := failureLine("kube-system/upgate-worker-1-x", out, []corev1.Pod{pod})
	for _, want := range []string{
		"Job kube-system/upgate-worker-1-x failed",
		"BackoffLimitExceeded: Job has reached the specified backoff limit",
		"pod upgate-worker-1-x-abcde container upgrade exited 42 (Error): kubelet package not found",
		"kubectl -n kube-system logs job/upgate-worker-1-x",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("failure line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "\n") {
		t.Errorf("failure line is not one line: %q", line)
	}
	// A pod that never ran says why.
	pending := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Name: JobContainer, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "pull access denied"}}}}}}
	out, _ = jobOutcome(failedJob("DeadlineExceeded", "Job was active longer than specified deadline"))
	if line := failureLine("ns/j", out, []corev1.Pod{pending}); !strings.Contains(line, "DeadlineExceeded") || !strings.Contains(line, "never ran: ImagePullBackOff: pull access denied") {
		t.Errorf("failure line %q", line)
	}
	if line := failureLine("ns/j", out, nil); !strings.Contains(line, "no pod left") {
		t.Errorf("failure line %q", line)
	}
}

// finish marks the Job called name Complete or Failed in the fake
// clientset, as the Job controller would, once it exists.
func finish(t *testing.T, c *fake.Clientset, ns, name string, failed bool) {
	t.Helper()
	go func() {
		for range 500 {
			j, err := c.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err == nil {
				typ := batchv1.JobComplete
				if failed {
					typ = batchv1.JobFailed
				}
				j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: "Test"})
				_, _ = c.BatchV1().Jobs(ns).UpdateStatus(context.Background(), j, metav1.UpdateOptions{})
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
}

func TestJobDriverCreatesAdoptsAndReplaces(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}
	ctx := context.WithValue(context.Background(), stageKey{}, StageWorkers)
	name := JobName("worker-1", StageWorkers, "v1.37")

	t.Run("creates the Job and waits until Complete", func(t *testing.T) {
		c := fake.NewClientset()
		var out bytes.Buffer
		d := &JobDriver{Client: c, Out: &out, Image: "img", Namespace: "ns", PollInterval: 5 * time.Millisecond}
		finish(t, c, "ns", name, false)
		if err := d.Upgrade(ctx, node, "v1.37"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "created Job ns/"+name) || !strings.Contains(out.String(), "complete") {
			t.Errorf("output:\n%s", out.String())
		}
	})

	t.Run("a Complete Job of an earlier run counts as done", func(t *testing.T) {
		d := &JobDriver{Image: "img", Namespace: "ns"}
		j := d.job(jobCall{node: "worker-1", target: "v1.37", stage: StageWorkers})
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		c := fake.NewClientset(j)
		var out bytes.Buffer
		d.Client, d.Out, d.PollInterval = c, &out, 5*time.Millisecond
		upgraded := node.DeepCopy()
		upgraded.Status.NodeInfo.KubeletVersion = "v1.37.2"
		if err := d.Upgrade(ctx, upgraded, "v1.37"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "completed in an earlier run") {
			t.Errorf("output:\n%s", out.String())
		}
		for _, a := range c.Actions() {
			if a.GetVerb() == "create" || a.GetVerb() == "delete" {
				t.Errorf("%s %s on a Complete Job", a.GetVerb(), a.GetResource().Resource)
			}
		}
	})

	t.Run("a Complete Job whose node is not at the target is run again", func(t *testing.T) {
		d := &JobDriver{Image: "img", Namespace: "ns"}
		j := d.job(jobCall{node: "worker-1", target: "v1.37", stage: StageWorkers})
		j.UID = "old"
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		c := fake.NewClientset(j)
		var out bytes.Buffer
		d.Client, d.Out, d.PollInterval = c, &out, 5*time.Millisecond
		behind := node.DeepCopy()
		behind.Status.NodeInfo.KubeletVersion = "v1.36.3"
		finish(t, c, "ns", name, false)
		if err := d.Upgrade(ctx, behind, "v1.37"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "the node's kubelet is v1.36.3, not at v1.37: deleting it to run it again") ||
			!strings.Contains(out.String(), "created Job ns/"+name) {
			t.Errorf("output:\n%s", out.String())
		}
		got, err := c.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || got.UID == "old" {
			t.Errorf("the Job after the call: %v, uid %q; want a new one", err, got.UID)
		}
	})

	t.Run("a Failed Job of an earlier run is deleted and created anew", func(t *testing.T) {
		d := &JobDriver{Image: "img", Namespace: "ns"}
		j := d.job(jobCall{node: "worker-1", target: "v1.37", stage: StageWorkers})
		j.UID = "old"
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}
		c := fake.NewClientset(j)
		var out bytes.Buffer
		d.Client, d.Out, d.PollInterval = c, &out, 5*time.Millisecond
		// The new Job fails too: its error carries the reason.
		go func() {
			for range 500 {
				x, err := c.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
				if err == nil && x.UID != "old" {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			finish(t, c, "ns", name, true)
		}()
		err := d.Upgrade(ctx, node, "v1.37")
		if err == nil || !strings.Contains(err.Error(), "Job ns/"+name+" failed: Test") {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(out.String(), "failed in an earlier run (BackoffLimitExceeded): deleting it") {
			t.Errorf("output:\n%s", out.String())
		}
		var verbs []string
		for _, a := range c.Actions() {
			if a.GetResource().Resource == "jobs" && (a.GetVerb() == "create" || a.GetVerb() == "delete") {
				verbs = append(verbs, a.GetVerb())
			}
		}
		if !slices.Equal(verbs, []string{"delete", "create"}) {
			t.Errorf("job writes %v, want delete then create", verbs)
		}
	})

	t.Run("a Job still running from an earlier run is adopted", func(t *testing.T) {
		d := &JobDriver{Image: "img", Namespace: "ns"}
		c := fake.NewClientset(d.job(jobCall{node: "worker-1", target: "v1.37", stage: StageWorkers}))
		var out bytes.Buffer
		d.Client, d.Out, d.PollInterval = c, &out, 5*time.Millisecond
		finish(t, c, "ns", name, false)
		if err := d.Upgrade(ctx, node, "v1.37"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "adopting Job ns/"+name+", still running") {
			t.Errorf("output:\n%s", out.String())
		}
		for _, a := range c.Actions() {
			if a.GetResource().Resource == "jobs" && (a.GetVerb() == "create" || a.GetVerb() == "delete") {
				t.Errorf("%s on a Job still running", a.GetVerb())
			}
		}
	})

	t.Run("a Job upgate did not create is left alone", func(t *testing.T) {
		c := fake.NewClientset(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}})
		d := &JobDriver{Client: c, Out: &bytes.Buffer{}, Image: "img", Namespace: "ns", PollInterval: 5 * time.Millisecond}
		if err := d.Upgrade(ctx, node, "v1.37"); err == nil || !strings.Contains(err.Error(), "upgate did not create") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a stopped run deletes its Job", func(t *testing.T) {
		c := fake.NewClientset()
		d := &JobDriver{Client: c, Out: &bytes.Buffer{}, Image: "img", Namespace: "ns", PollInterval: 5 * time.Millisecond}
		cause := errors.New("the executor lock was lost")
		cctx, cancel := context.WithCancelCause(ctx)
		go func() {
			for range 500 {
				if _, err := c.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{}); err == nil {
					cancel(cause)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		err := d.Upgrade(cctx, node, "v1.37")
		if !errors.Is(err, cause) || !strings.Contains(err.Error(), "deleted it") {
			t.Fatalf("err = %v", err)
		}
		if _, err := c.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the Job is still there after the run stopped: %v", err)
		}
	})

	t.Run("the API server away while the Job runs: it waits, then reads the outcome", func(t *testing.T) {
		c := fake.NewClientset()
		var out bytes.Buffer
		d := &JobDriver{Client: c, Out: &out, Image: "img", Namespace: "ns", PollInterval: 5 * time.Millisecond}
		// Once the Job exists, its next 20 reads fail as while the API
		// server restarts (the pod lists too); the Job completes meanwhile.
		var mu sync.Mutex
		created, failures := false, 0
		c.PrependReactor("create", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			created = true
			mu.Unlock()
			return false, nil, nil
		})
		away := func(k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			if created && failures < 20 {
				failures++
				return true, nil, apierrors.NewServiceUnavailable("the API server is restarting")
			}
			return false, nil, nil
		}
		c.PrependReactor("get", "jobs", away)
		c.PrependReactor("list", "pods", away)
		go func() {
			for range 500 {
				mu.Lock()
				ok := created
				mu.Unlock()
				if ok {
					// The tracker, under the reactors: as the Job controller
					// writes it while upgate cannot read.
					j, err := c.Tracker().Get(batchv1.SchemeGroupVersion.WithResource("jobs"), "ns", name)
					if err == nil {
						job := j.(*batchv1.Job)
						job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue})
						_ = c.Tracker().Update(batchv1.SchemeGroupVersion.WithResource("jobs"), job, "ns")
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		if err := d.Upgrade(ctx, node, "v1.37"); err != nil {
			t.Fatalf("Upgrade across the API server's absence: %v\n%s", err, out.String())
		}
		mu.Lock()
		defer mu.Unlock()
		if failures < 20 {
			t.Errorf("only %d reads failed: the absence was not exercised", failures)
		}
		if !strings.Contains(out.String(), "complete") {
			t.Errorf("output:\n%s", out.String())
		}
	})

	t.Run("the etcd backup is always fresh and says where it is", func(t *testing.T) {
		d := &JobDriver{Image: "img", Namespace: "ns"}
		hop := HopRef{Number: 1, Of: 1, From: "v1.36.3", To: "v1.37"}
		bname := JobName("", StageEtcdBackup, "v1.37")
		old := d.job(jobCall{target: "v1.37", stage: StageEtcdBackup, hop: hop})
		old.UID = "old"
		old.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		c := fake.NewClientset(old)
		var out bytes.Buffer
		d.Client, d.Out, d.PollInterval = c, &out, 5*time.Millisecond
		go func() {
			for range 500 {
				x, err := c.BatchV1().Jobs("ns").Get(context.Background(), bname, metav1.GetOptions{})
				if err == nil && x.UID != "old" {
					x.UID = "new"
					_, _ = c.BatchV1().Jobs("ns").Update(context.Background(), x, metav1.UpdateOptions{})
					_, _ = c.CoreV1().Pods("ns").Create(context.Background(), &corev1.Pod{
						ObjectMeta: metav1.ObjectMeta{Name: bname + "-x", Namespace: "ns", Labels: map[string]string{batchv1.ControllerUidLabel: "new"}},
						Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: JobContainer, State: corev1.ContainerState{
							Terminated: &corev1.ContainerStateTerminated{Message: "UPGATE_BACKUP_LOCATION=s3://backups/etcd.db\n"}}}}},
					}, metav1.CreateOptions{})
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			finish(t, c, "ns", bname, false)
		}()
		if err := d.EtcdBackup(WithHop(context.Background(), hop)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "deleting it to take a fresh backup") {
			t.Errorf("output:\n%s", out.String())
		}
		if loc, ok := d.LastBackup(); !ok || loc != "s3://backups/etcd.db" {
			t.Errorf("LastBackup = %q, %t", loc, ok)
		}
	})
}

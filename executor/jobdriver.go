package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/upgate-dev/upgate/kubever"
)

// Labels and annotations on the Jobs (and their pods) the job driver
// creates. A Job's labels say what it is for, so that
// `kubectl get jobs -l app.kubernetes.io/managed-by=upgate` lists a run's
// work and `-l upgate.dev/node=worker-1` one node's.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "upgate"
	LabelJobNode   = "upgate.dev/node"
	LabelJobStage  = "upgate.dev/stage"
	LabelJobTarget = "upgate.dev/target"
	// AnnotationJobNode carries the node's full name also where it is no
	// valid label value (longer than 63 characters).
	AnnotationJobNode = "upgate.dev/node"
	// JobContainer is the name of the Job's one container.
	JobContainer = "upgrade"
)

// JobDriver upgrades each node through a batch/v1 Job pinned to it, as
// rancher's system-upgrade-controller does with its Plans: the Job's pod
// has spec.nodeName set to the node (so the scheduler, and the cordon
// upgate put on the node, do not keep it off) and tolerates every taint
// (operator Exists), and runs Image with Command (through /bin/sh -c;
// empty: the image's entrypoint). Its environment says what to do:
// UPGATE_NODE, UPGATE_TARGET (the hop's version), UPGATE_STAGE,
// UPGATE_HOP_FROM and UPGATE_HOP_TO.
//
// The etcd-backup, cloud-controller-manager and add-on stages each run one
// Job that is not pinned to a node (and tolerates nothing: the scheduler
// picks a schedulable node), with UPGATE_STAGE set and no UPGATE_NODE, as
// the command driver runs its command.
//
// A Job's name is made from the node (or the stage) and the target, so a
// resumed run finds the Job an earlier run created: one still running is
// adopted and waited for, a Complete one counts as done if its node's
// kubelet is at the target (else it is replaced), a Failed one is
// deleted, waited gone and created anew. The
// etcd backup is the exception: a finished backup Job is always replaced,
// so each run's backup is fresh. Jobs have no ttlSecondsAfterFinished:
// the Job and its pod are the record of what ran on the node, left for
// the operator to read and delete.
//
// Each Job has restartPolicy Never, backoffLimit 0 (a failed upgrade is not
// retried behind upgate's back: the node fails, stays cordoned, and the
// next run retries it) and activeDeadlineSeconds from Deadline. When the
// context is done (the run stopped, the lock was lost, the driver timeout
// passed) the driver deletes the Job (propagation Foreground, so its pod
// is stopped) and returns: nothing goes on upgrading the node after upgate
// marked it failed and gave up the lock.
type JobDriver struct {
	Client kubernetes.Interface
	Out    io.Writer
	// Image and Command are what each Job runs; Command is run with
	// /bin/sh -c, and when empty the image's own entrypoint runs.
	Image   string
	Command string
	// Namespace holds the Jobs; ServiceAccount, when set, is their pods'.
	Namespace      string
	ServiceAccount string
	// Deadline is each Job's activeDeadlineSeconds (the run's driver
	// timeout). Zero means DefaultDriverTimeout.
	Deadline time.Duration
	// PollInterval is how often the driver looks at a Job. Zero means 1s.
	PollInterval time.Duration

	mu     sync.Mutex
	backup backupScanner
}

var (
	_ Driver                  = (*JobDriver)(nil)
	_ AddonUpgrader           = (*JobDriver)(nil)
	_ CloudControllerUpgrader = (*JobDriver)(nil)
	_ BackupReporter          = (*JobDriver)(nil)
)

// jobCall is one call of the driver: a node's upgrade, or a stage's Job
// (node empty).
type jobCall struct {
	node   string
	target string
	stage  StageName
	hop    HopRef
	// fresh: a finished Job of the same name is replaced, never counted
	// as done (the etcd backup).
	fresh bool
	// kubelet is the node's kubelet version when the call began (node
	// Jobs only): a Complete Job counts as done only if it is at the
	// target.
	kubelet string
}

// atTarget reports whether a Complete Job of an earlier run did its
// work: a stage Job's (the cloud-controller-manager's and add-ons' are
// idempotent and judged by the run's own checks) always; a node Job's
// only if the node's kubelet is at or past the target. A Job that
// completed without moving its node (the node rolled back, the image
// exited 0 without upgrading) would otherwise be counted as done for
// ever, and the node fail at its wait for Ready in every run.
func (c jobCall) atTarget() bool {
	if c.node == "" {
		return true
	}
	t, err := ParseTarget(c.target)
	if err != nil {
		return false
	}
	v, err := kubever.Parse(c.kubelet)
	return err == nil && atOrPast(v, t)
}

// Upgrade runs the node's Job and waits for it.
func (d *JobDriver) Upgrade(ctx context.Context, node *corev1.Node, target string) error {
	hop, _ := HopOf(ctx)
	_, err := d.run(ctx, jobCall{node: node.Name, target: target, stage: StageOf(ctx), hop: hop, kubelet: node.Status.NodeInfo.KubeletVersion})
	return err
}

// EtcdBackup runs one unpinned Job with UPGATE_STAGE=etcd-backup; a line
// UPGATE_BACKUP_LOCATION=WHERE in its container's termination message
// (/dev/termination-log, or the end of its log when it fails) says where
// the backup is kept, for the run record.
func (d *JobDriver) EtcdBackup(ctx context.Context) error {
	d.backup.reset()
	hop, _ := HopOf(ctx)
	msg, err := d.run(ctx, jobCall{target: hop.To, stage: StageEtcdBackup, hop: hop, fresh: true})
	if err == nil {
		_, _ = io.WriteString(&d.backup, msg+"\n")
	}
	return err
}

// LastBackup returns where the last etcd-backup Job said it keeps the
// backup, "" when it did not say.
func (d *JobDriver) LastBackup() (string, bool) { return d.backup.location(), true }

// UpgradeCloudController runs one unpinned Job with
// UPGATE_STAGE=cloud-controller-manager and the hop's version.
func (d *JobDriver) UpgradeCloudController(ctx context.Context, target string) error {
	hop, _ := HopOf(ctx)
	_, err := d.run(ctx, jobCall{target: target, stage: StageCloudCtrl, hop: hop})
	return err
}

// UpgradeAddons runs one unpinned Job with UPGATE_STAGE=addons.
func (d *JobDriver) UpgradeAddons(ctx context.Context, target string) error {
	hop, _ := HopOf(ctx)
	_, err := d.run(ctx, jobCall{target: target, stage: StageAddons, hop: hop})
	return err
}

// JobName is the name of the Job for a node (or, with node empty, for a
// stage) and a target: "upgate-" with the node (or stage) and the target
// made DNS-safe, cut to fit 63 characters, and a hash of all three, so the
// same node and target always give the same name and different ones never
// share it.
func JobName(node string, stage StageName, target string) string {
	what := node
	key := "node\x00" + node + "\x00" + target
	if node == "" {
		what = string(stage)
		key = "stage\x00" + string(stage) + "\x00" + target
	}
	sum := sha256.Sum256([]byte(key))
	hash := hex.EncodeToString(sum[:4])
	base := "upgate-" + dnsSafe(what)
	if t := dnsSafe(target); t != "" {
		base += "-" + t
	}
	const max = validation.DNS1123LabelMaxLength - 1 - 8
	if len(base) > max {
		base = base[:max]
	}
	return strings.TrimRight(base, "-") + "-" + hash
}

// dnsSafe lowercases s and turns every character a DNS label cannot hold
// into '-'.
func dnsSafe(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}

// Env is the environment of the call's container.
func (c jobCall) env() []corev1.EnvVar {
	var env []corev1.EnvVar
	if c.node != "" {
		env = append(env, corev1.EnvVar{Name: "UPGATE_NODE", Value: c.node})
	}
	return append(env,
		corev1.EnvVar{Name: "UPGATE_TARGET", Value: c.target},
		corev1.EnvVar{Name: "UPGATE_STAGE", Value: string(c.stage)},
		corev1.EnvVar{Name: "UPGATE_HOP_FROM", Value: c.hop.From},
		corev1.EnvVar{Name: "UPGATE_HOP_TO", Value: c.hop.To},
	)
}

// job builds the Job for a call.
func (d *JobDriver) job(c jobCall) *batchv1.Job {
	labels := map[string]string{LabelManagedBy: ManagedBy, LabelJobStage: string(c.stage)}
	if len(validation.IsValidLabelValue(c.target)) == 0 {
		labels[LabelJobTarget] = c.target
	}
	annotations := map[string]string{}
	if c.node != "" {
		annotations[AnnotationJobNode] = c.node
		if len(validation.IsValidLabelValue(c.node)) == 0 {
			labels[LabelJobNode] = c.node
		}
	}
	deadline := d.Deadline
	if deadline <= 0 {
		deadline = DefaultDriverTimeout
	}
	container := corev1.Container{
		Name:                     JobContainer,
		Image:                    d.Image,
		Env:                      c.env(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if strings.TrimSpace(d.Command) != "" {
		container.Command = []string{"/bin/sh", "-c", d.Command}
	}
	spec := corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ServiceAccountName: d.ServiceAccount,
		Containers:         []corev1.Container{container},
	}
	if c.node != "" {
		// Pinned: the scheduler is not asked, so the cordon does not keep
		// the pod off, and every taint is tolerated.
		spec.NodeName = c.node
		spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(c.node, c.stage, c.target),
			Namespace:   d.Namespace,
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          new(int32(0)),
			ActiveDeadlineSeconds: new(int64(math.Ceil(deadline.Seconds()))),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       spec,
			},
		},
	}
}

func (c jobCall) label() string {
	if c.node != "" {
		return string(c.stage) + " " + c.node
	}
	return string(c.stage)
}

func (d *JobDriver) printf(c jobCall, format string, a ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.Out, "[%s] job driver: %s\n", c.label(), fmt.Sprintf(format, a...))
}

// run creates the call's Job (or adopts the one an earlier run left) and
// waits until it is Complete (nil, and its container's termination
// message) or Failed (an error saying why), or until ctx is done (the Job
// is deleted).
func (d *JobDriver) run(ctx context.Context, c jobCall) (string, error) {
	want := d.job(c)
	ref := want.Namespace + "/" + want.Name
	job, err := d.ensure(ctx, c, want)
	if err != nil {
		if ctx.Err() != nil {
			return "", d.stopped(ctx, c, ref, "")
		}
		return "", err
	}
	every := d.PollInterval
	if every <= 0 {
		every = time.Second
	}
	var seen string
	for {
		out, done := jobOutcome(job)
		if done {
			pods, _ := d.pods(ctx, job)
			if out.failed {
				return "", errors.New(failureLine(ref, out, pods))
			}
			d.printf(c, "Job %s complete", ref)
			return terminationMessage(pods), nil
		}
		if pods, err := d.pods(ctx, job); err == nil {
			if s := podsState(pods); s != seen && s != "" {
				seen = s
				d.printf(c, "Job %s: %s", ref, s)
			}
		}
		select {
		case <-ctx.Done():
			return "", d.stopped(ctx, c, ref, seen)
		case <-time.After(every):
		}
		x, err := d.Client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return "", fmt.Errorf("Job %s was deleted while upgate waited for it (last seen: %s)", ref, orNothing(seen))
		case err != nil:
			// Transient (the API server restarting): ctx bounds it.
			continue
		}
		job = x
	}
}

// ensure returns the call's Job: created now, or the one an earlier run
// left, adopted while it runs, kept when Complete (unless c.fresh), and
// replaced when Failed.
func (d *JobDriver) ensure(ctx context.Context, c jobCall, want *batchv1.Job) (*batchv1.Job, error) {
	jobs := d.Client.BatchV1().Jobs(want.Namespace)
	ref := want.Namespace + "/" + want.Name
	for {
		job, err := jobs.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			job, err = jobs.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create Job %s: %w", ref, err)
			}
			what := "its entrypoint"
			if d.Command != "" {
				what = fmt.Sprintf("/bin/sh -c %q", d.Command)
			}
			where := "unpinned"
			if c.node != "" {
				where = "pinned to node " + c.node
			}
			d.printf(c, "created Job %s (%s): image %s, %s, UPGATE_TARGET=%s", ref, where, d.Image, what, c.target)
			return job, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get Job %s: %w", ref, err)
		}
		if job.Labels[LabelManagedBy] != ManagedBy {
			return nil, fmt.Errorf("a Job %s exists that upgate did not create (no label %s=%s): move it out of the way or use another --job-namespace", ref, LabelManagedBy, ManagedBy)
		}
		out, done := jobOutcome(job)
		switch {
		case job.DeletionTimestamp != nil:
			d.printf(c, "Job %s is being deleted; waiting until it is gone", ref)
		case !done:
			d.printf(c, "adopting Job %s, still running since %s (an earlier run created it)", ref, job.CreationTimestamp.UTC().Format(time.RFC3339))
			return job, nil
		case !out.failed && !c.fresh && c.atTarget():
			d.printf(c, "Job %s completed in an earlier run: counted as done (delete it to run it again)", ref)
			return job, nil
		case !out.failed && !c.fresh:
			d.printf(c, "Job %s completed in an earlier run, but the node's kubelet is %s, not at %s: deleting it to run it again", ref, orNothing(c.kubelet), c.target)
		case out.failed:
			d.printf(c, "Job %s failed in an earlier run (%s): deleting it to run it again", ref, out.reason())
		default:
			d.printf(c, "Job %s finished in an earlier run: deleting it to take a fresh backup", ref)
		}
		if err := d.deleteAndWait(ctx, job); err != nil {
			return nil, err
		}
	}
}

// deleteAndWait deletes the Job (and, in the foreground, its pods) and
// waits until it is gone.
func (d *JobDriver) deleteAndWait(ctx context.Context, job *batchv1.Job) error {
	jobs := d.Client.BatchV1().Jobs(job.Namespace)
	ref := job.Namespace + "/" + job.Name
	if job.DeletionTimestamp == nil {
		err := jobs.Delete(ctx, job.Name, metav1.DeleteOptions{
			PropagationPolicy: new(metav1.DeletePropagationForeground),
			Preconditions:     &metav1.Preconditions{UID: &job.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete Job %s: %w", ref, err)
		}
	}
	every := d.PollInterval
	if every <= 0 {
		every = time.Second
	}
	for {
		x, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && x.UID != job.UID) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Job %s was not gone when the driver stopped: %w", ref, context.Cause(ctx))
		case <-time.After(every):
		}
	}
}

// stopped deletes the Job once ctx is done, best effort with a fresh
// short context, and says so.
func (d *JobDriver) stopped(ctx context.Context, c jobCall, ref, seen string) error {
	ns, name, _ := strings.Cut(ref, "/")
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := d.Client.BatchV1().Jobs(ns).Delete(dctx, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationForeground)})
	what := "deleted it (propagation Foreground) so that its pod is stopped"
	switch {
	case apierrors.IsNotFound(err):
		what = "it was gone already"
	case err != nil:
		what = fmt.Sprintf("could NOT delete it (%v): delete it yourself (kubectl -n %s delete job %s) before its pod goes on", err, ns, name)
	}
	d.printf(c, "stopped: Job %s: %s", ref, what)
	return fmt.Errorf("Job %s stopped: %w; %s (last seen: %s)", ref, context.Cause(ctx), what, orNothing(seen))
}

func orNothing(s string) string {
	if s == "" {
		return "no pod yet"
	}
	return s
}

func (d *JobDriver) pods(ctx context.Context, job *batchv1.Job) ([]corev1.Pod, error) {
	if job.UID == "" {
		return nil, nil
	}
	l, err := d.Client.CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.ControllerUidLabel + "=" + string(job.UID)})
	if err != nil {
		return nil, err
	}
	pods := l.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp) })
	return pods, nil
}

// outcome is what a finished Job's conditions say.
type outcome struct {
	failed        bool
	cond, condMsg string // the Failed condition's reason and message
}

func (o outcome) reason() string {
	if o.condMsg == "" {
		return o.cond
	}
	return o.cond + ": " + o.condMsg
}

// jobOutcome reads a Job's conditions: done once Complete or Failed is
// True.
func jobOutcome(job *batchv1.Job) (outcome, bool) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return outcome{}, true
		case batchv1.JobFailed:
			return outcome{failed: true, cond: c.Reason, condMsg: c.Message}, true
		}
	}
	return outcome{}, false
}

// failureLine says, on one line, why a Job failed: its Failed condition,
// and its pod's container as it ended (exit code, reason, message) or,
// when it never ran, the pod's state.
func failureLine(ref string, out outcome, pods []corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %s failed", ref)
	if r := out.reason(); r != "" {
		b.WriteString(": " + r)
	}
	if len(pods) == 0 {
		b.WriteString("; it has no pod left")
	} else {
		b.WriteString("; " + podEnd(pods[len(pods)-1]))
	}
	ns, name, _ := strings.Cut(ref, "/")
	fmt.Fprintf(&b, " (kubectl -n %s logs job/%s; the next run deletes the Job and runs it again)", ns, name)
	return oneLine(b.String())
}

// podEnd says how a pod's upgrade container ended.
func podEnd(p corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != JobContainer && len(p.Status.ContainerStatuses) > 1 {
			continue
		}
		if t := cs.State.Terminated; t != nil {
			s := fmt.Sprintf("pod %s container %s exited %d", p.Name, cs.Name, t.ExitCode)
			if t.Reason != "" {
				s += " (" + t.Reason + ")"
			}
			if m := strings.TrimSpace(t.Message); m != "" {
				s += ": " + clip(m, 300)
			}
			return s
		}
		if w := cs.State.Waiting; w != nil {
			s := fmt.Sprintf("pod %s container %s never ran: %s", p.Name, cs.Name, w.Reason)
			if w.Message != "" {
				s += ": " + clip(w.Message, 300)
			}
			return s
		}
	}
	s := fmt.Sprintf("pod %s %s", p.Name, p.Status.Phase)
	if p.Status.Reason != "" {
		s += " (" + p.Status.Reason + ")"
	}
	if p.Status.Message != "" {
		s += ": " + clip(p.Status.Message, 300)
	}
	return s
}

// podsState is a short line about the Job's pods, for the progress output.
func podsState(pods []corev1.Pod) string {
	var parts []string
	for _, p := range pods {
		s := fmt.Sprintf("pod %s %s", p.Name, p.Status.Phase)
		if p.Spec.NodeName != "" {
			s += " on " + p.Spec.NodeName
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				s += " (" + w.Reason + ")"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// terminationMessage is the upgrade container's termination message.
func terminationMessage(pods []corev1.Pod) string {
	for i := len(pods) - 1; i >= 0; i-- {
		for _, cs := range pods[i].Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && cs.Name == JobContainer {
				return t.Message
			}
		}
	}
	return ""
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

func mustTarget(t *testing.T, s string) Target {
	t.Helper()
	tg, err := ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func liveNode(name, kubelet string, ann map[string]string, unschedulable bool) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
		Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
		Status: corev1.NodeStatus{
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: kubelet},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func TestTarget(t *testing.T) {
	minor := mustTarget(t, "1.37")
	if minor.Label != "v1.37" || minor.Full() != "v1.37.0" {
		t.Errorf("minor target: label %s full %s", minor.Label, minor.Full())
	}
	if !minor.Reached("v1.37.4") || minor.Reached("v1.36.9") || !minor.Same("v1.37") || minor.Same("v1.37.0") {
		t.Errorf("minor target: Reached/Same wrong")
	}
	patch := mustTarget(t, "v1.37.2")
	if patch.Reached("v1.37.1") || !patch.Reached("v1.37.2-eks-1") {
		t.Errorf("patch target: Reached wrong")
	}
}

func TestDecide(t *testing.T) {
	tg := mustTarget(t, "v1.37")
	tests := []struct {
		name string
		node *corev1.Node
		want Action
		from Phase
	}{
		{"fresh", liveNode("n", "v1.36.3", nil, false), ActionUpgrade, ""},
		{"at target already", liveNode("n", "v1.37.0", nil, false), ActionAtTarget, ""},
		{"done same target", liveNode("n", "v1.37.0", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.37"}, false), ActionSkipDone, "done"},
		{"done same target, cordoned by someone", liveNode("n", "v1.37.0", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.37"}, true), ActionSkipDone, "done"},
		// done is verified: a done record on an old kubelet does not hold.
		{"done same target, kubelet old", liveNode("n", "v1.36.3", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.37"}, false), ActionUpgrade, ""},
		{"done other target", liveNode("n", "v1.36.0", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.36"}, false), ActionUpgrade, ""},
		{"in flight same target", liveNode("n", "v1.36.0", map[string]string{AnnotationPhase: "drained", AnnotationTarget: "1.37"}, true), ActionResume, "drained"},
		{"failed same target", liveNode("n", "v1.36.0", map[string]string{AnnotationPhase: "failed", AnnotationTarget: "v1.37"}, true), ActionResume, "failed"},
		{"in flight other target", liveNode("n", "v1.36.0", map[string]string{AnnotationPhase: "upgrading", AnnotationTarget: "v1.38"}, true), ActionRefuse, "upgrading"},
	}
	for _, tt := range tests {
		d := Decide(tt.node, tg)
		if d.Action != tt.want || d.From != tt.from {
			t.Errorf("%s: got %s from %q, want %s from %q", tt.name, d.Action, d.From, tt.want, tt.from)
		}
		if d.Action == ActionRefuse && !strings.Contains(d.Why, "v1.38") {
			t.Errorf("%s: refusal does not name the target in flight: %s", tt.name, d.Why)
		}
	}
}

func TestOwnsCordon(t *testing.T) {
	tg := mustTarget(t, "v1.37")
	ours := map[string]string{AnnotationPhase: "drained", AnnotationTarget: "v1.37", AnnotationCordonedBy: "upgate", AnnotationHolder: "run-0"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range ours {
			m[k] = v
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		ann  map[string]string
		want bool
	}{
		{"in flight to this target, holder recorded", ours, true},
		{"failed at this target", with(AnnotationPhase, "failed"), true},
		{"done: the upgrade it belonged to is over", with(AnnotationPhase, "done"), false},
		{"no phase: a stale or hand-written annotation", with(AnnotationPhase, ""), false},
		{"another target", with(AnnotationTarget, "v1.36"), false},
		{"no holder recorded", with(AnnotationHolder, ""), false},
		{"recorded as someone else's cordon too", with(AnnotationWasCordoned, "true"), false},
		{"not cordoned by upgate", with(AnnotationCordonedBy, ""), false},
	}
	for _, tt := range tests {
		if got := ReadProgress(liveNode("n", "v1.36.3", tt.ann, true)).OwnsCordon(tg); got != tt.want {
			t.Errorf("%s: OwnsCordon %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestOrderInFlightFirstThenStages(t *testing.T) {
	p := &Plan{Stages: []Stage{
		{Name: StageEtcd, Nodes: []PlannedNode{{Name: "cp-1"}}},
		{Name: StageControlPlane, Nodes: []PlannedNode{{Name: "cp-1"}, {Name: "cp-2"}}},
		{Name: StageWorkers, Nodes: []PlannedNode{{Name: "w-1"}, {Name: "w-2"}}},
	}}
	d := map[string]Decision{"w-2": {Action: ActionResume, From: PhaseDrained}}
	var got []string
	for _, s := range Order(p, d) {
		got = append(got, string(s.stage)+"/"+s.planned.Name)
	}
	want := "workers/w-2 etcd/cp-1 control-plane/cp-2 workers/w-1"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

func TestAnnotationPatch(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b, err := annotationPatch(map[string]*string{AnnotationPhase: str("done"), AnnotationCordonedBy: nil}, now)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]map[string]*string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ann := got["metadata"]["annotations"]
	if *ann[AnnotationPhase] != "done" || *ann[AnnotationUpdatedAt] != "2026-11-26T12:00:00Z" {
		t.Errorf("patch %s", b)
	}
	if v, ok := ann[AnnotationCordonedBy]; !ok || v != nil {
		t.Errorf("cordoned-by must be removed (null): %s", b)
	}
}

// fakeDriver records what it was asked to do and moves the kubelet.
type fakeDriver struct {
	mu      sync.Mutex
	client  *fake.Clientset
	calls   []string
	failFor string
	// seen is, per node, how the node was when the driver was called.
	seen map[string]string
}

func (d *fakeDriver) EtcdBackup(ctx context.Context) error {
	d.calls = append(d.calls, "backup")
	return nil
}

func (d *fakeDriver) Upgrade(ctx context.Context, n *corev1.Node, target string) error {
	d.mu.Lock()
	d.calls = append(d.calls, string(StageOf(ctx))+"/"+n.Name)
	d.mu.Unlock()
	if n.Name == d.failFor {
		return errors.New("boom")
	}
	node, err := d.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pods, err := d.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	onNode := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName == n.Name {
			onNode++
		}
	}
	d.mu.Lock()
	if d.seen == nil {
		d.seen = map[string]string{}
	}
	d.seen[n.Name] = fmt.Sprintf("unschedulable=%t pods=%d", node.Spec.Unschedulable, onNode)
	d.mu.Unlock()
	node.Status.NodeInfo.KubeletVersion = mustTargetNoT(target).Full()
	_, err = d.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

func mustTargetNoT(s string) Target { t, _ := ParseTarget(s); return t }

func newTestRunner(t *testing.T, cs *fake.Clientset, d Driver, gate GateFunc) (*Runner, *bytes.Buffer) {
	t.Helper()
	// These runs' clusters have no kube-apiserver pods: the API server's
	// /version is the control plane they wait for, at the tests' target.
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.37.0"}
	var out bytes.Buffer
	r, err := NewRunner(&Runner{Client: cs, Out: &out, ErrOut: &out, Driver: d, Gate: gate, Holder: testHolder, PollInterval: time.Millisecond, ReadyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r, &out
}

// testHolder is the lock identity test runs record in upgate.dev/holder.
const testHolder = "test-run"

func noFindings(context.Context, string) ([]finding.Finding, error) { return nil, nil }

func plan(workers ...string) *Plan {
	p := &Plan{Stages: []Stage{{Name: StageEtcdBackup}, {Name: StageEtcd, Nodes: []PlannedNode{{Name: "cp-1", Roles: inventory.Roles{Etcd: true}}}}}}
	var ws []PlannedNode
	for _, w := range workers {
		ws = append(ws, PlannedNode{Name: w})
	}
	return &Plan{Stages: append(p.Stages, Stage{Name: StageWorkers, Nodes: ws})}
}

func TestRunRecordsProgressAndLeavesForeignCordon(t *testing.T) {
	cs := fake.NewClientset(
		liveNode("cp-1", "v1.36.3", nil, false),
		liveNode("w-1", "v1.36.3", nil, false),
		liveNode("w-2", "v1.36.3", nil, true), // cordoned by someone else
	)
	d := &fakeDriver{client: cs}
	r, out := newTestRunner(t, cs, d, noFindings)
	if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if got := strings.Join(d.calls, " "); got != "backup etcd/cp-1 workers/w-1 workers/w-2" {
		t.Errorf("driver calls %q", got)
	}
	for _, name := range []string{"cp-1", "w-1", "w-2"} {
		n, _ := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		p := ReadProgress(n)
		// Done clears whose cordon it was: the next upgrade starts afresh.
		if p.Phase != PhaseDone || p.Target != "v1.37" || p.CordonedByUs || p.WasCordoned || p.Reason != "" || p.UpdatedAt == "" || p.Holder != testHolder {
			t.Errorf("%s: progress %+v", name, p)
		}
		if want := name == "w-2"; n.Spec.Unschedulable != want {
			t.Errorf("%s: unschedulable %t, want %t", name, n.Spec.Unschedulable, want)
		}
	}
	if !strings.Contains(out.String(), "[workers w-2] already cordoned by someone else") {
		t.Errorf("w-2: not reported as cordoned before the run:\n%s", out)
	}
}

func TestRunFailureStaysCordonedWithReason(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &fakeDriver{client: cs, failFor: "w-1"}
	r, out := newTestRunner(t, cs, d, noFindings)
	_, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrNodeFailed) {
		t.Fatalf("err %v, want ErrNodeFailed\n%s", err, out)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	p := ReadProgress(n)
	if !n.Spec.Unschedulable || p.Phase != PhaseFailed || !p.CordonedByUs || !strings.Contains(p.Reason, "boom") {
		t.Errorf("w-1 after failure: unschedulable %t progress %+v", n.Spec.Unschedulable, p)
	}
	if n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-2", metav1.GetOptions{}); n.Annotations[AnnotationPhase] != "" {
		t.Errorf("w-2 started after w-1 failed")
	}
	// The retry resumes the failed node and finishes it.
	d.failFor = ""
	if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	n, _ = cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	if n.Spec.Unschedulable || ReadProgress(n).Phase != PhaseDone {
		t.Errorf("w-1 after retry: unschedulable %t phase %s", n.Spec.Unschedulable, ReadProgress(n).Phase)
	}
}

func TestRunGateBlocksWithoutTouching(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	gate := func(_ context.Context, node string) ([]finding.Finding, error) {
		return []finding.Finding{{Check: "safety.emptydir", Severity: finding.SeverityBlock, Node: node, Message: "data"}}, nil
	}
	r, _ := newTestRunner(t, cs, &fakeDriver{client: cs}, gate)
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); !errors.Is(err, ErrBlocked) {
		t.Fatalf("err %v, want ErrBlocked", err)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	if n.Spec.Unschedulable || len(n.Annotations) != 0 {
		t.Errorf("blocked node touched: %+v", n.Annotations)
	}
	r.PartialOK = true
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil || res.Outcomes[len(res.Outcomes)-1].Result != "skipped" {
		t.Errorf("--partial-ok: err %v outcomes %+v", err, res.Outcomes)
	}
}

func TestRunRefusesOtherTargetInFlight(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.36.3", nil, false),
		liveNode("w-1", "v1.36.3", map[string]string{AnnotationPhase: "drained", AnnotationTarget: "v1.37"}, true))
	d := &fakeDriver{client: cs}
	r, _ := newTestRunner(t, cs, d, noFindings)
	_, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.38"))
	if !errors.Is(err, ErrTargetConflict) || !strings.Contains(err.Error(), "w-1") {
		t.Fatalf("err %v, want ErrTargetConflict naming w-1", err)
	}
	if len(d.calls) != 0 {
		t.Errorf("driver called: %v", d.calls)
	}
}

func TestNewRunnerValidatesAndDefaults(t *testing.T) {
	if _, err := NewRunner(&Runner{}); err == nil {
		t.Fatal("empty Runner accepted")
	}
	r, err := NewRunner(&Runner{Client: fake.NewClientset(), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, Gate: noFindings, Driver: &fakeDriver{}})
	if err != nil {
		t.Fatal(err)
	}
	if r.DrainTimeout != DefaultDrainTimeout || r.ReadyTimeout != DefaultReadyTimeout || r.MaxUnavailable != 1 {
		t.Errorf("defaults: %+v", r)
	}
}

func TestRetag(t *testing.T) {
	for in, want := range map[string]string{
		"registry.k8s.io/kube-apiserver:v1.36.3": "registry.k8s.io/kube-apiserver:v1.37.0",
		"localhost:5000/kube-scheduler":          "localhost:5000/kube-scheduler:v1.37.0",
		"k8s/x@sha256:abc":                       "k8s/x@sha256:abc",
	} {
		if got := retag(in, "v1.37.0"); got != want {
			t.Errorf("retag(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRunWorkersMaxUnavailableAtATime(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false),
		liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false), liveNode("w-3", "v1.36.3", nil, false))
	d := &fakeDriver{client: cs}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.MaxUnavailable = 2
	res, err := r.Run(context.Background(), plan("w-1", "w-2", "w-3"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var done int
	for _, o := range res.Outcomes {
		if o.Result == "done" {
			done++
		}
	}
	if done != 3 || len(d.calls) != 4 {
		t.Errorf("done %d, driver calls %v", done, d.calls)
	}
}

func TestRunWithoutTheLockChangesNothing(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.36.3", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	d := &fakeDriver{client: cs}
	r, _ := newTestRunner(t, cs, d, noFindings)
	r.Hold = func() error { return errors.New("lost the executor lock") }
	_, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "etcd backup") {
		t.Fatalf("err %v, want ErrStopped before the etcd backup", err)
	}
	// The etcd backup is a side effect too.
	if len(d.calls) != 0 {
		t.Errorf("driver calls %q, want none", d.calls)
	}
	for _, name := range []string{"cp-1", "w-1"} {
		if n, _ := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{}); n.Spec.Unschedulable || len(n.Annotations) != 0 {
			t.Errorf("%s touched: %+v", name, n.Annotations)
		}
	}
}

func TestCommandDriver(t *testing.T) {
	var out, errOut bytes.Buffer
	d := &CommandDriver{Command: `echo "$UPGATE_STAGE $UPGATE_NODE $UPGATE_TARGET"; echo oops >&2; [ "$UPGATE_NODE" != bad ]`, Out: &out, ErrOut: &errOut}
	ctx := context.WithValue(context.Background(), stageKey{}, StageWorkers)
	if err := d.Upgrade(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w-1"}}, "v1.37"); err != nil {
		t.Fatal(err)
	}
	if err := d.EtcdBackup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.UpgradeAddons(context.Background(), "v1.37"); err != nil {
		t.Fatal(err)
	}
	want := "[workers w-1] | workers w-1 v1.37\n[etcd-backup] | etcd-backup  \n[addons] | addons  v1.37\n"
	if out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if !strings.HasPrefix(errOut.String(), "[workers w-1] | oops\n") {
		t.Errorf("stderr %q", errOut.String())
	}
	if err := d.Upgrade(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bad"}}, "v1.37"); err == nil {
		t.Errorf("a non-zero exit did not fail the node")
	}
}

// slowDriver upgrades like fakeDriver after a pause, as a control-plane
// node's driver does while it restarts the API server.
type slowDriver struct {
	fakeDriver
	pause time.Duration
}

func (d *slowDriver) Upgrade(ctx context.Context, n *corev1.Node, target string) error {
	time.Sleep(d.pause)
	return d.fakeDriver.Upgrade(ctx, n, target)
}

// TestRunSlowDriverStillRecords: the grace for recording a node's steps
// counts from the run's stop, not from the node's first step. A driver
// longer than that grace (a control-plane node's, which restarts the API
// server) once left the node failed with "record upgraded failed: context
// deadline exceeded" though everything had worked.
func TestRunSlowDriverStillRecords(t *testing.T) {
	defer func(g time.Duration) { detachedGrace = g }(detachedGrace)
	detachedGrace = 20 * time.Millisecond
	cs := fake.NewClientset(liveNode("cp-1", "v1.36.3", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	d := &slowDriver{fakeDriver: fakeDriver{client: cs}, pause: 10 * detachedGrace}
	r, out := newTestRunner(t, cs, d, noFindings)
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	for _, name := range []string{"cp-1", "w-1"} {
		n, _ := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if p := ReadProgress(n); p.Phase != PhaseDone || n.Spec.Unschedulable {
			t.Errorf("%s: phase %s, unschedulable %t; want done and schedulable\n%s", name, p.Phase, n.Spec.Unschedulable, out)
		}
	}
}

// TestDetachedOutlivesTheRunByItsGrace: a detached context lives while the
// run's does, then its grace, then ends; its cancel ends it at once.
func TestDetachedOutlivesTheRunByItsGrace(t *testing.T) {
	defer func(g time.Duration) { detachedGrace = g }(detachedGrace)
	detachedGrace = 50 * time.Millisecond
	run, stop := context.WithCancel(context.Background())
	d, cancel := detached(run)
	defer cancel()
	if _, ok := d.Deadline(); ok || d.Err() != nil {
		t.Fatalf("a detached context of a live run must have no deadline: err %v", d.Err())
	}
	stop()
	if d.Err() != nil {
		t.Fatalf("the grace did not begin when the run stopped: %v", d.Err())
	}
	<-d.Done()
	if !errors.Is(context.Cause(d), errDetachedGrace) {
		t.Errorf("ended by %v, want the grace", context.Cause(d))
	}
	d2, cancel2 := detached(context.Background())
	cancel2()
	if d2.Err() == nil {
		t.Errorf("cancel did not end a detached context")
	}
}

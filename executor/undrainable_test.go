package executor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// pdbCluster is a fake cluster whose API server supports the eviction
// API, with a ReplicaSet pod web-1 on w-1 covered by the PDB default/web.
// While refuse returns true every eviction gets the 429 a PDB allowing no
// disruption gives; otherwise an eviction deletes the pod, as the API
// server does. The fake ignores field selectors: pods are listed by node
// here, as the API server lists them.
type pdbCluster struct {
	cs        *fake.Clientset
	refuse    func() bool
	evictions atomic.Int32
	// onEvict runs at every eviction request (a test cancels the run there).
	onEvict func()
}

func newPDBCluster(t *testing.T, nodes ...*corev1.Node) *pdbCluster {
	t.Helper()
	objs := []runtime.Object{
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-web", Controller: ptr(true)}}},
			Spec:   corev1.PodSpec{NodeName: "w-1", Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		},
		&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0},
		},
	}
	for _, n := range nodes {
		objs = append(objs, n)
	}
	c := &pdbCluster{cs: fake.NewClientset(objs...), refuse: func() bool { return true }}
	c.cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1"}},
	}}
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	c.cs.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		c.evictions.Add(1)
		if c.onEvict != nil {
			c.onEvict()
		}
		ev := a.(clienttesting.CreateAction).GetObject().(*policyv1.Eviction)
		if c.refuse() {
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 1)
		}
		return true, nil, c.cs.Tracker().Delete(podsGVR, ev.Namespace, ev.Name)
	})
	c.cs.PrependReactor("list", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		l := a.(clienttesting.ListAction)
		node, ok := l.GetListRestrictions().Fields.RequiresExactMatch("spec.nodeName")
		if !ok {
			return false, nil, nil
		}
		obj, err := c.cs.Tracker().List(podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), l.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		all := obj.(*corev1.PodList)
		out := &corev1.PodList{}
		for _, p := range all.Items {
			if p.Spec.NodeName == node {
				out.Items = append(out.Items, p)
			}
		}
		return true, out, nil
	})
	return c
}

func ptr[T any](v T) *T { return &v }

func (c *pdbCluster) podExists(t *testing.T) bool {
	t.Helper()
	_, err := c.cs.CoreV1().Pods("default").Get(context.Background(), "web-1", metav1.GetOptions{})
	return err == nil
}

func getNode(t *testing.T, c *pdbCluster, name string) (*corev1.Node, Progress) {
	t.Helper()
	n, err := c.cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n, ReadProgress(n)
}

func outcomeOf(res *Result, node string) Outcome {
	var o Outcome
	for _, x := range res.Outcomes {
		if x.Node == node {
			o = x
		}
	}
	return o
}

func stepNames(o Outcome) string {
	var s []string
	for _, st := range o.Steps {
		s = append(s, st.Name+":"+st.Result)
	}
	return strings.Join(s, " ")
}

func newPDBRunner(t *testing.T, c *pdbCluster, d Driver, action DrainTimeoutAction) (*Runner, *bytes.Buffer) {
	t.Helper()
	r, out := newTestRunner(t, c.cs, d, noFindings)
	r.DrainTimeout = 50 * time.Millisecond
	r.OnDrainTimeout = action
	return r, out
}

// TestDrainTimeoutAbort: a PDB that never allows the eviction stops the
// run at w-1, left cordoned with phase failed and a reason naming the PDB;
// w-2 is not started and the pod is never deleted.
func TestDrainTimeoutAbort(t *testing.T) {
	c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	r, out := newPDBRunner(t, c, &fakeDriver{client: c.cs}, "")
	res, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrNodeFailed) {
		t.Fatalf("err %v, want ErrNodeFailed\n%s", err, out)
	}
	n, p := getNode(t, c, "w-1")
	if !n.Spec.Unschedulable || p.Phase != PhaseFailed || !p.CordonedByUs ||
		!strings.Contains(p.Reason, "drain timed out") || !strings.Contains(p.Reason, "PodDisruptionBudget default/web") {
		t.Errorf("w-1: unschedulable %t progress %+v", n.Spec.Unschedulable, p)
	}
	if _, p := getNode(t, c, "w-2"); p.Phase != PhaseNone {
		t.Errorf("w-2 started after w-1's drain timed out: %+v", p)
	}
	if !c.podExists(t) || c.evictions.Load() == 0 {
		t.Errorf("pod exists %t after %d eviction requests: it must be evicted, never deleted", c.podExists(t), c.evictions.Load())
	}
	if o := outcomeOf(res, "w-1"); o.Result != ResultFailed || stepNames(o) != "gate:ok cordon:ok drain:timed-out" {
		t.Errorf("w-1 outcome %s, steps %q", o.Result, stepNames(o))
	}
}

// TestDrainTimeoutQuarantine: w-1 stays cordoned, quarantined with its
// reason, and the run goes on to w-2; the run ends incomplete.
func TestDrainTimeoutQuarantine(t *testing.T) {
	c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &fakeDriver{client: c.cs}
	r, out := newPDBRunner(t, c, d, DrainTimeoutQuarantine)
	res, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "w-1 quarantined") {
		t.Fatalf("err %v, want ErrIncomplete naming w-1\n%s", err, out)
	}
	n, p := getNode(t, c, "w-1")
	if !n.Spec.Unschedulable || p.Phase != PhaseQuarantined || !p.CordonedByUs ||
		!strings.Contains(p.Reason, "quarantined") || !strings.Contains(p.Reason, "PodDisruptionBudget default/web") {
		t.Errorf("w-1: unschedulable %t progress %+v", n.Spec.Unschedulable, p)
	}
	if n, p := getNode(t, c, "w-2"); n.Spec.Unschedulable || p.Phase != PhaseDone {
		t.Errorf("w-2 not upgraded after w-1 was quarantined: %+v", p)
	}
	if o := outcomeOf(res, "w-1"); o.Result != ResultQuarantined || !strings.Contains(o.Reason, "stays cordoned") {
		t.Errorf("w-1 outcome %+v", o)
	}
	if !c.podExists(t) {
		t.Errorf("the pod was deleted")
	}
	if got := strings.Join(d.calls, " "); got != "backup workers/w-2" {
		t.Errorf("driver calls %q: a quarantined node must not be upgraded", got)
	}
	// The next run takes the quarantined node again from the start.
	c.refuse = func() bool { return false }
	if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("next run: %v\n%s", err, out)
	}
	if n, p := getNode(t, c, "w-1"); n.Spec.Unschedulable || p.Phase != PhaseDone || p.Reason != "" {
		t.Errorf("w-1 after the next run: unschedulable %t %+v", n.Spec.Unschedulable, p)
	}
}

// TestDrainTimeoutSkip: w-1 is uncordoned and skipped, w-2 goes, then w-1
// is tried once more; a retry that times out again leaves it uncordoned,
// skipped, and the run incomplete.
func TestDrainTimeoutSkip(t *testing.T) {
	c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &fakeDriver{client: c.cs}
	r, out := newPDBRunner(t, c, d, DrainTimeoutSkip)
	res, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("err %v, want ErrIncomplete\n%s", err, out)
	}
	n, p := getNode(t, c, "w-1")
	if n.Spec.Unschedulable || p.Phase != PhaseSkipped || p.CordonedByUs || !strings.Contains(p.Reason, "skipped again on its retry") {
		t.Errorf("w-1: unschedulable %t progress %+v", n.Spec.Unschedulable, p)
	}
	o := outcomeOf(res, "w-1")
	if o.Result != ResultSkipped || stepNames(o) != "gate:ok cordon:ok drain:timed-out gate:ok cordon:ok drain:timed-out" {
		t.Errorf("w-1 outcome %s, steps %q", o.Result, stepNames(o))
	}
	if w2 := outcomeOf(res, "w-2"); w2.Result != ResultDone || !o.Steps[3].Start.After(w2.Steps[len(w2.Steps)-1].Start) {
		t.Errorf("w-2 %s; w-1's retry must come after w-2", w2.Result)
	}
	if !c.podExists(t) {
		t.Errorf("the pod was deleted")
	}
}

// TestDrainTimeoutSkipRetrySucceeds: the PDB allows the eviction once w-2
// is upgraded (its pods moved); the retry after the others finishes w-1.
func TestDrainTimeoutSkipRetrySucceeds(t *testing.T) {
	c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &fakeDriver{client: c.cs}
	c.refuse = func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return !strings.Contains(strings.Join(d.calls, " "), "w-2")
	}
	r, out := newPDBRunner(t, c, d, DrainTimeoutSkip)
	res, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if got := strings.Join(d.calls, " "); got != "backup workers/w-2 workers/w-1" {
		t.Errorf("driver calls %q: w-1 goes after w-2", got)
	}
	if o := outcomeOf(res, "w-1"); o.Result != ResultDone || !strings.HasPrefix(stepNames(o), "gate:ok cordon:ok drain:timed-out gate:ok cordon:ok drain:ok upgrade:ok") {
		t.Errorf("w-1 outcome %s, steps %q", o.Result, stepNames(o))
	}
	if n, p := getNode(t, c, "w-1"); n.Spec.Unschedulable || p.Phase != PhaseDone || p.Reason != "" {
		t.Errorf("w-1: %+v", p)
	}
	if c.podExists(t) {
		t.Errorf("the pod was not evicted on the retry")
	}
}

// TestDrainTimeoutEtcdNodeAborts: skip and quarantine are for workers; an
// etcd node whose drain times out stops the run.
func TestDrainTimeoutEtcdNodeAborts(t *testing.T) {
	c := newPDBCluster(t, liveNode("w-1", "v1.36.3", nil, false))
	r, out := newPDBRunner(t, c, &fakeDriver{client: c.cs}, DrainTimeoutQuarantine)
	p := &Plan{Stages: []Stage{{Name: StageEtcd, Nodes: []PlannedNode{{Name: "w-1"}}}}}
	_, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrNodeFailed) {
		t.Fatalf("err %v, want ErrNodeFailed\n%s", err, out)
	}
	if _, p := getNode(t, c, "w-1"); p.Phase != PhaseFailed {
		t.Errorf("etcd node: %+v", p)
	}
}

// TestInterruptMidDrain: a run cancelled (SIGINT) while a PDB holds the
// drain stops there at once: the node stays cordoned at phase cordoned
// with a reason saying so, nothing else starts, the outcome and its steps
// say what happened, and the next run resumes the drain.
func TestInterruptMidDrain(t *testing.T) {
	c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &fakeDriver{client: c.cs}
	r, out := newPDBRunner(t, c, d, DrainTimeoutAbort)
	r.DrainTimeout = time.Minute
	ctx, cancel := context.WithCancelCause(context.Background())
	var once sync.Once
	c.onEvict = func() { once.Do(func() { cancel(errors.New("interrupt signal received")) }) }
	start := time.Now()
	res, err := r.Run(ctx, plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err %v, want ErrStopped\n%s", err, out)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the interrupted drain ran on for %s", time.Since(start))
	}
	n, p := getNode(t, c, "w-1")
	if !n.Spec.Unschedulable || p.Phase != PhaseCordoned || !p.CordonedByUs ||
		!strings.Contains(p.Reason, "interrupt signal received") || !strings.Contains(p.Reason, "drain") {
		t.Errorf("w-1: unschedulable %t progress %+v", n.Spec.Unschedulable, p)
	}
	if _, p := getNode(t, c, "w-2"); p.Phase != PhaseNone {
		t.Errorf("w-2 started after the interrupt: %+v", p)
	}
	o := outcomeOf(res, "w-1")
	if o.Result != ResultFailed || !strings.Contains(o.Reason, "interrupted") || stepNames(o) != "gate:ok cordon:ok drain:interrupted" {
		t.Errorf("w-1 outcome %s %q, steps %q", o.Result, o.Reason, stepNames(o))
	}
	pl := plan("w-1", "w-2")
	pl.TargetVersion = "v1.37"
	rec := NewRunRecord(RecordInput{Plan: pl, Result: res, Err: err})
	if rec.Verdict != RunStopped {
		t.Errorf("record verdict %s, want stopped", rec.Verdict)
	}
	got := map[string]string{}
	for _, nr := range rec.Nodes {
		got[nr.Name] = nr.Outcome
	}
	if got["w-1"] != OutcomeFailed || got["w-2"] != OutcomeNotStarted {
		t.Errorf("record outcomes %v", got)
	}

	// The next run resumes w-1 at its drain.
	c.onEvict, c.refuse = nil, func() bool { return false }
	if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	for _, name := range []string{"w-1", "w-2"} {
		if n, p := getNode(t, c, name); n.Spec.Unschedulable || p.Phase != PhaseDone {
			t.Errorf("%s after the resume: %+v", name, p)
		}
	}
}

// TestInterruptDuringUpgradeFinishesIt: the driver's upgrade in hand is
// not killed by the interrupt; the node is recorded upgraded and the run
// stops there.
func TestInterruptDuringUpgradeFinishesIt(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	ctx, cancel := context.WithCancelCause(context.Background())
	d := &cancellingDriver{fakeDriver: fakeDriver{client: cs}, cancel: func() { cancel(errors.New("terminated signal received")) }}
	r, out := newTestRunner(t, cs, d, noFindings)
	_, err := r.Run(ctx, plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err %v, want ErrStopped\n%s", err, out)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	p := ReadProgress(n)
	if p.Phase != PhaseUpgraded || n.Status.NodeInfo.KubeletVersion != "v1.37.0" || !strings.Contains(p.Reason, "terminated signal received") {
		t.Errorf("w-1: kubelet %s progress %+v", n.Status.NodeInfo.KubeletVersion, p)
	}
	if d.ctxErr != nil {
		t.Errorf("the driver's context was cancelled: %v", d.ctxErr)
	}
}

// cancellingDriver cancels the run while it upgrades a node, then checks
// that its own context is still alive.
type cancellingDriver struct {
	fakeDriver
	cancel func()
	ctxErr error
}

func (d *cancellingDriver) Upgrade(ctx context.Context, n *corev1.Node, target string) error {
	d.cancel()
	time.Sleep(10 * time.Millisecond)
	d.ctxErr = ctx.Err()
	return d.fakeDriver.Upgrade(ctx, n, target)
}

package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/finding"
)

// blockingDriver holds every node's upgrade until release is closed, then
// finishes it whatever its context says (a driver that ignores
// cancellation); with release nil it returns when its context is done.
type blockingDriver struct {
	client  *fake.Clientset
	entered chan string
	release chan struct{}

	mu     sync.Mutex
	addons int
}

func (d *blockingDriver) EtcdBackup(context.Context) error { return nil }

func (d *blockingDriver) UpgradeAddons(context.Context, string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addons++
	return nil
}

func (d *blockingDriver) Upgrade(ctx context.Context, n *corev1.Node, target string) error {
	d.entered <- n.Name
	if d.release == nil {
		<-ctx.Done()
		return context.Cause(ctx)
	}
	<-d.release
	bg := context.Background()
	node, err := d.client.CoreV1().Nodes().Get(bg, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	node.Status.NodeInfo.KubeletVersion = mustTargetNoT(target).Full()
	_, err = d.client.CoreV1().Nodes().UpdateStatus(bg, node, metav1.UpdateOptions{})
	return err
}

func (d *blockingDriver) addonCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addons
}

// assertStoppedInPlace checks that a node the run had in hand when the
// lock was lost was left as it was: cordoned, never marked upgraded or
// done, with a reason saying the lock was lost.
func assertStoppedInPlace(t *testing.T, cs *fake.Clientset, name string) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := ReadProgress(n)
	if !n.Spec.Unschedulable {
		t.Errorf("%s: uncordoned after the lock was lost", name)
	}
	if p.Phase != PhaseUpgrading {
		t.Errorf("%s: phase %q after the lock was lost mid-upgrade, want it left at upgrading", name, p.Phase)
	}
	if !strings.Contains(p.Reason, "lost the executor lock") || !strings.Contains(p.Reason, "upgate run --target v1.37") {
		t.Errorf("%s: reason %q does not say the lock was lost and how to resume", name, p.Reason)
	}
}

// A lease lost while two workers are in the driver: neither is marked
// upgraded or done nor uncordoned afterwards, even though the driver
// finishes, and the add-on stage does not run.
func TestRunLockLostMidNodeMakesNoFurtherChange(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false),
		liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &blockingDriver{client: cs, entered: make(chan string, 2), release: make(chan struct{})}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.MaxUnavailable = 2
	var lost atomic.Bool
	r.Hold = func() error {
		if lost.Load() {
			return errors.New("lost the executor lock (test)")
		}
		return nil
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		<-d.entered
		<-d.entered
		lost.Store(true)
		cancel(errors.New("lease lost (test)"))
		close(d.release)
	}()
	res, err := r.Run(ctx, plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err %v, want ErrStopped\n%s", err, out)
	}
	for _, name := range []string{"w-1", "w-2"} {
		assertStoppedInPlace(t, cs, name)
	}
	for _, o := range res.Outcomes {
		if o.Result == "done" && o.Node != "cp-1" {
			t.Errorf("%s reported done after the lock was lost", o.Node)
		}
	}
	if n := d.addonCalls(); n != 0 {
		t.Errorf("the add-on stage ran %d times after the lock was lost", n)
	}
}

// The same through the real Lock: the fake API server starts failing the
// Lease's renewals while the driver is at work; the Lock's context is
// cancelled, which stops the driver, and the run stops with ErrStopped
// wrapping ErrLockLost.
func TestLockLostCancelsTheRun(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	var failRenewals atomic.Bool
	cs.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failRenewals.Load() {
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	lock := &Lock{Client: cs, Identity: testHolder, timing: lockTiming{lease: time.Second, renew: 500 * time.Millisecond, retry: 100 * time.Millisecond}}
	if err := lock.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.Held(); err != nil || lock.Context().Err() != nil {
		t.Fatalf("fresh lock: Held %v, context %v", err, lock.Context().Err())
	}

	d := &blockingDriver{client: cs, entered: make(chan string, 1)}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.Hold, r.Holder = lock.Held, lock.Identity
	go func() {
		<-d.entered
		failRenewals.Store(true)
	}()
	start := time.Now()
	_, err := r.Run(lock.Context(), plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) || !errors.Is(err, ErrLockLost) {
		t.Fatalf("err %v, want ErrStopped wrapping ErrLockLost\n%s", err, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s to stop after the lease was lost", took)
	}
	if cause := context.Cause(lock.Context()); !errors.Is(cause, ErrLockLost) {
		t.Errorf("lock context cause %v, want ErrLockLost", cause)
	}
	assertStoppedInPlace(t, cs, "w-1")
	if d.addonCalls() != 0 {
		t.Errorf("the add-on stage ran after the lock was lost")
	}
}

// evictable is a pod the drain evicts: controlled by a ReplicaSet.
func evictable(name, node string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: &yes}}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// withEvictions makes the fake API server serve the eviction API: an
// eviction deletes the pod, as a PDB allowing it would.
func withEvictions(cs *fake.Clientset) {
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1"}},
	}}
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		return true, nil, cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace(), ev.Name)
	})
}

// A resumed run trusts no annotation: each case is a node whose record
// says one thing while the node says another.
func TestRunResumeChecksTheRealState(t *testing.T) {
	inflight := func(phase Phase, extra ...string) map[string]string {
		m := map[string]string{AnnotationTarget: "v1.37", AnnotationPhase: string(phase), AnnotationCordonedBy: CordonedByUpgate, AnnotationHolder: "earlier-run"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name          string
		ann           map[string]string
		kubelet       string
		unschedulable bool
		// wantUpgrade: the driver is called for w-1, after the gate, with
		// the node cordoned and drained.
		wantUpgrade bool
		// wantCordoned: w-1 is still cordoned after the run.
		wantCordoned bool
	}{
		{name: "drained, then uncordoned by someone: gate, cordon, drain again",
			ann: inflight(PhaseDrained), kubelet: "v1.36.3", wantUpgrade: true},
		{name: "upgrading, still under upgate's cordon: resumed and uncordoned",
			ann: inflight(PhaseUpgrading), kubelet: "v1.36.3", unschedulable: true, wantUpgrade: true},
		{name: "forged done on an old kubelet: upgraded again",
			ann: map[string]string{AnnotationTarget: "v1.37", AnnotationPhase: "done"}, kubelet: "v1.36.3", wantUpgrade: true},
		{name: "stale cordoned-by=upgate from the last upgrade on a node an admin cordoned: left cordoned",
			ann:     map[string]string{AnnotationTarget: "v1.36", AnnotationPhase: "done", AnnotationCordonedBy: CordonedByUpgate, AnnotationHolder: "earlier-run"},
			kubelet: "v1.36.3", unschedulable: true, wantUpgrade: true, wantCordoned: true},
		{name: "cordoned-by=upgate with no phase on a cordoned node: left cordoned",
			ann: map[string]string{AnnotationCordonedBy: CordonedByUpgate}, kubelet: "v1.36.3", unschedulable: true, wantUpgrade: true, wantCordoned: true},
		{name: "in flight with no holder recorded: its cordon is not trusted",
			ann: inflight(PhaseUpgrading, AnnotationHolder, ""), kubelet: "v1.36.3", unschedulable: true, wantUpgrade: true, wantCordoned: true},
		{name: "stale was-cordoned from the last upgrade on a schedulable node: uncordoned at the end",
			ann: map[string]string{AnnotationTarget: "v1.36", AnnotationPhase: "done", AnnotationWasCordoned: "true"}, kubelet: "v1.36.3", wantUpgrade: true},
		{name: "upgraded: the driver finished; wait Ready, uncordon, done",
			ann: inflight(PhaseUpgraded), kubelet: "v1.37.0", unschedulable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := liveNode("w-1", tt.kubelet, tt.ann, tt.unschedulable)
			if tt.ann[AnnotationHolder] == "" {
				delete(n.Annotations, AnnotationHolder)
			}
			cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), n, evictable("app", "w-1"))
			withEvictions(cs)
			d := &fakeDriver{client: cs}
			var mu sync.Mutex
			var gated []string
			gate := func(_ context.Context, node string) ([]finding.Finding, error) {
				mu.Lock()
				defer mu.Unlock()
				gated = append(gated, node)
				return nil, nil
			}
			r, out := newTestRunner(t, cs, d, gate)
			r.DrainTimeout = 5 * time.Second
			if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			upgraded := strings.Contains(strings.Join(d.calls, " "), "workers/w-1")
			if upgraded != tt.wantUpgrade {
				t.Errorf("driver called for w-1: %t, want %t (calls %v)\n%s", upgraded, tt.wantUpgrade, d.calls, out)
			}
			if tt.wantUpgrade {
				if len(gated) == 0 || gated[0] != "w-1" {
					t.Errorf("gate calls %v, want w-1 gated before the driver", gated)
				}
				if got := d.seen["w-1"]; got != "unschedulable=true pods=0" {
					t.Errorf("w-1 when the driver was called: %s, want cordoned and drained", got)
				}
			}
			got, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
			p := ReadProgress(got)
			if got.Spec.Unschedulable != tt.wantCordoned {
				t.Errorf("w-1 unschedulable %t after the run, want %t\n%s", got.Spec.Unschedulable, tt.wantCordoned, out)
			}
			if p.Phase != PhaseDone || p.Target != "v1.37" || !mustTarget(t, "v1.37").Reached(got.Status.NodeInfo.KubeletVersion) {
				t.Errorf("w-1 after the run: phase %s target %s kubelet %s", p.Phase, p.Target, got.Status.NodeInfo.KubeletVersion)
			}
			// Done leaves no cordon record for the next upgrade to inherit.
			if p.CordonedByUs || p.WasCordoned || p.Reason != "" {
				t.Errorf("w-1 done with a cordon record left: %+v", p)
			}
		})
	}
}

// runDriver calls Upgrade in the background and returns its result, or
// an error after limit.
func runDriver(ctx context.Context, d *CommandDriver, limit time.Duration) (error, time.Duration, bool) {
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- d.Upgrade(context.WithValue(ctx, stageKey{}, StageWorkers), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w-1"}}, "v1.37")
	}()
	select {
	case err := <-done:
		return err, time.Since(start), true
	case <-time.After(limit):
		return nil, limit, false
	}
}

// processGone reports whether pid has exited (a zombie waiting to be
// reaped counts as gone).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

func waitGone(pid int, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if processGone(pid) {
			return true
		}
	}
	return processGone(pid)
}

// A command driver's script and the children it started die with the call.
func TestCommandDriverEndsItsChildren(t *testing.T) {
	tests := []struct {
		name    string
		script  string // %s is the file the child's pid goes to
		cancel  bool
		wantErr bool
	}{
		{name: "cancelled while waiting for a child",
			script: `sleep 1000 & echo $! > %s; wait`, cancel: true, wantErr: true},
		{name: "cancelled, the child ignores SIGTERM: SIGKILL after the grace",
			script: `(trap '' TERM; exec sleep 1000) & echo $! > %s; wait`, cancel: true, wantErr: true},
		{name: "exits 0 leaving a child behind",
			script: `sleep 1000 >/dev/null 2>&1 & echo $! > %s; exit 0`},
		{name: "exits 0 leaving a child that holds its output",
			script: `sleep 1000 & echo $! > %s; exit 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			var out bytes.Buffer
			d := &CommandDriver{Command: fmt.Sprintf(tt.script, pidFile), Out: &out, ErrOut: &out, KillGrace: 500 * time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
						if b, _ := os.ReadFile(pidFile); len(bytes.TrimSpace(b)) > 0 {
							break
						}
					}
					cancel()
				}()
			}
			err, took, returned := runDriver(ctx, d, 8*time.Second)
			b, _ := os.ReadFile(pidFile)
			pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
			if perr != nil {
				t.Fatalf("no child pid written (%v); output %q", perr, out.String())
			}
			defer syscall.Kill(pid, syscall.SIGKILL) // a failing test leaves no sleep behind
			if !returned {
				t.Fatalf("Upgrade still running %s after it should have stopped", took)
			}
			if took > 4*time.Second {
				t.Errorf("Upgrade returned after %s, want within a couple of seconds", took)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err %v, want error %t", err, tt.wantErr)
			}
			if !waitGone(pid, time.Second) {
				t.Errorf("child %d still running after Upgrade returned", pid)
			}
		})
	}
}

// --driver-timeout bounds a hanging driver: the node fails, stays
// cordoned with the reason, and the run returns.
func TestRunDriverTimeoutBoundsAHangingScript(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	var drv bytes.Buffer
	d := &CommandDriver{Command: `[ -z "$UPGATE_NODE" ] && exit 0; sleep 1000`, Out: &drv, ErrOut: &drv, KillGrace: 500 * time.Millisecond}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.DriverTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrNodeFailed) || !strings.Contains(err.Error(), "driver timeout (300ms)") {
		t.Fatalf("err %v, want ErrNodeFailed naming the driver timeout\n%s", err, out)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run took %s with a 300ms driver timeout", took)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	p := ReadProgress(n)
	if !n.Spec.Unschedulable || p.Phase != PhaseFailed || !strings.Contains(p.Reason, "driver timeout") {
		t.Errorf("w-1 after the timeout: unschedulable %t, progress %+v", n.Spec.Unschedulable, p)
	}
}

// TestStolenLeaseStopsTheRunAtOnce: once the Lease names another holder,
// the run's context is cancelled at the next renewal attempt, not after
// the renew deadline that client-go's election would otherwise wait out
// (45s by default: an executor must not act that long beside another).
func TestStolenLeaseStopsTheRunAtOnce(t *testing.T) {
	cs := fake.NewClientset()
	// The fake keeps no resource versions: refuse our renewals once the
	// lease is stolen, as a real API server's conflict on the stale
	// resourceVersion does.
	var stolen atomic.Bool
	cs.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l, ok := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if stolen.Load() && ok && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == testHolder {
			return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), l.Name, errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	lock := &Lock{Client: cs, Identity: testHolder, timing: lockTiming{lease: time.Minute, renew: 45 * time.Second, retry: 50 * time.Millisecond}}
	if err := lock.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	leases := cs.CoordinationV1().Leases(DefaultLockNamespace)
	l, err := leases.Get(context.Background(), DefaultLockName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	thief, now := "thief", metav1.NewMicroTime(time.Now())
	l.Spec.HolderIdentity, l.Spec.RenewTime, l.Spec.AcquireTime = &thief, &now, &now
	stolen.Store(true)
	if _, err := leases.Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lock.Context().Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the run went on 20s after its Lease named another holder (renew deadline 45s)")
	}
	if !errors.Is(lock.Held(), ErrLockLost) || !errors.Is(context.Cause(lock.Context()), ErrLockLost) {
		t.Errorf("Held %v, cause %v; want ErrLockLost", lock.Held(), context.Cause(lock.Context()))
	}
}

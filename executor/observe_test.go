package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/finding"
)

// newClusterNodes is a fake cluster of schedulable, Ready nodes at v1.36.3.
func newClusterNodes(names ...string) *fake.Clientset {
	var objs []runtime.Object
	for _, n := range names {
		objs = append(objs, liveNode(n, "v1.36.3", nil, false))
	}
	return fake.NewClientset(objs...)
}

// recObserver records what a run tells its Observer.
type recObserver struct {
	mu       sync.Mutex
	counts   []map[NodeState]int
	atStage  []string // the stage told last, at each of counts
	stages   []string
	steps    map[string][]string // step -> results, in order
	progress []time.Time
	pausing  map[string]int // pauses under way by reason
	paused   map[string]int // pauses begun by reason
}

func newRecObserver() *recObserver {
	return &recObserver{steps: map[string][]string{}, pausing: map[string]int{}, paused: map[string]int{}}
}

func (o *recObserver) Nodes(c map[NodeState]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts = append(o.counts, c)
	stage := ""
	if len(o.stages) > 0 {
		stage = o.stages[len(o.stages)-1]
	}
	o.atStage = append(o.atStage, stage)
}

func (o *recObserver) Stage(hop string, stage StageName, target string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := hop + " " + string(stage) + " " + target
	if len(o.stages) == 0 || o.stages[len(o.stages)-1] != s {
		o.stages = append(o.stages, s)
	}
}

func (o *recObserver) Step(step, result string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.steps[step] = append(o.steps[step], result)
}

func (o *recObserver) Progress(t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.progress = append(o.progress, t)
}

func (o *recObserver) Paused(reason string, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if on {
		o.pausing[reason]++
		o.paused[reason]++
	} else {
		o.pausing[reason]--
	}
}

// fmtCounts writes counts in NodeStates order, zeros left out.
func fmtCounts(c map[NodeState]int) string {
	var parts []string
	for _, s := range NodeStates {
		if _, ok := c[s]; !ok {
			parts = append(parts, string(s)+"=MISSING")
		}
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", s, c[s]))
		}
	}
	return strings.Join(parts, " ")
}

func (o *recObserver) first() string { return fmtCounts(o.counts[0]) }
func (o *recObserver) last() string  { return fmtCounts(o.counts[len(o.counts)-1]) }

// seenCounts reports whether the counts were ever want.
func (o *recObserver) seenCounts(want string) bool {
	for _, c := range o.counts {
		if fmtCounts(c) == want {
			return true
		}
	}
	return false
}

func TestRolloutState(t *testing.T) {
	final := mustTarget(t, "v1.37")
	for _, tt := range []struct {
		name    string
		kubelet string
		ann     map[string]string
		want    NodeState
	}{
		{"not started", "v1.36.3", nil, NodePending},
		{"already at the target, never touched", "v1.37.1", nil, NodeDone},
		{"done at the target", "v1.37.0", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.37"}, NodeDone},
		{"done at an intermediate hop: its next hop is to come", "v1.36.4", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.36.4"}, NodePending},
		{"a forged done on an old kubelet", "v1.36.3", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.37"}, NodePending},
		{"gated", "v1.36.3", map[string]string{AnnotationPhase: "gated"}, NodeInProgress},
		{"cordoned", "v1.36.3", map[string]string{AnnotationPhase: "cordoned"}, NodeInProgress},
		{"drained", "v1.36.3", map[string]string{AnnotationPhase: "drained"}, NodeInProgress},
		{"upgrading", "v1.36.3", map[string]string{AnnotationPhase: "upgrading"}, NodeInProgress},
		{"upgraded, not yet Ready", "v1.37.0", map[string]string{AnnotationPhase: "upgraded"}, NodeInProgress},
		{"failed", "v1.36.3", map[string]string{AnnotationPhase: "failed"}, NodeFailed},
		{"quarantined", "v1.36.3", map[string]string{AnnotationPhase: "quarantined"}, NodeQuarantined},
		{"skipped after its drain timed out", "v1.36.3", map[string]string{AnnotationPhase: "skipped"}, NodeSkipped},
	} {
		if got := RolloutState(liveNode("n", tt.kubelet, tt.ann, false), final); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestObserverThroughARun: the counts go from pending through in progress
// to done; every step of every node is observed; the stages are told in
// order with the hop and the target; progress moves at each step.
func TestObserverThroughARun(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1", "w-2")
	r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, noFindings)
	r.Validate = noFindings
	obs := newRecObserver()
	r.Observer = obs
	if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if got := obs.first(); got != "pending=3" {
		t.Errorf("at the start: %s, want pending=3", got)
	}
	for _, want := range []string{"pending=2 in-progress=1", "in-progress=1 done=2", "done=3"} {
		if !obs.seenCounts(want) {
			t.Errorf("the counts were never %s: %v", want, obs.counts)
		}
	}
	if got := obs.last(); got != "done=3" {
		t.Errorf("at the end: %s, want done=3", got)
	}
	for _, step := range []string{StepGate, StepCordon, StepDrain, StepUpgrade, StepReady, StepUncordon, StepValidate} {
		if got := obs.steps[step]; len(got) != 3 || slices.ContainsFunc(got, func(r string) bool { return r != StepOK }) {
			t.Errorf("step %s observed %v, want ok for each of the 3 nodes", step, got)
		}
	}
	want := []string{"v1.37 etcd-backup v1.37", "v1.37 etcd v1.37", "v1.37 cloud-controller-manager v1.37", "v1.37 workers v1.37", "v1.37 addons v1.37"}
	if !slices.Equal(obs.stages, want) {
		t.Errorf("stages %q, want %q", obs.stages, want)
	}
	// The start, 7 steps of 3 nodes, the backup, the control plane, the
	// CCM stage.
	if len(obs.progress) < 1+7*3 {
		t.Errorf("progress told %d times, want at least %d", len(obs.progress), 1+7*3)
	}
	if len(obs.paused) != 0 {
		t.Errorf("paused %v in a run whose gates never blocked", obs.paused)
	}
}

// TestObserverCountsWhatEarlierRunsDid: a run started again counts, before
// it touches anything, the nodes an earlier run left done and failed.
func TestObserverCountsWhatEarlierRunsDid(t *testing.T) {
	cs := newClusterNodes("cp-1")
	for _, n := range []struct {
		name, kubelet string
		ann           map[string]string
		cordoned      bool
	}{
		{"w-1", "v1.37.0", map[string]string{AnnotationPhase: "done", AnnotationTarget: "v1.37", AnnotationHolder: "earlier"}, false},
		{"w-2", "v1.36.3", map[string]string{AnnotationPhase: "failed", AnnotationTarget: "v1.37", AnnotationCordonedBy: "upgate", AnnotationHolder: "earlier", AnnotationReason: "driver upgrade failed"}, true},
		{"w-3", "v1.36.3", map[string]string{AnnotationPhase: "quarantined", AnnotationTarget: "v1.37", AnnotationCordonedBy: "upgate", AnnotationHolder: "earlier"}, true},
	} {
		if _, err := cs.CoreV1().Nodes().Create(context.Background(), liveNode(n.name, n.kubelet, n.ann, n.cordoned), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d := &fakeDriver{client: cs, failFor: "cp-1"}
	r, out := newTestRunner(t, cs, d, noFindings)
	obs := newRecObserver()
	r.Observer = obs
	if _, err := r.Run(context.Background(), plan("w-1", "w-2", "w-3"), mustTarget(t, "v1.37")); !errors.Is(err, ErrNodeFailed) {
		t.Fatalf("err %v, want ErrNodeFailed at cp-1\n%s", err, out)
	}
	if got, want := obs.first(), "pending=1 done=1 failed=1 quarantined=1"; got != want {
		t.Errorf("at the start: %s, want %s (what the earlier run left)", got, want)
	}
	// The resumed nodes go first (w-2, w-3: in flight), then cp-1 fails.
	if got, want := obs.last(), "done=3 failed=1"; got != want {
		t.Errorf("at the end: %s, want %s", got, want)
	}
}

// TestObserverFailedSkippedAndQuarantined: the states a run leaves nodes
// in when they do not go through.
func TestObserverFailedSkippedAndQuarantined(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		cs := newClusterNodes("cp-1", "w-1", "w-2")
		r, out := newTestRunner(t, cs, &fakeDriver{client: cs, failFor: "w-1"}, noFindings)
		obs := newRecObserver()
		r.Observer = obs
		if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); !errors.Is(err, ErrNodeFailed) {
			t.Fatalf("err %v, want ErrNodeFailed\n%s", err, out)
		}
		if got, want := obs.last(), "pending=1 done=1 failed=1"; got != want {
			t.Errorf("%s, want %s", got, want)
		}
		if got := obs.steps[StepUpgrade]; !slices.Contains(got, StepFailed) {
			t.Errorf("upgrade results %v: the failed one is observed too", got)
		}
	})
	t.Run("quarantined", func(t *testing.T) {
		c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
		r, out := newPDBRunner(t, c, &fakeDriver{client: c.cs}, DrainTimeoutQuarantine)
		obs := newRecObserver()
		r.Observer = obs
		if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("err %v, want ErrIncomplete\n%s", err, out)
		}
		if got, want := obs.last(), "done=2 quarantined=1"; got != want {
			t.Errorf("%s, want %s", got, want)
		}
		if got := obs.steps[StepDrain]; !slices.Contains(got, StepTimedOut) {
			t.Errorf("drain results %v: the timed-out one is observed", got)
		}
	})
	t.Run("skipped after its drain timed out", func(t *testing.T) {
		c := newPDBCluster(t, liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
		r, out := newPDBRunner(t, c, &fakeDriver{client: c.cs}, DrainTimeoutSkip)
		obs := newRecObserver()
		r.Observer = obs
		if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("err %v, want ErrIncomplete\n%s", err, out)
		}
		if got, want := obs.last(), "done=2 skipped=1"; got != want {
			t.Errorf("%s, want %s", got, want)
		}
	})
	t.Run("skipped by --partial-ok", func(t *testing.T) {
		cs := newClusterNodes("cp-1", "w-1", "w-2")
		gate := func(_ context.Context, node string) ([]finding.Finding, error) {
			if node == "w-1" {
				return []finding.Finding{{Check: "safety.emptydir", Severity: finding.SeverityBlock, Node: node, Message: "data"}}, nil
			}
			return nil, nil
		}
		r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, gate)
		r.PartialOK = true
		obs := newRecObserver()
		r.Observer = obs
		if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		if got, want := obs.last(), "done=2 skipped=1"; got != want {
			t.Errorf("%s, want %s", got, want)
		}
		if got := obs.steps[StepGate]; !slices.Contains(got, StepBlocked) {
			t.Errorf("gate results %v: the blocked one is observed", got)
		}
	})
}

// TestObserverGatePause: while a node's gate blocks and the run looks
// again within GateWait, the run is paused for its gate; the pause ends.
func TestObserverGatePause(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1")
	var mu sync.Mutex
	calls := 0
	gate := func(_ context.Context, node string) ([]finding.Finding, error) {
		mu.Lock()
		defer mu.Unlock()
		if node != "w-1" {
			return nil, nil
		}
		if calls++; calls < 3 {
			return []finding.Finding{{Check: "safety.pdb-blocks-drain", Severity: finding.SeverityBlock, Node: node, Message: "catching up"}}, nil
		}
		return nil, nil
	}
	r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, gate)
	r.GateWait = time.Minute
	obs := newRecObserver()
	r.Observer = obs
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if obs.paused[PauseGate] != 1 || obs.pausing[PauseGate] != 0 {
		t.Errorf("gate pauses begun %d, under way at the end %d; want 1 and 0", obs.paused[PauseGate], obs.pausing[PauseGate])
	}
	if obs.last() != "done=2" {
		t.Errorf("at the end: %s", obs.last())
	}
}

// TestObserverTwoHops: the hop label follows the run; a node done at the
// intermediate hop counts as pending (its next hop is to come), not done;
// every node is done at the end.
func TestObserverTwoHops(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1", "cp-2"}, []string{"w-1", "w-2"}, "v1.35.2", nil)
	p := c.plan(t, "v1.35.2", "v1.37", PlanOptions{})
	r, out := hopRunner(t, c, newRecordingDriver(c))
	obs := newRecObserver()
	r.Observer = obs
	if _, err := r.Run(context.Background(), p, mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if got := obs.first(); got != "pending=4" {
		t.Errorf("at the start: %s, want pending=4", got)
	}
	// cp-1 in flight in hop 1, then back to pending once done at v1.36.6.
	inFlight := slices.IndexFunc(obs.counts, func(c map[NodeState]int) bool { return fmtCounts(c) == "pending=3 in-progress=1" })
	backToPending := inFlight >= 0 && slices.ContainsFunc(obs.counts[inFlight:], func(c map[NodeState]int) bool { return fmtCounts(c) == "pending=4" })
	if !backToPending {
		t.Errorf("no node went in flight and back to pending in hop 1: %v", obs.counts)
	}
	for i, c := range obs.counts {
		if c[NodeDone] > 0 && !strings.HasPrefix(obs.atStage[i], "v1.37 ") {
			t.Errorf("a node counted done in %q, before hop 2: %v", obs.atStage[i], c)
		}
	}
	if got := obs.last(); got != "done=4" {
		t.Errorf("at the end: %s, want done=4", got)
	}
	for _, want := range []string{"v1.36.6 control-plane v1.37", "v1.37 control-plane v1.37", "v1.37 workers v1.37"} {
		if !slices.Contains(obs.stages, want) {
			t.Errorf("stages %q lack %q", obs.stages, want)
		}
	}
}

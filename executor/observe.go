package executor

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/upgate-dev/upgate/kubever"
)

// NodeState is where a node of the plan stands in the rollout, as the
// rollout metrics count it (upgate_rollout_nodes{state}). It is read from
// the node itself, its upgate.dev/phase and its kubelet, against the run's
// final target: a run started again (after a crash, or as a retried Job)
// counts what an earlier run did.
type NodeState string

const (
	// NodePending: not yet at the run's target and not in flight; a node
	// done at an intermediate hop is pending until its next hop.
	NodePending NodeState = "pending"
	// NodeInProgress: in flight (gated, cordoned, drained, upgrading,
	// upgraded).
	NodeInProgress NodeState = "in-progress"
	// NodeDone: its kubelet is at (or past) the run's target, upgraded by
	// this run, an earlier one, or before any.
	NodeDone NodeState = "done"
	// NodeSkipped: its drain timed out and it was uncordoned and skipped
	// (upgate.dev/phase=skipped), or --partial-ok skipped it in this run
	// (which writes nothing to the node: a new run gates it again).
	NodeSkipped NodeState = "skipped"
	// NodeFailed: upgate.dev/phase=failed; upgate.dev/reason says why.
	NodeFailed NodeState = "failed"
	// NodeQuarantined: upgate.dev/phase=quarantined, left cordoned.
	NodeQuarantined NodeState = "quarantined"
)

// NodeStates are the states in the order the metrics list them.
var NodeStates = []NodeState{NodePending, NodeInProgress, NodeDone, NodeSkipped, NodeFailed, NodeQuarantined}

// Reasons a run pauses (upgate_rollout_paused{reason}). Window belongs to
// the maintenance windows, which are later work, and stays 0 until then.
const (
	// PauseAlert: Runner.AlertGate names firing alerts (or cannot read
	// its source) before a stage or a node, and the run looks again,
	// within AlertWait.
	PauseAlert  = "alert"
	PauseWindow = "window"
	// PauseGate: a node's gate blocks and the run looks again, within
	// GateWait; or the cloud-controller-manager check still fires and
	// the workers wait, within CloudControllerTimeout.
	PauseGate = "gate"
	// PauseQuery: Runner.QueryGate names queries that do not pass
	// before a node or after one's validation, and the run looks again,
	// within QueryWait.
	PauseQuery = "query"
)

// PauseReasons are every reason, in the order the metrics list them.
var PauseReasons = []string{PauseAlert, PauseWindow, PauseGate, PauseQuery}

// Observer is told what a run does while it does it: the seam between the
// Runner and the rollout metrics (package rolloutmetrics). Its methods are
// called from the run's goroutines (workers run in parallel) and must not
// block; none of them can fail the run.
type Observer interface {
	// Nodes gives how many of the plan's nodes are in each state (every
	// state present, zeros included): at the start of the run and of
	// each hop, read from the cluster, and after each change the run
	// makes to a node's upgate.dev annotations, from the node the API
	// server returned.
	Nodes(counts map[NodeState]int)
	// Stage says the run entered a stage of the hop to hop (its version)
	// on its way to target.
	Stage(hop string, stage StageName, target string)
	// Step says a node step (StepGate ... StepValidate) ended after d,
	// however it ended (result is one of the Step* results).
	Step(step, result string, d time.Duration)
	// Progress says the run moved at t: it started, a node step
	// completed, or a stage finished.
	Progress(t time.Time)
	// Paused says the run began (on) or ended (off) a pause for reason,
	// one of PauseReasons. Pauses overlap when workers wait in parallel:
	// each begin has its end.
	Paused(reason string, on bool)
}

// RolloutState is the state of node n in a rollout to final: see
// NodeState.
func RolloutState(n *corev1.Node, final Target) NodeState {
	switch p := ReadProgress(n); p.Phase {
	case PhaseFailed:
		return NodeFailed
	case PhaseQuarantined:
		return NodeQuarantined
	case PhaseSkipped:
		return NodeSkipped
	case PhaseNone, PhaseDone:
		// done is a verified state (Decide): the kubelet decides, so a
		// node done at an intermediate hop is still pending.
		if k, err := kubever.Parse(n.Status.NodeInfo.KubeletVersion); err == nil && atOrPast(k, final) {
			return NodeDone
		}
		return NodePending
	default:
		return NodeInProgress
	}
}

// rollout keeps the state of each node of the plan for the Observer. It
// is filled from the cluster when the run starts and each hop starts, and
// updated from the node each annotation patch returns: the counts are the
// cluster's, never a tally of what this process did.
type rollout struct {
	obs   Observer
	final Target

	mu     sync.Mutex
	states map[string]NodeState
	// partialSkipped: workers --partial-ok skipped in this run, which is
	// recorded nowhere on the node.
	partialSkipped map[string]bool
}

// observe starts counting the plan's nodes for a run to final; it is a
// no-op without an Observer.
func (r *Runner) observe(nodes []string, live map[string]*corev1.Node, final Target) {
	if r.Observer == nil {
		r.rollout = nil
		return
	}
	ro := &rollout{obs: r.Observer, final: final, states: map[string]NodeState{}, partialSkipped: map[string]bool{}}
	for _, name := range nodes {
		ro.states[name] = NodePending
	}
	r.rollout = ro
	ro.seen(live)
	r.Observer.Progress(r.Now())
}

// seen takes the state of every node of the plan among nodes, and
// publishes the counts.
func (ro *rollout) seen(nodes map[string]*corev1.Node) {
	if ro == nil {
		return
	}
	ro.mu.Lock()
	defer ro.mu.Unlock()
	for name, n := range nodes {
		if _, ok := ro.states[name]; ok {
			ro.states[name] = ro.state(n)
		}
	}
	ro.publish()
}

// changed takes the state of one node as the API server returned it after
// a change.
func (ro *rollout) changed(n *corev1.Node) {
	if ro == nil || n == nil {
		return
	}
	ro.mu.Lock()
	defer ro.mu.Unlock()
	if _, ok := ro.states[n.Name]; !ok {
		return
	}
	if s := ro.state(n); s != ro.states[n.Name] {
		ro.states[n.Name] = s
		ro.publish()
	}
}

// skippedPartial marks a worker --partial-ok skipped.
func (ro *rollout) skippedPartial(name string) {
	if ro == nil {
		return
	}
	ro.mu.Lock()
	defer ro.mu.Unlock()
	if _, ok := ro.states[name]; !ok {
		return
	}
	ro.partialSkipped[name] = true
	if ro.states[name] == NodePending {
		ro.states[name] = NodeSkipped
		ro.publish()
	}
}

func (ro *rollout) state(n *corev1.Node) NodeState {
	s := RolloutState(n, ro.final)
	if s == NodePending && ro.partialSkipped[n.Name] {
		return NodeSkipped
	}
	return s
}

// publish gives the counts to the Observer; ro.mu is held, so counts
// published in parallel never arrive out of order.
func (ro *rollout) publish() {
	counts := make(map[NodeState]int, len(NodeStates))
	for _, s := range NodeStates {
		counts[s] = 0
	}
	for _, s := range ro.states {
		counts[s]++
	}
	ro.obs.Nodes(counts)
}

// enterStage tells the Observer the run entered stage of the hop to ht.
func (r *Runner) enterStage(ht Target, stage StageName) {
	if r.rollout != nil {
		r.rollout.obs.Stage(ht.Label, stage, r.rollout.final.Label)
	}
}

// progressed tells the Observer the run moved now.
func (r *Runner) progressed() {
	if r.rollout != nil {
		r.rollout.obs.Progress(r.Now())
	}
}

// pause tells the Observer a pause for reason began; the func it returns
// ends it (call it once).
func (r *Runner) pause(reason string) func() {
	if r.rollout == nil {
		return func() {}
	}
	obs := r.rollout.obs
	obs.Paused(reason, true)
	var once sync.Once
	return func() { once.Do(func() { obs.Paused(reason, false) }) }
}

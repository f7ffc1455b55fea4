package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// Driver upgrades one node's Kubernetes components (kubelet, and on a
// control-plane node its static pods) and backs up etcd. Upgrade must be
// idempotent: a resumed run calls it again for a node that was upgrading
// when the previous run stopped. StageOf(ctx) tells it the node's stage,
// HopOf(ctx) its hop; the target it gets is always the hop's version.
type Driver interface {
	EtcdBackup(ctx context.Context) error
	Upgrade(ctx context.Context, node *corev1.Node, target string) error
}

// AddonUpgrader is a Driver that also upgrades the cluster add-ons (the
// last stage, after every node). A driver without it leaves add-ons to
// the operator's own tooling, and the run says so.
type AddonUpgrader interface {
	UpgradeAddons(ctx context.Context, target string) error
}

// CloudControllerUpgrader is a Driver that also upgrades the
// cloud-controller-manager: once per hop, after the control plane reports
// the hop's version and before any worker of the hop, with the hop's
// version (the CCM moves before any node at the new version joins). Like
// Upgrade it must be idempotent: a resumed run may call it again. A driver
// without it leaves the CCM to the operator's tooling; the workers wait
// for it all the same (see Runner.CloudControllerGate).
type CloudControllerUpgrader interface {
	UpgradeCloudController(ctx context.Context, target string) error
}

// GateFunc evaluates the policies for one node and returns the blocking
// findings about it (and those about no node that block the whole run).
// HopOf(ctx) names the hop the node is in: judge the hop's version (To),
// the control plane the node meets now, not the run's final target.
type GateFunc func(ctx context.Context, node string) ([]finding.Finding, error)

// Errors Run returns, wrapped with the node and the reason.
var (
	// ErrBlocked: a node's gate (or validation) found blocking findings.
	ErrBlocked = errors.New("blocked")
	// ErrNodeFailed: a step failed on a node; it stays cordoned with
	// upgate.dev/phase=failed and upgate.dev/reason saying why.
	ErrNodeFailed = errors.New("node upgrade failed")
	// ErrTargetConflict: a node is in flight to another target.
	ErrTargetConflict = errors.New("another upgrade is in flight")
	// ErrStopped: the lock was lost or the run was cancelled; the run
	// stopped before its next change to the cluster. A node in hand keeps
	// its phase (and its cordon); the next run resumes it.
	ErrStopped = errors.New("run stopped")
	// ErrAddonsFailed: every node is done, but the driver could not
	// upgrade the add-ons.
	ErrAddonsFailed = errors.New("add-on upgrade failed")
	// ErrBackupFailed: a hop's etcd backup (upgate's own snapshot or the
	// driver's) failed; no node of the hop was touched.
	ErrBackupFailed = errors.New("etcd backup failed")
	// ErrControlPlaneBehind: a hop's nodes are done but the control plane
	// did not report the hop's version in time; the next hop did not start.
	ErrControlPlaneBehind = errors.New("control plane behind the hop")
	// ErrCloudControllerFailed: the driver could not upgrade the
	// cloud-controller-manager (or its pods could not be read); no worker
	// of the hop was touched.
	ErrCloudControllerFailed = errors.New("cloud-controller-manager stage failed")
)

// Defaults of the Runner's zero values.
const (
	DefaultDrainTimeout = 5 * time.Minute
	DefaultReadyTimeout = 5 * time.Minute
	DefaultPollInterval = 2 * time.Second
	DefaultCPTimeout    = 5 * time.Minute
	DefaultCCMTimeout   = 5 * time.Minute
	// DefaultDriverTimeout bounds one driver call: long enough for a
	// kubeadm upgrade of a control-plane node with its image pulls, short
	// enough that a hung driver does not keep a node cordoned, and the
	// lock held, for ever.
	DefaultDriverTimeout = 30 * time.Minute
)

// Runner runs a plan: per node, in stage order, gate, cordon, drain (the
// eviction API, PDBs respected), driver upgrade, wait Ready at the target,
// uncordon, validate. Progress is written to node annotations before each
// side effect (see AnnotationPhase). Build it with NewRunner.
type Runner struct {
	// Client talks to the cluster. Required.
	Client kubernetes.Interface
	// Out receives progress lines; ErrOut the drain's retry messages and
	// the driver's stderr. Required.
	Out, ErrOut io.Writer
	// Driver upgrades nodes. Required unless DryRun.
	Driver Driver
	// Snapshotter takes upgate's own etcd snapshot in each hop's
	// etcd-backup stage, before the driver's EtcdBackup; when it fails the
	// run stops before any node of the hop is touched. Nil: only the
	// driver backs etcd up.
	Snapshotter EtcdSnapshotter
	// Gate evaluates the policies for one node just before it is touched.
	// Required.
	Gate GateFunc
	// Validate checks a node after it is upgraded and uncordoned (postflight
	// checks for that node). Nil: Ready at the target is the only check.
	Validate GateFunc
	// Hold is consulted before every change the run makes to the cluster
	// (each annotation, cordon, drain, driver call, uncordon, the etcd
	// backup and the add-on stage); an error (the executor lock was lost)
	// stops the run there with ErrStopped. Run's ctx should be cancelled at
	// the same moment (Lock.Context), so that calls in flight stop too.
	// Nil: only ctx stops the run.
	Hold func() error
	// Holder is the executor lock's identity, recorded in
	// upgate.dev/holder on every node the run writes to. Zero means
	// unlocked@ and the hostname.
	Holder string

	// DrainTimeout bounds one node's drain, PDB retries included; when it
	// passes, OnDrainTimeout says what happens to the node. Zero means 5m.
	DrainTimeout time.Duration
	// OnDrainTimeout is what happens to a worker whose drain timed out:
	// abort (the zero value), skip or quarantine (see DrainTimeoutAction).
	// An etcd or control-plane node always aborts.
	OnDrainTimeout DrainTimeoutAction
	// ReadyTimeout bounds the wait for the node to be Ready with its
	// kubelet at the target after the driver. Zero means 5m.
	ReadyTimeout time.Duration
	// DriverTimeout bounds each driver call (a node's upgrade, the etcd
	// backup, the add-on stage); when it passes the call's context is
	// cancelled and the node fails. Zero means 30m.
	DriverTimeout time.Duration
	// GateWait is how long a node's blocking findings may take to clear
	// (a PDB's status catching up after the previous node's pods moved)
	// before the node counts as blocked. Zero means no wait.
	GateWait time.Duration
	// ControlPlaneTimeout bounds the wait, after a hop's control-plane
	// stage, for the control plane (the oldest kube-apiserver) to report
	// the hop's version; workers and the next hop wait for it. Zero means 5m.
	ControlPlaneTimeout time.Duration
	// CloudControllerGate evaluates, after a hop's cloud-controller-manager
	// stage and before its first worker, the findings that say the
	// cloud-controller-manager is not where the hop needs it: the CLI's
	// returns addon.ccm-behind-target judged against the hop's version
	// (HopOf(ctx).To), whatever its severity, unless ignored. While it
	// returns any, the run looks again every PollInterval for up to
	// CloudControllerTimeout, then stops with ErrBlocked naming them, no
	// worker of the hop touched; the next run resumes the hop. Nil: the
	// driver's own result is the only check.
	CloudControllerGate func(ctx context.Context) ([]finding.Finding, error)
	// CloudControllerTimeout bounds that wait. Zero means 5m.
	CloudControllerTimeout time.Duration
	// PollInterval is how often waits look again. Zero means 2s.
	PollInterval time.Duration
	// AlertGate, when set, is asked before each stage (the etcd backup,
	// the cloud-controller-manager, the add-ons) and before each node
	// (before its gate and cordon) which alerts fire. While it names any,
	// or returns an error (the alert source cannot be read: it fails
	// closed), the run pauses (PauseAlert) and looks again every
	// PollInterval for up to AlertWait, then stops with ErrAlertsFiring
	// (an ErrBlocked) naming them, before it touches anything of that
	// node or stage; the next run resumes there. A node the driver has
	// already upgraded is not held: waiting for it to be Ready and
	// uncordoning it only lessen the disruption. Nil: no alert gate.
	AlertGate AlertGateFunc
	// AlertWait is how long the run stays paused for alerts before it
	// stops. Zero means it stops at the first blocking look.
	AlertWait time.Duration
	// QueryGate, when set, is asked before each node (after AlertGate,
	// before the node's gate and cordon) and again after each node's
	// validation which queries (--gate-query) do not pass. While it
	// names any, the run pauses (PauseQuery) and looks again every
	// PollInterval for up to QueryWait, then stops with ErrQueryGate (an
	// ErrBlocked) naming them and their values; the next run resumes.
	// It is asked once more once every hop ran, before the run finishes
	// (RunEnd). Stages are not held by it. Nil: no query gate.
	QueryGate QueryGateFunc
	// QueryWait is how long the run stays paused for failing queries
	// before it stops. Zero means it stops at the first failing look.
	QueryWait time.Duration
	// MaxUnavailable is how many workers are upgraded at once (etcd and
	// control-plane nodes always go one at a time). Zero means 1.
	MaxUnavailable int
	// PartialOK skips workers whose gate blocks instead of stopping the run.
	PartialOK bool
	// DryRun prints what would be done to each node, changing nothing.
	DryRun bool
	// DeleteEmptyDirData lets the drain evict pods with emptyDir volumes
	// (their data is lost). Pods no controller would recreate are never
	// deleted: the drain refuses them and the node fails.
	DeleteEmptyDirData bool
	// Now is the clock for annotations. Nil means time.Now.
	Now func() time.Time
	// Observer is told the run's node states, stages, steps, progress
	// and pauses, for the rollout metrics. Nil: nobody is.
	Observer Observer

	mu        sync.Mutex // serialises writes to Out and ErrOut
	eventWarn sync.Once  // one warning when Events cannot be created
	// rollout counts the node states for Observer during Run.
	rollout *rollout
	// pauses are the alert and query pauses of the run, for Result.Pauses.
	pausesMu sync.Mutex
	pauses   []PauseRecord
}

// NewRunner validates r and fills in its defaults.
func NewRunner(r *Runner) (*Runner, error) {
	var missing []string
	if r.Client == nil {
		missing = append(missing, "Client")
	}
	if r.Out == nil || r.ErrOut == nil {
		missing = append(missing, "Out and ErrOut")
	}
	if r.Gate == nil {
		missing = append(missing, "Gate")
	}
	if r.Driver == nil && !r.DryRun {
		missing = append(missing, "Driver")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("executor: Runner needs %s", strings.Join(missing, ", "))
	}
	if r.DrainTimeout < 0 || r.ReadyTimeout < 0 || r.DriverTimeout < 0 || r.GateWait < 0 || r.AlertWait < 0 || r.QueryWait < 0 || r.PollInterval < 0 || r.ControlPlaneTimeout < 0 || r.CloudControllerTimeout < 0 {
		return nil, errors.New("executor: timeouts must not be negative")
	}
	if r.MaxUnavailable < 0 {
		return nil, errors.New("executor: MaxUnavailable must not be negative")
	}
	a, err := ParseDrainTimeoutAction(string(r.OnDrainTimeout))
	if err != nil {
		return nil, fmt.Errorf("executor: OnDrainTimeout: %w", err)
	}
	r.OnDrainTimeout = a
	if r.DrainTimeout == 0 {
		r.DrainTimeout = DefaultDrainTimeout
	}
	if r.ReadyTimeout == 0 {
		r.ReadyTimeout = DefaultReadyTimeout
	}
	if r.DriverTimeout == 0 {
		r.DriverTimeout = DefaultDriverTimeout
	}
	if r.PollInterval == 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.ControlPlaneTimeout == 0 {
		r.ControlPlaneTimeout = DefaultCPTimeout
	}
	if r.CloudControllerTimeout == 0 {
		r.CloudControllerTimeout = DefaultCCMTimeout
	}
	if r.MaxUnavailable == 0 {
		r.MaxUnavailable = 1
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Holder == "" {
		// Without a holder no cordon would count as upgate's own (see
		// Progress.OwnsCordon), and no node would ever be uncordoned.
		host, _ := os.Hostname()
		r.Holder = "unlocked@" + host
	}
	return r, nil
}

// Outcome is what a run did to one node.
type Outcome struct {
	Node   string
	Hop    string // the version the hop upgrades to
	Stage  StageName
	Action Action
	Result string // one of the Result* constants
	Reason string
	// Steps are the steps taken on the node, in order, with their times.
	Steps []StepRecord
	// Findings are the blocking findings its gate (or validation) returned.
	Findings []finding.Finding

	// leftBehind: skipped or quarantined after a drain timeout.
	leftBehind bool
}

// Results of an Outcome.
const (
	ResultDone        = "done"
	ResultSkipped     = "skipped"
	ResultBlocked     = "blocked"
	ResultFailed      = "failed"
	ResultQuarantined = "quarantined"
	ResultNotStarted  = "not started"
)

// Result is what a run did, node by node, in the order it went, the
// stages about no node (the cloud-controller-manager's) and the etcd
// backups it took.
type Result struct {
	Outcomes []Outcome
	Stages   []StageRecord
	Backups  []Backup
	// BackupNote says why no backup is listed: neither upgate (no
	// Snapshotter) nor the driver took one.
	BackupNote string
	// Pauses are the run's alert and query pauses, in the order they ended.
	Pauses []PauseRecord
}

// step is one node in the order the run takes them.
type step struct {
	stage    StageName
	planned  PlannedNode
	decision Decision
	// runTarget is the run's final target, recorded beside the hop's.
	runTarget string
	// log collects the node's steps for the run record.
	log *nodeLog
	// retry: the second try of a worker skipped after a drain timeout.
	retry bool
}

type stageKey struct{}

// StageOf returns the stage of the node a Driver is called for.
func StageOf(ctx context.Context) StageName {
	s, _ := ctx.Value(stageKey{}).(StageName)
	return s
}

// Order lists the plan's nodes in the order a run takes them: nodes in
// flight first (they are already disrupted), then by stage and plan order.
// A node appears once, in its earliest stage.
func Order(p *Plan, decisions map[string]Decision) []step {
	return orderStages(p.Stages, decisions)
}

// orderStages is Order for one hop's stages.
func orderStages(stages []Stage, decisions map[string]Decision) []step {
	var inflight, rest []step
	seen := map[string]bool{}
	for _, st := range stages {
		for _, n := range st.Nodes {
			if seen[n.Name] {
				continue
			}
			seen[n.Name] = true
			s := step{stage: st.Name, planned: n, decision: decisions[n.Name]}
			if s.decision.Action == ActionResume {
				inflight = append(inflight, s)
			} else {
				rest = append(rest, s)
			}
		}
	}
	return append(inflight, rest...)
}

// Run executes the plan to target hop by hop (see runHop): each hop's
// stages all finish, and the control plane reports the hop's version,
// before the next hop starts, and the driver is called with the hop's
// version. A plan without hops (one built by hand) is one hop to target
// with its Stages. It returns an error wrapping ErrBlocked, ErrNodeFailed,
// ErrTargetConflict, ErrStopped, ErrControlPlaneBehind,
// ErrCloudControllerFailed or ErrAddonsFailed when it did not finish;
// running it again continues where it stopped.
func (r *Runner) Run(ctx context.Context, p *Plan, target Target) (*Result, error) {
	res := &Result{}
	defer func() { res.Pauses = append(res.Pauses, r.takePauses()...) }()
	hops := p.Hops
	if len(hops) == 0 {
		hops = []Hop{{From: p.CurrentVersion, To: target.Label, Stages: p.Stages}}
	}
	// A node in flight to a version none of the hops goes to refuses the
	// run: finishing one upgrade while starting another would leave it
	// half-way between both.
	live, err := r.liveNodes(ctx)
	if err != nil {
		return res, err
	}
	var conflicts []string
	for _, name := range planNodes(p, hops) {
		ln, ok := live[name]
		if !ok {
			return res, fmt.Errorf("node %s of the plan is gone from the cluster", name)
		}
		pr := ReadProgress(ln)
		if !pr.InFlight() || hopTo(hops, pr.Target) >= 0 {
			continue
		}
		why := Decide(ln, target).Why
		if rt := ln.Annotations[AnnotationRunTarget]; rt != "" {
			why += fmt.Sprintf(" (a hop of the run to %s, %s)", rt, AnnotationRunTarget)
		}
		conflicts = append(conflicts, why)
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return res, fmt.Errorf("%w: %s", ErrTargetConflict, conflicts[0])
	}
	// Every node of the plan is counted from what the cluster says now,
	// so a run started again reports what earlier runs did.
	r.observe(planNodes(p, hops), live, target)
	for i, h := range hops {
		ref := HopRef{Number: i + 1, Of: len(hops), From: h.From, To: h.To}
		ht, err := ParseTarget(h.To)
		if err != nil {
			return res, fmt.Errorf("%s: %w", ref, err)
		}
		if err := r.runHop(WithHop(ctx, ref), ref, h, ht, target, i == len(hops)-1, res); err != nil {
			return res, err
		}
	}
	if r.DryRun {
		r.printf("Dry run: nothing was changed.\n")
	}
	if err := r.queryRunEnd(ctx, target.Label); err != nil {
		return res, err
	}
	var left []string
	for _, o := range res.Outcomes {
		if o.leftBehind {
			left = append(left, fmt.Sprintf("%s %s (hop to %s)", o.Node, o.Result, o.Hop))
		}
	}
	if len(left) > 0 {
		return res, fmt.Errorf("%w: every hop ran, but %d worker(s) were not upgraded after their drain timed out: %s; upgate.dev/reason on each says why, and %s takes them up again",
			ErrIncomplete, len(left), strings.Join(left, ", "), "`upgate run --target "+target.Label+"`")
	}
	return res, nil
}

// runWorkers upgrades workers MaxUnavailable at a time. The first error
// stops new nodes from starting; nodes already started finish.
func (r *Runner) runWorkers(ctx context.Context, workers []step, target Target, res *Result) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, r.MaxUnavailable)
	outcomes := make([]Outcome, len(workers))
	started := make([]bool, len(workers))
	for i, s := range workers {
		sem <- struct{}{}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		started[i] = true
		wg.Add(1)
		go func(i int, s step) {
			defer wg.Done()
			defer func() { <-sem }()
			o, err := r.runStep(ctx, s, target)
			outcomes[i] = o
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i, s)
	}
	wg.Wait()
	// --on-drain-timeout skip: each skipped worker gets one more try, after
	// the others, one at a time.
	for i, s := range workers {
		if !started[i] || firstErr != nil || ctx.Err() != nil || outcomes[i].Result != ResultSkipped || !outcomes[i].leftBehind {
			continue
		}
		s.retry = true
		s.decision = Decision{Action: ActionResume, From: PhaseSkipped, Why: "retry after its drain timed out"}
		r.nodef(s, s.planned.Name, "retrying: its drain timed out before the other workers went")
		o, err := r.runStep(ctx, s, target)
		o.Steps = append(append([]StepRecord{}, outcomes[i].Steps...), o.Steps...)
		o.Findings = append(append([]finding.Finding{}, outcomes[i].Findings...), o.Findings...)
		o.Action = outcomes[i].Action
		outcomes[i] = o
		if err != nil {
			firstErr = err
		}
	}
	for i := range workers {
		if started[i] {
			res.Outcomes = append(res.Outcomes, outcomes[i])
		}
	}
	return firstErr
}

// runStep takes one node from wherever its annotations say it is to done.
func (r *Runner) runStep(ctx context.Context, s step, target Target) (o Outcome, err error) {
	name := s.planned.Name
	o = Outcome{Node: name, Stage: s.stage, Action: s.decision.Action}
	s.log = &nodeLog{}
	defer func() {
		s.log.mu.Lock()
		defer s.log.mu.Unlock()
		o.Steps, o.Findings = s.log.steps, s.log.findings
	}()
	switch s.decision.Action {
	case ActionSkipDone, ActionAtTarget:
		o.Result, o.Reason = "skipped", s.decision.Why
		r.nodef(s, name, "skipped: %s", s.decision.Why)
		return o, nil
	}
	if err := r.stopped(ctx); err != nil {
		o.Result, o.Reason = "not started", err.Error()
		return o, fmt.Errorf("%w (before node %s)", err, name)
	}
	ctx = context.WithValue(ctx, stageKey{}, s.stage)
	r.enterStage(target, s.stage)
	phase := s.decision.From
	if phase != PhaseUpgraded {
		label := s.runTarget
		if label == "" {
			label = target.Label
		}
		if err := r.gateBeforeNode(ctx, s.stage, name, label); err != nil {
			// Nothing of the node was touched since the last run; a
			// node in flight keeps its annotations and cordon.
			o.Result, o.Reason = ResultNotStarted, err.Error()
			return o, err
		}
	}
	if phase != PhaseUpgraded {
		// A resumed run trusts no annotation that a step was done: the
		// node may have been uncordoned, pods may have landed on it, the
		// policies may block it now. Every node not yet upgraded (failed,
		// skipped and quarantined ones too) goes through the gate, the
		// cordon and the drain again (each is a no-op where it already
		// holds) before the driver is called. Only upgraded (the driver
		// finished) continues where it was: waiting for Ready at the
		// target, which checks the kubelet itself.
		phase = PhaseNone
	}
	err = r.advance(ctx, s, target, phase)
	if serr := r.stopped(ctx); err != nil && serr != nil && !errors.Is(err, ErrStopped) && !errors.Is(err, errSkipped) && !errors.Is(err, errDrainSkipped) && !errors.Is(err, errQuarantined) {
		// A step failed because the run was stopped under it.
		err = fmt.Errorf("%w: node %s: %v", serr, name, err)
	}
	switch {
	case err == nil:
		o.Result = "done"
		label := s.runTarget
		if label == "" {
			label = target.Label
		}
		// The queries judge the node's effect before the run goes on:
		// the node is done either way, and the run stops here if they
		// keep failing.
		if _, err := r.queryGate(ctx, s.stage, name, label, true); err != nil {
			return o, err
		}
	case errors.Is(err, errSkipped):
		o.Result, o.Reason = "skipped", err.Error()
		r.rollout.skippedPartial(name)
		return o, nil
	case errors.Is(err, errDrainSkipped):
		o.Result, o.Reason, o.leftBehind = ResultSkipped, strings.TrimPrefix(err.Error(), errDrainSkipped.Error()+": "), true
		return o, nil
	case errors.Is(err, errQuarantined):
		o.Result, o.Reason, o.leftBehind = ResultQuarantined, strings.TrimPrefix(err.Error(), errQuarantined.Error()+": "), true
		return o, nil
	case errors.Is(err, errNotStarted):
		o.Result, o.Reason = ResultNotStarted, err.Error()
	case errors.Is(err, ErrBlocked):
		o.Result, o.Reason = "blocked", err.Error()
	default:
		o.Result, o.Reason = "failed", err.Error()
	}
	return o, err
}

var errSkipped = errors.New("skipped (--partial-ok)")

// advance runs a node's steps from phase on (nodeSteps). Each step records
// its phase in the node's annotations before the next side effect.
func (r *Runner) advance(ctx context.Context, s step, target Target, phase Phase) error {
	// Once ctx is cancelled (SIGINT, SIGTERM) the step in hand finishes,
	// or stops where the annotations already say, and the node is left
	// with a reason; steps that only record what happened run detached.
	rec, cancelRec := detached(ctx)
	defer cancelRec()
	n := nodeStep{ctx: ctx, rec: rec, s: s, target: target, from: phase}
	started := false
	for _, st := range nodeSteps {
		if !started && !slices.Contains(st.from, phase) {
			continue
		}
		started = true
		if err := st.run(r, n); err != nil {
			return err
		}
		n.from = st.to
	}
	return nil
}

// nodeStep is what each of a node's steps works with.
type nodeStep struct {
	// ctx is cancelled when the run is stopped; rec outlives it, for
	// recording what happened.
	ctx, rec context.Context
	s        step
	target   Target
	// from is the phase the node was at when the step began.
	from Phase
}

// nodeSteps are a node's steps in order, each with the phases it resumes
// from and the phase the node is at once it is done: a node at phase P
// starts at the first step whose from holds P, and runs every step after.
var nodeSteps = []struct {
	from []Phase
	to   Phase
	run  func(*Runner, nodeStep) error
}{
	{[]Phase{PhaseNone, PhaseGated}, PhaseCordoned, (*Runner).gateAndCordon},
	{[]Phase{PhaseCordoned}, PhaseDrained, (*Runner).drainStep},
	{[]Phase{PhaseDrained, PhaseUpgrading}, PhaseUpgraded, (*Runner).upgradeStep},
	{[]Phase{PhaseUpgraded}, PhaseDone, (*Runner).finishStep},
}

// gateAndCordon evaluates the node's gate and cordons it.
func (r *Runner) gateAndCordon(n nodeStep) error {
	ctx, rec, s, target, phase := n.ctx, n.rec, n.s, n.target, n.from
	name := s.planned.Name
	t := r.begin(s, StepGate)
	findings, err := r.gate(ctx, name)
	if err != nil {
		if ctx.Err() != nil {
			return r.interrupted(ctx, s, target, "the gate", phase != PhaseNone)
		}
		t.end(ctx, StepFailed, err.Error())
		// Nothing was touched yet on a fresh node; a resumed one keeps
		// its record.
		return fmt.Errorf("%w: node %s: gate: %v", ErrNodeFailed, name, err)
	}
	s.log.addFindings(findings)
	if len(findings) > 0 {
		msg := describeFindings(findings)
		t.end(ctx, StepBlocked, msg)
		if r.PartialOK && s.stage == StageWorkers {
			r.nodef(s, name, "SKIP (--partial-ok): %s", msg)
			return fmt.Errorf("%w: %s", errSkipped, msg)
		}
		r.nodef(s, name, "GATE CLOSED: %s", msg)
		for _, f := range findings {
			r.nodef(s, name, "  %s: %s", f.Check, f.Message)
		}
		return fmt.Errorf("%w: node %s: %s", ErrBlocked, name, msg)
	}
	t.end(ctx, StepOK, "gate passed for "+target.Label)
	r.nodef(s, name, "gate passed")
	if ctx.Err() != nil {
		return r.interrupted(ctx, s, target, "the gate", phase != PhaseNone)
	}
	t = r.begin(s, StepCordon)
	if err := r.cordon(rec, s, target); err != nil {
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "cordon", err)
	}
	t.end(ctx, StepOK, "cordoned to drain and upgrade it to "+target.Label)
	if ctx.Err() != nil {
		return r.interrupted(ctx, s, target, "the cordon", true)
	}
	return nil
}

// drainStep drains the node through the eviction API and records it.
func (r *Runner) drainStep(n nodeStep) error {
	ctx, rec, s, target := n.ctx, n.rec, n.s, n.target
	name := s.planned.Name
	r.nodef(s, name, "draining (eviction API, PDBs respected, timeout %s)", r.DrainTimeout)
	t := r.begin(s, StepDrain)
	if err := r.drain(ctx, s); err != nil {
		switch {
		case ctx.Err() != nil:
			t.end(ctx, StepInterrupted, err.Error())
			return r.interrupted(ctx, s, target, "the drain", true)
		case errors.Is(err, ErrDrainTimeout):
			t.end(ctx, StepTimedOut, err.Error())
			return r.drainTimedOut(ctx, s, target, err)
		}
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "drain", err)
	}
	if err := r.annotate(rec, name, map[string]*string{AnnotationPhase: str(string(PhaseDrained))}); err != nil {
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "record drained", err)
	}
	t.end(ctx, StepOK, "drained through the eviction API")
	if ctx.Err() != nil {
		return r.interrupted(ctx, s, target, "the drain", true)
	}
	return nil
}

// upgradeStep calls the driver and records the node upgraded.
func (r *Runner) upgradeStep(n nodeStep) error {
	ctx, rec, s, target := n.ctx, n.rec, n.s, n.target
	name := s.planned.Name
	t := r.begin(s, StepUpgrade)
	if err := r.annotate(ctx, name, map[string]*string{AnnotationPhase: str(string(PhaseUpgrading))}); err != nil {
		if ctx.Err() != nil {
			return r.interrupted(ctx, s, target, "the upgrade", true)
		}
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "record upgrading", err)
	}
	// From here the driver's upgrade finishes even if the run is
	// interrupted (a half-upgraded node is worse than a late stop),
	// within DriverTimeout; a lost lock still stops it.
	node, err := r.Client.CoreV1().Nodes().Get(rec, name, metav1.GetOptions{})
	if err != nil {
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "upgrade", err)
	}
	r.nodef(s, name, "upgrading to %s (driver timeout %s)", target.Label, r.DriverTimeout)
	fctx, fcancel := r.finishing(ctx)
	err = r.callDriver(fctx, s.stage, func(ctx context.Context) error { return r.Driver.Upgrade(ctx, node, target.Label) })
	fcancel()
	if err != nil {
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "driver upgrade", err)
	}
	if err := r.annotate(rec, name, map[string]*string{AnnotationPhase: str(string(PhaseUpgraded))}); err != nil {
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "record upgraded", err)
	}
	t.end(ctx, StepOK, "the driver upgraded it to "+target.Label)
	if ctx.Err() != nil {
		return r.interrupted(ctx, s, target, "the upgrade", true)
	}
	return nil
}

// finishStep waits for Ready at the target, lifts upgate's own cordon,
// validates the node and records it done.
func (r *Runner) finishStep(n nodeStep) error {
	ctx, rec, s, target := n.ctx, n.rec, n.s, n.target
	name := s.planned.Name
	r.nodef(s, name, "waiting up to %s for Ready with kubelet at %s", r.ReadyTimeout, target.Label)
	t := r.begin(s, StepReady)
	node, err := r.waitReady(ctx, name, target)
	if err != nil {
		if ctx.Err() != nil {
			t.end(ctx, StepInterrupted, err.Error())
			return r.interrupted(ctx, s, target, "the wait for Ready", true)
		}
		t.end(ctx, StepFailed, err.Error())
		return r.fail(ctx, s, target, "wait Ready", err)
	}
	t.end(ctx, StepOK, "Ready with kubelet "+node.Status.NodeInfo.KubeletVersion)
	p := ReadProgress(node)
	if p.OwnsCordon(target) {
		t := r.begin(s, StepUncordon)
		if err := r.setUnschedulable(rec, node, false); err != nil {
			t.end(ctx, StepFailed, err.Error())
			return r.fail(ctx, s, target, "uncordon", err)
		}
		t.end(ctx, StepOK, "uncordoned")
		r.nodef(s, name, "uncordoned")
	} else if node.Spec.Unschedulable {
		// Only a cordon upgate recorded as its own, in this upgrade,
		// is lifted.
		r.nodef(s, name, "left cordoned: upgate did not cordon it in this upgrade (see upgate.dev/was-cordoned)")
	}
	if r.Validate != nil {
		t := r.begin(s, StepValidate)
		findings, err := r.Validate(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				t.end(ctx, StepInterrupted, err.Error())
				return r.interrupted(ctx, s, target, "validation", true)
			}
			t.end(ctx, StepFailed, err.Error())
			return r.fail(ctx, s, target, "validate", err)
		}
		s.log.addFindings(findings)
		if len(findings) > 0 {
			t.end(ctx, StepFailed, describeFindings(findings))
			// Keep new pods off a node that did not validate.
			_ = r.annotate(rec, name, map[string]*string{
				AnnotationCordonedBy: str(CordonedByUpgate),
				AnnotationReason:     str(oneLine("validation after the upgrade failed: " + describeFindings(findings))),
			})
			if n, err := r.Client.CoreV1().Nodes().Get(rec, name, metav1.GetOptions{}); err == nil {
				_ = r.setUnschedulable(rec, n, true)
			}
			return r.fail(ctx, s, target, "validate", errors.New(describeFindings(findings)))
		}
		t.end(ctx, StepOK, "validated")
	}
	// Done clears whose cordon it was: the next upgrade looks at the
	// node afresh instead of inheriting this one's record.
	if err := r.annotate(rec, name, map[string]*string{
		AnnotationPhase:       str(string(PhaseDone)),
		AnnotationCordonedBy:  nil,
		AnnotationReason:      nil,
		AnnotationWasCordoned: nil,
	}); err != nil {
		return r.fail(ctx, s, target, "record done", err)
	}
	r.nodef(s, name, "done: kubelet %s, validated", node.Status.NodeInfo.KubeletVersion)
	return nil
}

// gate runs the Gate, looking again for up to GateWait while it blocks:
// a pause (PauseGate) while it waits.
func (r *Runner) gate(ctx context.Context, name string) ([]finding.Finding, error) {
	deadline := r.Now().Add(r.GateWait)
	var resume func()
	defer func() {
		if resume != nil {
			resume()
		}
	}()
	for {
		findings, err := r.Gate(ctx, name)
		if err != nil || len(findings) == 0 || !r.Now().Before(deadline) {
			return findings, err
		}
		if resume == nil {
			resume = r.pause(PauseGate)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(r.PollInterval):
		}
	}
}

// cordon records why, then cordons. Whose cordon it is comes from the
// node as it is, not from what its annotations say: a schedulable node is
// cordoned by upgate now (whatever an old was-cordoned says); a cordoned
// node is upgate's only as Progress.OwnsCordon allows, and otherwise is
// recorded as someone else's and never uncordoned by upgate.
func (r *Runner) cordon(ctx context.Context, s step, target Target) error {
	name := s.planned.Name
	node, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	p := ReadProgress(node)
	set := map[string]*string{
		AnnotationTarget: str(target.Label),
		AnnotationPhase:  str(string(PhaseGated)),
		// A pause notice a lost lock left behind is stale now.
		AnnotationPaused: nil,
	}
	if s.runTarget != "" {
		set[AnnotationRunTarget] = str(s.runTarget)
	}
	switch {
	case node.Spec.Unschedulable && p.OwnsCordon(target):
		// Resumed, still under upgate's own cordon: its record stands.
	case node.Spec.Unschedulable:
		// Someone else's cordon: an upgate reason left on it is stale.
		set[AnnotationWasCordoned] = str("true")
		set[AnnotationCordonedBy] = nil
		set[AnnotationReason] = nil
	default:
		set[AnnotationCordonedBy] = str(CordonedByUpgate)
		set[AnnotationWasCordoned] = nil
		set[AnnotationReason] = str(fmt.Sprintf("cordoned by upgate run to drain and upgrade it to %s (stage %s); uncordoned when done", target.Label, s.stage))
	}
	if err := r.annotate(ctx, name, set); err != nil {
		return err
	}
	if set[AnnotationWasCordoned] != nil && !p.WasCordoned {
		r.nodef(s, name, "already cordoned by someone else: upgate will leave it cordoned")
	}
	if !node.Spec.Unschedulable {
		if err := r.setUnschedulable(ctx, node, true); err != nil {
			return err
		}
		r.nodef(s, name, "cordoned")
	}
	return r.annotate(ctx, name, map[string]*string{AnnotationPhase: str(string(PhaseCordoned))})
}

func (r *Runner) helper(ctx context.Context, s step) *drain.Helper {
	w := &prefixWriter{mu: &r.mu, w: r.Out, prefix: fmt.Sprintf("[%s %s] ", s.stage, s.planned.Name)}
	ew := &prefixWriter{mu: &r.mu, w: r.ErrOut, prefix: fmt.Sprintf("[%s %s] ", s.stage, s.planned.Name)}
	return &drain.Helper{
		Ctx:                  ctx,
		Client:               r.Client,
		GracePeriodSeconds:   -1,
		IgnoreAllDaemonSets:  true,
		DeleteEmptyDirData:   r.DeleteEmptyDirData,
		Timeout:              r.DrainTimeout,
		EvictErrorRetryDelay: min(time.Second, r.PollInterval),
		Out:                  w,
		ErrOut:               ew,
	}
}

func (r *Runner) setUnschedulable(ctx context.Context, node *corev1.Node, on bool) error {
	if err := r.stopped(ctx); err != nil {
		return err
	}
	return drain.RunCordonOrUncordon(r.helper(ctx, step{stage: "", planned: PlannedNode{Name: node.Name}}), node, on)
}

// drain evicts the node's pods through the eviction API. When it fails,
// the error names the PodDisruptionBudgets that refused evictions; when it
// did not finish within DrainTimeout it wraps ErrDrainTimeout. kubectl's
// drain says "global timeout reached" both for its own timeout and for a
// cancelled context, so the deadline is ours: the helper has none.
func (r *Runner) drain(ctx context.Context, s step) error {
	if err := r.stopped(ctx); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeoutCause(ctx, r.DrainTimeout, errDrainDeadline)
	defer cancel()
	h := r.helper(dctx, s)
	h.Timeout = 0
	err := drain.RunNodeDrain(h, s.planned.Name)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("drain stopped: %v", context.Cause(ctx))
	}
	why := r.blockingPDBs(ctx, s.planned.Name)
	if errors.Is(context.Cause(dctx), errDrainDeadline) {
		if why == "" {
			why = oneLine(err.Error())
		}
		return fmt.Errorf("%w after %s: %s", ErrDrainTimeout, r.DrainTimeout, why)
	}
	if why != "" {
		return fmt.Errorf("%s; drain gave up after %s: %v", why, r.DrainTimeout, err)
	}
	return err
}

// blockingPDBs names the PodDisruptionBudgets allowing no disruption that
// cover pods still on the node: why evictions were refused (429).
func (r *Runner) blockingPDBs(ctx context.Context, node string) string {
	pods, err := r.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return ""
	}
	pdbs := map[string][]policyv1.PodDisruptionBudget{}
	blocked := map[string][]string{} // PDB -> pods it keeps on the node
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !inventory.Evictable(inventory.PodOf(pod)) {
			continue
		}
		list, ok := pdbs[pod.Namespace]
		if !ok {
			l, err := r.Client.PolicyV1().PodDisruptionBudgets(pod.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			list = l.Items
			pdbs[pod.Namespace] = list
		}
		for _, pdb := range list {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) || pdb.Status.DisruptionsAllowed > 0 {
				continue
			}
			key := pdb.Namespace + "/" + pdb.Name
			blocked[key] = append(blocked[key], pod.Namespace+"/"+pod.Name)
		}
	}
	var out []string
	for key, ps := range blocked {
		sort.Strings(ps)
		out = append(out, fmt.Sprintf("PodDisruptionBudget %s allows 0 disruptions and blocked eviction of pod(s) %s", key, strings.Join(ps, ", ")))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// waitReady waits for the node to be Ready with its kubelet at the target.
func (r *Runner) waitReady(parent context.Context, name string, target Target) (*corev1.Node, error) {
	ctx, cancel := context.WithTimeout(parent, r.ReadyTimeout)
	defer cancel()
	var last string
	for {
		node, err := r.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			ready := nodeReady(node)
			kubelet := node.Status.NodeInfo.KubeletVersion
			if ready && target.Reached(kubelet) {
				return node, nil
			}
			last = fmt.Sprintf("Ready=%t, kubelet %s", ready, kubelet)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			if err := r.stopped(parent); err != nil {
				return nil, fmt.Errorf("%w while waiting for Ready (last seen: %s)", err, last)
			}
			return nil, fmt.Errorf("not Ready with kubelet at %s within %s (last seen: %s)", target.Label, r.ReadyTimeout, last)
		case <-time.After(r.PollInterval):
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// fail records the failure on the node (phase failed, the reason) and
// returns it. The node is left as it is: cordoned if it was.
func (r *Runner) fail(ctx context.Context, s step, target Target, what string, cause error) error {
	name := s.planned.Name
	if lost := r.lockLost(); lost != nil {
		r.recordLockLost(ctx, s, target, what)
		return fmt.Errorf("%w: node %s: %s: %v", lost, name, what, cause)
	}
	// Record even when ctx was cancelled: the record is what makes the
	// cordoned node explicable.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	left := ""
	if n, err := r.Client.CoreV1().Nodes().Get(wctx, name, metav1.GetOptions{}); err == nil && n.Spec.Unschedulable {
		left = "the node stays cordoned; "
	}
	reason := oneLine(fmt.Sprintf("%s failed: %v; %sfix the cause, then `upgate run --target %s` resumes it", what, cause, left, target.Label))
	set := map[string]*string{
		AnnotationPhase:  str(string(PhaseFailed)),
		AnnotationTarget: str(target.Label),
		AnnotationReason: str(reason),
	}
	if err := r.annotate(wctx, name, set); err != nil {
		r.nodef(s, name, "could not record the failure on the node: %v", err)
	}
	r.nodef(s, name, "FAILED: %s", reason)
	r.event(ctx, name, true, eventReason("failed"), reason)
	return fmt.Errorf("%w: node %s: %s failed: %v", ErrNodeFailed, name, what, cause)
}

// recordLockLost is the one write upgate makes after losing the lock, and
// the decision behind it. Once the lease is lost another executor may take
// it and work on this node, so the node is left exactly as it is: never
// uncordoned, never marked done or failed, its phase as it was (it names
// the last step that completed, true still, and the next run re-checks
// everything before the driver anyway). But a node left cordoned needs a
// reason a human can read, so upgate writes upgate.dev/reason alone, best
// effort: only while the node's upgate.dev/holder is still this run (so a
// new holder's record is never overwritten), conditioned on the
// resourceVersion just read, within 2s. The lease's timing leaves about
// that long: a loss is noticed the renew deadline (10s) after the last
// renewal, another executor may take the lease only its duration (15s)
// after it. A loss seen as another holder taking the lease gets the same
// conditions, which is why holder and resourceVersion are checked.
func (r *Runner) recordLockLost(ctx context.Context, s step, target Target, what string) {
	name := s.planned.Name
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	node, err := r.Client.CoreV1().Nodes().Get(wctx, name, metav1.GetOptions{})
	if err != nil {
		r.nodef(s, name, "STOPPED: lost the executor lock during %s; could not record it on the node: %v", what, err)
		return
	}
	p := ReadProgress(node)
	if p.Holder != r.Holder {
		r.nodef(s, name, "STOPPED: lost the executor lock during %s; the node's record is another run's (%s=%q), left as it is", what, AnnotationHolder, p.Holder)
		return
	}
	state := "schedulable"
	if node.Spec.Unschedulable {
		state = "cordoned"
	}
	reason := oneLine(fmt.Sprintf("stopped during %s: upgate run %s lost the executor lock, so it made no further change; the node is %s at upgate.dev/phase=%s; `upgate run --target %s` re-checks and resumes it",
		what, r.Holder, state, p.Phase, target.Label))
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": node.ResourceVersion,
		"annotations":     map[string]string{AnnotationReason: reason},
	}})
	if err == nil {
		_, err = r.Client.CoreV1().Nodes().Patch(wctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		r.nodef(s, name, "STOPPED: lost the executor lock during %s; could not record it on the node: %v", what, err)
		return
	}
	r.nodef(s, name, "STOPPED: %s", reason)
}

// stopped returns an error wrapping ErrStopped when the run must make no
// further change to the cluster: the lock was lost (Hold), or ctx is done.
// It is consulted before every side effect.
func (r *Runner) stopped(ctx context.Context) error {
	if err := r.lockLost(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ErrStopped, context.Cause(ctx))
	}
	return nil
}

// lockLost returns an error wrapping ErrStopped once Hold fails.
func (r *Runner) lockLost() error {
	if r.Hold == nil {
		return nil
	}
	if err := r.Hold(); err != nil {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return nil
}

// callDriver calls the driver for stage, bounded by DriverTimeout, unless
// the run is stopped.
func (r *Runner) callDriver(ctx context.Context, stage StageName, call func(context.Context) error) error {
	if err := r.stopped(ctx); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeoutCause(context.WithValue(ctx, stageKey{}, stage), r.DriverTimeout,
		fmt.Errorf("the driver did not finish within the driver timeout (%s)", r.DriverTimeout))
	defer cancel()
	err := call(dctx)
	if err != nil && ctx.Err() == nil && dctx.Err() != nil && !errors.Is(err, context.Cause(dctx)) {
		// The timeout stopped the driver, not the run: say so, not only
		// the driver's last words.
		err = fmt.Errorf("%w: %v", context.Cause(dctx), err)
	}
	return err
}

// annotate merges upgate.dev annotations into the node (nil removes one)
// and stamps upgate.dev/updated-at and upgate.dev/holder. It writes
// nothing once the run is stopped.
func (r *Runner) annotate(ctx context.Context, name string, set map[string]*string) error {
	if err := r.stopped(ctx); err != nil {
		return err
	}
	if r.Holder != "" {
		set = maps.Clone(set)
		set[AnnotationHolder] = str(r.Holder)
	}
	patch, err := annotationPatch(set, r.Now())
	if err != nil {
		return err
	}
	node, err := r.Client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("node %s is gone", name)
		}
		return fmt.Errorf("annotate node %s: %w", name, err)
	}
	// The node as the API server now has it: its state for the metrics.
	r.rollout.changed(node)
	return nil
}

func (r *Runner) printf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.Out, format, a...)
}

func (r *Runner) nodef(s step, node, format string, a ...any) {
	r.printf("[%s %s] %s\n", s.stage, node, fmt.Sprintf(format, a...))
}

// describeFindings summarises blocking findings in one line.
func describeFindings(fs []finding.Finding) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		parts = append(parts, f.Check+": "+f.Message)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// prefixWriter prefixes every line with the node it is about, writing
// whole lines. Its buffer and the underlying writer are guarded by one
// mutex shared with every other writer to the same stream: the drain
// writes from one goroutine per pod, and workers run in parallel.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.buf[:i+1])
		p.buf = p.buf[i+1:]
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return len(b), err
		}
	}
}

// Flush writes a last line that had no newline.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		_, _ = io.WriteString(p.w, p.prefix+string(p.buf)+"\n")
		p.buf = nil
	}
}

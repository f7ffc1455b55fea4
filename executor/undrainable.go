package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DrainTimeoutAction is what a run does with a worker whose drain does not
// finish within DrainTimeout (a PodDisruptionBudget that keeps refusing
// evictions). Pods are never force-deleted, whichever it is.
type DrainTimeoutAction string

const (
	// DrainTimeoutAbort stops the run; the node stays cordoned with
	// upgate.dev/phase=failed and its reason. The zero value means it.
	DrainTimeoutAbort DrainTimeoutAction = "abort"
	// DrainTimeoutSkip uncordons the node (upgate.dev/phase=skipped and
	// its reason), goes on with the other workers of the hop, then tries
	// it once more; a node that times out again is left uncordoned and
	// not upgraded.
	DrainTimeoutSkip DrainTimeoutAction = "skip"
	// DrainTimeoutQuarantine leaves the node cordoned with
	// upgate.dev/phase=quarantined and its reason, and goes on.
	DrainTimeoutQuarantine DrainTimeoutAction = "quarantine"
)

// ParseDrainTimeoutAction reads abort, skip or quarantine ("" is abort).
func ParseDrainTimeoutAction(s string) (DrainTimeoutAction, error) {
	switch a := DrainTimeoutAction(s); a {
	case "":
		return DrainTimeoutAbort, nil
	case DrainTimeoutAbort, DrainTimeoutSkip, DrainTimeoutQuarantine:
		return a, nil
	}
	return "", fmt.Errorf("%q is not abort, skip or quarantine", s)
}

// Phases a drain timeout leaves a worker in. Both count as in flight: the
// next run to the same target takes the node again from the start.
const (
	// PhaseSkipped: the drain timed out and the node was uncordoned and
	// skipped (--on-drain-timeout skip); upgate.dev/reason says why.
	PhaseSkipped Phase = "skipped"
	// PhaseQuarantined: the drain timed out and the node was left
	// cordoned (--on-drain-timeout quarantine); upgate.dev/reason says why.
	PhaseQuarantined Phase = "quarantined"
)

var (
	// ErrDrainTimeout: a drain did not finish within DrainTimeout. Other
	// drain errors (a pod no controller would recreate, an API error) are
	// not it.
	ErrDrainTimeout = errors.New("drain timed out")
	// ErrIncomplete: every hop ran, but workers were left behind (skipped
	// or quarantined after a drain timeout).
	ErrIncomplete = errors.New("run incomplete")

	errDrainDeadline = errors.New("drain deadline")
	errDrainSkipped  = errors.New("drain timed out: skipped")
	errQuarantined   = errors.New("drain timed out: quarantined")
	// errNotStarted marks a stop before the node was touched.
	errNotStarted = errors.New("not started")
)

// detachedGrace is how long recording may go on once the run's context
// is cancelled.
var detachedGrace = 30 * time.Second // tests shorten it

// errDetachedGrace ends a detached context detachedGrace after the run's.
var errDetachedGrace = errors.New("the record's grace after the run stopped ran out")

// detached is a context for recording what happened to a node after the
// run's context was cancelled: the record is what makes a cordoned node
// explicable. It lives as long as the run's context and detachedGrace
// beyond it: its clock starts when the run stops, not when the node's
// steps begin, so a driver that takes minutes (a control-plane node whose
// API server restarts) leaves the record its full grace.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	d, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var grace *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		grace = time.AfterFunc(detachedGrace, func() { cancel(errDetachedGrace) })
	})
	return d, func() {
		stop()
		mu.Lock()
		if grace != nil {
			grace.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}

// finishing is a context for a step that, once begun, finishes even when
// ctx is cancelled by an interrupt (SIGINT, SIGTERM), but that a lost lock
// still stops: the driver's upgrade of a node.
func (r *Runner) finishing(ctx context.Context) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-fctx.Done():
			return
		case <-ctx.Done():
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := r.lockLost(); err != nil {
				cancel(err)
				return
			}
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return fctx, func() { cancel(context.Canceled) }
}

// resumeCommand is the command that takes the node up again.
func resumeCommand(s step, target Target) string {
	t := s.runTarget
	if t == "" {
		t = target.Label
	}
	return "`upgate run --target " + t + "`"
}

// drainTimedOut does what OnDrainTimeout says with a node whose drain did
// not finish in time. Etcd and control-plane nodes always abort: the hop
// cannot finish without them.
func (r *Runner) drainTimedOut(ctx context.Context, s step, target Target, cause error) error {
	name := s.planned.Name
	action := r.OnDrainTimeout
	if action != DrainTimeoutAbort && s.stage != StageWorkers {
		r.nodef(s, name, "--on-drain-timeout %s applies to workers; a %s node aborts: the hop cannot finish without it", action, s.stage)
		action = DrainTimeoutAbort
	}
	wctx, cancel := detached(ctx)
	defer cancel()
	switch action {
	case DrainTimeoutSkip:
		then := fmt.Sprintf("uncordoned and skipped (--on-drain-timeout skip); upgate retries it once after the other workers of the hop to %s", target.Label)
		if s.retry {
			then = "uncordoned and skipped again on its retry (--on-drain-timeout skip): it is not upgraded; fix the cause, then " + resumeCommand(s, target) + " retries it"
		}
		reason := oneLine(fmt.Sprintf("%v; %s", cause, then))
		// Record before uncordoning, keeping cordoned-by: a run that dies
		// in between leaves a cordon it explains.
		if err := r.annotate(wctx, name, map[string]*string{
			AnnotationPhase: str(string(PhaseSkipped)), AnnotationTarget: str(target.Label), AnnotationReason: str(reason),
		}); err != nil {
			return r.fail(ctx, s, target, "drain", fmt.Errorf("%v; and recording the skip: %v", cause, err))
		}
		node, err := r.Client.CoreV1().Nodes().Get(wctx, name, metav1.GetOptions{})
		if err != nil {
			return r.fail(ctx, s, target, "drain", fmt.Errorf("%v; and reading the node to uncordon it: %v", cause, err))
		}
		if p := ReadProgress(node); p.OwnsCordon(target) && node.Spec.Unschedulable {
			if err := r.setUnschedulable(wctx, node, false); err != nil {
				return r.fail(ctx, s, target, "drain", fmt.Errorf("%v; and uncordoning it: %v", cause, err))
			}
		}
		if err := r.annotate(wctx, name, map[string]*string{AnnotationCordonedBy: nil}); err != nil {
			r.nodef(s, name, "could not record the uncordon: %v", err)
		}
		r.nodef(s, name, "SKIPPED: %s", reason)
		r.event(ctx, name, true, eventReason("skipped"), reason)
		return fmt.Errorf("%w: %s", errDrainSkipped, reason)
	case DrainTimeoutQuarantine:
		reason := oneLine(fmt.Sprintf("%v; quarantined (--on-drain-timeout quarantine): it stays cordoned and is not upgraded; fix the cause, then %s retries it", cause, resumeCommand(s, target)))
		if err := r.annotate(wctx, name, map[string]*string{
			AnnotationPhase: str(string(PhaseQuarantined)), AnnotationTarget: str(target.Label), AnnotationReason: str(reason),
		}); err != nil {
			return r.fail(ctx, s, target, "drain", fmt.Errorf("%v; and recording the quarantine: %v", cause, err))
		}
		r.nodef(s, name, "QUARANTINED: %s", reason)
		r.event(ctx, name, true, eventReason("quarantined"), reason)
		return fmt.Errorf("%w: %s", errQuarantined, reason)
	default:
		return r.fail(ctx, s, target, "drain", fmt.Errorf("%v (--on-drain-timeout abort: the run stops; skip or quarantine would go on with the other workers)", cause))
	}
}

// interrupted stops the node where the run's context was cancelled
// (SIGINT, SIGTERM), once the step in hand has finished or been stopped,
// and records why it is left there. started is false when nothing was
// done to the node yet.
func (r *Runner) interrupted(ctx context.Context, s step, target Target, during string, started bool) error {
	name := s.planned.Name
	if lost := r.lockLost(); lost != nil {
		// Another executor may hold the lock now: only the guarded
		// reason is written.
		if started {
			r.recordLockLost(ctx, s, target, during)
		}
		return fmt.Errorf("%w: node %s: during %s", lost, name, during)
	}
	cause := context.Cause(ctx)
	if !started {
		return fmt.Errorf("%w before node %s: %w: %v", ErrStopped, name, errNotStarted, cause)
	}
	wctx, cancel := detached(ctx)
	defer cancel()
	left := ""
	if n, err := r.Client.CoreV1().Nodes().Get(wctx, name, metav1.GetOptions{}); err == nil {
		p := ReadProgress(n)
		left = fmt.Sprintf("; it is left at %s=%s", AnnotationPhase, p.Phase)
		if n.Spec.Unschedulable {
			left += ", cordoned"
		}
	}
	reason := oneLine(fmt.Sprintf("run interrupted (%v) during %s%s; %s resumes it", cause, during, left, resumeCommand(s, target)))
	if err := r.annotate(wctx, name, map[string]*string{AnnotationReason: str(reason)}); err != nil {
		r.nodef(s, name, "could not record the interruption on the node: %v", err)
	}
	r.nodef(s, name, "STOPPED: %s", reason)
	r.event(ctx, name, true, eventReason("interrupted"), reason)
	return fmt.Errorf("%w: node %s: %s", ErrStopped, name, reason)
}

// leftBehindMidway stops the run before the next hop when a worker this
// hop had to move was skipped or quarantined after a drain timeout: left
// behind, its kubelet would be outside the skew policy of the next hop's
// control plane.
func leftBehindMidway(ref HopRef, ht Target, outcomes []Outcome) error {
	for _, o := range outcomes {
		if o.leftBehind {
			return fmt.Errorf("%w: %s: worker %s was %s after its drain timed out, but it must reach %s before the control plane moves on, or its kubelet would be outside the skew policy; the next hop did not start",
				ErrDrainTimeout, ref, o.Node, o.Result, ht.Label)
		}
	}
	return nil
}

package executor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Node steps, as the run record and the node's Events name them. An
// Event's reason is EventReasonPrefix and the step, capitalised:
// UpgateCordon, UpgateDrain.
const (
	StepGate     = "gate"
	StepCordon   = "cordon"
	StepDrain    = "drain"
	StepUpgrade  = "upgrade"
	StepReady    = "ready"
	StepUncordon = "uncordon"
	StepValidate = "validate"
)

// Step results in the run record.
const (
	StepOK          = "ok"
	StepFailed      = "failed"
	StepBlocked     = "blocked"
	StepTimedOut    = "timed-out"
	StepInterrupted = "interrupted"
)

// EventReasonPrefix starts the reason of every Event upgate puts on a node;
// besides one per step there are UpgateFailed, UpgateSkipped,
// UpgateQuarantined and UpgateInterrupted, saying how the node was left.
const EventReasonPrefix = "Upgate"

// eventReason is the Event reason of a step: "drain" gives UpgateDrain.
func eventReason(step string) string {
	if step == "" {
		return EventReasonPrefix
	}
	return EventReasonPrefix + string(step[0]-'a'+'A') + step[1:]
}

// eventSeq keeps Event names apart when the clock does not move.
var eventSeq atomic.Uint64

// event records a step as a Kubernetes Event on the node (core v1, in the
// default namespace, where `kubectl describe node` finds node Events, the
// kubelet's way: the involved object's UID is the node's name). It never
// fails the run: a cluster that refuses Events (RBAC) costs one warning.
func (r *Runner) event(ctx context.Context, node string, warning bool, reason, msg string) {
	if r.DryRun {
		return
	}
	// An interrupted run still says how it left the node.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := r.Now()
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x.%d", node, now.UnixNano(), eventSeq.Add(1)),
			Namespace: metav1.NamespaceDefault,
		},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: node, UID: types.UID(node)},
		Reason:         reason,
		Message:        msg,
		Type:           typ,
		Source:         corev1.EventSource{Component: "upgate"},
		FirstTimestamp: metav1.NewTime(now),
		LastTimestamp:  metav1.NewTime(now),
		Count:          1,
	}
	if _, err := r.Client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		// Only a refusal is for the admin to fix; an API server that was
		// away cost one Event and may answer the next.
		if !apierrors.IsForbidden(err) {
			return
		}
		r.eventWarn.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			fmt.Fprintf(r.ErrOut, "warning: cannot create Events on nodes (the run goes on; grant create on events): %s\n", oneLine(err.Error()))
		})
	}
}

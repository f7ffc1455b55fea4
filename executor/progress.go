package executor

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// Node annotations the executor keeps its progress in. They are written to
// the cluster before each side effect, so a run that dies mid-node leaves a
// record of what it was doing, and the next `upgate run` resumes from it.
const (
	// AnnotationTarget is the version the node is being (or was) upgraded to,
	// as the user gave it (v1.37 or v1.37.2).
	AnnotationTarget = "upgate.dev/target"
	// AnnotationPhase is the last step the node reached: see Phase.
	AnnotationPhase = "upgate.dev/phase"
	// AnnotationCordonedBy is "upgate" while the node is cordoned by upgate;
	// upgate uncordons only nodes that carry it, and trusts it only as
	// Progress.OwnsCordon says.
	AnnotationCordonedBy = "upgate.dev/cordoned-by"
	// AnnotationReason says why upgate cordoned the node, or why the node
	// failed.
	AnnotationReason = "upgate.dev/reason"
	// AnnotationUpdatedAt is when upgate last wrote these annotations (RFC 3339).
	AnnotationUpdatedAt = "upgate.dev/updated-at"
	// AnnotationWasCordoned is "true" when the node was already cordoned by
	// someone else when upgate reached it: upgate never uncordons it. It is
	// cleared at done, so the next upgrade judges the node afresh.
	AnnotationWasCordoned = "upgate.dev/was-cordoned"
	// AnnotationHolder is the identity of the executor lock's holder that
	// wrote these annotations: which run is (or was) at work on the node.
	AnnotationHolder = "upgate.dev/holder"

	// CordonedByUpgate is the value of AnnotationCordonedBy.
	CordonedByUpgate = "upgate"
)

// Phase is a node's progress through the per-node steps. Each phase but
// upgrading names a step that has completed; upgrading is written just
// before the driver is called.
type Phase string

const (
	PhaseNone      Phase = ""
	PhaseGated     Phase = "gated"     // gate passed; cordon comes next
	PhaseCordoned  Phase = "cordoned"  // cordoned; drain comes next
	PhaseDrained   Phase = "drained"   // drained; driver upgrade comes next
	PhaseUpgrading Phase = "upgrading" // the driver is (or was) upgrading it
	PhaseUpgraded  Phase = "upgraded"  // driver done; wait Ready, uncordon, validate
	PhaseDone      Phase = "done"      // at the target, uncordoned, validated
	PhaseFailed    Phase = "failed"    // a step failed; AnnotationReason says which and why
)

// Progress is what a node's upgate.dev annotations say.
type Progress struct {
	Target       string
	Phase        Phase
	CordonedByUs bool
	WasCordoned  bool
	Reason       string
	UpdatedAt    string
	Holder       string
}

// ReadProgress reads a node's upgate.dev annotations.
func ReadProgress(n *corev1.Node) Progress {
	a := n.Annotations
	return Progress{
		Target:       a[AnnotationTarget],
		Phase:        Phase(a[AnnotationPhase]),
		CordonedByUs: a[AnnotationCordonedBy] == CordonedByUpgate,
		WasCordoned:  a[AnnotationWasCordoned] == "true",
		Reason:       a[AnnotationReason],
		UpdatedAt:    a[AnnotationUpdatedAt],
		Holder:       a[AnnotationHolder],
	}
}

// InFlight reports whether a run started on the node and has not finished it.
func (p Progress) InFlight() bool {
	return p.Phase != PhaseNone && p.Phase != PhaseDone
}

// Underway maps each node of inv that an upgate run has started upgrading,
// or has upgraded (any phase but none), to that upgrade's version, read
// from its upgate.dev/target. The policies (policies.Request.Underway) do
// not hold a component at that version on that node against the other
// kube-apiservers: a run stopped between a hop's first and last control-
// plane node leaves exactly that state, and the next run must finish it.
// The annotations are trusted no further: only a component at the very
// version recorded, and no newer than the version judged, is spared.
func Underway(inv *inventory.Inventory) map[string]*version.Version {
	var out map[string]*version.Version
	for _, n := range inv.Nodes {
		p := ReadProgress(n)
		if p.Phase == PhaseNone {
			continue
		}
		v, err := kubever.Parse(p.Target)
		if err != nil {
			continue
		}
		if out == nil {
			out = map[string]*version.Version{}
		}
		out[n.Name] = v
	}
	return out
}

// OwnsCordon reports whether the node's cordon is upgate's own, for an
// upgrade to t: upgate.dev/cordoned-by=upgate is trusted only while the
// node is in flight to this same target, written by a lock holder, and not
// recorded as cordoned by someone else. Anywhere else (a done node, no
// phase, another target, no holder: a stale or hand-written annotation)
// the cordon is someone else's, and upgate never lifts it. The cost of the
// rule is a node left cordoned that upgate did cordon; the cost of trusting
// more would be uncordoning a node an administrator took out of service.
func (p Progress) OwnsCordon(t Target) bool {
	return p.CordonedByUs && !p.WasCordoned && p.InFlight() && t.Same(p.Target) && p.Holder != ""
}

// Target is the version a run upgrades to.
type Target struct {
	// Label is the target as the user meant it: v1.37 or v1.37.2.
	Label    string
	Version  *version.Version
	HasPatch bool
}

// ParseTarget reads a target version (1.37, v1.37, v1.37.2).
func ParseTarget(s string) (Target, error) {
	v, err := kubever.Parse(s)
	if err != nil {
		return Target{}, err
	}
	t := Target{Version: v, HasPatch: kubever.HasPatch(s)}
	if t.HasPatch {
		t.Label = kubever.Canonical(v)
	} else {
		t.Label = kubever.Minor(v)
	}
	return t, nil
}

// Full is the target as a full version: a minor becomes its .0 release.
func (t Target) Full() string { return kubever.Canonical(t.Version) }

// Same reports whether label names the same target (v1.37 and 1.37 do;
// v1.37 and v1.37.0 do not: one is "any 1.37", the other one release).
func (t Target) Same(label string) bool {
	o, err := ParseTarget(label)
	return err == nil && o.Label == t.Label
}

// Reached reports whether a component version is at the target: the same
// minor, and the same patch when the target names one (as post.version-mismatch).
func (t Target) Reached(v string) bool {
	got, err := kubever.Parse(v)
	if err != nil {
		return false
	}
	if got.Major() != t.Version.Major() || got.Minor() != t.Version.Minor() {
		return false
	}
	return !t.HasPatch || got.Patch() == t.Version.Patch()
}

// Action is what a run does with a node, decided from its annotations.
type Action string

const (
	ActionUpgrade  Action = "upgrade"   // not started: every step
	ActionResume   Action = "resume"    // in flight to this target: continue from its phase
	ActionSkipDone Action = "skip"      // done at this target
	ActionRefuse   Action = "refuse"    // in flight to another target
	ActionAtTarget Action = "at-target" // not started, kubelet already at the target
)

// Decision is what a run does with one node and why.
type Decision struct {
	Action Action
	From   Phase
	Why    string
}

// Decide works out from a node's annotations and kubelet what a run to
// target does with it. One in flight to another target refuses the run,
// because finishing one upgrade while starting another would leave it
// half-way between both. One in flight to this target resumes (from the
// gate: see Runner.runStep). A node done at this target is skipped only
// when its kubelet really is at the target: done is a verified state, and
// a stale or hand-written done on an old kubelet is upgraded again. A done
// node that is cordoned is skipped too: done clears upgate's cordon record,
// so that cordon is someone else's to lift.
func Decide(n *corev1.Node, t Target) Decision {
	p := ReadProgress(n)
	kubelet := n.Status.NodeInfo.KubeletVersion
	switch {
	case p.InFlight() && !t.Same(p.Target):
		return Decision{Action: ActionRefuse, From: p.Phase, Why: fmt.Sprintf(
			"node %s is mid-upgrade to %s (upgate.dev/phase=%s): finish it with `upgate run --target %s`, or, once you have put the node right by hand, remove its upgate.dev/ annotations and uncordon it",
			n.Name, p.Target, p.Phase, p.Target)}
	case p.InFlight():
		why := fmt.Sprintf("in flight at phase %s", p.Phase)
		if !n.Spec.Unschedulable && p.Phase != PhaseGated && p.Phase != PhaseUpgraded {
			why += ", but schedulable (someone uncordoned it): gate, cordon and drain again"
		}
		return Decision{Action: ActionResume, From: p.Phase, Why: why}
	case p.Phase == PhaseDone && t.Same(p.Target) && t.Reached(kubelet):
		why := "already done at " + p.Target + ", kubelet " + kubelet
		if n.Spec.Unschedulable {
			why += "; left cordoned (not by upgate)"
		}
		return Decision{Action: ActionSkipDone, From: p.Phase, Why: why}
	case p.Phase == PhaseDone && t.Same(p.Target):
		return Decision{Action: ActionUpgrade, Why: fmt.Sprintf(
			"upgate.dev/phase=done at %s, but its kubelet is %s: the record does not hold, upgrading it again", p.Target, kubelet)}
	case t.Reached(kubelet):
		return Decision{Action: ActionAtTarget, Why: "kubelet already at " + kubelet}
	default:
		return Decision{Action: ActionUpgrade}
	}
}

// annotationPatch is a JSON merge patch of metadata.annotations; a nil
// value removes the key.
func annotationPatch(set map[string]*string, now time.Time) ([]byte, error) {
	ann := map[string]*string{}
	for k, v := range set {
		ann[k] = v
	}
	ts := now.UTC().Format(time.RFC3339)
	ann[AnnotationUpdatedAt] = &ts
	return json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
}

func str(s string) *string { return &s }

// oneLine keeps an annotation value to one readable line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 1000
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

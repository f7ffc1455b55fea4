package executor

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrPartialRefused is returned for --partial-ok when a node the cluster
// cannot do without is flagged: skipping it would leave the control plane
// or etcd split across versions, or a kubelet outside the skew policy.
var ErrPartialRefused = errors.New("--partial-ok refused")

// StepOptions shape the printed steps.
type StepOptions struct {
	PartialOK      bool
	MaxUnavailable int
}

// RefusePartial returns an error when an etcd or control-plane node is
// flagged, or a flagged worker must move in a hop before the last: left
// behind, it would be outside the kubelet skew window of the next hop.
func RefusePartial(p *Plan) error {
	for _, st := range p.Stages {
		if st.Name != StageEtcd && st.Name != StageControlPlane {
			continue
		}
		for _, n := range st.Nodes {
			if len(n.Blockers) > 0 {
				return fmt.Errorf("%w: %s node %s is flagged (%s); it cannot be skipped", ErrPartialRefused, st.Name, n.Name, n.Blockers[0].Check)
			}
		}
	}
	for i, h := range p.Hops {
		if i == len(p.Hops)-1 {
			break
		}
		for _, st := range h.Stages {
			for _, n := range st.Nodes {
				if st.Name == StageWorkers && len(n.Blockers) > 0 {
					return fmt.Errorf("%w: worker %s is flagged (%s), but it must reach %s before the control plane moves on to %s, or its kubelet would be outside the skew policy; it cannot be skipped",
						ErrPartialRefused, n.Name, n.Blockers[0].Check, h.To, p.Hops[i+1].To)
				}
			}
		}
	}
	return nil
}

// Gated reports whether the plan may not start: a cluster-wide blocker, or
// a flagged node that --partial-ok does not allow to skip.
func Gated(p *Plan, partialOK bool) bool {
	if len(p.Blockers) > 0 {
		return true
	}
	if !partialOK {
		for _, st := range p.Stages {
			for _, n := range st.Nodes {
				if len(n.Blockers) > 0 {
					return true
				}
			}
		}
		return false
	}
	return RefusePartial(p) != nil
}

// WriteSteps prints, hop by hop and in order, what a run would do to each
// node and the version it takes it to.
func WriteSteps(w io.Writer, p *Plan, opts StepOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrade %s -> %s", p.CurrentVersion, p.TargetVersion)
	if len(p.Hops) > 1 {
		fmt.Fprintf(&b, " in %d hops", len(p.Hops))
	}
	fmt.Fprintln(&b)
	for _, f := range p.Blockers {
		fmt.Fprintf(&b, "GATE CLOSED %s: %s\n", f.Check, f.Message)
	}
	if len(p.Hops) == 0 {
		fmt.Fprintf(&b, "Nothing to do: every node is at or past %s.\n", p.TargetVersion)
	}
	for i, h := range p.Hops {
		fmt.Fprintf(&b, "Hop %d/%d: %s -> %s\n", i+1, len(p.Hops), h.From, h.To)
		if h.Note != "" {
			fmt.Fprintf(&b, "  (%s)\n", h.Note)
		}
		for j, st := range h.Stages {
			fmt.Fprintf(&b, "  %d. %s\n", j+1, st.Name)
			if st.Note != "" && len(st.Nodes) == 0 {
				fmt.Fprintf(&b, "     %s\n", st.Note)
			}
			for _, n := range st.Nodes {
				if len(n.Blockers) > 0 {
					action := "GATE CLOSED"
					if opts.PartialOK && st.Name == StageWorkers {
						action = "SKIP (--partial-ok)"
					}
					fmt.Fprintf(&b, "     %s %s: %s\n", action, n.Name, n.Blockers[0].Message)
					continue
				}
				fmt.Fprintf(&b, "     %s: gate, cordon, drain %d pods (eviction API), upgrade to %s, wait Ready at %s, uncordon, validate\n",
					n.Name, n.Pods, h.To, h.To)
			}
			if st.Name == StageControlPlane || (st.Name == StageEtcd && !hasStage(h, StageControlPlane)) {
				fmt.Fprintf(&b, "     then wait until the control plane (oldest kube-apiserver) reports %s\n", h.To)
			}
		}
		if !hasStage(h, StageEtcd) && !hasStage(h, StageControlPlane) {
			fmt.Fprintf(&b, "  Before the workers: wait until the control plane (oldest kube-apiserver) reports %s\n", h.To)
		}
	}
	if opts.MaxUnavailable > 1 {
		fmt.Fprintf(&b, "Workers are drained %d at a time.\n", opts.MaxUnavailable)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func hasStage(h Hop, name StageName) bool {
	for _, st := range h.Stages {
		if st.Name == name {
			return true
		}
	}
	return false
}

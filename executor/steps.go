package executor

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrPartialRefused is returned for --partial-ok when a node the cluster
// cannot do without is flagged: skipping it would leave the control plane
// or etcd split across versions.
var ErrPartialRefused = errors.New("--partial-ok refused")

// StepOptions shape the printed steps.
type StepOptions struct {
	PartialOK      bool
	MaxUnavailable int
}

// RefusePartial returns an error when an etcd or control-plane node is flagged.
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
	return nil
}

// Gated reports whether the plan may not start: a cluster-wide blocker, or
// a flagged node that --partial-ok does not allow to skip.
func Gated(p *Plan, partialOK bool) bool {
	if len(p.Blockers) > 0 {
		return true
	}
	if !partialOK {
		return p.Blocked
	}
	return RefusePartial(p) != nil
}

// WriteSteps prints, in order, what a run would do to each node.
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
	for i, st := range p.Stages {
		fmt.Fprintf(&b, "%d. %s\n", i+1, st.Name)
		if st.Note != "" && len(st.Nodes) == 0 {
			fmt.Fprintf(&b, "   %s\n", st.Note)
		}
		for _, n := range st.Nodes {
			if len(n.Blockers) > 0 {
				action := "GATE CLOSED"
				if opts.PartialOK && st.Name == StageWorkers {
					action = "SKIP (--partial-ok)"
				}
				fmt.Fprintf(&b, "   %s %s: %s\n", action, n.Name, n.Blockers[0].Message)
				continue
			}
			fmt.Fprintf(&b, "   %s: gate, cordon, drain %d pods (eviction API), upgrade, wait Ready at %s, uncordon, validate\n",
				n.Name, n.Pods, p.TargetVersion)
		}
	}
	if opts.MaxUnavailable > 1 {
		fmt.Fprintf(&b, "Workers are drained %d at a time.\n", opts.MaxUnavailable)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

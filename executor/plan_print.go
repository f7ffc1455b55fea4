package executor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// WriteText writes the plan for a person: hops, then each stage with its
// nodes in order and what blocks them, then the next command to run.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrade plan %s -> %s\n\n", p.CurrentVersion, p.TargetVersion)
	if len(p.Hops) == 0 {
		fmt.Fprintf(&b, "Hops: none (already at or past the target)\n")
	} else {
		fmt.Fprintf(&b, "Hops (one minor at a time):\n")
		for i, h := range p.Hops {
			fmt.Fprintf(&b, "  %d. %s -> %s\n", i+1, h.From, h.To)
		}
	}
	if len(p.Blockers) > 0 {
		fmt.Fprintf(&b, "\nBlocking the whole upgrade:\n")
		for _, f := range p.Blockers {
			fmt.Fprintf(&b, "  %s: %s\n", f.Check, f.Message)
		}
	}
	fmt.Fprintf(&b, "\nStages:\n")
	// Node rows are aligned by hand: blocker messages are long and would
	// stretch a tabwriter's columns for every row.
	nameW, kubeletW := 0, 0
	for _, st := range p.Stages {
		for _, n := range st.Nodes {
			nameW, kubeletW = max(nameW, len(n.Name)), max(kubeletW, len(n.Kubelet))
		}
	}
	for i, st := range p.Stages {
		note := ""
		if st.Note != "" {
			note = " (" + st.Note + ")"
		}
		fmt.Fprintf(&b, "%d. %s%s\n", i+1, st.Name, note)
		for _, n := range st.Nodes {
			status := "ready"
			if len(n.Blockers) > 0 {
				status = fmt.Sprintf("BLOCKED by %d finding(s)", len(n.Blockers))
			}
			fmt.Fprintf(&b, "   %-*s  kubelet %-*s  %3d evictable pods  %s\n", nameW, n.Name, kubeletW, n.Kubelet, n.Pods, status)
			for _, f := range n.Blockers {
				fmt.Fprintf(&b, "   %-*s  - %s: %s\n", nameW, "", f.Check, f.Message)
			}
		}
	}
	if p.Blocked {
		fmt.Fprintf(&b, "\nBlocked. See `upgate check --target %s` for every finding and the way out of each.\n", p.TargetVersion)
	} else {
		fmt.Fprintf(&b, "\nNext: upgate run --target %s --dry-run\n", p.TargetVersion)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

package executor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/upgate-dev/upgate/finding"
)

// WriteJSON writes the plan as the contract's Plan report, indented.
// Everything in it is sorted: the same state gives the same bytes.
func (p *Plan) WriteJSON(w io.Writer) error {
	q := *p
	if q.Hops == nil {
		q.Hops = []Hop{}
	}
	if q.Findings == nil {
		q.Findings = []finding.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&q)
}

// WriteText writes the plan for a person: the hops, each with its stages,
// their nodes in order and what blocks them, then the next command to run.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrade plan %s -> %s\n\n", p.CurrentVersion, p.TargetVersion)
	if len(p.Hops) == 0 {
		fmt.Fprintf(&b, "Hops: none (every node is at or past the target)\n")
	} else {
		fmt.Fprintf(&b, "Hops (the control plane moves one minor at a time):\n")
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
	// Node rows are aligned by hand: blocker messages are long and would
	// stretch a tabwriter's columns for every row.
	nameW, fromW := 0, 0
	for _, h := range p.Hops {
		for _, st := range h.Stages {
			for _, n := range st.Nodes {
				nameW, fromW = max(nameW, len(n.Name)), max(fromW, len(n.From))
			}
		}
	}
	for i, h := range p.Hops {
		fmt.Fprintf(&b, "\nHop %d: %s -> %s\n", i+1, h.From, h.To)
		if h.Note != "" {
			fmt.Fprintf(&b, "  (%s)\n", h.Note)
		}
		for j, st := range h.Stages {
			note := ""
			if st.Note != "" {
				note = " (" + st.Note + ")"
			}
			fmt.Fprintf(&b, "  %d. %s%s\n", j+1, st.Name, note)
			for _, n := range st.Nodes {
				status := "ready"
				switch {
				case n.Skip:
					status = fmt.Sprintf("SKIP (--partial-ok): %d finding(s)", len(n.Blockers))
				case len(n.Blockers) > 0:
					status = fmt.Sprintf("BLOCKED by %d finding(s)", len(n.Blockers))
				}
				fmt.Fprintf(&b, "     %-*s  %-*s -> %s  %3d evictable pods  %s\n", nameW, n.Name, fromW, n.From, h.To, n.Pods, status)
				for _, f := range n.Blockers {
					fmt.Fprintf(&b, "     %-*s  - %s: %s\n", nameW, "", f.Check, f.Message)
				}
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

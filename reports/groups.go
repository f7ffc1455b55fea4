package reports

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/upgate-dev/upgate/finding"
)

// group is the findings of one tier, in the order printers show tiers:
// what stops the gate first, what was waived last.
type group struct {
	Name     string // "block", "warn", "info", "ignored"
	Findings []finding.Finding
}

// groupFindings splits the report's findings by tier, keeping their sorted
// order within each. Ignored findings form their own tier whatever their
// severity: they never block, and mixing them in would hide that.
func groupFindings(r *finding.Report) []group {
	gs := []group{{Name: "block"}, {Name: "warn"}, {Name: "info"}, {Name: "ignored"}}
	for _, f := range r.Findings {
		i := 2 // unknown severities from user policies are shown, as info
		switch {
		case f.Ignored:
			i = 3
		case f.Severity == finding.SeverityBlock:
			i = 0
		case f.Severity == finding.SeverityWarn:
			i = 1
		}
		gs[i].Findings = append(gs[i].Findings, f)
	}
	return gs
}

// inputSummary says what the report was computed from in one line:
// "files a.yaml, b/; 15 objects: 2 Deployment, 3 Node, 10 Pod".
func inputSummary(in finding.Input) string {
	var parts []string
	switch {
	case in.Source == "files" && len(in.Files) > 0:
		parts = append(parts, "files "+strings.Join(in.Files, ", "))
	case in.Source == "cluster" && len(in.Files) > 0:
		parts = append(parts, "cluster "+strings.Join(in.Files, ", "))
	case in.Source != "":
		parts = append(parts, in.Source)
	}
	kinds := make([]string, 0, len(in.Counts))
	total := 0
	for k, n := range in.Counts {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	// Kinds read but empty are counted, not listed: the JSON report keeps
	// every count, the text stays readable.
	var counts []string
	empty := 0
	for _, k := range kinds {
		if in.Counts[k] == 0 {
			empty++
			continue
		}
		counts = append(counts, fmt.Sprintf("%d %s", in.Counts[k], k))
	}
	if empty > 0 {
		counts = append(counts, fmt.Sprintf("none of %d other %s", empty, plural(empty, "kind", "kinds")))
	}
	if len(kinds) > 0 {
		parts = append(parts, fmt.Sprintf("%d %s: %s", total, plural(total, "object", "objects"), strings.Join(counts, ", ")))
	} else {
		// Say it out loud: a pass computed from nothing is no pass.
		parts = append(parts, "no objects")
	}
	return strings.Join(parts, "; ")
}

// checkIDs returns the checks to list: the ones the report says ran, plus
// any that produced findings (a user policy may not be in the list), sorted.
func checkIDs(r *finding.Report) []string {
	ids := append([]string{}, r.Checks...)
	for _, f := range r.Findings {
		ids = append(ids, f.Check)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// GapText says what one input gap left unjudged, as a sentence.
func GapText(g finding.InputGap) string {
	return fmt.Sprintf("the input holds no %s: the %s checks judged nothing of them", joinKinds(g.Missing), g.Topic)
}

// GapsLine says in one line what every gap left unjudged, for stderr.
func GapsLine(gaps []finding.InputGap) string {
	parts := make([]string, len(gaps))
	for i, g := range gaps {
		parts[i] = fmt.Sprintf("%s checks (no %s)", g.Topic, joinKinds(g.Missing))
	}
	return "the input judged nothing for the " + strings.Join(parts, "; ") + "; add those kinds to --from, or check the live cluster"
}

// joinKinds lists kinds as "A", "A or B", "A, B or C".
func joinKinds(kinds []string) string {
	switch len(kinds) {
	case 0:
		return ""
	case 1:
		return kinds[0]
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " or " + kinds[len(kinds)-1]
}

package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/upgate-dev/upgate/finding"
)

// Plain ANSI SGR codes: every terminal a cluster operator uses knows them,
// and a dependency for five constants is not worth it.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// painter applies colour only when enabled, so the same code writes plain
// text to files and pipes.
type painter bool

func (p painter) paint(s string, codes ...string) string {
	if !p || s == "" || len(codes) == 0 {
		return s
	}
	return strings.Join(codes, "") + s + ansiReset
}

var groupColor = map[string][]string{
	"block":   {ansiBold, ansiRed},
	"warn":    {ansiBold, ansiYellow},
	"info":    {ansiBold, ansiCyan},
	"ignored": {ansiDim},
}

// renderText writes the human report: a header line with the verdict, what
// it was computed from, a table per tier, and the next command to run.
func renderText(w io.Writer, r *finding.Report, opts RenderOptions) error {
	bw := bufio.NewWriter(w)
	p := painter(opts.Color)

	verdict := strings.ToUpper(string(r.Verdict))
	if r.Blocked() {
		verdict = p.paint(verdict, ansiBold, ansiRed)
	} else {
		verdict = p.paint(verdict, ansiBold, ansiGreen)
	}
	fmt.Fprintf(bw, "upgate %s %s → %s: %s (%s)\n", r.Phase, orUnknown(r.CurrentVersion), orUnknown(r.TargetVersion), verdict, summaryText(r.Summary))
	fmt.Fprintf(bw, "Computed from: %s\n", inputSummary(r.Input))
	for _, g := range r.Input.Gaps {
		fmt.Fprintf(bw, "Not judged: %s\n", GapText(g))
	}
	if r.Input.VersionFrom != "" {
		fmt.Fprintf(bw, "Current version from: %s\n", r.Input.VersionFrom)
	}
	if r.Phase == finding.PhasePostflight && r.Input.Baseline != "" {
		fmt.Fprintf(bw, "Baseline: %s\n", r.Input.Baseline)
	}
	if r.IgnoreSafetyChecks {
		fmt.Fprintf(bw, "Safety checks: reported but not blocking (%s)\n", ignoreSafetyFlag)
	}
	fmt.Fprintf(bw, "Generated: %s by upgate %s\n", r.GeneratedAt.UTC().Format(time.RFC3339), orUnknown(r.Producer.UpgateVersion))

	if len(r.Findings) == 0 {
		if n := len(r.Checks); n > 0 {
			fmt.Fprintf(bw, "\nNo findings from %d %s.\n", n, plural(n, "check", "checks"))
		} else {
			fmt.Fprintf(bw, "\nNo findings.\n")
		}
	} else {
		writeTextTables(bw, r, p)
	}

	fmt.Fprintln(bw)
	for i, s := range nextSteps(r, opts) {
		if i == 0 {
			fmt.Fprintf(bw, "Next: %s\n", s.Say)
		} else {
			fmt.Fprintf(bw, "%s\n", capitalize(s.Say))
		}
		for _, c := range s.Commands {
			fmt.Fprintf(bw, "  %s\n", p.paint(c, ansiBold))
		}
	}
	return bw.Flush()
}

// writeTextTables prints one table per non-empty tier. Column widths are
// shared by all tiers so the report reads as one aligned table; they are
// computed on the plain text because escape codes take no columns.
func writeTextTables(w io.Writer, r *finding.Report, p painter) {
	head := [3]string{"CHECK", "SUBJECT", "NODE"}
	width := [3]int{}
	for i, h := range head {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, f := range r.Findings {
		for i, c := range [3]string{f.Check, f.Subject.String(), f.Node} {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	pad := func(s string, n int) string {
		return s + strings.Repeat(" ", n-utf8.RuneCountInString(s)+2)
	}
	// Details go under the SUBJECT column, clear of the check IDs.
	indent := strings.Repeat(" ", 2+width[0]+2)

	for _, g := range groupFindings(r) {
		if len(g.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", p.paint(fmt.Sprintf("%s (%d)", strings.ToUpper(g.Name), len(g.Findings)), groupColor[g.Name]...))
		fmt.Fprintf(w, "  %s%s%s%s\n", pad(head[0], width[0]), pad(head[1], width[1]), pad(head[2], width[2]), "MESSAGE")
		for _, f := range g.Findings {
			node := f.Node
			if node == "" {
				node = "-"
			}
			// Pad before painting so the codes do not upset alignment.
			fmt.Fprintf(w, "  %s%s%s%s\n", p.paint(pad(f.Check, width[0]), groupColor[g.Name]...), pad(f.Subject.String(), width[1]), pad(node, width[2]), oneLine(f.Message))
			if f.Ignored {
				by := f.IgnoredBy
				if by == "" {
					by = "unknown"
				}
				fmt.Fprintf(w, "%s%s\n", indent, p.paint(fmt.Sprintf("↳ %s, ignored by %s", f.Severity, oneLine(by)), ansiDim))
			}
			if f.Remediation != "" {
				fmt.Fprintf(w, "%s↳ %s\n", indent, oneLine(f.Remediation))
			}
		}
	}
}

// summaryText is "2 block, 1 warn, 0 info, 1 ignored".
func summaryText(s finding.Summary) string {
	return fmt.Sprintf("%d block, %d warn, %d info, %d ignored", s.Block, s.Warn, s.Info, s.Ignored)
}

// oneLine keeps a multi-line policy message from breaking the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

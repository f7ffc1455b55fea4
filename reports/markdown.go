package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/upgate-dev/upgate/finding"
)

// renderMarkdown writes a pull-request comment (GitHub/GitLab flavoured):
// the verdict in the first line, where notification e-mails show it, then
// what blocks, then warnings, with the rest folded away.
func renderMarkdown(w io.Writer, r *finding.Report, opts RenderOptions) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "**upgate %s: %s** (%s → %s)\n\n", r.Phase, r.Verdict, mdCell(orUnknown(r.CurrentVersion)), mdCell(orUnknown(r.TargetVersion)))

	s := r.Summary
	fmt.Fprintf(bw, "| block | warn | info | ignored |\n|---:|---:|---:|---:|\n| %d | %d | %d | %d |\n\n", s.Block, s.Warn, s.Info, s.Ignored)
	fmt.Fprintf(bw, "Computed from %s", mdText(inputSummary(r.Input)))
	if r.Input.VersionFrom != "" {
		fmt.Fprintf(bw, "; current version from %s", mdText(r.Input.VersionFrom))
	}
	fmt.Fprintf(bw, ". Generated %s by upgate %s.\n", r.GeneratedAt.UTC().Format(time.RFC3339), mdText(orUnknown(r.Producer.UpgateVersion)))
	for _, g := range r.Input.Gaps {
		fmt.Fprintf(bw, "\nNot judged: %s.\n", mdText(GapText(g)))
	}
	if r.IgnoreSafetyChecks {
		fmt.Fprintf(bw, "\nSafety checks were reported but not allowed to block (`%s`).\n", ignoreSafetyFlag)
	}

	gs := groupFindings(r)
	block, warn, info, ignored := gs[0].Findings, gs[1].Findings, gs[2].Findings, gs[3].Findings
	if len(block) > 0 {
		fmt.Fprintf(bw, "\n### Blocking findings (%d)\n\n", len(block))
		mdTable(bw, block, false)
	}
	if len(warn) > 0 {
		fmt.Fprintf(bw, "\n### Warnings (%d)\n\n", len(warn))
		mdTable(bw, warn, false)
	}
	if rest := append(append([]finding.Finding{}, info...), ignored...); len(rest) > 0 {
		// A blank line after <summary> lets the table inside render.
		fmt.Fprintf(bw, "\n<details><summary>Info and ignored findings (%d)</summary>\n\n", len(rest))
		mdTable(bw, rest, true)
		fmt.Fprintf(bw, "\n</details>\n")
	}
	if len(r.Findings) == 0 {
		fmt.Fprintf(bw, "\nNo findings.\n")
	}

	for i, st := range nextSteps(r, opts) {
		if i == 0 {
			fmt.Fprintf(bw, "\n**Next:** %s", mdText(st.Say))
		} else {
			fmt.Fprintf(bw, "\n%s", mdText(capitalize(st.Say)))
		}
		if len(st.Commands) > 0 {
			fmt.Fprintf(bw, "\n\n```sh\n%s\n```\n", strings.Join(st.Commands, "\n"))
		} else {
			fmt.Fprintln(bw)
		}
	}
	return bw.Flush()
}

// mdTable writes findings as a table; withTier adds the severity and who
// waived a finding, for the mixed info/ignored table.
func mdTable(w io.Writer, fs []finding.Finding, withTier bool) {
	if withTier {
		fmt.Fprintf(w, "| Severity | Check | Subject | Node | Message | Ignored by |\n|---|---|---|---|---|---|\n")
	} else {
		fmt.Fprintf(w, "| Check | Subject | Node | Message | Remediation |\n|---|---|---|---|---|\n")
	}
	for _, f := range fs {
		check := "`" + mdCode(f.Check) + "`"
		if withTier {
			sev := string(f.Severity)
			if f.Ignored {
				sev += " (ignored)"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdCell(sev), check, mdCell(f.Subject.String()), mdCell(f.Node), mdCell(f.Message), mdCell(f.IgnoredBy))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", check, mdCell(f.Subject.String()), mdCell(f.Node), mdCell(f.Message), mdCell(f.Remediation))
	}
}

// mdCell makes text safe inside a table cell: a | would end the cell and a
// newline the row; < and & would be read as HTML; * _ ` [ as emphasis,
// code or links in text that came from the cluster.
func mdCell(s string) string {
	return strings.ReplaceAll(mdText(oneLine(s)), "|", `\|`)
}

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "&", "&amp;", "<", "&lt;", ">", "&gt;",
	"*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
)

// mdText escapes Markdown and HTML in prose.
func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCode keeps a code span intact: a backtick would end it and, in a
// table, so would an unescaped |.
func mdCode(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "`", "'"), "|", `\|`)
}

package reports

import (
	"fmt"
	"strings"

	"github.com/upgate-dev/upgate/finding"
)

// ignoreSafetyFlag is the contract's override for safety.* findings: they
// are still evaluated and reported, but none blocks.
const ignoreSafetyFlag = "--ignore-safety-checks"

// nextStep is one thing the user can do after reading a report: what and
// why in Say, then the exact commands.
type nextStep struct {
	Say      string
	Commands []string
}

// nextSteps works out what to run after this report. It is the one place
// that turns a verdict into advice, so text and markdown agree, and the one
// place the "how to bypass" hint is built from the tier (the remediation of
// each finding says how to fix that finding).
func nextSteps(r *finding.Report, opts RenderOptions) []nextStep {
	bin := opts.Command
	if bin == "" {
		bin = "upgate"
	}
	rerun := opts.Rerun
	if rerun == "" {
		rerun = checkCommand(bin, r)
	}

	if r.Blocked() {
		n := r.Summary.Block
		steps := []nextStep{{
			Say:      fmt.Sprintf("fix the %d blocking %s (%s), then re-run:", n, plural(n, "finding", "findings"), plural(n, "its remediation says how", "the remediation of each says how")),
			Commands: []string{rerun},
		}}
		// The flag only helps when every blocking finding is a safety
		// check; offering it otherwise would promise a pass it cannot give.
		if !r.IgnoreSafetyChecks && allBlockingSafety(r) {
			steps = append(steps, nextStep{
				Say:      "or, after review, accept the safety risks (the findings stay in the report, ignored, never blocking):",
				Commands: []string{rerun + " " + ignoreSafetyFlag},
			})
		}
		return steps
	}

	if r.Phase == finding.PhasePostflight {
		return []nextStep{{Say: fmt.Sprintf("the upgrade to %s is verified; nothing left to run.", r.TargetVersion)}}
	}
	if sameVersion(r.CurrentVersion, r.TargetVersion) {
		return []nextStep{{Say: fmt.Sprintf("the cluster is already at %s; nothing to upgrade.", r.TargetVersion)}}
	}
	// `run` works on the live cluster, so it never takes --from; `plan`
	// keeps the inputs this report was computed from.
	extra := ""
	if r.IgnoreSafetyChecks {
		extra = " " + ignoreSafetyFlag
	}
	return []nextStep{{
		Say: "review the staged plan, then upgrade:",
		Commands: []string{
			fmt.Sprintf("%s plan --target %s%s%s", bin, shellQuote(r.TargetVersion), fromFlags(r), extra),
			fmt.Sprintf("%s run --target %s%s", bin, shellQuote(r.TargetVersion), extra),
		},
	}}
}

// checkCommand rebuilds the `check` command line from what the report
// recorded; RenderOptions.Rerun is better when the CLI knows it.
func checkCommand(bin string, r *finding.Report) string {
	var b strings.Builder
	b.WriteString(bin + " check")
	if r.Phase == finding.PhasePostflight {
		b.WriteString(" --phase postflight --baseline ")
		if r.Input.Baseline != "" {
			b.WriteString(shellQuote(r.Input.Baseline))
		} else {
			b.WriteString("PRE")
		}
	}
	b.WriteString(" --target " + shellQuote(r.TargetVersion))
	b.WriteString(fromFlags(r))
	if r.IgnoreSafetyChecks {
		b.WriteString(" " + ignoreSafetyFlag)
	}
	return b.String()
}

// fromFlags repeats the offline inputs; for a live cluster Files holds the
// API server address, which is not a --from.
func fromFlags(r *finding.Report) string {
	if r.Input.Source != "files" {
		return ""
	}
	var b strings.Builder
	for _, f := range r.Input.Files {
		b.WriteString(" --from " + shellQuote(f))
	}
	return b.String()
}

func allBlockingSafety(r *finding.Report) bool {
	found := false
	for _, f := range r.Findings {
		if !f.Blocking() {
			continue
		}
		if !strings.HasPrefix(f.Check, "safety.") {
			return false
		}
		found = true
	}
	return found
}

// sameVersion compares versions as the contract accepts them, with or
// without the leading v.
func sameVersion(a, b string) bool {
	return a != "" && strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
}

// shellQuote quotes s for a POSIX shell only when it needs it, so common
// commands stay copy-pasteable and readable.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@%+,", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

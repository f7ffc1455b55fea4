// Package finding is upgate's report model: the findings of one check run
// (check ID, severity, subject, message, the way out, what they gate) and
// what they were computed from. Reports are sorted so the same state gives
// the same bytes (apart from generatedAt). Package reports renders them,
// package signing signs them; this one depends on neither.
package finding

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// APIVersion and Kind identify the JSON report document.
const (
	APIVersion = "upgate.dev/v1alpha1"
	Kind       = "Report"
)

// Severity is a finding's tier: only block findings stop the gate.
type Severity string

const (
	SeverityBlock Severity = "block"
	SeverityWarn  Severity = "warn"
	SeverityInfo  Severity = "info"
)

// Verdict is the gate's outcome.
type Verdict string

const (
	VerdictPassed  Verdict = "passed"
	VerdictBlocked Verdict = "blocked"
)

// Phase says whether a report looks before or after an upgrade.
type Phase string

const (
	PhasePreflight  Phase = "preflight"
	PhasePostflight Phase = "postflight"
)

// Scope says what a finding gates in an upgrade run (`upgate run`); a
// rule declares it in its METADATA (custom.scope) and the policy engine
// copies it onto each finding. `check` reports every finding of its phase
// whatever its scope.
type Scope string

const (
	// ScopeRun: evaluated once before the run (and by `plan`); a blocking
	// finding stops the whole run, or the plan's node it is about.
	ScopeRun Scope = "run"
	// ScopeHop: evaluated for each hop of a multi-hop run against the
	// hop's from and to versions (the upgrade path and skew windows).
	ScopeHop Scope = "hop"
	// ScopeNode: evaluated in each node's gate just before the node is
	// touched, on the findings about that node or about no node.
	ScopeNode Scope = "node"
	// ScopeValidate: evaluated after a node is upgraded, as its
	// validation, on the findings about that node.
	ScopeValidate Scope = "validate"
	// ScopePostflight: evaluated after the run against the baseline taken
	// before it (`check --phase postflight`), for the whole cluster.
	ScopePostflight Scope = "postflight"
)

// Scopes lists every scope, in the order a run meets them: the order
// findings list their scopes in.
var Scopes = []Scope{ScopeRun, ScopeHop, ScopeNode, ScopeValidate, ScopePostflight}

// Phase is the phase whose evaluation a scope's findings come from:
// postflight for validate and postflight, preflight for the others.
func (s Scope) Phase() Phase {
	if s == ScopeValidate || s == ScopePostflight {
		return PhasePostflight
	}
	return PhasePreflight
}

// Valid reports whether s is one of Scopes.
func (s Scope) Valid() bool { return slices.Contains(Scopes, s) }

// Subject is the object a finding is about.
type Subject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Finding is one decision with its reasons: which check, how severe, about
// what, and the way out.
type Finding struct {
	Check       string   `json:"check"`
	Severity    Severity `json:"severity"`
	Ignored     bool     `json:"ignored"`
	Subject     Subject  `json:"subject"`
	Node        string   `json:"node,omitempty"`
	Message     string   `json:"message"`
	Remediation string   `json:"remediation,omitempty"`
	// Scope is what the finding gates in `upgate run` (run, hop, node,
	// validate, postflight), in the order of Scopes.
	Scope []Scope `json:"scope,omitempty"`
	// IgnoredBy says what marked the finding ignored (an annotation on an
	// object, a config exception, --ignore-safety-checks).
	IgnoredBy string `json:"ignoredBy,omitempty"`
}

// String is "kind/namespace/name", or "kind/name" for a cluster-scoped
// object: how kubectl users name an object.
func (s Subject) String() string {
	parts := make([]string, 0, 3)
	for _, p := range []string{s.Kind, s.Namespace, s.Name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// Blocking reports whether the finding stops the gate.
func (f Finding) Blocking() bool { return f.Severity == SeverityBlock && !f.Ignored }

// In reports whether the finding is declared for scope s.
func (f Finding) In(s Scope) bool { return slices.Contains(f.Scope, s) }

// Summary counts findings by severity; ignored ones are counted apart only.
type Summary struct {
	Block   int `json:"block"`
	Warn    int `json:"warn"`
	Info    int `json:"info"`
	Ignored int `json:"ignored"`
}

// Input records what a report was computed from, so a "passed" cannot be
// mistaken for one computed on other or partial data.
type Input struct {
	// Source is "cluster" or "files".
	Source string `json:"source"`
	// Files are the paths read (for --from), or the API server address.
	Files []string `json:"files,omitempty"`
	// Counts is objects read by kind.
	Counts map[string]int `json:"counts"`
	// VersionFrom says how the current version was found.
	VersionFrom string `json:"versionFrom,omitempty"`
	// SnapshotDigest is the sha256 of the canonical snapshot of the state
	// (live collection).
	SnapshotDigest string `json:"snapshotDigest,omitempty"`
	// InputDigest is the sha256 of the files read (--from): of the file
	// itself when there was one, as sha256sum prints it.
	InputDigest string `json:"inputDigest,omitempty"`
	// Baseline is the --baseline a postflight report compared against, so
	// the report (and its suggested re-run) names it.
	Baseline string `json:"baseline,omitempty"`
	// Gaps are the topics whose kinds plain manifests (--from) lack
	// entirely: their checks had nothing to judge. A snapshot or the live
	// cluster lists every kind, so their reports have none.
	Gaps []InputGap `json:"gaps,omitempty"`
}

// InputGap is one topic the input gave nothing to judge, and the kinds it
// lacks.
type InputGap struct {
	Topic   string   `json:"topic"`
	Missing []string `json:"missing"`
}

// Producer records the tool and policies that produced a report.
type Producer struct {
	UpgateVersion string `json:"upgateVersion"`
	PolicyDigest  string `json:"policyDigest,omitempty"`
}

// Report is the contract's JSON report.
type Report struct {
	APIVersion     string    `json:"apiVersion"`
	Kind           string    `json:"kind"`
	Phase          Phase     `json:"phase"`
	CurrentVersion string    `json:"currentVersion"`
	TargetVersion  string    `json:"targetVersion"`
	Verdict        Verdict   `json:"verdict"`
	GeneratedAt    time.Time `json:"generatedAt"`
	Findings       []Finding `json:"findings"`
	Summary        Summary   `json:"summary"`
	Input          Input     `json:"input"`
	Producer       Producer  `json:"producer"`
	// IgnoreSafetyChecks records that safety findings were not allowed to block.
	IgnoreSafetyChecks bool `json:"ignoreSafetyChecks,omitempty"`
	// Checks lists the IDs of the checks evaluated, sorted, so a check that
	// ran and found nothing is told apart from one that never ran (JUnit
	// shows it as a passed test case).
	Checks []string `json:"checks,omitempty"`
	// Snapshot optionally embeds the state the report was computed from, so
	// the report can serve as a postflight baseline.
	Snapshot any `json:"snapshot,omitempty"`
}

// New returns a report for the findings, sorted, summarised and with its
// verdict set.
func New(phase Phase, current, target string, findings []Finding, in Input, prod Producer, now time.Time) *Report {
	r := &Report{
		APIVersion: APIVersion, Kind: Kind, Phase: phase,
		CurrentVersion: current, TargetVersion: target,
		GeneratedAt: now.UTC().Truncate(time.Second),
		Findings:    append([]Finding{}, findings...),
		Input:       in, Producer: prod,
	}
	r.Finalize()
	return r
}

// Finalize sorts the findings and recomputes the summary and verdict; call
// it after changing findings.
func (r *Report) Finalize() {
	Sort(r.Findings)
	r.Checks = sortedUnique(r.Checks)
	r.Summary = Summary{}
	r.Verdict = VerdictPassed
	for _, f := range r.Findings {
		if f.Ignored {
			r.Summary.Ignored++
			continue
		}
		switch f.Severity {
		case SeverityBlock:
			r.Summary.Block++
			r.Verdict = VerdictBlocked
		case SeverityWarn:
			r.Summary.Warn++
		case SeverityInfo:
			r.Summary.Info++
		}
	}
}

// Blocked reports whether any finding stops the gate.
func (r *Report) Blocked() bool { return r.Verdict == VerdictBlocked }

// Sort orders findings by check, subject namespace, kind and name, node and
// message: a stable order that makes reports byte-comparable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case a.Check != b.Check:
			return a.Check < b.Check
		case a.Subject.Namespace != b.Subject.Namespace:
			return a.Subject.Namespace < b.Subject.Namespace
		case a.Subject.Kind != b.Subject.Kind:
			return a.Subject.Kind < b.Subject.Kind
		case a.Subject.Name != b.Subject.Name:
			return a.Subject.Name < b.Subject.Name
		case a.Node != b.Node:
			return a.Node < b.Node
		default:
			return a.Message < b.Message
		}
	})
}

// sortedUnique returns ids sorted without duplicates (nil for none), so the
// checks list is byte-stable whatever order the policies ran in.
func sortedUnique(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := append([]string{}, ids...)
	sort.Strings(out)
	n := 1
	for _, id := range out[1:] {
		if id != out[n-1] {
			out[n] = id
			n++
		}
	}
	return out[:n]
}

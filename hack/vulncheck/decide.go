package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// The parts of govulncheck's JSON stream (-format json, protocol v1) that
// the decision reads. The stream is a sequence of JSON objects, each with
// one of the keys config, progress, SBOM, osv or finding; unknown keys and
// fields are ignored, so newer scanners that add some still parse.
type message struct {
	Config  *config  `json:"config,omitempty"`
	OSV     *osv     `json:"osv,omitempty"`
	Finding *finding `json:"finding,omitempty"`
}

type config struct {
	ProtocolVersion string `json:"protocol_version"`
	ScannerName     string `json:"scanner_name"`
	ScannerVersion  string `json:"scanner_version"`
	DB              string `json:"db"`
	GoVersion       string `json:"go_version"`
	ScanLevel       string `json:"scan_level"`
}

type osv struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string    `json:"module"`
	Version  string    `json:"version"`
	Package  string    `json:"package"`
	Function string    `json:"function"`
	Receiver string    `json:"receiver"`
	Position *position `json:"position"`
}

type position struct {
	Filename string `json:"filename"`
	Line     int    `json:"line"`
}

// Vuln is one vulnerability govulncheck reports as called: our code reaches
// a vulnerable function (a finding whose trace's first frame, the
// vulnerable symbol, names a function).
type Vuln struct {
	ID      string
	Summary string
	Module  string // module@version the vulnerable code is in ("stdlib@go1.x" for the standard library)
	Fixed   string // the version that fixes it; empty when none does
	Trace   string // one call path, from our code to the vulnerable symbol
}

// Scan is what one govulncheck run reported.
type Scan struct {
	Config *config
	Called []Vuln // sorted by ID
	// NotCalled counts the other vulnerabilities reported: in packages we
	// import or modules we require, whose vulnerable code we never call.
	// They do not fail the check (govulncheck's own text mode does not
	// count them either).
	NotCalled int
}

// ParseScan reads a govulncheck -format json stream. It fails on anything
// that is not such a stream, or one with no config message (a truncated or
// foreign output must never pass as "nothing found"), or one scanned at a
// level that cannot tell called code from imported code.
func ParseScan(r io.Reader) (*Scan, error) {
	dec := json.NewDecoder(r)
	var (
		cfg       *config
		summaries = map[string]string{}
		called    = map[string]*Vuln{}
		seen      = map[string]bool{}
	)
	for n := 1; ; n++ {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("govulncheck output, object %d: %w", n, err)
		}
		switch {
		case m.Config != nil:
			cfg = m.Config
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil:
			f := m.Finding
			if f.OSV == "" || len(f.Trace) == 0 {
				return nil, fmt.Errorf("govulncheck output, object %d: a finding without an OSV id or a trace", n)
			}
			seen[f.OSV] = true
			if f.Trace[0].Function == "" {
				continue // imported or required, not called
			}
			v := called[f.OSV]
			tr := formatTrace(f.Trace)
			// Keep the shortest call path (then the first in sort
			// order), so the line printed is stable from run to run.
			if v == nil || len(tr) < len(v.Trace) || (len(tr) == len(v.Trace) && tr < v.Trace) {
				called[f.OSV] = &Vuln{
					ID:     f.OSV,
					Module: moduleAt(f.Trace[0]),
					Fixed:  f.FixedVersion,
					Trace:  tr,
				}
			}
		}
	}
	if cfg == nil {
		return nil, errors.New("govulncheck output has no config message: not a complete govulncheck -format json stream")
	}
	if cfg.ScanLevel != "" && cfg.ScanLevel != "symbol" {
		return nil, fmt.Errorf("govulncheck scanned at level %q: only -scan symbol tells called code from imported code", cfg.ScanLevel)
	}
	s := &Scan{Config: cfg}
	for id, v := range called {
		v.Summary = summaries[id]
		s.Called = append(s.Called, *v)
	}
	sort.Slice(s.Called, func(i, j int) bool { return s.Called[i].ID < s.Called[j].ID })
	s.NotCalled = len(seen) - len(called)
	return s, nil
}

func moduleAt(f frame) string {
	m := f.Module
	if m == "" {
		m = "unknown module"
	}
	if f.Version != "" {
		m += "@" + f.Version
	}
	return m
}

// formatTrace writes a trace from our code (its last frame) to the
// vulnerable symbol (its first), as govulncheck's text output does.
func formatTrace(tr []frame) string {
	parts := make([]string, 0, len(tr))
	for i := len(tr) - 1; i >= 0; i-- {
		f := tr[i]
		name := f.Function
		if f.Receiver != "" {
			name = strings.TrimPrefix(f.Receiver, "*") + "." + name
		}
		pkg := f.Package
		if k := strings.LastIndex(pkg, "/"); k >= 0 {
			pkg = pkg[k+1:]
		}
		if pkg != "" {
			name = pkg + "." + name
		}
		if i == len(tr)-1 && f.Position != nil && f.Position.Filename != "" {
			name += fmt.Sprintf(" (%s:%d)", f.Position.Filename, f.Position.Line)
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, " -> ")
}

// idPattern is the form of the Go vulnerability database's IDs.
var idPattern = regexp.MustCompile(`^GO-[0-9]{4}-[0-9]{4,}$`)

// ParseAccepted reads the accepted-risk file: one `ID  reason` a line, the
// reason saying why the vulnerability does not apply to upgate. Blank lines
// and lines starting with # are comments. An ID without a reason, a
// malformed ID or an ID listed twice is an error: an exception nobody can
// explain is not accepted.
func ParseAccepted(r io.Reader) (map[string]string, error) {
	accepted := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			id, reason = line[:i], line[i+1:]
		}
		reason = strings.TrimSpace(reason)
		switch {
		case !idPattern.MatchString(id):
			return nil, fmt.Errorf("line %d: %q is not a Go vulnerability ID (GO-YYYY-NNNN)", n, id)
		case reason == "":
			return nil, fmt.Errorf("line %d: %s has no reason: say why it does not apply", n, id)
		case accepted[id] != "":
			return nil, fmt.Errorf("line %d: %s is listed twice", n, id)
		}
		accepted[id] = reason
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return accepted, nil
}

// Decision is the verdict on one scan.
type Decision struct {
	Accepted []AcceptedVuln // called, and listed as accepted: reported, do not fail
	Failing  []Vuln         // called and not accepted: fail
	Stale    []string       // accepted but no longer reported as called: fail, so the list does not rot
}

// AcceptedVuln is a called vulnerability with the reason it was accepted.
type AcceptedVuln struct {
	Vuln
	Reason string
}

// OK reports whether the check passes.
func (d Decision) OK() bool { return len(d.Failing) == 0 && len(d.Stale) == 0 }

// Decide fails on every called vulnerability that is not accepted and on
// every accepted one that is no longer reported as called.
func Decide(s *Scan, accepted map[string]string) Decision {
	var d Decision
	called := map[string]bool{}
	for _, v := range s.Called {
		called[v.ID] = true
		if reason, ok := accepted[v.ID]; ok {
			d.Accepted = append(d.Accepted, AcceptedVuln{Vuln: v, Reason: reason})
		} else {
			d.Failing = append(d.Failing, v)
		}
	}
	for id := range accepted {
		if !called[id] {
			d.Stale = append(d.Stale, id)
		}
	}
	sort.Strings(d.Stale)
	return d
}

// Print writes the decision for people: every accepted vulnerability,
// every failing one and every stale exception, then a one-line verdict.
func (d Decision) Print(w io.Writer, s *Scan, acceptedFile string) {
	c := s.Config
	fmt.Fprintf(w, "vulncheck: %s %s, Go %s, database %s\n", c.ScannerName, c.ScannerVersion, c.GoVersion, c.DB)
	for _, v := range d.Failing {
		fmt.Fprintf(w, "\nVULNERABLE %s: %s\n", v.ID, v.Summary)
		fmt.Fprintf(w, "  found in: %s\n  fixed in: %s\n  called:   %s\n", v.Module, orNone(v.Fixed), v.Trace)
	}
	for _, v := range d.Accepted {
		fmt.Fprintf(w, "\nACCEPTED %s (listed in %s): %s\n", v.ID, acceptedFile, v.Summary)
		fmt.Fprintf(w, "  found in: %s\n  fixed in: %s\n  called:   %s\n  why it does not apply: %s\n",
			v.Module, orNone(v.Fixed), v.Trace, v.Reason)
	}
	for _, id := range d.Stale {
		fmt.Fprintf(w, "\nSTALE %s is listed in %s but no longer reported as called: remove it from the list\n", id, acceptedFile)
	}
	fmt.Fprintf(w, "\nvulncheck: %d called vulnerabilities: %d accepted, %d not accepted; %d stale accepted entries; %d more in code that is imported but never called (not failing)\n",
		len(s.Called), len(d.Accepted), len(d.Failing), len(d.Stale), s.NotCalled)
	if d.OK() {
		fmt.Fprintln(w, "vulncheck: PASS")
	} else {
		fmt.Fprintln(w, "vulncheck: FAIL")
	}
}

func orNone(s string) string {
	if s == "" {
		return "N/A (no fixed version)"
	}
	return s
}

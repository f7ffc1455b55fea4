package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/upgate-dev/upgate/finding"
)

// JUnit XML as CI systems (Jenkins, GitLab, GitHub test reporters) read it:
// one suite for the run, one test case per check. A blocking finding is a
// failure; warnings and info go to system-out, where they are visible but
// do not fail the build; a check whose findings were all waived is skipped.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Time      string         `xml:"time,attr"`
	Skipped   *junitSkipped  `xml:"skipped"`
	Failures  []junitFailure `xml:"failure"`
	SystemOut *junitText     `xml:"system-out"`
}

// junitText is element content escaped by xmlText.
type junitText struct {
	Text string `xml:",innerxml"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	// Text is pre-escaped by xmlText: encoding/xml's chardata escapes
	// every newline and quote, which makes the raw file unreadable.
	Text string `xml:",innerxml"`
}

func renderJUnit(w io.Writer, r *finding.Report) error {
	byCheck := map[string][]finding.Finding{}
	for _, f := range r.Findings {
		byCheck[f.Check] = append(byCheck[f.Check], f)
	}

	suite := junitSuite{
		Name:      fmt.Sprintf("upgate %s %s -> %s", r.Phase, orUnknown(r.CurrentVersion), orUnknown(r.TargetVersion)),
		Time:      "0",
		Timestamp: r.GeneratedAt.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{
			{Name: "phase", Value: string(r.Phase)},
			{Name: "currentVersion", Value: r.CurrentVersion},
			{Name: "targetVersion", Value: r.TargetVersion},
			{Name: "verdict", Value: string(r.Verdict)},
			{Name: "input", Value: inputSummary(r.Input)},
			{Name: "upgateVersion", Value: r.Producer.UpgateVersion},
		},
	}
	for _, id := range checkIDs(r) {
		c := newJUnitCase(id, byCheck[id])
		suite.Tests++
		suite.Failures += len(c.Failures)
		if c.Skipped != nil {
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{
		Name: "upgate", Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped,
		Suites: []junitSuite{suite},
	}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// newJUnitCase is the test case of one check: failed by its blocking findings,
// skipped when every finding was waived, passed otherwise.
func newJUnitCase(id string, fs []finding.Finding) junitCase {
	c := junitCase{Name: id, Classname: "upgate." + checkGroup(id), Time: "0"}
	var out []string
	ignored := 0
	for _, f := range fs {
		switch {
		case f.Blocking():
			c.Failures = append(c.Failures, junitFailure{
				Message: fmt.Sprintf("%s: %s", f.Subject, oneLine(f.Message)),
				Type:    string(f.Severity),
				Text:    xmlText(findingDetail(f)),
			})
		case f.Ignored:
			ignored++
			out = append(out, fmt.Sprintf("ignored %s %s: %s (ignored by %s)", f.Severity, f.Subject, oneLine(f.Message), orUnknown(f.IgnoredBy)))
		default:
			out = append(out, fmt.Sprintf("%s %s: %s", f.Severity, f.Subject, oneLine(f.Message)))
		}
	}
	if len(fs) > 0 && ignored == len(fs) {
		msg := fmt.Sprintf("all %d findings ignored", ignored)
		if ignored == 1 {
			msg = "its only finding is ignored"
		}
		c.Skipped = &junitSkipped{Message: msg}
	}
	if len(out) > 0 {
		c.SystemOut = &junitText{Text: xmlText(strings.Join(out, "\n"))}
	}
	return c
}

// findingDetail is the failure body: everything a reader of a CI log needs
// to act on the finding without opening the full report.
func findingDetail(f finding.Finding) string {
	lines := []string{"subject: " + f.Subject.String()}
	if f.Node != "" {
		lines = append(lines, "node: "+f.Node)
	}
	lines = append(lines, "message: "+f.Message)
	if f.Remediation != "" {
		lines = append(lines, "remediation: "+f.Remediation)
	}
	return strings.Join(lines, "\n")
}

// checkGroup is the topic of a check ID ("safety" of "safety.emptydir"),
// which CI tools show as the test class.
func checkGroup(id string) string {
	if i := strings.IndexByte(id, '.'); i > 0 {
		return id[:i]
	}
	return id
}

// xmlUnescaper undoes the escapes encoding/xml applies that plain element
// content does not need, so multi-line text stays multi-line in the file.
var xmlUnescaper = strings.NewReplacer("&#xA;", "\n", "&#x9;", "\t", "&#34;", `"`, "&#39;", "'")

// xmlText escapes s as element content. encoding/xml does the escaping that
// matters (& < >, and replaces characters XML cannot carry).
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return xmlUnescaper.Replace(b.String())
}

package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/finding/findingtest"
)

// Regenerate the golden files with: go test ./reports/ -run TestRenderGolden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		golden string
		report func() *finding.Report
		format Format
		opts   RenderOptions
	}{
		{"blocked.txt", findingtest.Blocked, FormatText, RenderOptions{}},
		{"blocked.color.txt", findingtest.Blocked, FormatText, RenderOptions{Color: true}},
		{"blocked.json", findingtest.Blocked, FormatJSON, RenderOptions{}},
		{"blocked.junit.xml", findingtest.Blocked, FormatJUnit, RenderOptions{}},
		{"blocked.md", findingtest.Blocked, FormatMarkdown, RenderOptions{}},
		{"passed.txt", findingtest.Passed, FormatText, RenderOptions{Command: "kubectl upgate"}},
		{"passed.json", findingtest.Passed, FormatJSON, RenderOptions{}},
		{"passed.junit.xml", findingtest.Passed, FormatJUnit, RenderOptions{}},
		{"passed.md", findingtest.Passed, FormatMarkdown, RenderOptions{}},
		{"postflight.txt", findingtest.Postflight, FormatText, RenderOptions{}},
		{"rerun.txt", findingtest.Blocked, FormatText, RenderOptions{Rerun: "upgate check --target v1.36.0 --kubeconfig /tmp/kc"}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tc.report(), tc.format, tc.opts); err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run: go test ./reports/ -run TestRenderGolden -update)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
			}
		})
	}
}

// Rendering must neither change the report (a caller renders one report in
// several formats) nor depend on anything but it.
func TestRenderIsPureAndDeterministic(t *testing.T) {
	for _, f := range Formats {
		r := findingtest.Blocked()
		before := findingtest.Blocked()
		var a, b bytes.Buffer
		if err := Render(&a, r, f, RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := Render(&b, r, f, RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s: two renders of one report differ", f)
		}
		if !reflect.DeepEqual(r, before) {
			t.Errorf("%s: Render changed the report", f)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, findingtest.Blocked(), FormatJSON, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("}\n")) {
		t.Errorf("JSON report does not end with a newline")
	}
	var got finding.Report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("JSON report does not parse: %v", err)
	}
	if want := findingtest.Blocked(); !reflect.DeepEqual(&got, want) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, *want)
	}
}

// The contract shows findings as a list, also when there are none.
func TestJSONEmptyListsAreNotNull(t *testing.T) {
	r := finding.New(finding.PhasePreflight, "v1.35.2", "v1.36.0", nil, finding.Input{Source: "cluster"}, finding.Producer{}, findingtest.FixedTime)
	var buf bytes.Buffer
	if err := Render(&buf, r, FormatJSON, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"findings": []`, `"counts": {}`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestJUnitParses(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, findingtest.Blocked(), FormatJUnit, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v", err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("got %d test suites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	// 6 distinct checks ran; 2 blocking findings; safety.singleton's only
	// finding is ignored.
	if s.Tests != 6 || s.Failures != 2 || s.Skipped != 1 || len(s.Cases) != 6 {
		t.Errorf("tests=%d failures=%d skipped=%d cases=%d, want 6, 2, 1, 6", s.Tests, s.Failures, s.Skipped, len(s.Cases))
	}
}

// Without a Checks list, the test cases are the checks seen in findings.
func TestJUnitWithoutChecksList(t *testing.T) {
	r := findingtest.Blocked()
	r.Checks = nil
	if got, want := checkIDs(r), []string{"health.node-pressure", "safety.emptydir", "safety.pdb-blocks-drain", "safety.singleton", "skew.version-unknown"}; !reflect.DeepEqual(got, want) {
		t.Errorf("checkIDs = %v, want %v", got, want)
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"", FormatText, false},
		{"text", FormatText, false},
		{"json", FormatJSON, false},
		{"JUnit", FormatJUnit, false},
		{"markdown", FormatMarkdown, false},
		{"yaml", "", true},
		{"md", "", true},
	}
	for _, tc := range tests {
		got, err := ParseFormat(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, nil, FormatJSON, RenderOptions{}); err == nil {
		t.Error("Render(nil report) succeeded")
	}
	if err := Render(&buf, findingtest.Blocked(), Format("yaml"), RenderOptions{}); err == nil {
		t.Error("Render(unknown format) succeeded")
	}
}

// The next steps are the last thing a user reads; they must match the tier.
func TestNextSteps(t *testing.T) {
	safetyOnly := findingtest.Blocked()
	safetyOnly.Findings = safetyOnly.Findings[:0:0]
	for _, f := range findingtest.Blocked().Findings {
		if strings.HasPrefix(f.Check, "safety.") {
			safetyOnly.Findings = append(safetyOnly.Findings, f)
		}
	}
	safetyOnly.Finalize()
	mixed := findingtest.Blocked()
	mixed.Findings = append(mixed.Findings, finding.Finding{Check: "path.minor-skip", Severity: finding.SeverityBlock, Subject: finding.Subject{Kind: "Cluster", Name: "cluster"}, Message: "skip"})
	mixed.Finalize()
	already := finding.New(finding.PhasePreflight, "v1.36.0", "1.36.0", nil, finding.Input{}, finding.Producer{}, findingtest.FixedTime)

	tests := []struct {
		name     string
		r        *finding.Report
		want     []string
		dontWant []string
	}{
		{"safety blockers offer the override", safetyOnly,
			[]string{"upgate check --target v1.36.0 --from testdata/cluster.yaml --from 'snapshots/pre upgrade.json' --ignore-safety-checks"}, nil},
		{"other blockers do not", mixed, []string{"fix the 3 blocking findings"}, []string{"--ignore-safety-checks"}},
		{"passed preflight plans and runs", findingtest.Passed(), []string{"upgate plan --target v1.36.0\n", "upgate run --target v1.36.0\n"}, []string{"--from"}},
		{"already at target", already, []string{"already at 1.36.0"}, []string{"upgate run"}},
		{"postflight re-runs against its baseline", findingtest.Postflight(), []string{"upgate check --phase postflight --baseline pre.json --target v1.36.0 --from post.json"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tc.r, FormatText, RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("text lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(out, w) {
					t.Errorf("text has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"v1.36.0":       "v1.36.0",
		"dir/a b.yaml":  "'dir/a b.yaml'",
		"it's":          `'it'\''s'`,
		"":              "''",
		"$(rm -rf /)":   "'$(rm -rf /)'",
		"-":             "-",
		"a.yaml,b.yaml": "a.yaml,b.yaml",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

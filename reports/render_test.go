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
	"time"
)

// Regenerate the golden files with: go test ./reports/ -run TestRenderGolden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var fixedTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// blockedReport has every tier, text that needs escaping (| < & *), a
// check that ran clean and one whose findings were all ignored.
func blockedReport() *Report {
	r := New(PhasePreflight, "v1.35.2", "v1.36.0", []Finding{
		{Check: "safety.emptydir", Severity: SeverityBlock, Node: "worker-1",
			Subject:     Subject{Kind: "Pod", Namespace: "shop", Name: "cart-7d9f"},
			Message:     "pod shop/cart-7d9f has emptyDir volume \"cache\"; its data is lost when the node is drained",
			Remediation: "move the data to a PersistentVolumeClaim, or annotate the pod upgate.dev/ignore=safety.emptydir",
			Scope:       []Scope{ScopeRun, ScopeNode}},
		{Check: "safety.pdb-blocks-drain", Severity: SeverityBlock, Node: "worker-1",
			Subject:     Subject{Kind: "PodDisruptionBudget", Namespace: "shop", Name: "cart"},
			Message:     "PodDisruptionBudget shop/cart allows 0 disruptions (minAvailable: 100% | maxUnavailable: <none>) & covers pod shop/cart-7d9f",
			Remediation: "scale Deployment shop/cart to 2+ replicas or relax the budget"},
		{Check: "health.node-pressure", Severity: SeverityWarn, Node: "worker-2",
			Subject: Subject{Kind: "Node", Name: "worker-2"},
			Message: "node worker-2 has MemoryPressure=True"},
		{Check: "skew.version-unknown", Severity: SeverityInfo, Node: "worker-2",
			Subject: Subject{Kind: "Pod", Namespace: "kube-system", Name: "kube-proxy-x8k2p"},
			Message: "kube-proxy on worker-2 runs image tag *latest*; its version is unknown"},
		{Check: "safety.singleton", Severity: SeverityBlock, Ignored: true,
			Subject:   Subject{Kind: "Deployment", Namespace: "dev", Name: "scratch"},
			Message:   "Deployment dev/scratch has 1 replica; it is down while its node drains",
			IgnoredBy: "annotation upgate.dev/ignore on Namespace/dev"},
	}, Input{
		Source:      "files",
		Files:       []string{"testdata/cluster.yaml", "snapshots/pre upgrade.json"},
		Counts:      map[string]int{"Pod": 12, "Node": 3, "Deployment": 2, "PodDisruptionBudget": 1},
		VersionFrom: "snapshot",
	}, Producer{UpgateVersion: "v0.1.0", PolicyDigest: "sha256:0f1e2d"}, fixedTime)
	r.Checks = []string{"safety.singleton", "path.downgrade", "safety.emptydir", "safety.pdb-blocks-drain",
		"health.node-pressure", "skew.version-unknown", "path.downgrade"}
	r.Finalize()
	return r
}

// passedReport is a live-cluster preflight with one warning.
func passedReport() *Report {
	r := New(PhasePreflight, "v1.35.2", "v1.36.0", []Finding{
		{Check: "health.node-cordoned", Severity: SeverityWarn,
			Subject: Subject{Kind: "Node", Name: "worker-3"}, Node: "worker-3",
			Message: "node worker-3 is already unschedulable", Remediation: "kubectl uncordon worker-3 if that was not intended"},
	}, Input{Source: "cluster", Files: []string{"https://10.0.0.1:6443"}, Counts: map[string]int{"Node": 3, "Pod": 20}},
		Producer{UpgateVersion: "v0.1.0"}, fixedTime)
	r.Checks = []string{"health.node-cordoned", "path.downgrade", "safety.emptydir"}
	r.Finalize()
	return r
}

// postflightReport is a blocked postflight against a named baseline, with
// only non-safety blockers (so no --ignore-safety-checks is offered).
func postflightReport() *Report {
	return New(PhasePostflight, "v1.36.0", "v1.36.0", []Finding{
		{Check: "post.node-left-cordoned", Severity: SeverityBlock, Node: "worker-1",
			Subject: Subject{Kind: "Node", Name: "worker-1"},
			Message: "node worker-1 is unschedulable after the upgrade but was schedulable before", Remediation: "kubectl uncordon worker-1"},
	}, Input{Source: "files", Files: []string{"post.json"}, Counts: map[string]int{"Node": 3}, Baseline: "pre.json"},
		Producer{UpgateVersion: "v0.1.0"}, fixedTime)
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		golden string
		report func() *Report
		format Format
		opts   RenderOptions
	}{
		{"blocked.txt", blockedReport, FormatText, RenderOptions{}},
		{"blocked.color.txt", blockedReport, FormatText, RenderOptions{Color: true}},
		{"blocked.json", blockedReport, FormatJSON, RenderOptions{}},
		{"blocked.junit.xml", blockedReport, FormatJUnit, RenderOptions{}},
		{"blocked.md", blockedReport, FormatMarkdown, RenderOptions{}},
		{"passed.txt", passedReport, FormatText, RenderOptions{Command: "kubectl upgate"}},
		{"passed.json", passedReport, FormatJSON, RenderOptions{}},
		{"passed.junit.xml", passedReport, FormatJUnit, RenderOptions{}},
		{"passed.md", passedReport, FormatMarkdown, RenderOptions{}},
		{"postflight.txt", postflightReport, FormatText, RenderOptions{}},
		{"rerun.txt", blockedReport, FormatText, RenderOptions{Rerun: "upgate check --target v1.36.0 --kubeconfig /tmp/kc"}},
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
		r := blockedReport()
		before := blockedReport()
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
	if err := Render(&buf, blockedReport(), FormatJSON, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("}\n")) {
		t.Errorf("JSON report does not end with a newline")
	}
	var got Report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("JSON report does not parse: %v", err)
	}
	if want := blockedReport(); !reflect.DeepEqual(&got, want) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, *want)
	}
}

// The contract shows findings as a list, also when there are none.
func TestJSONEmptyListsAreNotNull(t *testing.T) {
	r := New(PhasePreflight, "v1.35.2", "v1.36.0", nil, Input{Source: "cluster"}, Producer{}, fixedTime)
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
	if err := Render(&buf, blockedReport(), FormatJUnit, RenderOptions{}); err != nil {
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
	r := blockedReport()
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
	if err := Render(&buf, blockedReport(), Format("yaml"), RenderOptions{}); err == nil {
		t.Error("Render(unknown format) succeeded")
	}
}

// The next steps are the last thing a user reads; they must match the tier.
func TestNextSteps(t *testing.T) {
	safetyOnly := blockedReport()
	safetyOnly.Findings = safetyOnly.Findings[:0:0]
	for _, f := range blockedReport().Findings {
		if strings.HasPrefix(f.Check, "safety.") {
			safetyOnly.Findings = append(safetyOnly.Findings, f)
		}
	}
	safetyOnly.Finalize()
	mixed := blockedReport()
	mixed.Findings = append(mixed.Findings, Finding{Check: "path.minor-skip", Severity: SeverityBlock, Subject: Subject{Kind: "Cluster", Name: "cluster"}, Message: "skip"})
	mixed.Finalize()
	already := New(PhasePreflight, "v1.36.0", "1.36.0", nil, Input{}, Producer{}, fixedTime)

	tests := []struct {
		name     string
		r        *Report
		want     []string
		dontWant []string
	}{
		{"safety blockers offer the override", safetyOnly,
			[]string{"upgate check --target v1.36.0 --from testdata/cluster.yaml --from 'snapshots/pre upgrade.json' --ignore-safety-checks"}, nil},
		{"other blockers do not", mixed, []string{"fix the 3 blocking findings"}, []string{"--ignore-safety-checks"}},
		{"passed preflight plans and runs", passedReport(), []string{"upgate plan --target v1.36.0\n", "upgate run --target v1.36.0\n"}, []string{"--from"}},
		{"already at target", already, []string{"already at 1.36.0"}, []string{"upgate run"}},
		{"postflight re-runs against its baseline", postflightReport(), []string{"upgate check --phase postflight --baseline pre.json --target v1.36.0 --from post.json"}, nil},
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

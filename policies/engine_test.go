package policies

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

var (
	engineOnce sync.Once
	engineVal  *Engine
	engineErr  error
)

// testEngine is the embedded-policies engine, compiled once per test run.
func testEngine(t *testing.T) *Engine {
	t.Helper()
	engineOnce.Do(func() { engineVal, engineErr = New(context.Background(), Options{}) })
	if engineErr != nil {
		t.Fatalf("New: %v", engineErr)
	}
	return engineVal
}

func mustVer(t *testing.T, s string) *version.Version {
	t.Helper()
	v, err := kubever.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readTestdata reads manifests under testdata/ as the CLI's --from does.
func readTestdata(t *testing.T, dirs ...string) *inventory.Inventory {
	t.Helper()
	var paths []string
	for _, d := range dirs {
		paths = append(paths, filepath.Join("testdata", d))
	}
	inv, err := inventory.Read(paths, nil)
	if err != nil {
		t.Fatalf("read %v: %v", dirs, err)
	}
	return inv
}

func evaluate(t *testing.T, e *Engine, inv *inventory.Inventory, current, target string) *Result {
	t.Helper()
	res, err := e.Evaluate(context.Background(), Request{
		Inventory: inv, Current: mustVer(t, current), Target: mustVer(t, target), Phase: finding.PhasePreflight,
	})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return res
}

func ofCheck(fs []finding.Finding, check string) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func checksOf(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Check)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestPathChecks(t *testing.T) {
	e := testEngine(t)
	inv := &inventory.Inventory{}
	for _, tc := range []struct {
		current, target string
		want            []string // path.* checks expected, sorted
		msg             string   // substring of the (single) finding's message
	}{
		{"v1.35.2", "v1.36.0", nil, ""},
		{"v1.35.2", "1.36", nil, ""},
		{"v1.36.1", "v1.36.2", nil, ""},
		{"v1.36.2", "v1.35.4", []string{"path.downgrade"}, "target v1.35.4 is older than the current control plane v1.36.2"},
		{"v1.36.2", "v1.36.1", []string{"path.downgrade"}, "older than the current control plane v1.36.2"},
		{"v1.34.0", "v1.36.0", []string{"path.minor-skip"}, "upgrade one minor at a time (v1.35 → v1.36)"},
		{"v1.36.2", "v1.36.2", []string{"path.same-version"}, "already at v1.36.2"},
		{"v1.36.2", "1.36", []string{"path.same-version"}, "already at v1.36.2 (target v1.36)"},
	} {
		t.Run(tc.current+"->"+tc.target, func(t *testing.T) {
			res := evaluate(t, e, inv, tc.current, tc.target)
			var got []finding.Finding
			for _, f := range res.Findings {
				if strings.HasPrefix(f.Check, "path.") {
					got = append(got, f)
				}
			}
			if !slices.Equal(checksOf(got), tc.want) {
				t.Fatalf("checks = %v, want %v (%+v)", checksOf(got), tc.want, got)
			}
			if tc.msg != "" && !strings.Contains(got[0].Message, tc.msg) {
				t.Errorf("message %q does not contain %q", got[0].Message, tc.msg)
			}
			for _, f := range got {
				if f.Remediation == "" || f.Subject.Kind != "Cluster" {
					t.Errorf("finding without remediation or cluster subject: %+v", f)
				}
			}
			for _, c := range []string{"path.downgrade", "path.minor-skip", "path.same-version"} {
				if !slices.Contains(res.Checks, c) {
					t.Errorf("Checks %v lacks %s", res.Checks, c)
				}
			}
			if !slices.IsSorted(res.Checks) {
				t.Errorf("Checks not sorted: %v", res.Checks)
			}
		})
	}
}

func TestEvaluateNeedsVersions(t *testing.T) {
	e := testEngine(t)
	if _, err := e.Evaluate(context.Background(), Request{Inventory: &inventory.Inventory{}}); err == nil {
		t.Fatal("Evaluate without versions: want an error")
	}
	if _, err := e.Evaluate(context.Background(), Request{}); err == nil {
		t.Fatal("Evaluate without inventory: want an error")
	}
}

func TestPostflightSkipsPreflightTopics(t *testing.T) {
	e := testEngine(t)
	res, err := e.Evaluate(context.Background(), Request{
		Inventory: &inventory.Inventory{}, Current: mustVer(t, "1.36.2"), Target: mustVer(t, "1.35.0"),
		Phase: finding.PhasePostflight,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Checks {
		if strings.HasPrefix(c, "path.") {
			t.Errorf("postflight evaluated %s", c)
		}
	}
	if len(ofCheck(res.Findings, "path.downgrade")) != 0 {
		t.Error("postflight reported path.downgrade")
	}
}

func writePolicy(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const goodPolicy = `# METADATA
# title: House rules
# description: Our own gates.
package upgate.house

# METADATA
# title: No upgrades to 1.37
# description: We are not ready.
# custom:
#   check: house.no-137
#   severity: warn
#   remediation: Wait.
findings contains f if {
	input.target.minor == 37
	f := {"check": "house.no-137", "severity": "warn", "subject": {"kind": "Cluster", "name": "cluster"},
		"node": "", "message": sprintf("%s is not approved here", [input.target.version]), "remediation": "Wait."}
}
`

func TestCustomPolicyAddsFindings(t *testing.T) {
	dir := writePolicy(t, "house.rego", goodPolicy)
	// A test file beside it is not compiled into the engine.
	if err := os.WriteFile(filepath.Join(dir, "house_test.rego"), []byte("package upgate.house_test\n\ntest_x if true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	res := evaluate(t, e, &inventory.Inventory{}, "1.36.2", "1.37.0")
	got := ofCheck(res.Findings, "house.no-137")
	if len(got) != 1 || got[0].Severity != finding.SeverityWarn || got[0].Message != "v1.37.0 is not approved here" {
		t.Fatalf("custom findings = %+v", got)
	}
	if !slices.Contains(res.Checks, "house.no-137") || !slices.Contains(res.Checks, "path.downgrade") {
		t.Errorf("Checks = %v", res.Checks)
	}
	if e.Digest() == testEngine(t).Digest() {
		t.Error("custom policy did not change the digest")
	}
}

func TestInvalidCustomPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, file, body, want string
	}{
		{"syntax", "broken.rego", "package upgate.broken\n\nfindings contains f if {\n\tf := \n}\n", "broken.rego:5"},
		{"type", "typed.rego", "package upgate.typed\n\nfindings contains f if {\n\tf := {\"check\": \"x\"}\n\tcount(42) > 1\n}\n", "typed.rego:5"},
		{"undefined function", "undef.rego", "package upgate.undef\n\nfindings contains f if {\n\tf := nosuch.fn(1)\n}\n", "undef.rego:4"},
		{"outside upgate", "other.rego", "package other\n\nfindings contains 1 if true\n", "other.rego:1"},
		{"findings not a set", "single.rego", "package upgate.single\n\nfindings := {}\n", "single.rego:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writePolicy(t, tc.file, tc.body)
			_, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("err = %v, want ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

func TestCustomPolicyBadFinding(t *testing.T) {
	dir := writePolicy(t, "bad.rego", "package upgate.bad\n\nfindings contains {\"check\": \"bad.x\", \"severity\": \"fatal\", \"message\": \"m\", \"subject\": {\"kind\": \"Cluster\"}} if true\n")
	e, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Evaluate(context.Background(), Request{Inventory: &inventory.Inventory{}, Current: mustVer(t, "1.35"), Target: mustVer(t, "1.36")})
	if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "fatal") {
		t.Fatalf("err = %v, want ErrInvalidPolicy about the severity", err)
	}
}

func TestMissingPolicyDir(t *testing.T) {
	_, err := New(context.Background(), Options{PolicyDirs: []string{filepath.Join(t.TempDir(), "nope")}})
	if !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("err = %v", err)
	}
}

func TestDigestStable(t *testing.T) {
	a, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := testEngine(t)
	if a.Digest() != b.Digest() || !strings.HasPrefix(a.Digest(), "sha256:") || len(a.Digest()) != len("sha256:")+64 {
		t.Fatalf("digests %s, %s", a.Digest(), b.Digest())
	}
}

func TestDigestCoversEveryCustomFile(t *testing.T) {
	a := writePolicy(t, "house.rego", goodPolicy)
	b := writePolicy(t, "house.rego", strings.Replace(goodPolicy, "package upgate.house", "package upgate.house2", 1))
	one, err := New(context.Background(), Options{PolicyDirs: []string{a}})
	if err != nil {
		t.Fatal(err)
	}
	two, err := New(context.Background(), Options{PolicyDirs: []string{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	file, err := New(context.Background(), Options{PolicyDirs: []string{filepath.Join(a, "house.rego")}})
	if err != nil {
		t.Fatal(err)
	}
	if one.Digest() == two.Digest() {
		t.Error("a second file with the same name did not change the digest")
	}
	if one.Digest() != file.Digest() {
		t.Error("a policy file and its directory give different digests")
	}
}

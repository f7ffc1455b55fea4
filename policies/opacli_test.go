package policies

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/internal/tooltest"
)

// TestWithOPACLI runs the stock `opa test` and `opa check --strict` on this
// directory, with the input's schema: the policies must pass OPA's own
// tools, not only our loader, and OPA's own type check must hold a
// misspelt input field against them as the engine does.
func TestWithOPACLI(t *testing.T) {
	opa := tooltest.Require(t, "opa")
	out, err := exec.Command(opa, "test", ".", "--format", "pretty").CombinedOutput()
	if err != nil {
		t.Fatalf("opa test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") || strings.Contains(string(out), "FAIL") {
		t.Errorf("opa test output:\n%s", out)
	}
	if out, err := exec.Command(opa, "check", "--strict", "--schema", "schema/input.json", ".").CombinedOutput(); err != nil {
		t.Fatalf("opa check --strict --schema schema/input.json: %v\n%s", err, out)
	}
	src, err := os.ReadFile("skew.rego")
	if err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(t.TempDir(), "skew.rego")
	if err := os.WriteFile(typo, []byte(strings.ReplaceAll(string(src), "input.skew.underway", "input.skew.underwya")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(opa, "check", "--schema", "schema/input.json", "lib.rego", typo).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "undefined ref: input.skew.underwya") {
		t.Errorf("opa check --schema on a misspelt field: %v\n%s", err, out)
	}
}

// TestUserPolicyAsDocumented runs the commands docs/policies.md gives a
// user for their own policies, on its worked example.
func TestUserPolicyAsDocumented(t *testing.T) {
	opa := tooltest.Require(t, "opa")
	doc, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"test", "DIR", "policies/lib.rego"},
		{"check", "--strict", "--schema", "policies/schema/input.json", "DIR", "policies/lib.rego"},
	} {
		line := "opa " + strings.Join(args, " ")
		if !strings.Contains(string(doc), line) {
			t.Fatalf("docs/policies.md no longer gives %q", line)
		}
		cmd := exec.Command(opa, args...)
		cmd.Dir = ".."
		for i, a := range cmd.Args {
			if a == "DIR" {
				cmd.Args[i] = "policies/testdata/userpolicy"
			}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
	}
}

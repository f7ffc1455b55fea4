package policies

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/internal/tooltest"
)

// TestWithOPACLI runs the stock `opa test` and `opa check --strict` on this
// directory: the policies must pass OPA's own tools, not only our loader.
func TestWithOPACLI(t *testing.T) {
	opa := tooltest.Require(t, "opa")
	out, err := exec.Command(opa, "test", ".", "--format", "pretty").CombinedOutput()
	if err != nil {
		t.Fatalf("opa test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") || strings.Contains(string(out), "FAIL") {
		t.Errorf("opa test output:\n%s", out)
	}
	if out, err := exec.Command(opa, "check", "--strict", ".").CombinedOutput(); err != nil {
		t.Fatalf("opa check --strict: %v\n%s", err, out)
	}
}

package finding_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The policies and the executor read and write findings, and must not
// carry report signing with them: the model depends on neither
// rendering nor cosign, so neither package pulls a sigstore package.
func TestPoliciesAndExecutorPullNoSigning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps",
		"github.com/upgate-dev/upgate/policies", "github.com/upgate-dev/upgate/executor").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	var signing []string
	for _, d := range deps {
		if strings.Contains(d, "sigstore") || d == "github.com/upgate-dev/upgate/signing" {
			signing = append(signing, d)
		}
	}
	if len(signing) > 0 {
		t.Errorf("policies and executor pull %d signing packages, e.g. %v", len(signing), signing[:min(len(signing), 3)])
	}
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages: %q", len(deps), out)
	}
}

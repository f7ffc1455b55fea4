package policies

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// opaCLI finds the independent opa binary hack/tools.sh installs; only
// -short may run without it.
func opaCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("opa"); err == nil {
		return p
	}
	cache := os.Getenv("UPGATE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "upgate")
	}
	p := filepath.Join(cache, "tools", "opa")
	if _, err := os.Stat(p); err != nil {
		if testing.Short() {
			t.Skip("opa CLI not installed (run hack/tools.sh)")
		}
		t.Fatal("opa CLI not installed: run hack/tools.sh (make test does)")
	}
	return p
}

// TestWithOPACLI runs the stock `opa test` and `opa check --strict` on this
// directory: the policies must pass OPA's own tools, not only our loader.
func TestWithOPACLI(t *testing.T) {
	opa := opaCLI(t)
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

// Package tooltest finds, for tests, the independent command-line tools
// (cosign, opa, helm, promtool) that hack/tools.sh installs into
// ${UPGATE_CACHE:-$HOME/.cache/upgate}/tools: tests compare upgate's
// output with what the stock tools accept.
package tooltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Dir is where hack/tools.sh installs the tools.
func Dir() string {
	cache := os.Getenv("UPGATE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "upgate")
	}
	return filepath.Join(cache, "tools")
}

// Lookup returns the tool's path: the tools dir first (the pinned
// version), then PATH; "" when neither has it.
func Lookup(name string) string {
	p := filepath.Join(Dir(), name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// Require returns the tool's path. Without it the test is skipped under
// -short and fails otherwise: `make test` installs every tool first, so a
// missing one there is a broken setup, not a reason to pass.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p := Lookup(name); p != "" {
		return p
	}
	if testing.Short() {
		t.Skipf("%s is not installed in %s (run hack/tools.sh)", name, Dir())
	}
	t.Fatalf("%s is not installed in %s: run hack/tools.sh (make test does)", name, Dir())
	return ""
}

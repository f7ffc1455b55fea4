// Package tooltest finds, for tests, the independent command-line tools
// (cosign, opa, helm, promtool) that hack/tools.sh installs into
// ${UPGATE_CACHE:-$HOME/.cache/upgate}/tools: tests compare upgate's
// output with what the stock tools accept.
//
// Building those tools from source is most of a fresh machine's first
// `make test`, so make test runs without them until `make tools` has built
// them once. A check that cannot run then is never passed in silence: it
// is skipped only when the caller allows it (-short, or
// UPGATE_MISSING_TOOLS=skip, which make test sets when tools are missing),
// and each skip is appended to $UPGATE_SKIPPED_LOG, which make test prints
// at the end. Otherwise a missing tool fails the test.
package tooltest

import (
	"fmt"
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

// Require returns the tool's path. Without it the test is skipped when
// skips are allowed (see the package doc) and fails otherwise.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p := Lookup(name); p != "" {
		return p
	}
	Unavailable(t, fmt.Sprintf("%s is not installed in %s (make tools builds it)", name, Dir()))
	return ""
}

// Optional returns the tool's path, or "" when it is missing and skips
// are allowed: the caller then runs only the part of its check that needs
// no tool, and the part left out is recorded as skipped. When skips are
// not allowed a missing tool fails the test.
func Optional(t testing.TB, name, leftOut string) string {
	t.Helper()
	if p := Lookup(name); p != "" {
		return p
	}
	why := fmt.Sprintf("%s is not installed in %s (make tools builds it)", name, Dir())
	if !SkipsAllowed() {
		t.Fatalf("%s: %s", why, leftOut)
	}
	record(t, leftOut+": "+why)
	t.Logf("not checked: %s: %s", leftOut, why)
	return ""
}

// Unavailable skips the test, recording why, when skips are allowed, and
// fails it otherwise: for checks that need something this machine has not
// built (a tool, the local cluster's etcd).
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if !SkipsAllowed() {
		t.Fatalf("%s; to skip such checks, run with -short or UPGATE_MISSING_TOOLS=skip", why)
	}
	record(t, why)
	t.Skip(why)
}

// SkipsAllowed says whether a check may be skipped for want of a tool.
func SkipsAllowed() bool {
	return testing.Short() || os.Getenv("UPGATE_MISSING_TOOLS") == "skip"
}

// record appends "Test: why" to $UPGATE_SKIPPED_LOG, when set. Test
// binaries of several packages append at once: one short write each, in
// append mode, keeps the lines whole.
func record(t testing.TB, why string) {
	path := os.Getenv("UPGATE_SKIPPED_LOG")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("cannot record the skip in %s: %v", path, err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s: %s\n", t.Name(), why); err != nil {
		t.Logf("cannot record the skip in %s: %v", path, err)
	}
}

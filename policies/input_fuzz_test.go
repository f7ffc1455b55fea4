package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// FuzzBuildInput builds the policy input from whatever state the reader
// accepts: fuzzed manifests, for a fuzzed upgrade within the bounds the
// CLI lets through, before or after the upgrade. Building must not panic
// or fail, and the input must be valid JSON (OPA's input is JSON).
func FuzzBuildInput(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/*/manifest.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for i, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(35), uint8(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, manifests []byte, minor, ahead uint8, post bool) {
		inv, err := inventory.Read([]string{"-"}, bytes.NewReader(manifests))
		if err != nil {
			return
		}
		current, err := kubever.Parse(fmt.Sprintf("v1.%d.%d", minor, ahead%7))
		if err != nil {
			return
		}
		// From two minors back to the furthest target the CLI plans for.
		target, err := kubever.Parse(fmt.Sprintf("v1.%d", int(minor)+int(ahead)%(kubever.MaxMinorGap+3)-2))
		if err != nil || kubever.CheckGap(current, target) != nil {
			return
		}
		req := Request{Inventory: inv, Current: current, Target: target, Phase: finding.PhasePreflight, MaxUnavailable: 1 + int(ahead%3)}
		if post {
			req.Phase, req.Baseline = finding.PhasePostflight, inv
		}
		v, err := buildInput(&req, nil)
		if err != nil {
			t.Fatalf("buildInput on state the reader accepted: %v", err)
		}
		x, err := ast.JSON(v)
		if err != nil {
			t.Fatalf("input is not JSON-shaped: %v", err)
		}
		b, err := json.Marshal(x)
		if err != nil || !json.Valid(b) {
			t.Fatalf("input does not encode as JSON: %v", err)
		}
		// The ignores read the same state.
		ApplyIgnores(nil, inv, IgnoreOptions{})
	})
}

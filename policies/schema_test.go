package policies

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/util"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// TestInputMatchesItsSchema: the input built from every cluster under
// testdata/, before and after the upgrade and with a run under way, is
// what schema/input.json describes, field for field (the schema allows no
// field it does not name). So the schema the policies are type-checked
// against is the input they get.
func TestInputMatchesItsSchema(t *testing.T) {
	var schema any
	if err := util.Unmarshal(InputSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(rego.Query("x := json.match_schema(input.doc, input.schema)")).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob("testdata/*/*/manifest.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no clusters under testdata: %v", err)
	}
	for _, p := range dirs {
		inv, err := inventory.Read([]string{p}, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		underway := map[string]*version.Version{}
		for _, n := range inv.Nodes {
			underway[n.Name] = mustVer(t, "v1.36")
			break
		}
		for _, req := range []Request{
			{Inventory: inv, Current: mustVer(t, "v1.35.2"), Target: mustVer(t, "v1.36"), Phase: finding.PhasePreflight, MaxUnavailable: 2, Underway: underway},
			{Inventory: inv, Current: mustVer(t, "v1.35.2"), Target: mustVer(t, "v1.36.1"), Phase: finding.PhasePostflight, Baseline: inv},
		} {
			v, err := buildInput(&req, nil)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			doc, err := ast.JSON(v)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{"doc": doc, "schema": schema}))
			if err != nil || len(rs) != 1 {
				t.Fatalf("%s: match_schema: %v %v", p, rs, err)
			}
			res := rs[0].Bindings["x"].([]any)
			if ok, _ := res[0].(bool); !ok {
				t.Errorf("%s (%s): the input does not match schema/input.json: %v", p, req.Phase, res[1])
			}
		}
	}
}

// TestMisspeltInputFieldFailsToLoad: a user's policy that reads a field
// the input does not have (input.skew.componets) is refused when the
// engine loads, naming the field and what it should be, instead of a rule
// that silently never fires.
func TestMisspeltInputFieldFailsToLoad(t *testing.T) {
	dir := t.TempDir()
	policy := `package upgate.mine

import data.upgate.lib

# METADATA
# custom:
#   check: mine.kubelets
#   severity: warn
findings contains f if {
	some c in input.skew.componets.kubelet
	f := lib.finding(rego.metadata.rule(), {"kind": "Node", "name": c.node}, c.node, "a kubelet")
}
`
	if err := os.WriteFile(filepath.Join(dir, "mine.rego"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
	if !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("New = %v, want ErrInvalidPolicy", err)
	}
	for _, want := range []string{"mine.rego:10", "undefined ref: input.skew.componets", `"components"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	// Spelt right, it loads.
	if err := os.WriteFile(filepath.Join(dir, "mine.rego"), []byte(strings.Replace(policy, "componets", "components", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Options{PolicyDirs: []string{dir}}); err != nil {
		t.Errorf("the corrected policy: %v", err)
	}
}

// TestEmbeddedPoliciesReadOnlyTheSchema: each embedded policy, with one
// input field it reads misspelt, fails to compile against the schema; so
// the type check covers what the rules read, not only users' policies.
func TestEmbeddedPoliciesReadOnlyTheSchema(t *testing.T) {
	ss, err := schemas()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := embedded.ReadFile("lib.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, field, typo string }{
		{"skew.rego", "input.skew.underway", "input.skew.underwya"},
		{"safety.rego", "input.safety.pods", "input.safety.podz"},
		{"safety.rego", "counts.etcd <", "counts.etdc <"},
		{"webhook.rego", "w.failure_policy", "w.failurepolicy"},
		{"pdb.rego", "b.allowed", "b.alowed"},
		{"capacity.rego", "r.unplaced > 0", "r.unplace > 0"},
		{"health.rego", "input.health.disk", "input.healht.disk"},
		{"post.rego", "input.post.nodes", "input.post.node"},
		{"addon.rego", "c.pod", "c.podd"},
		{"api.rego", "input.api.objects", "input.api.objets"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			src, err := embedded.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), tt.field) {
				t.Fatalf("%s does not read %s", tt.file, tt.field)
			}
			compile := func(src string) error {
				mods := map[string]string{"lib.rego": string(lib), tt.file: src}
				parsed := map[string]*ast.Module{}
				for name, s := range mods {
					m, err := ast.ParseModuleWithOpts(name, s, ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
					if err != nil {
						return err
					}
					parsed[name] = m
				}
				c := ast.NewCompiler().WithSchemas(ss)
				if c.Compile(parsed); c.Failed() {
					return c.Errors
				}
				return nil
			}
			if err := compile(string(src)); err != nil {
				t.Fatalf("as embedded: %v", err)
			}
			err = compile(strings.ReplaceAll(string(src), tt.field, tt.typo))
			if err == nil || !strings.Contains(err.Error(), "undefined ref") {
				t.Errorf("with %s for %s: %v, want an undefined ref", tt.typo, tt.field, err)
			}
		})
	}
}

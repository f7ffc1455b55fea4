package policies

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRego runs every _test.rego in this directory through OPA's tester,
// loading the directory exactly as `opa test policies/` does (Rego v1,
// annotations processed, data files under their directory's name), so a
// green `go test` means a green `opa test`.
func TestRego(t *testing.T) {
	ctx := context.Background()
	modules, store, err := tester.LoadWithParserOptions([]string{"."}, nil,
		ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err != nil {
		t.Fatalf("load policies as opa test would: %v", err)
	}
	ch, err := tester.NewRunner().
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		Run(ctx, modules)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Fail || r.Error != nil {
			t.Errorf("%s %s.%s: %s", r.Location, r.Package, r.Name, r.String())
			if r.Error != nil {
				t.Errorf("  error: %v", r.Error)
			}
		}
	}
	if n == 0 {
		t.Fatal("no Rego tests found")
	}
	t.Logf("%d Rego tests", n)
}

// TestRegoStrict compiles every Rego file, tests included, in strict mode:
// what `opa check --strict policies/` reports.
func TestRegoStrict(t *testing.T) {
	res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && !strings.HasSuffix(info.Name(), ".rego")
		})
	if err != nil {
		t.Fatal(err)
	}
	mods := map[string]*ast.Module{}
	for n, f := range res.Modules {
		mods[n] = f.Parsed
	}
	c := ast.NewCompiler().WithStrict(true)
	c.Compile(mods)
	if c.Failed() {
		t.Fatalf("opa check --strict would fail:\n%v", c.Errors)
	}
}

// TestRuleMetadata: every findings rule carries title, description and the
// custom fields the engine and lib.finding read, its scope included (the
// built-ins never lean on the default); every package a title.
func TestRuleMetadata(t *testing.T) {
	res, err := loader.NewFileLoader().WithFS(embedded).WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).
		Filtered([]string{"."}, skipTests)
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for name, f := range res.Modules {
		m := f.Parsed
		pkgTitled := false
		for _, a := range m.Annotations {
			if a.Scope == "package" && a.Title != "" && a.Description != "" {
				pkgTitled = true
			}
		}
		if !pkgTitled {
			t.Errorf("%s: package %s has no METADATA title and description", name, m.Package.Path)
		}
		for _, r := range m.Rules {
			if r.Head.Ref().String() != findingsRule {
				continue
			}
			rules++
			if len(r.Annotations) != 1 {
				t.Errorf("%s: findings rule has %d METADATA blocks, want 1", r.Location, len(r.Annotations))
				continue
			}
			a := r.Annotations[0]
			if a.Title == "" || a.Description == "" {
				t.Errorf("%s: findings rule without title or description", r.Location)
			}
			for _, k := range []string{"check", "severity", "remediation"} {
				if s, _ := a.Custom[k].(string); s == "" {
					t.Errorf("%s: findings rule without custom.%s", r.Location, k)
				}
			}
			if sc, err := parseScope(a.Custom["scope"]); err != nil || len(sc) == 0 {
				t.Errorf("%s: custom.scope %v: want a list of scopes (%s) %v", r.Location, a.Custom["scope"], scopeNames, err)
			}
			switch a.Custom["severity"] {
			case "block", "warn", "info":
			default:
				t.Errorf("%s: custom.severity %v", r.Location, a.Custom["severity"])
			}
		}
	}
	if rules == 0 {
		t.Fatal("no findings rules found")
	}
}

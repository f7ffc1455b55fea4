package policies

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

func scopes(s ...finding.Scope) []finding.Scope { return s }

// A user policy whose rule declares scope node (testdata/userpolicy): its
// finding carries the scope, gates the node it is about and no other, and
// does not stop the run before it starts.
func TestUserPolicyScopeNodeGatesItsNode(t *testing.T) {
	e, err := New(context.Background(), Options{PolicyDirs: []string{"testdata/userpolicy"}})
	if err != nil {
		t.Fatal(err)
	}
	res := evaluate(t, e, readTestdata(t, "clean-cluster"), "v1.35.2", "v1.36.0")
	got := ofCheck(res.Findings, "house.change-freeze")
	if len(got) != 1 || got[0].Node != "worker-1" || !slices.Equal(got[0].Scope, scopes(finding.ScopeNode)) {
		t.Fatalf("house.change-freeze findings = %+v, want one about worker-1 with scope [node]", got)
	}
	if !slices.Contains(res.Checks, "house.change-freeze") {
		t.Errorf("Checks lacks house.change-freeze: %v", res.Checks)
	}
	if g := ofCheck(res.NodeGate("worker-1"), "house.change-freeze"); len(g) != 1 {
		t.Errorf("NodeGate(worker-1) = %+v, want the freeze", res.NodeGate("worker-1"))
	}
	if g := ofCheck(res.NodeGate("worker-2"), "house.change-freeze"); len(g) != 0 {
		t.Errorf("NodeGate(worker-2) holds worker-1's freeze: %+v", g)
	}
	if g := ofCheck(res.InScope(finding.ScopeRun), "house.change-freeze"); len(g) != 0 {
		t.Errorf("a node-only finding is in the run scope: %+v", g)
	}
}

// Built-in scopes as the node gate sees them: the path checks (run, hop)
// never gate a node; a skipped minor (hop) does not stop the run, the plan
// turns it into hops; safety gates the run and the node.
func TestBuiltinScopes(t *testing.T) {
	e := testEngine(t)
	res := evaluate(t, e, &inventory.Inventory{}, "v1.34.0", "v1.36.0")
	skip := ofCheck(res.Findings, "path.minor-skip")
	if len(skip) != 1 || !slices.Equal(skip[0].Scope, scopes(finding.ScopeHop)) {
		t.Fatalf("path.minor-skip = %+v, want scope [hop]", skip)
	}
	if len(res.NodeGate("worker-1")) != 0 || len(res.InScope(finding.ScopeRun)) != 0 {
		t.Errorf("a skipped minor gates a node or the run: node %+v, run %+v", res.NodeGate("worker-1"), res.InScope(finding.ScopeRun))
	}
	if len(res.InScope(finding.ScopeHop)) != 1 {
		t.Errorf("InScope(hop) = %+v", res.InScope(finding.ScopeHop))
	}

	res = evaluate(t, e, &inventory.Inventory{}, "v1.36.2", "v1.35.0")
	down := ofCheck(res.Findings, "path.downgrade")
	if len(down) != 1 || !slices.Equal(down[0].Scope, scopes(finding.ScopeRun, finding.ScopeHop)) {
		t.Fatalf("path.downgrade = %+v, want scope [run hop]", down)
	}
	if len(res.NodeGate("")) != 0 || len(res.InScope(finding.ScopeRun)) != 1 {
		t.Errorf("path.downgrade: node gate %+v, run %+v", res.NodeGate(""), res.InScope(finding.ScopeRun))
	}

	res = evaluate(t, e, readTestdata(t, "safety"), "v1.35.2", "v1.36.0")
	for _, f := range res.Findings {
		if strings.HasPrefix(f.Check, "safety.") && !slices.Equal(f.Scope, scopes(finding.ScopeRun, finding.ScopeNode)) {
			t.Errorf("%s: scope %v, want [run node]", f.Check, f.Scope)
		}
		if len(f.Scope) == 0 {
			t.Errorf("%s: no scope", f.Check)
		}
	}
}

// A policy that declares no scope gets the default of its phases: a
// preflight rule gates the run and each node, a postflight one validates
// each node and the run.
func TestUndeclaredScopeDefaults(t *testing.T) {
	post := strings.NewReplacer("# description: Our own gates.\npackage upgate.house", "# description: Our own gates.\n# custom:\n#   phases: [postflight]\npackage upgate.housepost",
		"house.no-137", "housepost.no-137").Replace(goodPolicy)
	dir := writePolicy(t, "house.rego", goodPolicy)
	e, err := New(context.Background(), Options{PolicyDirs: []string{dir, writePolicy(t, "post.rego", post)}})
	if err != nil {
		t.Fatal(err)
	}
	res := evaluate(t, e, &inventory.Inventory{}, "1.36.2", "1.37.0")
	got := ofCheck(res.Findings, "house.no-137")
	if len(got) != 1 || !slices.Equal(got[0].Scope, scopes(finding.ScopeRun, finding.ScopeNode)) {
		t.Fatalf("preflight default: %+v", got)
	}
	if len(ofCheck(res.Findings, "housepost.no-137")) != 0 {
		t.Error("a postflight package ran in preflight")
	}
	res, err = e.Evaluate(context.Background(), Request{Inventory: &inventory.Inventory{}, Current: mustVer(t, "1.36.2"),
		Target: mustVer(t, "1.37.0"), Phase: finding.PhasePostflight})
	if err != nil {
		t.Fatal(err)
	}
	got = ofCheck(res.Findings, "housepost.no-137")
	if len(got) != 1 || !slices.Equal(got[0].Scope, scopes(finding.ScopeValidate, finding.ScopePostflight)) {
		t.Fatalf("postflight default: %+v", got)
	}
}

// Scopes decide the phases: a package with a node rule and a validate rule
// runs in both, and each finding is reported in its own phase only. A
// finding may carry its own scope, overriding its rule's.
func TestScopesDecidePhases(t *testing.T) {
	const policy = `package upgate.mixed

# METADATA
# title: Before
# description: Before a node.
# custom:
#   check: mixed.before
#   severity: block
#   scope: [node]
#   remediation: none
findings contains {"check": "mixed.before", "severity": "block", "subject": {"kind": "Node", "name": "n1"}, "node": "n1", "message": "before"}

# METADATA
# title: After
# description: After a node.
# custom:
#   check: mixed.after
#   severity: block
#   scope: validate
#   remediation: none
findings contains {"check": "mixed.after", "severity": "block", "subject": {"kind": "Node", "name": "n1"}, "node": "n1", "message": "after", "scope": ["validate"]}

# METADATA
# title: After, for the run only
# description: A finding with its own scope, narrower than its rule's.
# custom:
#   check: mixed.after
#   severity: block
#   scope: [validate, postflight]
#   remediation: none
findings contains {"check": "mixed.after", "severity": "block", "subject": {"kind": "Node", "name": "n1"}, "node": "n1", "message": "own", "scope": ["postflight"]}
`
	e, err := New(context.Background(), Options{PolicyDirs: []string{writePolicy(t, "mixed.rego", policy)}})
	if err != nil {
		t.Fatal(err)
	}
	pre := evaluate(t, e, &inventory.Inventory{}, "1.35.2", "1.36.0")
	if got := checksOf(ofCheck(pre.Findings, "mixed.before")); len(got) != 1 || len(ofCheck(pre.Findings, "mixed.after")) != 0 {
		t.Errorf("preflight findings: %+v", pre.Findings)
	}
	if slices.Contains(pre.Checks, "mixed.after") || !slices.Contains(pre.Checks, "mixed.before") {
		t.Errorf("preflight Checks: %v", pre.Checks)
	}
	post, err := e.Evaluate(context.Background(), Request{Inventory: &inventory.Inventory{}, Current: mustVer(t, "1.36.0"),
		Target: mustVer(t, "1.36.0"), Phase: finding.PhasePostflight})
	if err != nil {
		t.Fatal(err)
	}
	if len(ofCheck(post.Findings, "mixed.before")) != 0 {
		t.Errorf("postflight reported a node-gate finding: %+v", post.Findings)
	}
	after := ofCheck(post.Findings, "mixed.after")
	if len(after) != 2 {
		t.Fatalf("postflight mixed.after = %+v", after)
	}
	v := post.NodeValidation("n1")
	if len(v) != 1 || v[0].Message != "after" || !slices.Equal(v[0].Scope, scopes(finding.ScopeValidate)) {
		t.Errorf("NodeValidation(n1) = %+v, want only the finding of scope validate", v)
	}
	if len(post.NodeValidation("n2")) != 0 {
		t.Errorf("NodeValidation(n2) = %+v", post.NodeValidation("n2"))
	}
	own := post.InScope(finding.ScopePostflight)
	if len(own) != 1 || own[0].Message != "own" {
		t.Errorf("InScope(postflight) = %+v, want the finding that carries its own scope", own)
	}
}

// A scope the engine does not know is an invalid policy, named by
// file:line when it is declared, by package and check when a finding
// carries it.
func TestInvalidScope(t *testing.T) {
	rule := func(scope string) string {
		return "package upgate.bad\n\n# METADATA\n# title: t\n# description: d\n# custom:\n#   check: bad.x\n#   severity: block\n#   scope: " + scope +
			"\n#   remediation: r\nfindings contains {\"check\": \"bad.x\", \"severity\": \"block\", \"subject\": {\"kind\": \"Cluster\", \"name\": \"c\"}, \"message\": \"m\"} if false\n"
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown", rule("[node, cluster]"), `bad.rego:3: custom.scope: "cluster" is not a scope`},
		{"unknown single", rule("preflight"), `bad.rego:3: custom.scope: "preflight" is not a scope`},
		{"not a string", rule("[1]"), "bad.rego:3: custom.scope"},
		{"empty", rule("[]"), "bad.rego:3: custom.scope: an empty scope"},
		{"package", "# METADATA\n# custom:\n#   scope: [nodes]\npackage upgate.bad\n\nfindings contains 1 if false\n", `bad.rego:1: custom.scope: "nodes"`},
		{"outside phases", strings.Replace(rule("[validate]"), "package upgate.bad", "# METADATA\n# custom:\n#   phases: [preflight]\npackage upgate.bad", 1),
			"bad.rego:6: custom.scope validate is evaluated in the postflight phase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), Options{PolicyDirs: []string{writePolicy(t, "bad.rego", tc.body)}})
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("err = %v, want ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}

	dir := writePolicy(t, "bad.rego", "package upgate.bad\n\nfindings contains {\"check\": \"bad.x\", \"severity\": \"block\", \"message\": \"m\", \"subject\": {\"kind\": \"Cluster\", \"name\": \"c\"}, \"scope\": [\"node\", \"everywhere\"]} if true\n")
	e, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Evaluate(context.Background(), Request{Inventory: &inventory.Inventory{}, Current: mustVer(t, "1.35"), Target: mustVer(t, "1.36")})
	if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), `data.upgate.bad.findings: check bad.x: "everywhere" is not a scope`) {
		t.Fatalf("err = %v, want ErrInvalidPolicy naming the package, check and scope", err)
	}

	// A finding may narrow its rule's scope, never widen it: a node's
	// gate evaluates only the topics whose rules declare scope node.
	dir = writePolicy(t, "wide.rego", "package upgate.wide\n\n# METADATA\n# title: t\n# description: d\n# custom:\n#   check: wide.x\n#   severity: block\n#   scope: [run]\n#   remediation: r\n"+
		"findings contains {\"check\": \"wide.x\", \"severity\": \"block\", \"message\": \"m\", \"subject\": {\"kind\": \"Cluster\", \"name\": \"c\"}, \"scope\": [\"run\", \"node\"]} if true\n")
	e, err = New(context.Background(), Options{PolicyDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Evaluate(context.Background(), Request{Inventory: &inventory.Inventory{}, Current: mustVer(t, "1.35"), Target: mustVer(t, "1.36")})
	if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "check wide.x: a finding carries scope [node], which no rule of the check declares ([run])") {
		t.Fatalf("err = %v, want ErrInvalidPolicy naming the widened scope", err)
	}
}

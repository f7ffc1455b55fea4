// Package policies evaluates upgate's upgrade gates: the embedded Rego
// policies (one package per topic under data.upgate.*) plus any the user adds
// with --policy-dir or --policy-bundle (bundle.go), over a compact input
// built in Go from the inventory.
//
// Adding a topic is two files and no edits elsewhere:
//   - a Rego file `package upgate.<topic>` whose rules are
//     `findings contains f if {...}` (each with METADATA naming its
//     custom.check, custom.severity, custom.scope and custom.remediation),
//     beside a `<topic>_test.rego`;
//   - a Go file that registers the input section the rules read with
//     RegisterSection (see input.go).
//
// The engine discovers every compiled package under data.upgate that defines
// `findings` and unions their findings; no central list names them.
//
// # Scopes: what a finding gates
//
// `check` reports every finding of its phase. `upgate run` asks more: which
// findings stop the run before it starts, which stop a node just before it
// is touched, which fail a node's validation after its upgrade. A rule
// declares that in its METADATA, never through its check ID:
//
//	# custom:
//	#   check: house.change-freeze
//	#   severity: block
//	#   scope: [node]
//
// The scopes (finding.Scope), in the order a run meets them:
//
//   - run: evaluated once before the run (and by `plan`): a blocking
//     finding stops the run, or the node it is about in the plan.
//   - hop: evaluated for each hop of a multi-hop run against the hop's
//     from and to versions (path.*, skew.*; Result.InScope). path.minor-skip
//     is hop only: the plan turns a skipped minor into hops, so it stops no
//     run.
//   - node: evaluated in each node's gate, just before the node is
//     touched, on the findings about that node or about no node
//     (Result.NodeGate), with the input restricted to the node
//     (Request.Node; "Node-restricted input" in input.go).
//   - validate: evaluated after a node is upgraded, as its validation, on
//     the findings about that node (Result.NodeValidation).
//   - postflight: evaluated after the run against the baseline taken before
//     it (`check --phase postflight`), for the whole cluster.
//
// custom.scope is one name or a list. run, hop and node findings come from
// the preflight phase, validate and postflight ones from the postflight
// phase. A rule without custom.scope takes its package's custom.scope,
// else the default of the package's phases: [run, node] for preflight (so
// a user's rule gates the run and each node with no extra work), [validate,
// postflight] for postflight. A package that declares no custom.phases is
// evaluated in the phases of the scopes it declares (preflight when it
// declares none); one that declares phases must not declare a scope outside
// them. A finding may carry its own "scope" (lib.finding copies the rule's;
// an empty one means the rule's), so one rule can report some findings
// more narrowly (never more widely: a scope no rule of its check
// declares is ErrInvalidPolicy, since a node's gate evaluates only the
// topics that declare scope node); post.version-mismatch instead splits its rule: the
// kube-proxy DaemonSet, an add-on upgraded after every node, is postflight
// only and never fails a node's validation. A topic evaluated in both
// phases reports each finding in the phases of its scopes only. Scopes are
// read and checked when the policies compile: an unknown one is
// ErrInvalidPolicy naming file:line (exit 2); a finding that carries an
// unknown one is ErrInvalidPolicy when it is evaluated. Every
// finding.Finding carries its resolved scopes ("scope" in JSON).
package policies

import (
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// embedded holds the built-in policies, their tests (not compiled into the
// engine) and the version facts. The facts live in upgate_facts/ so that both
// the engine and `opa test policies/` load them at data.upgate_facts: OPA's
// directory loader puts a file's content under its directory's name.
//
//go:embed *.rego upgate_facts/*.yaml
var embedded embed.FS

// inputSchema is the JSON Schema of the input (schema/input.json). Every
// policy, the embedded ones and users', is type-checked against it (OPA's
// global input schema, as `opa check --schema` gives it), so a rule that
// reads a field the input does not have fails to load, naming the field,
// instead of silently never firing.
//
//go:embed schema/input.json
var inputSchema []byte

// InputSchema returns the JSON Schema of the policy input.
func InputSchema() []byte { return slices.Clone(inputSchema) }

// schemas is the schema set the policies compile with: inputSchema as the
// schema of input.
func schemas() (*ast.SchemaSet, error) {
	var s any
	if err := util.Unmarshal(inputSchema, &s); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.SchemaRootRef, s)
	return ss, nil
}

// ErrInvalidPolicy marks a policy that does not parse, type-check or have the
// shape upgate expects. The error's message names file:line. Callers map it
// to the contract's exit 2.
var ErrInvalidPolicy = errors.New("invalid policy")

// Root is the data path every policy package lives under.
const Root = "upgate"

// FactsKey is where the embedded version facts appear under data.
const FactsKey = "upgate_facts"

// findingsRule is the rule every topic package defines.
const findingsRule = "findings"

// Options configures New.
type Options struct {
	// PolicyDirs are directories (or files) of users' extra Rego
	// (--policy-dir). Only .rego files not ending in _test.rego are read;
	// every package must be under `upgate.`.
	PolicyDirs []string
	// Bundle, when set, is users' policies as an OPA bundle
	// (--policy-bundle), read and verified by ReadBundle or ParseBundle.
	// Its modules are loaded as PolicyDirs' are, and count in the digest.
	Bundle *Bundle
}

// Request is one evaluation: the state, the versions and the phase.
type Request struct {
	Inventory       *inventory.Inventory
	Current, Target *version.Version
	Phase           finding.Phase
	// Baseline is the state before the upgrade (postflight only).
	Baseline *inventory.Inventory
	// MaxUnavailable is how many nodes are drained at once.
	MaxUnavailable int
	// Node, when set, evaluates that node's gate (preflight) or validation
	// (postflight) and nothing else: only the topics that declare scope
	// node (validate) run, on the input restricted to the node ("Node-
	// restricted input" in input.go), so a gate costs a fraction of a
	// whole check. Read the result with Result.NodeGate or
	// Result.NodeValidation for the same node; its other findings are
	// not those of a whole check.
	Node string
	// Memo, when set, keeps what evaluations work out of each pod for the
	// next evaluation that meets the same pod. Set it only for inventories
	// that share objects never changed in place (a run's watched state).
	Memo *Memo
	// Underway maps each node an upgate run has started upgrading (or has
	// upgraded) to that upgrade's version (executor.Underway reads it
	// from the nodes' upgate.dev annotations). The skew rules do not call
	// a component at that version on that node newer than the other
	// kube-apiservers: it is the run's own half-way state.
	Underway map[string]*version.Version

	// capaProbes, when above 0, bounds the capacity fit's probes instead
	// of capaBudget (tests of the bound).
	capaProbes int
}

// Result is what Evaluate found.
type Result struct {
	Findings []finding.Finding
	// Checks are the sorted IDs of the checks evaluated.
	Checks []string
}

// Engine holds the compiled policies, prepared once.
type Engine struct {
	topics []*topic
	digest string
	// custom is set when users' policies are loaded: they may read any
	// input section.
	custom bool
}

// topic is one package under data.upgate that defines findings.
type topic struct {
	pkg    string // e.g. data.upgate.path
	phases map[finding.Phase]bool
	// scopes are the declared scopes of each check the findings rules name
	// (custom.check), the union over the rules that name it.
	scopes map[string][]finding.Scope
	// defaults is the scope of a finding whose check no rule names.
	defaults []finding.Scope
	// open is set when a findings rule names no custom.check: only then
	// may a finding's check be one no rule names (it takes defaults).
	open  bool
	query rego.PreparedEvalQuery
}

// topicEval is one topic's evaluation, which may run on its own goroutine.
type topicEval struct {
	topic *topic
	rs    rego.ResultSet
	err   error
	done  chan struct{}
}

func (ev *topicEval) run(ctx context.Context, input ast.Value) {
	defer close(ev.done)
	ev.rs, ev.err = ev.topic.query.Eval(ctx, rego.EvalParsedInput(input))
}

// evaluateBySection evaluates the built-in topics, each on an input that
// holds its own section (a built-in topic reads no other:
// TestBuiltinTopicsReadTheirOwnSection). Each topic's rules run on their
// own goroutine as soon as its section is built, while the next sections
// are built: at 150,000 pods building the input and evaluating the rules
// take seconds each, and a second core does the one while the first does
// the other. Safety's section and rules are the largest: built first.
// Results are read in topic order, so the findings are the same.
func (e *Engine) evaluateBySection(ctx context.Context, req *Request, evals []*topicEval) error {
	order := slices.Clone(evals)
	slices.SortStableFunc(order, func(a, b *topicEval) int {
		return cmp.Compare(sectionRank(a.topic), sectionRank(b.topic))
	})
	b := newInputBuilder(req)
	defer b.done()
	common := b.common()
	for i, ev := range order {
		name := strings.TrimPrefix(ev.topic.pkg, "data."+Root+".")
		section, err := b.section(name)
		if err != nil {
			// The topics not started never will: mark them done, with the error.
			for _, rest := range order[i:] {
				rest.err = err
				close(rest.done)
			}
			return err
		}
		items := slices.Clip(common)
		if section != nil {
			items = append(items, kv(name, section))
		}
		go ev.run(ctx, ast.NewObject(items...))
	}
	return nil
}

// sectionRank orders the sections' building: safety's, the largest, first.
func sectionRank(t *topic) int {
	if t.pkg == "data."+Root+".safety" {
		return 0
	}
	return 1
}

// New compiles the embedded policies with the users' and prepares one query
// per topic package.
func New(ctx context.Context, opts Options) (*Engine, error) {
	files := map[string][]byte{}

	builtin, err := loader.NewFileLoader().
		WithFS(embedded).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered([]string{"."}, skipTests)
	if err != nil {
		return nil, fmt.Errorf("%w: embedded policies: %v", ErrInvalidPolicy, err)
	}
	modules := map[string]*ast.Module{}
	for name, f := range builtin.Modules {
		modules["embedded/"+name] = f.Parsed
		files["embedded/"+name] = f.Raw
	}
	if err := fs.WalkDir(embedded, FactsKey, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		files["embedded/"+p] = b
		return err
	}); err != nil {
		return nil, err
	}

	for i, dir := range opts.PolicyDirs {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("%w: --policy-dir %s: %v", ErrInvalidPolicy, dir, err)
		}
		res, err := loader.NewFileLoader().
			WithRegoVersion(ast.RegoV1).
			WithProcessAnnotation(true).
			Filtered([]string{dir}, onlyPolicies)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
		}
		for name, f := range res.Modules {
			if err := checkCustomModule(f.Parsed); err != nil {
				return nil, err
			}
			modules["custom/"+name] = f.Parsed
			// Named by position and path within its --policy-dir, so the
			// digest does not depend on where the directory is mounted.
			rel, err := filepath.Rel(dir, name)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				rel = filepath.Base(name)
			}
			files[fmt.Sprintf("custom/%d/%s", i, filepath.ToSlash(rel))] = f.Raw
		}
	}

	if b := opts.Bundle; b != nil {
		for _, m := range b.modules {
			if err := checkCustomModule(m.Parsed); err != nil {
				return nil, fmt.Errorf("--policy-bundle %s: %w", b.Source, err)
			}
			// Named by its path in the bundle: the digest changes with
			// the bundle's policies, not with where it was fetched from.
			name := "bundle/" + strings.TrimPrefix(filepath.ToSlash(m.Path), "/")
			modules["custom/"+name] = m.Parsed
			files[name] = m.Raw
		}
	}

	ss, err := schemas()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(false).WithSchemas(ss)
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, compiler.Errors)
	}

	store := inmem.NewFromObject(builtin.Documents)
	topics, err := discover(ctx, compiler, store)
	if err != nil {
		return nil, err
	}
	custom := false
	for name := range modules {
		custom = custom || strings.HasPrefix(name, "custom/")
	}
	return &Engine{topics: topics, digest: digest(files), custom: custom}, nil
}

// skipTests keeps test files and non-policy files out of the engine (the
// loader reads .rego, .json and .yaml).
func skipTests(_ string, info fs.FileInfo, _ int) bool {
	return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
}

// onlyPolicies keeps users' .rego files, minus their tests.
func onlyPolicies(_ string, info fs.FileInfo, _ int) bool {
	if info.IsDir() {
		return false
	}
	return filepath.Ext(info.Name()) != ".rego" || strings.HasSuffix(info.Name(), "_test.rego")
}

func checkCustomModule(m *ast.Module) error {
	root := ast.DefaultRootRef.Append(ast.StringTerm(Root))
	if !m.Package.Path.HasPrefix(root) || len(m.Package.Path) < 3 {
		return fmt.Errorf("%w: %s: package %s is not under %s.: upgate only reads policies in packages named %s.<topic>",
			ErrInvalidPolicy, m.Package.Location, strings.TrimPrefix(m.Package.Path.String(), "data."), Root, Root)
	}
	for _, r := range m.Rules {
		if r.Head.Name.String() == findingsRule || r.Head.Ref().String() == findingsRule {
			if r.Head.RuleKind() != ast.MultiValue {
				return fmt.Errorf("%w: %s: findings must be a set: write `findings contains f if {...}`", ErrInvalidPolicy, r.Location)
			}
		}
	}
	return nil
}

// discover finds every package under data.upgate defining findings, reads
// the phases and scopes its METADATA declares, and prepares its query.
func discover(ctx context.Context, compiler *ast.Compiler, store storage.Store) ([]*topic, error) {
	root := ast.DefaultRootRef.Append(ast.StringTerm(Root))
	byPkg := map[string]*decl{}
	var order []string
	for _, m := range compiler.Modules {
		if !m.Package.Path.HasPrefix(root) {
			continue
		}
		pkg := m.Package.Path.String()
		d := byPkg[pkg]
		if d == nil {
			d = &decl{phases: map[finding.Phase]bool{}, checks: map[string][]finding.Scope{}}
			byPkg[pkg] = d
			order = append(order, pkg)
		}
		for _, a := range m.Annotations {
			if a.Scope != "package" && a.Scope != "subpackages" {
				continue
			}
			if ps, ok := a.Custom["phases"].([]any); ok {
				for _, p := range ps {
					if s, ok := p.(string); ok {
						d.phases[finding.Phase(s)] = true
					}
				}
			}
			sc, err := annotatedScope(a)
			if err != nil {
				return nil, err
			}
			if sc != nil {
				d.pkgScope = sc
				d.declared = append(d.declared, declared{sc, a.Location})
			}
		}
		for _, r := range m.Rules {
			if r.Head.Ref().String() != findingsRule {
				continue
			}
			d.hasFindings = true
			named := false
			for _, a := range r.Annotations {
				sc, err := annotatedScope(a)
				if err != nil {
					return nil, err
				}
				if sc != nil {
					d.declared = append(d.declared, declared{sc, a.Location})
				}
				if id, ok := a.Custom["check"].(string); ok && id != "" {
					d.checks[id] = union(d.checks[id], sc)
					named = true
				}
			}
			if !named {
				d.open = true
			}
		}
	}
	var out []*topic
	for _, pkg := range order {
		d := byPkg[pkg]
		if !d.hasFindings {
			continue
		}
		t, err := d.topic(pkg)
		if err != nil {
			return nil, err
		}
		pq, err := rego.New(
			rego.Compiler(compiler),
			rego.Store(store),
			rego.Query(pkg+"."+findingsRule),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidPolicy, pkg, err)
		}
		t.query = pq
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pkg < out[j].pkg })
	return out, nil
}

// decl is what a package's METADATA declares, gathered over its modules.
type decl struct {
	hasFindings bool
	phases      map[finding.Phase]bool     // custom.phases of the package
	pkgScope    []finding.Scope            // custom.scope of the package
	checks      map[string][]finding.Scope // custom.scope of the rules naming each check
	open        bool                       // a findings rule names no custom.check
	declared    []declared                 // every custom.scope, for the phase check
}

type declared struct {
	scope []finding.Scope
	at    *ast.Location
}

// topic settles the package's phases and its checks' scopes. Phases not
// declared are those of the scopes declared (preflight when none is); a
// scope declared outside the declared phases would never be evaluated, so
// it is an invalid policy. A rule without a scope takes its package's
// custom.scope, else the default of its phases (defaultScope).
func (d *decl) topic(pkg string) (*topic, error) {
	t := &topic{pkg: pkg, phases: d.phases, scopes: map[string][]finding.Scope{}, open: d.open}
	if len(t.phases) == 0 {
		t.phases = map[finding.Phase]bool{}
		for _, dc := range d.declared {
			for _, s := range dc.scope {
				t.phases[s.Phase()] = true
			}
		}
		if len(t.phases) == 0 {
			// Undeclared: a pre-upgrade gate, like most checks.
			t.phases[finding.PhasePreflight] = true
		}
	}
	for _, dc := range d.declared {
		for _, s := range dc.scope {
			if !t.phases[s.Phase()] {
				return nil, fmt.Errorf("%w: %s: custom.scope %s is evaluated in the %s phase, which the custom.phases of package %s leave out",
					ErrInvalidPolicy, dc.at, s, s.Phase(), strings.TrimPrefix(pkg, "data."))
			}
		}
	}
	t.defaults = d.pkgScope
	if t.defaults == nil {
		t.defaults = defaultScope(t.phases)
	}
	for id, sc := range d.checks {
		if sc == nil {
			sc = t.defaults
		}
		t.scopes[id] = sc
	}
	return t, nil
}

// annotatedScope reads an annotation's custom.scope; nil when it has none.
func annotatedScope(a *ast.Annotations) ([]finding.Scope, error) {
	v, ok := a.Custom["scope"]
	if !ok {
		return nil, nil
	}
	sc, err := parseScope(v)
	if err == nil && len(sc) == 0 {
		err = fmt.Errorf("an empty scope gates nothing; use %s, or leave custom.scope out for the default", scopeNames)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: custom.scope: %v", ErrInvalidPolicy, a.Location, err)
	}
	return sc, nil
}

// union returns the scopes of a and b in the order of finding.Scopes.
func union(a, b []finding.Scope) []finding.Scope {
	if a == nil {
		return b
	}
	var out []finding.Scope
	for _, s := range finding.Scopes {
		if slices.Contains(a, s) || slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// digest hashes the bundle: every file's name and bytes, sorted by name.
func digest(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Digest is the sha256 of the policy bundle (embedded and custom files,
// sorted by name), "sha256:<hex>".
func (e *Engine) Digest() string { return e.digest }

// Evaluate builds the input once and evaluates every topic that runs in the
// request's phase.
func (e *Engine) Evaluate(ctx context.Context, req Request) (*Result, error) {
	if req.Inventory == nil {
		return nil, errors.New("policies: no inventory to evaluate")
	}
	if req.Current == nil || req.Target == nil {
		return nil, errors.New("policies: current and target versions are required")
	}
	if req.Phase == "" {
		req.Phase = finding.PhasePreflight
	}
	// The topics to evaluate: on a node's gate or validation, those that
	// declare its scope. Each built-in topic reads only its own input
	// section (TestBuiltinTopicsReadTheirOwnSection), so only their
	// sections are built.
	var evals []*topicEval
	for _, t := range e.topics {
		if t.phases[req.Phase] && (req.Node == "" || t.declares(nodeScope(req.Phase))) {
			evals = append(evals, &topicEval{topic: t, done: make(chan struct{})})
		}
	}
	if e.custom {
		// Users' policies may read any section: one input, whole.
		input, err := buildInput(&req, nil)
		if err != nil {
			return nil, err
		}
		for _, ev := range evals {
			ev.run(ctx, input)
		}
	} else if err := e.evaluateBySection(ctx, &req, evals); err != nil {
		return nil, err
	}
	res := &Result{}
	checks := map[string]bool{}
	for _, ev := range evals {
		t := ev.topic
		for c, sc := range t.scopes {
			if inPhase(sc, req.Phase) {
				checks[c] = true
			}
		}
		<-ev.done
		rs, err := ev.rs, ev.err
		if err != nil {
			return nil, fmt.Errorf("policies: evaluating %s: %w", t.pkg, err)
		}
		for _, r := range rs {
			for _, ex := range r.Expressions {
				fs, err := decodeFindings(t.pkg, ex.Value)
				if err != nil {
					return nil, err
				}
				for _, f := range fs {
					declared, named := t.scopes[f.Check]
					if !named {
						if !t.open {
							return nil, fmt.Errorf("%w: %s.findings: a finding of check %s, which no rule of the package names in custom.check: name it in the METADATA of the rule that reports it",
								ErrInvalidPolicy, t.pkg, f.Check)
						}
						declared = t.defaults
					}
					if f.Scope == nil {
						f.Scope = declared
					} else if wider := slices.DeleteFunc(slices.Clone(f.Scope), func(s finding.Scope) bool { return slices.Contains(declared, s) }); len(wider) > 0 {
						// A node's gate evaluates only the topics that
						// declare scope node: a finding must not widen
						// what its rules declare.
						return nil, fmt.Errorf("%w: %s.findings: check %s: a finding carries scope %v, which no rule of the check declares (%v): a finding may narrow its rule's scope, never widen it",
							ErrInvalidPolicy, t.pkg, f.Check, wider, declared)
					}
					// A topic evaluated in both phases reports each
					// finding in the phases of its scopes only.
					if !inPhase(f.Scope, req.Phase) {
						continue
					}
					checks[f.Check] = true
					res.Findings = append(res.Findings, f)
				}
			}
		}
	}
	finding.Sort(res.Findings)
	for c := range checks {
		res.Checks = append(res.Checks, c)
	}
	sort.Strings(res.Checks)
	return res, nil
}

// nodeScope is the scope a node-restricted evaluation of phase serves:
// the node's gate in preflight, its validation in postflight.
func nodeScope(phase finding.Phase) finding.Scope {
	if phase == finding.PhasePostflight {
		return finding.ScopeValidate
	}
	return finding.ScopeNode
}

// declares reports whether any finding of the topic can be of scope s: a
// rule declares it for its check, or, in an open topic, a finding whose
// check no rule names gets it by default. (Evaluate holds findings to
// that: one carrying its own scope may only narrow its check's, and a
// check no rule names comes only from an open topic.)
func (t *topic) declares(s finding.Scope) bool {
	for _, sc := range t.scopes {
		if slices.Contains(sc, s) {
			return true
		}
	}
	return t.open && slices.Contains(t.defaults, s)
}

// decodeFindings converts a findings set with checked conversions: a policy
// that produces a malformed finding is an invalid policy, not a pass.
func decodeFindings(pkg string, v any) ([]finding.Finding, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s.findings is a %T, want a set of objects", ErrInvalidPolicy, pkg, v)
	}
	out := make([]finding.Finding, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s.findings holds a %T, want an object", ErrInvalidPolicy, pkg, it)
		}
		bad := func(field string) error {
			return fmt.Errorf("%w: %s.findings: finding %v: %s missing or not a string", ErrInvalidPolicy, pkg, it, field)
		}
		str := func(m map[string]any, k string, required bool) (string, error) {
			x, present := m[k]
			if !present || x == nil {
				if required {
					return "", bad(k)
				}
				return "", nil
			}
			s, ok := x.(string)
			if !ok || (required && s == "") {
				return "", bad(k)
			}
			return s, nil
		}
		var f finding.Finding
		var err error
		if f.Check, err = str(m, "check", true); err != nil {
			return nil, err
		}
		sev, err := str(m, "severity", true)
		if err != nil {
			return nil, err
		}
		f.Severity = finding.Severity(sev)
		switch f.Severity {
		case finding.SeverityBlock, finding.SeverityWarn, finding.SeverityInfo:
		default:
			return nil, fmt.Errorf("%w: %s.findings: check %s: severity %q is not block, warn or info", ErrInvalidPolicy, pkg, f.Check, sev)
		}
		if f.Message, err = str(m, "message", true); err != nil {
			return nil, err
		}
		if f.Remediation, err = str(m, "remediation", false); err != nil {
			return nil, err
		}
		if f.Node, err = str(m, "node", false); err != nil {
			return nil, err
		}
		// A finding may carry its own scope (lib.finding copies the
		// rule's); none, or an empty list, takes its check's.
		if f.Scope, err = parseScope(m["scope"]); err != nil {
			return nil, fmt.Errorf("%w: %s.findings: check %s: %v", ErrInvalidPolicy, pkg, f.Check, err)
		}
		// A rule may report its finding ignored, saying why (as skew's
		// rules do for the half-way state of upgate's own run): reported,
		// never blocking, as an upgate.dev/ignore annotation would.
		if f.IgnoredBy, err = str(m, "ignoredBy", false); err != nil {
			return nil, err
		}
		f.Ignored = f.IgnoredBy != ""
		subj, ok := m["subject"].(map[string]any)
		if !ok {
			return nil, bad("subject")
		}
		if f.Subject.Kind, err = str(subj, "kind", true); err != nil {
			return nil, err
		}
		if f.Subject.Namespace, err = str(subj, "namespace", false); err != nil {
			return nil, err
		}
		if f.Subject.Name, err = str(subj, "name", false); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

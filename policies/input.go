package policies

import (
	"fmt"
	"sort"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// The policy input is built in Go, joins included, holding only the fields
// rules read, and handed to OPA as an ast.Value (rego.EvalParsedInput): at
// 150,000 pods this is several times faster than raw objects and joins in
// Rego (see /work/shared/SCALE.md).
//
// Its shape, described field by field by the JSON Schema schema/input.json
// (the policies are type-checked against it; TestInputMatchesItsSchema
// holds it to what the builders produce):
//
//	input.phase    "preflight" | "postflight"
//	input.current  version (below): the current control plane
//	input.target   version: the target
//	input.<name>   one section per registered builder (registerSection)
//
// A version is {"version": "v1.36.2", "major": 1, "minor": 36, "patch": 2,
// "has_patch": true}; "1.36" gives patch 0 and has_patch false.
//
// To add a topic's section: in a new file input_<topic>.go, write
//
//	func init() { registerSection("<topic>", buildTopic) }
//	func buildTopic(ix *index) (ast.Value, error) { ... }
//
// reading the inventory through the shared index (index.go: roles, pods by
// node, controlling workloads, components; add a join there if several
// sections need it). Keep sections compact: only fields rules read, empty
// lists and false flags omitted (Rego treats a missing key as undefined).
// Describe each new field in schema/input.json, and read sections in Rego
// by reference (input.<topic>.<list>), not through object.get: a reference
// is type-checked against the schema, object.get's path is not.

// # Node-restricted input
//
// A node's gate and validation in `upgate run` (Request.Node) are
// evaluated on the input restricted to that node, so that each costs a
// small fraction of a whole check: entries bound to another node are left
// out, entries bound to the node or to no node stay, and what the rules
// compare across the cluster stays whole. Section by section:
//
//   - safety.pods, health.pods: the node's pods (and unbound ones).
//   - safety.workloads: those running a pod on the node, with nodes
//     ["<node>"], and those running none that want pods (spec.replicas
//     unset or above 0). A workload running only elsewhere, or wanting and
//     running none, is left out.
//   - skew.components, post.components: every kube-apiserver (the rules
//     compare the others with the oldest), and the other components on
//     the node or on no node.
//   - capacity.nodes: the node's row alone (its window's pods are placed
//     first, as in a whole check).
//   - pdb.budgets: the budgets that select an evictable pod on the node,
//     each whole (all its nodes).
//   - everything else (nodes, counts, daemonsets, health.nodes, workloads'
//     readiness, APIs, webhooks, add-ons): whole.
//
// So a rule of scope node (validate) that judges one entry at a time sees
// what it would see in a whole check; one that aggregates over pods or
// workloads of the whole cluster belongs to scope run.
// TestNodeRestrictedEvaluationMatchesWholeCluster holds the built-in rules
// to that: for every node of every test cluster, the node's gate and
// validation are the same either way.

// sectionBuilder builds one top-level key of the input.
type sectionBuilder func(ix *index) (ast.Value, error)

var sections = map[string]sectionBuilder{}

// reserved input keys, set by buildInput itself.
var reserved = map[string]bool{"phase": true, "current": true, "target": true}

// registerSection adds an input section; call it from an init function.
func registerSection(name string, b sectionBuilder) {
	if _, dup := sections[name]; dup || reserved[name] {
		panic(fmt.Sprintf("policies: input section %q registered twice", name))
	}
	sections[name] = b
}

// buildInput builds the input for one evaluation: every section, or
// those named in only when it is not nil.
func buildInput(req *Request, only map[string]bool) (ast.Value, error) {
	b := newInputBuilder(req)
	defer b.done()
	names := make([]string, 0, len(sections))
	for n := range sections {
		if only == nil || only[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	items := b.common()
	for _, n := range names {
		t, err := b.section(n)
		if err != nil {
			return nil, err
		}
		if t != nil {
			items = append(items, kv(n, t))
		}
	}
	return ast.NewObject(items...), nil
}

// inputBuilder builds one evaluation's input section by section, all on
// one goroutine (the index it shares between sections is not safe for
// concurrent use); the values it returns are, once built.
type inputBuilder struct {
	req *Request
	ix  *index
}

// newInputBuilder takes req's memo until done.
func newInputBuilder(req *Request) *inputBuilder {
	if req.Memo != nil {
		req.Memo.lock(len(req.Inventory.Pods))
	}
	return &inputBuilder{req: req, ix: newIndex(req.Inventory, req)}
}

// done gives the memo back.
func (b *inputBuilder) done() {
	if b.req.Memo != nil {
		b.req.Memo.unlock()
	}
}

// common are the keys every input has: the phase and the versions.
func (b *inputBuilder) common() [][2]*ast.Term {
	return [][2]*ast.Term{
		kv("phase", str(string(b.req.Phase))),
		kv("current", ast.NewTerm(versionValue(b.req.Current))),
		kv("target", ast.NewTerm(versionValue(b.req.Target))),
	}
}

// section builds the named section: nil when the section is empty, or
// when no section has that name.
func (b *inputBuilder) section(n string) (*ast.Term, error) {
	build, ok := sections[n]
	if !ok {
		return nil, nil
	}
	v, err := build(b.ix)
	if err != nil {
		return nil, fmt.Errorf("policies: building input section %s: %w", n, err)
	}
	if v == nil {
		return nil, nil
	}
	return ast.NewTerm(v), nil
}

// versionValue renders a version for Rego; nil gives null.
func versionValue(v *version.Version) ast.Value {
	if v == nil {
		return ast.Null{}
	}
	hasPatch := len(v.Components()) > 2
	s := kubever.Minor(v)
	if hasPatch {
		s = kubever.Canonical(v)
	}
	return ast.NewObject(
		kv("version", str(s)),
		kv("major", num(int(v.Major()))),
		kv("minor", num(int(v.Minor()))),
		kv("patch", num(int(v.Patch()))),
		kv("has_patch", ast.BooleanTerm(hasPatch)),
	)
}

// Small constructors for building ast values directly.

func kv(k string, v *ast.Term) [2]*ast.Term { return ast.Item(keyTerm(k), v) }

// keyTerms shares the term of each object key: the input repeats a few keys
// on hundreds of thousands of objects (terms are immutable once built).
var keyTerms sync.Map

func keyTerm(k string) *ast.Term {
	if t, ok := keyTerms.Load(k); ok {
		return t.(*ast.Term)
	}
	t, _ := keyTerms.LoadOrStore(k, ast.StringTerm(k))
	return t.(*ast.Term)
}

func str(s string) *ast.Term { return ast.StringTerm(s) }

func num(n int) *ast.Term { return ast.IntNumberTerm(n) }

func obj(items ...[2]*ast.Term) *ast.Term { return ast.ObjectTerm(items...) }

func strs(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

// fields collects an object's items, skipping empty strings, false, empty
// lists and nil terms, so the input stays compact.
type fields [][2]*ast.Term

func (f *fields) str(k, v string) {
	if v != "" {
		*f = append(*f, kv(k, str(v)))
	}
}

// shared is str with the value's term shared through the index (for values
// repeated across many objects: namespaces, node names, kinds).
func (f *fields) shared(ix *index, k, v string) {
	if v != "" {
		*f = append(*f, kv(k, ix.term(v)))
	}
}

func (f *fields) flag(k string, v bool) {
	if v {
		*f = append(*f, kv(k, ast.BooleanTerm(true)))
	}
}

func (f *fields) num(k string, v int) { *f = append(*f, kv(k, num(v))) }

func (f *fields) term(k string, v *ast.Term) {
	if v == nil {
		return
	}
	if a, ok := v.Value.(*ast.Array); ok && a.Len() == 0 {
		return
	}
	*f = append(*f, kv(k, v))
}

func (f fields) obj() *ast.Term { return ast.ObjectTerm(f...) }

// componentTerm renders a component instance for Rego: name, node, pod,
// the raw version text, and the parsed version only when it could be read
// (a rule must never compare a guess).
func componentTerm(c inventory.Component) *ast.Term {
	var f fields
	f.str("name", c.Name)
	f.str("node", c.Node)
	f.str("namespace", c.Namespace)
	f.str("pod", c.Pod)
	f.str("raw", c.Raw)
	if c.Known() {
		f.term("version", ast.NewTerm(versionValue(c.Version)))
	}
	return f.obj()
}

package policies

import (
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/upgate-dev/upgate/inventory"
)

// input.skew: every component instance and its version, grouped by
// component name (the contract's "component versions").
//
//	input.skew.components["kube-apiserver" | "kube-controller-manager" |
//	  "kube-scheduler" | "cloud-controller-manager" | "etcd" | "kubelet" |
//	  "kube-proxy"] = [{
//	    "name": "kubelet", "node": "worker-1",
//	    "namespace": "kube-system", "pod": "kube-proxy-abcde", // pods only
//	    "raw": "v1.35.2",              // the tag or nodeInfo string read
//	    "version": {...},              // absent when it cannot be read
//	}]
//	input.skew.underway[node] = {...}  // the version of the upgrade an
//	                                   // upgate run has under way (or
//	                                   // done) on node: Request.Underway
func init() { registerSection("skew", buildSkew) }

// aboutComponent reports whether a component instance belongs in the
// input: in a node-restricted input, every kube-apiserver (the skew rules
// compare the others with the oldest) and the instances on the focus node
// or on no node.
func (ix *index) aboutComponent(c inventory.Component) bool {
	return c.Name == inventory.ComponentAPIServer || ix.about(c.Node)
}

func buildSkew(ix *index) (ast.Value, error) {
	groups := map[string][]*ast.Term{}
	var names []string
	for _, c := range ix.comps() {
		if !ix.aboutComponent(c) {
			continue
		}
		if _, seen := groups[c.Name]; !seen {
			names = append(names, c.Name)
		}
		groups[c.Name] = append(groups[c.Name], componentTerm(c))
	}
	items := make([][2]*ast.Term, 0, len(names))
	for _, n := range names {
		items = append(items, kv(n, ast.ArrayTerm(groups[n]...)))
	}
	var underway fields
	if ix.req != nil {
		for _, n := range slices.Sorted(maps.Keys(ix.req.Underway)) {
			if ix.about(n) {
				underway.term(n, ast.NewTerm(versionValue(ix.req.Underway[n])))
			}
		}
	}
	return ast.NewObject(kv("components", obj(items...)), kv("underway", underway.obj())), nil
}

package policies

import (
	"fmt"
	"slices"
	"strings"

	"github.com/upgate-dev/upgate/finding"
)

// scopeNames is how errors list the valid scopes.
var scopeNames = func() string {
	names := make([]string, len(finding.Scopes))
	for i, s := range finding.Scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}()

// parseScope reads a custom.scope value or a finding's scope field: one
// scope name or a list of them. It returns them in the order of
// finding.Scopes without duplicates; nil (and no error) for none.
func parseScope(v any) ([]finding.Scope, error) {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil, fmt.Errorf("scope is a %T, want a scope name or a list of them (%s)", v, scopeNames)
	}
	seen := map[finding.Scope]bool{}
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("scope %v is not a string; use %s", it, scopeNames)
		}
		if !finding.Scope(s).Valid() {
			return nil, fmt.Errorf("%q is not a scope; use %s", s, scopeNames)
		}
		seen[finding.Scope(s)] = true
	}
	var out []finding.Scope
	for _, s := range finding.Scopes {
		if seen[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// defaultScope is the scope of a rule that declares none, from the phases
// its package is evaluated in: a preflight rule gates the run and each
// node, a postflight rule validates each node and the run.
func defaultScope(phases map[finding.Phase]bool) []finding.Scope {
	var out []finding.Scope
	if phases[finding.PhasePreflight] {
		out = append(out, finding.ScopeRun, finding.ScopeNode)
	}
	if phases[finding.PhasePostflight] {
		out = append(out, finding.ScopeValidate, finding.ScopePostflight)
	}
	return out
}

// inPhase reports whether any of the scopes is evaluated in phase.
func inPhase(scopes []finding.Scope, phase finding.Phase) bool {
	return slices.ContainsFunc(scopes, func(s finding.Scope) bool { return s.Phase() == phase })
}

// InScope returns the findings declared for any of the scopes, in order,
// whatever their severity.
func (r *Result) InScope(scopes ...finding.Scope) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Findings {
		if slices.ContainsFunc(scopes, f.In) {
			out = append(out, f)
		}
	}
	return out
}

// NodeGate returns the findings that stop node in its gate, just before
// it is touched: blocking, of scope node, and about that node or about no
// node (those stop every node). Evaluate the preflight phase for it.
func (r *Result) NodeGate(node string) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Findings {
		if f.Blocking() && f.In(finding.ScopeNode) && (f.Node == node || f.Node == "") {
			out = append(out, f)
		}
	}
	return out
}

// NodeValidation returns the findings that fail node's validation after
// its upgrade: blocking, of scope validate, and about that node. A finding
// about no node is not held against the node just upgraded; give it scope
// postflight. Evaluate the postflight phase, with the run's baseline, for
// it.
func (r *Result) NodeValidation(node string) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Findings {
		if f.Blocking() && f.In(finding.ScopeValidate) && node != "" && f.Node == node {
			out = append(out, f)
		}
	}
	return out
}

// CheckCCMBehindTarget is the check that keeps a hop's workers waiting
// after its cloud-controller-manager stage.
const CheckCCMBehindTarget = "addon.ccm-behind-target"

// CloudControllerBehind returns the findings that keep a hop's workers
// from starting after its cloud-controller-manager stage: addon.ccm-behind-
// target, as its policy declares it for scope hop, not ignored, whatever
// its severity (a warning in `check`, but the contract's order is that the
// CCM moves before any node at the new version joins). Evaluate the
// preflight phase against the hop's version for it.
func (r *Result) CloudControllerBehind() []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Findings {
		if f.Check == CheckCCMBehindTarget && f.In(finding.ScopeHop) && !f.Ignored {
			out = append(out, f)
		}
	}
	return out
}

package finding

import "testing"

func TestScopes(t *testing.T) {
	want := map[Scope]Phase{
		ScopeRun: PhasePreflight, ScopeHop: PhasePreflight, ScopeNode: PhasePreflight,
		ScopeValidate: PhasePostflight, ScopePostflight: PhasePostflight,
	}
	if len(Scopes) != len(want) {
		t.Fatalf("Scopes = %v", Scopes)
	}
	for _, s := range Scopes {
		if !s.Valid() || s.Phase() != want[s] {
			t.Errorf("%s: valid %v, phase %s, want %s", s, s.Valid(), s.Phase(), want[s])
		}
	}
	for _, s := range []Scope{"", "preflight", "Node", "cluster"} {
		if s.Valid() {
			t.Errorf("%q is valid", s)
		}
	}
	f := Finding{Scope: []Scope{ScopeRun, ScopeNode}}
	if !f.In(ScopeNode) || f.In(ScopeValidate) || (Finding{}).In(ScopeRun) {
		t.Errorf("In: %+v", f)
	}
}

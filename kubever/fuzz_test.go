package kubever

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary strings to the version parser: it must return
// a version within the bounds, which renders and parses back to itself,
// or an error; never panic. FromImage, on the same string as a tag, must
// agree with it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.36", "v1.36.2", "v1.35.2-eks-abc", "v1.30.1+k3s1", "latest", "v1.2000000000", "0.0", "3.5.15-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		if v.Major() > MaxMajor || v.Minor() > MaxMinor || v.Patch() > MaxPatch {
			t.Fatalf("Parse(%q) = %s, out of bounds", s, Canonical(v))
		}
		back, err := Parse(Canonical(v))
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse back: %v", s, Canonical(v), err)
		}
		if Canonical(back) != Canonical(v) {
			t.Fatalf("Parse(Canonical(Parse(%q))) = %s, want %s", s, Canonical(back), Canonical(v))
		}
		if !strings.ContainsAny(s, "/:@") {
			if _, iv, ok := FromImage("registry.k8s.io/kube-apiserver:" + s); !ok || Canonical(iv) != Canonical(v) {
				t.Fatalf("FromImage with tag %q disagrees with Parse (%s)", s, Canonical(v))
			}
		}
		// A gap check on any two parsed versions ends and never panics.
		_ = CheckGap(v, back)
	})
}

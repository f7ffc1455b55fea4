package policies

import (
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// ignoreResult evaluates testdata/ignore and applies opts.
func ignoreResult(t *testing.T, opts IgnoreOptions) (map[string]finding.Finding, *inventory.Inventory) {
	t.Helper()
	inv := readTestdata(t, "ignore")
	res := evaluate(t, testEngine(t), inv, "v1.35.2", "v1.36.0")
	ApplyIgnores(res.Findings, inv, opts)
	out := map[string]finding.Finding{}
	for _, f := range res.Findings {
		k := f.Check + " " + f.Subject.Namespace + "/" + f.Subject.Name
		if _, dup := out[k]; dup {
			t.Fatalf("two findings %s", k)
		}
		out[k] = f
	}
	return out, inv
}

func TestIgnoreAnnotations(t *testing.T) {
	got, _ := ignoreResult(t, IgnoreOptions{})
	for _, tc := range []struct {
		finding string
		by      string // "" = not ignored
	}{
		{"safety.emptydir scratch/tmp-aaa111-x1", `annotation upgate.dev/ignore="safety.emptydir" on Namespace scratch`},
		{"safety.emptydir shop/cache-bbb222-x2", `annotation upgate.dev/ignore="safety.emptydir, safety.singleton" on Deployment shop/cache`},
		{"safety.singleton shop/cache", `annotation upgate.dev/ignore="safety.emptydir, safety.singleton" on Deployment shop/cache`},
		{"safety.unmanaged-pod shop/bare", `annotation upgate.dev/ignore="safety.unmanaged-pod" on Pod shop/bare`},
		{"safety.emptydir shop/bare", ""},
		{"safety.hostpath shop/logs-ccc333-x3", `annotation upgate.dev/ignore="*" on Node worker-2`},
		{"safety.hostpath shop/web-ddd444-x4", ""},
	} {
		f, ok := got[tc.finding]
		if !ok {
			t.Errorf("no finding %s", tc.finding)
			continue
		}
		if f.Ignored != (tc.by != "") || f.IgnoredBy != tc.by {
			t.Errorf("%s: ignored=%v by %q, want by %q", tc.finding, f.Ignored, f.IgnoredBy, tc.by)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d findings, want 7: %v", len(got), got)
	}
}

func TestIgnoreExceptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ex      Exception
		ignored []string // of the findings not ignored by annotations
	}{
		{"by workload glob", Exception{Check: "safety.hostpath", Kind: "Deployment", Name: "we*"}, []string{"safety.hostpath shop/web-ddd444-x4"}},
		{"by pattern and namespace", Exception{Check: "safety.*", Namespace: "shop"}, []string{"safety.hostpath shop/web-ddd444-x4", "safety.emptydir shop/bare"}},
		{"star by node", Exception{Check: "*", Node: "worker-1"}, []string{"safety.hostpath shop/web-ddd444-x4", "safety.emptydir shop/bare"}},
		{"by pod name", Exception{Check: "safety.emptydir", Kind: "Pod", Name: "bare"}, []string{"safety.emptydir shop/bare"}},
		{"other check", Exception{Check: "safety.singleton", Namespace: "shop"}, nil},
		{"other namespace", Exception{Check: "*", Namespace: "scratch"}, nil},
		{"other kind", Exception{Check: "*", Kind: "StatefulSet", Name: "web"}, nil},
		{"empty check", Exception{Namespace: "shop"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ignoreResult(t, IgnoreOptions{Exceptions: []Exception{{Check: "never.*"}, tc.ex}})
			for _, k := range []string{"safety.hostpath shop/web-ddd444-x4", "safety.emptydir shop/bare"} {
				f := got[k]
				want := false
				for _, w := range tc.ignored {
					want = want || w == k
				}
				if f.Ignored != want {
					t.Errorf("%s: ignored=%v (%s), want %v", k, f.Ignored, f.IgnoredBy, want)
				}
				if want && !strings.HasPrefix(f.IgnoredBy, "config exception 2 (check ") {
					t.Errorf("%s: IgnoredBy %q", k, f.IgnoredBy)
				}
			}
		})
	}
}

func TestIgnoreSafetyChecks(t *testing.T) {
	got, inv := ignoreResult(t, IgnoreOptions{IgnoreSafetyChecks: true})
	for k, f := range got {
		if !f.Ignored {
			t.Errorf("%s not ignored", k)
		}
	}
	// Annotations keep precedence in IgnoredBy.
	if by := got["safety.emptydir shop/bare"].IgnoredBy; by != IgnoredBySafetyFlag {
		t.Errorf("IgnoredBy = %q", by)
	}
	if by := got["safety.unmanaged-pod shop/bare"].IgnoredBy; !strings.HasPrefix(by, "annotation ") {
		t.Errorf("IgnoredBy = %q", by)
	}
	// Not safety: untouched.
	fs := []finding.Finding{{Check: "skew.kubelet-newer", Severity: finding.SeverityBlock, Subject: finding.Subject{Kind: "Node", Name: "worker-1"}, Node: "worker-1"}}
	ApplyIgnores(fs, inv, IgnoreOptions{IgnoreSafetyChecks: true})
	if fs[0].Ignored {
		t.Error("--ignore-safety-checks ignored a skew finding")
	}
	// A blocked report passes once its safety findings are ignored.
	all := make([]finding.Finding, 0, len(got))
	for _, f := range got {
		all = append(all, f)
	}
	if r := finding.New(finding.PhasePreflight, "v1.35.2", "v1.36.0", all, finding.Input{}, finding.Producer{}, inv.CollectedAt); r.Blocked() {
		t.Error("report still blocked")
	}
}

func TestIgnoreStarAnnotationOnNodeCoversNodeFindings(t *testing.T) {
	inv := readTestdata(t, "safety/single-worker")
	for i := range inv.Nodes {
		if inv.Nodes[i].Name == "worker-1" {
			inv.Nodes[i].Annotations = map[string]string{IgnoreAnnotation: "safety.single-worker"}
		}
	}
	res := evaluate(t, testEngine(t), inv, "v1.35.2", "v1.36.0")
	ApplyIgnores(res.Findings, inv, IgnoreOptions{})
	fs := ofCheck(res.Findings, "safety.single-worker")
	if len(fs) != 1 || !fs[0].Ignored || fs[0].IgnoredBy != `annotation upgate.dev/ignore="safety.single-worker" on Node worker-1` {
		t.Fatalf("%+v", fs)
	}
}

func TestApplyIgnoresNilInventory(t *testing.T) {
	fs := []finding.Finding{{Check: "safety.emptydir", Subject: finding.Subject{Kind: "Pod", Namespace: "a", Name: "b"}}}
	ApplyIgnores(fs, nil, IgnoreOptions{Exceptions: []Exception{{Check: "safety.emptydir", Namespace: "a"}}})
	if !fs[0].Ignored {
		t.Fatal("exception did not apply without an inventory")
	}
}

func TestExceptionValidate(t *testing.T) {
	if (Exception{Check: "safety.*"}).Validate() != nil {
		t.Error("valid exception rejected")
	}
	for _, ex := range []Exception{{}, {Check: "[bad"}, {Check: "*", Name: "[x"}} {
		if ex.Validate() == nil {
			t.Errorf("%+v accepted", ex)
		}
	}
}

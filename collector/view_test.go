package collector

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/inventory"
)

// A fill hands the watch cache's objects over in the inventory's order
// with the usages recorded when each was cached: the same lists again
// when nothing changed, and, after adds, updates (a new object under the
// same name) and deletes, exactly the objects cached now.
func TestWatchViewFollowsTheCache(t *testing.T) {
	pod := func(ns, name, version string) (*corev1.Pod, []inventory.APIUsage) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		return p, []inventory.APIUsage{{APIVersion: version, Kind: "Pod", Namespace: ns, Name: name, Via: inventory.ViaServed}}
	}
	names := func(ps []*corev1.Pod) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Namespace+"/"+p.Name)
		}
		return out
	}
	fallback := func(p *corev1.Pod) []inventory.APIUsage {
		t.Errorf("usages of %s/%s recomputed: the transform's record was lost", p.Namespace, p.Name)
		return nil
	}
	var v watchView[*corev1.Pod]
	a, ua := pod("b", "a", "v1")
	c, uc := pod("a", "c", "v1")
	v.put(a, ua)
	v.put(c, uc)

	objs, usages, err := v.update([]any{a, c}, fallback)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(objs); !slices.Equal(got, []string{"a/c", "b/a"}) {
		t.Fatalf("order %v, want a/c then b/a", got)
	}
	if len(usages) != 2 || usages[0].Name != "c" || usages[1].Name != "a" {
		t.Fatalf("usages %v, want c's then a's", usages)
	}

	again, _, err := v.update([]any{c, a}, fallback)
	if err != nil {
		t.Fatal(err)
	}
	if &again[0] != &objs[0] {
		t.Error("nothing changed, yet the list was built again")
	}

	// b added, c replaced by a new object (served at another version), a
	// deleted.
	b, ub := pod("a", "b", "v1")
	c2, uc2 := pod("a", "c", "v2")
	v.put(b, ub)
	v.put(c2, uc2)
	objs, usages, err = v.update([]any{c2, b}, fallback)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(objs); !slices.Equal(got, []string{"a/b", "a/c"}) {
		t.Fatalf("order %v, want a/b then a/c", got)
	}
	if objs[1] != c2 {
		t.Error("the replaced object was handed over, not the cached one")
	}
	if len(usages) != 2 || usages[1].APIVersion != "v2" {
		t.Fatalf("usages %v, want c's at v2", usages)
	}
	if len(v.usages) != 2 {
		t.Errorf("the view remembers %d objects, want the 2 cached", len(v.usages))
	}

	// A record whose object the cache never stored (replaced before any
	// fill) is dropped after a fill more.
	gone, ug := pod("a", "gone", "v1")
	v.put(gone, ug)
	for range 3 {
		if _, _, err := v.update([]any{c2, b}, fallback); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.pending) != 0 {
		t.Errorf("%d records of objects never cached are kept", len(v.pending))
	}

	if _, _, err := v.update([]any{"not a pod"}, fallback); err == nil {
		t.Error("a cached object of another type was accepted")
	}
}

package collector

import (
	"slices"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/inventory"
)

// The collector lists, and watches, exactly the kinds of the table, each
// at the table's version and under the resource name RBAC spells.
func TestKindTableIsWhatTheCollectorLists(t *testing.T) {
	var got, want []string
	for _, r := range resources(fake.NewClientset()) {
		got = append(got, r.kind+" "+r.apiVersion+" "+r.name)
	}
	for _, k := range inventory.Kinds {
		want = append(want, k.Kind+" "+k.APIVersion()+" "+k.GroupResource())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the collector lists\n%v\nthe table names\n%v", got, want)
	}
}

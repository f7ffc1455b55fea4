package synth

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/upgate-dev/upgate/inventory"
)

// object is a pointer to one typed object of an inventory.
type object struct {
	ptr  any
	meta func() *metav1.ObjectMeta
}

// each calls fn on every object of st with its served apiVersion and kind,
// kind by kind in the order of inventory.Kinds (namespaces and nodes
// first, as a `kubectl apply` of the List needs); pods as the API serves
// them.
func each(st *State, fn func(apiVersion, kind string, o object)) {
	for _, k := range inventory.Kinds {
		apiVersion := k.APIVersion()
		visit := func(p any) {
			fn(apiVersion, k.Kind, object{ptr: p, meta: func() *metav1.ObjectMeta {
				// Every kind embeds its ObjectMeta, which returns itself.
				return p.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)
			}})
		}
		if k.Kind == "Pod" {
			for _, p := range st.Pods {
				visit(p)
			}
			continue
		}
		k.Each(st.Inventory, visit)
	}
}

// Objects returns every object of st as a runtime.Object, in the order
// each gives (for client-go's fake clientset in benchmarks). Generated
// names can collide (a pod's random suffix, at 5,000 nodes); an API
// server holds one object per name, so a later one of the same kind,
// namespace and name is left out.
func Objects(st *State) []runtime.Object {
	var out []runtime.Object
	seen := map[[3]string]bool{}
	each(st, func(_, kind string, o object) {
		m := o.meta()
		key := [3]string{kind, m.Namespace, m.Name}
		if r, ok := o.ptr.(runtime.Object); ok && !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	})
	return out
}

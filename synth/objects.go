package synth

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/upgate-dev/upgate/inventory"
)

// object is a pointer to one typed object of an inventory.
type object struct {
	ptr  any
	meta func() *metav1.ObjectMeta
}

// each calls fn on every object of inv with its served apiVersion and kind,
// kind by kind in the order a `kubectl apply` of the List needs (namespaces
// and nodes first).
func each(inv *inventory.Inventory, fn func(apiVersion, kind string, o object)) {
	eachOf(inv.Namespaces, "v1", "Namespace", fn, func(o *corev1.Namespace) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.Nodes, "v1", "Node", fn, func(o *corev1.Node) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.PersistentVolumes, "v1", "PersistentVolume", fn,
		func(o *corev1.PersistentVolume) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.PersistentVolumeClaims, "v1", "PersistentVolumeClaim", fn,
		func(o *corev1.PersistentVolumeClaim) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.Services, "v1", "Service", fn, func(o *corev1.Service) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.Deployments, "apps/v1", "Deployment", fn, func(o *appsv1.Deployment) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.ReplicaSets, "apps/v1", "ReplicaSet", fn, func(o *appsv1.ReplicaSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.StatefulSets, "apps/v1", "StatefulSet", fn, func(o *appsv1.StatefulSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.DaemonSets, "apps/v1", "DaemonSet", fn, func(o *appsv1.DaemonSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.Jobs, "batch/v1", "Job", fn, func(o *batchv1.Job) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.ReplicationControllers, "v1", "ReplicationController", fn,
		func(o *corev1.ReplicationController) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.PodDisruptionBudgets, "policy/v1", "PodDisruptionBudget", fn,
		func(o *policyv1.PodDisruptionBudget) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.Pods, "v1", "Pod", fn, func(o *corev1.Pod) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.EndpointSlices, "discovery.k8s.io/v1", "EndpointSlice", fn,
		func(o *discoveryv1.EndpointSlice) *metav1.ObjectMeta { return &o.ObjectMeta })
	eachOf(inv.ValidatingWebhooks, "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", fn,
		func(o *admissionregistrationv1.ValidatingWebhookConfiguration) *metav1.ObjectMeta {
			return &o.ObjectMeta
		})
	eachOf(inv.MutatingWebhooks, "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", fn,
		func(o *admissionregistrationv1.MutatingWebhookConfiguration) *metav1.ObjectMeta { return &o.ObjectMeta })
}

func eachOf[T any](items []*T, apiVersion, kind string, fn func(string, string, object), meta func(*T) *metav1.ObjectMeta) {
	for _, p := range items {
		fn(apiVersion, kind, object{ptr: p, meta: func() *metav1.ObjectMeta { return meta(p) }})
	}
}

// Objects returns every object of inv as a runtime.Object, in the order
// each gives (for client-go's fake clientset in benchmarks). Generated
// names can collide (a pod's random suffix, at 5,000 nodes); an API
// server holds one object per name, so a later one of the same kind,
// namespace and name is left out.
func Objects(inv *inventory.Inventory) []runtime.Object {
	var out []runtime.Object
	seen := map[[3]string]bool{}
	each(inv, func(_, kind string, o object) {
		m := o.meta()
		key := [3]string{kind, m.Namespace, m.Name}
		if r, ok := o.ptr.(runtime.Object); ok && !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	})
	return out
}

package inventory

import (
	"encoding/json"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// decoders maps each kind the checks read to the list it is kept in. Kinds
// are matched whatever their group version: a Deployment written as
// extensions/v1beta1 still has the fields the checks read. The bulky kinds
// are decoded lean (decode.go): only what Scrub would keep is built.
var decoders = map[string]decodeFunc{
	"Node":        small[nodeIn](keepNode, func(inv *Inventory, o *corev1.Node) { inv.Nodes = append(inv.Nodes, o) }),
	"Pod":         func(raw []byte) (typedObject, error) { return decodePod(raw, nil) },
	"Namespace":   into(func(inv *Inventory, o *corev1.Namespace) { inv.Namespaces = append(inv.Namespaces, o) }),
	"Service":     small[serviceIn](keepService, func(inv *Inventory, o *corev1.Service) { inv.Services = append(inv.Services, o) }),
	"Deployment":  small[deploymentIn](keepDeployment, func(inv *Inventory, o *appsv1.Deployment) { inv.Deployments = append(inv.Deployments, o) }),
	"ReplicaSet":  small[replicaSetIn](keepReplicaSet, func(inv *Inventory, o *appsv1.ReplicaSet) { inv.ReplicaSets = append(inv.ReplicaSets, o) }),
	"StatefulSet": small[statefulSetIn](keepStatefulSet, func(inv *Inventory, o *appsv1.StatefulSet) { inv.StatefulSets = append(inv.StatefulSets, o) }),
	"DaemonSet":   small[daemonSetIn](keepDaemonSet, func(inv *Inventory, o *appsv1.DaemonSet) { inv.DaemonSets = append(inv.DaemonSets, o) }),
	"Job":         small[jobIn](keepJob, func(inv *Inventory, o *batchv1.Job) { inv.Jobs = append(inv.Jobs, o) }),
	"ReplicationController": into(func(inv *Inventory, o *corev1.ReplicationController) {
		inv.ReplicationControllers = append(inv.ReplicationControllers, o)
	}),
	"PodDisruptionBudget": small[budgetIn](keepPodDisruptionBudget, func(inv *Inventory, o *policyv1.PodDisruptionBudget) {
		inv.PodDisruptionBudgets = append(inv.PodDisruptionBudgets, o)
	}),
	"PersistentVolume": into(func(inv *Inventory, o *corev1.PersistentVolume) {
		inv.PersistentVolumes = append(inv.PersistentVolumes, o)
	}),
	"PersistentVolumeClaim": into(func(inv *Inventory, o *corev1.PersistentVolumeClaim) {
		inv.PersistentVolumeClaims = append(inv.PersistentVolumeClaims, o)
	}),
	"ValidatingWebhookConfiguration": into(func(inv *Inventory, o *admissionregistrationv1.ValidatingWebhookConfiguration) {
		inv.ValidatingWebhooks = append(inv.ValidatingWebhooks, o)
	}),
	"MutatingWebhookConfiguration": into(func(inv *Inventory, o *admissionregistrationv1.MutatingWebhookConfiguration) {
		inv.MutatingWebhooks = append(inv.MutatingWebhooks, o)
	}),
	"EndpointSlice": small[endpointSliceIn](keepEndpointSlice, func(inv *Inventory, o *discoveryv1.EndpointSlice) {
		inv.EndpointSlices = append(inv.EndpointSlices, o)
	}),
}

// typedObject is what the decoders produce: one decoded object, its type
// and object metadata, and how to append it to an inventory.
type typedObject struct {
	obj  any // pointer to the typed object, for Scrub
	tm   metav1.TypeMeta
	meta metav1.ObjectMeta // the fields RecordUsages and validation read
	add  func(*Inventory)
}

type decodeFunc func(raw []byte) (typedObject, error)

// object is a pointer to a typed Kubernetes object.
type kubeObject[T any] interface {
	*T
	metav1.Object
	GetObjectKind() schema.ObjectKind
}

func into[T any, PT kubeObject[T]](add func(*Inventory, *T)) decodeFunc {
	return func(raw []byte) (typedObject, error) {
		o := new(T)
		if err := json.Unmarshal(raw, o); err != nil {
			return typedObject{}, err
		}
		p := PT(o)
		t := typedObject{obj: o, add: func(inv *Inventory) { add(inv, o) }}
		if tm, ok := p.GetObjectKind().(*metav1.TypeMeta); ok {
			t.tm = *tm
		}
		t.meta = metav1.ObjectMeta{
			Namespace: p.GetNamespace(), Name: p.GetName(), GenerateName: p.GetGenerateName(),
			Annotations: p.GetAnnotations(), ManagedFields: p.GetManagedFields(),
		}
		return t, nil
	}
}

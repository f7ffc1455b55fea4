package inventory

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KindInfo is one kind of object the checks read, as the API and kubectl
// name it, and its list in an Inventory.
type KindInfo struct {
	Kind    string // "Deployment"
	Group   string // "apps"; "" for the core group
	Version string // what lists and snapshots use
	// Resource is the plural the API serves it at, Short kubectl's short
	// name ("" when it has none).
	Resource, Short string

	items func(*Inventory) (int, func(int) any) // the kind's list
	sort  func(*Inventory)                      // SortObjects on it
}

// Kinds is the one table of the kinds upgate reads, in snapshot order.
// The inventory's counts, sort and snapshot (order and versions) are
// derived from it; the inventory's list fields, the readers' decoders,
// the collector's lists and informers, the chart's checker role and the
// README's kubectl line are held to it by tests (TestKindTable* in each
// package). A new kind starts here.
var Kinds = []KindInfo{
	kind(KindInfo{Kind: "Namespace", Version: "v1", Resource: "namespaces", Short: "ns"},
		func(inv *Inventory) *[]*corev1.Namespace { return &inv.Namespaces }),
	kind(KindInfo{Kind: "Node", Version: "v1", Resource: "nodes"},
		func(inv *Inventory) *[]*corev1.Node { return &inv.Nodes }),
	kind(KindInfo{Kind: "Pod", Version: "v1", Resource: "pods"},
		func(inv *Inventory) *[]*Pod { return &inv.Pods }),
	kind(KindInfo{Kind: "Service", Version: "v1", Resource: "services", Short: "svc"},
		func(inv *Inventory) *[]*corev1.Service { return &inv.Services }),
	kind(KindInfo{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Short: "deploy"},
		func(inv *Inventory) *[]*appsv1.Deployment { return &inv.Deployments }),
	kind(KindInfo{Kind: "ReplicaSet", Group: "apps", Version: "v1", Resource: "replicasets", Short: "rs"},
		func(inv *Inventory) *[]*appsv1.ReplicaSet { return &inv.ReplicaSets }),
	kind(KindInfo{Kind: "StatefulSet", Group: "apps", Version: "v1", Resource: "statefulsets", Short: "sts"},
		func(inv *Inventory) *[]*appsv1.StatefulSet { return &inv.StatefulSets }),
	kind(KindInfo{Kind: "DaemonSet", Group: "apps", Version: "v1", Resource: "daemonsets", Short: "ds"},
		func(inv *Inventory) *[]*appsv1.DaemonSet { return &inv.DaemonSets }),
	kind(KindInfo{Kind: "Job", Group: "batch", Version: "v1", Resource: "jobs"},
		func(inv *Inventory) *[]*batchv1.Job { return &inv.Jobs }),
	kind(KindInfo{Kind: "ReplicationController", Version: "v1", Resource: "replicationcontrollers", Short: "rc"},
		func(inv *Inventory) *[]*corev1.ReplicationController { return &inv.ReplicationControllers }),
	kind(KindInfo{Kind: "PodDisruptionBudget", Group: "policy", Version: "v1", Resource: "poddisruptionbudgets", Short: "pdb"},
		func(inv *Inventory) *[]*policyv1.PodDisruptionBudget { return &inv.PodDisruptionBudgets }),
	kind(KindInfo{Kind: "PersistentVolume", Version: "v1", Resource: "persistentvolumes", Short: "pv"},
		func(inv *Inventory) *[]*corev1.PersistentVolume { return &inv.PersistentVolumes }),
	kind(KindInfo{Kind: "PersistentVolumeClaim", Version: "v1", Resource: "persistentvolumeclaims", Short: "pvc"},
		func(inv *Inventory) *[]*corev1.PersistentVolumeClaim { return &inv.PersistentVolumeClaims }),
	kind(KindInfo{Kind: "ValidatingWebhookConfiguration", Group: "admissionregistration.k8s.io", Version: "v1",
		Resource: "validatingwebhookconfigurations"},
		func(inv *Inventory) *[]*admissionregistrationv1.ValidatingWebhookConfiguration {
			return &inv.ValidatingWebhooks
		}),
	kind(KindInfo{Kind: "MutatingWebhookConfiguration", Group: "admissionregistration.k8s.io", Version: "v1",
		Resource: "mutatingwebhookconfigurations"},
		func(inv *Inventory) *[]*admissionregistrationv1.MutatingWebhookConfiguration {
			return &inv.MutatingWebhooks
		}),
	kind(KindInfo{Kind: "EndpointSlice", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
		func(inv *Inventory) *[]*discoveryv1.EndpointSlice { return &inv.EndpointSlices }),
}

// kind completes k with the accessors of its list.
func kind[T any, PT interface {
	*T
	GetNamespace() string
	GetName() string
}](k KindInfo, list func(*Inventory) *[]PT) KindInfo {
	k.items = func(inv *Inventory) (int, func(int) any) {
		l := *list(inv)
		return len(l), func(i int) any { return l[i] }
	}
	k.sort = func(inv *Inventory) { SortObjects(*list(inv)) }
	return k
}

// Each calls fn on every object of the kind's list in inv, in order: a
// pointer to the typed object (*Pod for Pod, *appsv1.Deployment for
// Deployment).
func (k KindInfo) Each(inv *Inventory, fn func(obj any)) {
	n, at := k.items(inv)
	for i := range n {
		fn(at(i))
	}
}

// GroupVersion is the kind's group and version.
func (k KindInfo) GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: k.Group, Version: k.Version}
}

// APIVersion is the kind's apiVersion: "v1", "apps/v1".
func (k KindInfo) APIVersion() string { return k.GroupVersion().String() }

// GroupResource is the resource as RBAC errors and kubectl spell it:
// "pods", "deployments.apps".
func (k KindInfo) GroupResource() string {
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}

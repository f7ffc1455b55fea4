package inventory

import (
	"slices"

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
	// Keeps says in words which fields of the kind the inventory keeps,
	// besides name, namespace and the annotations Scrub keeps: what the
	// kind's keep function (keep.go) copies, and what snapshots write of
	// it. docs/performance.md lists the same (TestKindKeepsInTheDocs).
	// Pods are kept as the model's own Pod, which says what it keeps.
	Keeps string

	items func(*Inventory) (int, func(int) any) // the kind's list
	sort  func(*Inventory)                      // SortObjects on it
	grow  func(*Inventory, int)                 // room for n more objects
	// keep returns a fresh object holding what the kind keeps of obj;
	// write, the value a snapshot encodes for a kept object. Both nil for
	// Pod.
	keep  func(obj any) any
	write func(obj any) any
	// scrub replaces *obj, when obj is a pointer to the kind's type, by
	// what the kind keeps of it, and reports whether it was one.
	scrub func(obj any) bool
}

// Kinds is the one table of the kinds upgate reads, in snapshot order.
// The inventory's counts, sort and snapshot (order and versions) are
// derived from it; the inventory's list fields, the readers' decoders,
// the collector's lists and informers, the chart's checker role and the
// README's kubectl line are held to it by tests (TestKindTable* in each
// package). A new kind starts here.
var Kinds = []KindInfo{
	kind(KindInfo{Kind: "Namespace", Version: "v1", Resource: "namespaces", Short: "ns",
		Keeps: "nothing else"},
		func(inv *Inventory) *[]*corev1.Namespace { return &inv.Namespaces }, keepNamespace, writeNamespace),
	kind(KindInfo{Kind: "Node", Version: "v1", Resource: "nodes",
		Keeps: "labels, spec.unschedulable, spec.taints (key, value, effect), " +
			"status.capacity and status.allocatable (cpu, memory, pods), " +
			"status.conditions (type, status; reason and message of Ready), " +
			"status.nodeInfo (kubeletVersion, kubeProxyVersion)"},
		func(inv *Inventory) *[]*corev1.Node { return &inv.Nodes }, keepNode, writeNode),
	kind(KindInfo{Kind: "Pod", Version: "v1", Resource: "pods",
		Keeps: "the model's own Pod (pod.go)"},
		func(inv *Inventory) *[]*Pod { return &inv.Pods }, nil, nil),
	kind(KindInfo{Kind: "Service", Version: "v1", Resource: "services", Short: "svc",
		Keeps: "spec.type"},
		func(inv *Inventory) *[]*corev1.Service { return &inv.Services }, keepService, writeService),
	kind(KindInfo{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Short: "deploy",
		Keeps: "controller owner reference (kind, name), spec.replicas, status.observedGeneration, status.readyReplicas"},
		func(inv *Inventory) *[]*appsv1.Deployment { return &inv.Deployments }, keepDeployment, writeDeployment),
	kind(KindInfo{Kind: "ReplicaSet", Group: "apps", Version: "v1", Resource: "replicasets", Short: "rs",
		Keeps: "controller owner reference (kind, name), spec.replicas"},
		func(inv *Inventory) *[]*appsv1.ReplicaSet { return &inv.ReplicaSets }, keepReplicaSet, writeReplicaSet),
	kind(KindInfo{Kind: "StatefulSet", Group: "apps", Version: "v1", Resource: "statefulsets", Short: "sts",
		Keeps: "controller owner reference (kind, name), spec.replicas, status.observedGeneration, status.readyReplicas"},
		func(inv *Inventory) *[]*appsv1.StatefulSet { return &inv.StatefulSets }, keepStatefulSet, writeStatefulSet),
	kind(KindInfo{Kind: "DaemonSet", Group: "apps", Version: "v1", Resource: "daemonsets", Short: "ds",
		Keeps: "status.observedGeneration, status.currentNumberScheduled, status.desiredNumberScheduled, status.numberReady"},
		func(inv *Inventory) *[]*appsv1.DaemonSet { return &inv.DaemonSets }, keepDaemonSet, writeDaemonSet),
	kind(KindInfo{Kind: "Job", Group: "batch", Version: "v1", Resource: "jobs",
		Keeps: "controller owner reference (kind, name)"},
		func(inv *Inventory) *[]*batchv1.Job { return &inv.Jobs }, keepJob, writeJob),
	kind(KindInfo{Kind: "ReplicationController", Version: "v1", Resource: "replicationcontrollers", Short: "rc",
		Keeps: "controller owner reference (kind, name), spec.replicas"},
		func(inv *Inventory) *[]*corev1.ReplicationController { return &inv.ReplicationControllers },
		keepReplicationController, writeReplicationController),
	kind(KindInfo{Kind: "PodDisruptionBudget", Group: "policy", Version: "v1", Resource: "poddisruptionbudgets", Short: "pdb",
		Keeps: "spec.selector, spec.minAvailable, spec.maxUnavailable, spec.unhealthyPodEvictionPolicy, " +
			"status (observedGeneration, disruptionsAllowed, currentHealthy, desiredHealthy, expectedPods; " +
			"conditions' type and status)"},
		func(inv *Inventory) *[]*policyv1.PodDisruptionBudget { return &inv.PodDisruptionBudgets },
		keepPodDisruptionBudget, writePodDisruptionBudget),
	kind(KindInfo{Kind: "PersistentVolume", Version: "v1", Resource: "persistentvolumes", Short: "pv",
		Keeps: "which volume source spec has (hostPath, local, csi, nfs, iscsi, fc), with the path of hostPath and local"},
		func(inv *Inventory) *[]*corev1.PersistentVolume { return &inv.PersistentVolumes },
		keepPersistentVolume, writePersistentVolume),
	kind(KindInfo{Kind: "PersistentVolumeClaim", Version: "v1", Resource: "persistentvolumeclaims", Short: "pvc",
		Keeps: "spec.volumeName"},
		func(inv *Inventory) *[]*corev1.PersistentVolumeClaim { return &inv.PersistentVolumeClaims },
		keepPersistentVolumeClaim, writePersistentVolumeClaim),
	kind(KindInfo{Kind: "ValidatingWebhookConfiguration", Group: "admissionregistration.k8s.io", Version: "v1",
		Resource: "validatingwebhookconfigurations",
		Keeps:    "webhooks (name, failurePolicy, clientConfig.service namespace and name)"},
		func(inv *Inventory) *[]*admissionregistrationv1.ValidatingWebhookConfiguration {
			return &inv.ValidatingWebhooks
		}, keepValidatingWebhooks, writeValidatingWebhooks),
	kind(KindInfo{Kind: "MutatingWebhookConfiguration", Group: "admissionregistration.k8s.io", Version: "v1",
		Resource: "mutatingwebhookconfigurations",
		Keeps:    "webhooks (name, failurePolicy, clientConfig.service namespace and name)"},
		func(inv *Inventory) *[]*admissionregistrationv1.MutatingWebhookConfiguration {
			return &inv.MutatingWebhooks
		}, keepMutatingWebhooks, writeMutatingWebhooks),
	kind(KindInfo{Kind: "EndpointSlice", Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices",
		Keeps: "the kubernetes.io/service-name label, endpoints' conditions.ready"},
		func(inv *Inventory) *[]*discoveryv1.EndpointSlice { return &inv.EndpointSlices }, keepEndpointSlice, writeEndpointSlice),
}

// kind completes k with the accessors of its list and, unless they are
// nil (Pod), its keep and write functions.
func kind[T any, PT interface {
	*T
	GetNamespace() string
	GetName() string
}](k KindInfo, list func(*Inventory) *[]PT, keep func(PT) PT, write func(PT) any) KindInfo {
	k.items = func(inv *Inventory) (int, func(int) any) {
		l := *list(inv)
		return len(l), func(i int) any { return l[i] }
	}
	k.sort = func(inv *Inventory) { SortObjects(*list(inv)) }
	k.grow = func(inv *Inventory, n int) { l := list(inv); *l = slices.Grow(*l, n) }
	if keep != nil {
		k.keep = func(obj any) any { return keep(obj.(PT)) }
		k.write = func(obj any) any { return write(obj.(PT)) }
		k.scrub = func(obj any) bool {
			o, ok := obj.(PT)
			if ok {
				*o = *keep(o)
			}
			return ok
		}
	}
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

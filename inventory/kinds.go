package inventory

import (
	"encoding/json"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// decoders maps each kind the checks read to the list it is kept in. Kinds
// are matched whatever their group version: a Deployment written as
// extensions/v1beta1 still has the fields the checks read.
var decoders = map[string]func(*Inventory, []byte) error{
	"Node":        into(func(inv *Inventory, o corev1.Node) { inv.Nodes = append(inv.Nodes, o) }),
	"Pod":         into(func(inv *Inventory, o corev1.Pod) { inv.Pods = append(inv.Pods, o) }),
	"Namespace":   into(func(inv *Inventory, o corev1.Namespace) { inv.Namespaces = append(inv.Namespaces, o) }),
	"Service":     into(func(inv *Inventory, o corev1.Service) { inv.Services = append(inv.Services, o) }),
	"Deployment":  into(func(inv *Inventory, o appsv1.Deployment) { inv.Deployments = append(inv.Deployments, o) }),
	"ReplicaSet":  into(func(inv *Inventory, o appsv1.ReplicaSet) { inv.ReplicaSets = append(inv.ReplicaSets, o) }),
	"StatefulSet": into(func(inv *Inventory, o appsv1.StatefulSet) { inv.StatefulSets = append(inv.StatefulSets, o) }),
	"DaemonSet":   into(func(inv *Inventory, o appsv1.DaemonSet) { inv.DaemonSets = append(inv.DaemonSets, o) }),
	"Job":         into(func(inv *Inventory, o batchv1.Job) { inv.Jobs = append(inv.Jobs, o) }),
	"ReplicationController": into(func(inv *Inventory, o corev1.ReplicationController) {
		inv.ReplicationControllers = append(inv.ReplicationControllers, o)
	}),
	"PodDisruptionBudget": into(func(inv *Inventory, o policyv1.PodDisruptionBudget) {
		inv.PodDisruptionBudgets = append(inv.PodDisruptionBudgets, o)
	}),
	"PersistentVolume": into(func(inv *Inventory, o corev1.PersistentVolume) {
		inv.PersistentVolumes = append(inv.PersistentVolumes, o)
	}),
	"PersistentVolumeClaim": into(func(inv *Inventory, o corev1.PersistentVolumeClaim) {
		inv.PersistentVolumeClaims = append(inv.PersistentVolumeClaims, o)
	}),
	"ValidatingWebhookConfiguration": into(func(inv *Inventory, o admissionregistrationv1.ValidatingWebhookConfiguration) {
		inv.ValidatingWebhooks = append(inv.ValidatingWebhooks, o)
	}),
	"MutatingWebhookConfiguration": into(func(inv *Inventory, o admissionregistrationv1.MutatingWebhookConfiguration) {
		inv.MutatingWebhooks = append(inv.MutatingWebhooks, o)
	}),
	"EndpointSlice": into(func(inv *Inventory, o discoveryv1.EndpointSlice) { inv.EndpointSlices = append(inv.EndpointSlices, o) }),
}

func into[T any](add func(*Inventory, T)) func(*Inventory, []byte) error {
	return func(inv *Inventory, raw []byte) error {
		var o T
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		Scrub(&o)
		add(inv, o)
		return nil
	}
}

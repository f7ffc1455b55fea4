package collector

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/upgate-dev/upgate/inventory"
)

// resources is every list the checks need, one per inventory field.
// Secrets and ConfigMaps are deliberately absent: the contract promises no
// Secret data, ever, and no check reads either.
func resources(cs kubernetes.Interface) []resource {
	all := metav1.NamespaceAll
	core, apps, batch := cs.CoreV1(), cs.AppsV1(), cs.BatchV1()
	admission := cs.AdmissionregistrationV1()
	return []resource{
		listOf("nodes", "v1", "Node", core.Nodes(),
			func(l *corev1.NodeList) []corev1.Node { return l.Items },
			func(inv *inventory.Inventory, v []*corev1.Node) { inv.Nodes = v }),
		modelOf("pods", "v1", "Pod", core.Pods(all),
			func(l *corev1.PodList) []corev1.Pod { return l.Items },
			keepPod,
			func(inv *inventory.Inventory, v []*inventory.Pod) { inv.Pods = v }),
		listOf("namespaces", "v1", "Namespace", core.Namespaces(),
			func(l *corev1.NamespaceList) []corev1.Namespace { return l.Items },
			func(inv *inventory.Inventory, v []*corev1.Namespace) { inv.Namespaces = v }),
		listOf("services", "v1", "Service", core.Services(all),
			func(l *corev1.ServiceList) []corev1.Service { return l.Items },
			func(inv *inventory.Inventory, v []*corev1.Service) { inv.Services = v }),
		listOf("replicationcontrollers", "v1", "ReplicationController", core.ReplicationControllers(all),
			func(l *corev1.ReplicationControllerList) []corev1.ReplicationController { return l.Items },
			func(inv *inventory.Inventory, v []*corev1.ReplicationController) { inv.ReplicationControllers = v }),
		listOf("persistentvolumes", "v1", "PersistentVolume", core.PersistentVolumes(),
			func(l *corev1.PersistentVolumeList) []corev1.PersistentVolume { return l.Items },
			func(inv *inventory.Inventory, v []*corev1.PersistentVolume) { inv.PersistentVolumes = v }),
		listOf("persistentvolumeclaims", "v1", "PersistentVolumeClaim", core.PersistentVolumeClaims(all),
			func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items },
			func(inv *inventory.Inventory, v []*corev1.PersistentVolumeClaim) { inv.PersistentVolumeClaims = v }),
		listOf("deployments.apps", "apps/v1", "Deployment", apps.Deployments(all),
			func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items },
			func(inv *inventory.Inventory, v []*appsv1.Deployment) { inv.Deployments = v }),
		listOf("replicasets.apps", "apps/v1", "ReplicaSet", apps.ReplicaSets(all),
			func(l *appsv1.ReplicaSetList) []appsv1.ReplicaSet { return l.Items },
			func(inv *inventory.Inventory, v []*appsv1.ReplicaSet) { inv.ReplicaSets = v }),
		listOf("statefulsets.apps", "apps/v1", "StatefulSet", apps.StatefulSets(all),
			func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items },
			func(inv *inventory.Inventory, v []*appsv1.StatefulSet) { inv.StatefulSets = v }),
		listOf("daemonsets.apps", "apps/v1", "DaemonSet", apps.DaemonSets(all),
			func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items },
			func(inv *inventory.Inventory, v []*appsv1.DaemonSet) { inv.DaemonSets = v }),
		listOf("jobs.batch", "batch/v1", "Job", batch.Jobs(all),
			func(l *batchv1.JobList) []batchv1.Job { return l.Items },
			func(inv *inventory.Inventory, v []*batchv1.Job) { inv.Jobs = v }),
		listOf("poddisruptionbudgets.policy", "policy/v1", "PodDisruptionBudget", cs.PolicyV1().PodDisruptionBudgets(all),
			func(l *policyv1.PodDisruptionBudgetList) []policyv1.PodDisruptionBudget { return l.Items },
			func(inv *inventory.Inventory, v []*policyv1.PodDisruptionBudget) { inv.PodDisruptionBudgets = v }),
		listOf("validatingwebhookconfigurations.admissionregistration.k8s.io", "admissionregistration.k8s.io/v1",
			"ValidatingWebhookConfiguration", admission.ValidatingWebhookConfigurations(),
			func(l *admissionregistrationv1.ValidatingWebhookConfigurationList) []admissionregistrationv1.ValidatingWebhookConfiguration {
				return l.Items
			},
			func(inv *inventory.Inventory, v []*admissionregistrationv1.ValidatingWebhookConfiguration) {
				inv.ValidatingWebhooks = v
			}),
		listOf("mutatingwebhookconfigurations.admissionregistration.k8s.io", "admissionregistration.k8s.io/v1",
			"MutatingWebhookConfiguration", admission.MutatingWebhookConfigurations(),
			func(l *admissionregistrationv1.MutatingWebhookConfigurationList) []admissionregistrationv1.MutatingWebhookConfiguration {
				return l.Items
			},
			func(inv *inventory.Inventory, v []*admissionregistrationv1.MutatingWebhookConfiguration) {
				inv.MutatingWebhooks = v
			}),
		listOf("endpointslices.discovery.k8s.io", "discovery.k8s.io/v1", "EndpointSlice",
			cs.DiscoveryV1().EndpointSlices(all),
			func(l *discoveryv1.EndpointSliceList) []discoveryv1.EndpointSlice { return l.Items },
			func(inv *inventory.Inventory, v []*discoveryv1.EndpointSlice) { inv.EndpointSlices = v }),
	}
}

// keepPod is the model of a listed or watched pod, with its
// resourceVersion, which the watch reads (a run's state for a node waits
// until the cache holds each of the node's pods at its live version;
// sameVersion) and snapshots never write.
func keepPod(o *corev1.Pod) *inventory.Pod {
	p := inventory.PodOf(o)
	p.ResourceVersion = o.ResourceVersion
	return p
}

package inventory

import (
	"maps"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What each kind but Pod keeps: a whitelist, one function per kind, each
// copying the fields something reads (the checks' input builders in
// policies, the ignore rules, the executor's plan and progress, the
// inventory's roles and components) into a fresh object. A field not
// copied here is not in the inventory, whatever the source: the readers
// and the collector apply them (Scrub), and snapshots are written from
// them. Each kind's KindInfo.Keeps says the same in words; a check that
// reads another field must add it to both.
//
// Every kind keeps its name, namespace and the annotations keepAnnotation
// keeps (the ignore rules read upgate.dev/ignore on any kind). No UID,
// resourceVersion, generation or timestamp is kept: nothing reads them
// (the collector keeps resourceVersion on its watched objects for its own
// use, and snapshots never write it).

// metaKeep says which metadata beyond name, namespace and annotations a
// kind keeps.
type metaKeep struct {
	labels func(map[string]string) map[string]string // nil: none
	owner  bool                                      // the controller reference
}

// allLabels keeps every label (node labels: role selectors and scheduling
// constraints may name any of them).
func allLabels(l map[string]string) map[string]string { return maps.Clone(l) }

// keepMeta copies the kept metadata of m.
func keepMeta(m *metav1.ObjectMeta, k metaKeep) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace}
	if m.Name == "" {
		out.GenerateName = m.GenerateName // all the object has for a name
	}
	if m.Annotations != nil {
		out.Annotations = scrubAnnotations(maps.Clone(m.Annotations))
	}
	if k.labels != nil && len(m.Labels) > 0 {
		out.Labels = k.labels(m.Labels)
	}
	if k.owner {
		for _, r := range m.OwnerReferences {
			if r.Controller != nil && *r.Controller {
				c := true
				out.OwnerReferences = []metav1.OwnerReference{{Kind: r.Kind, Name: r.Name, Controller: &c}}
				break
			}
		}
	}
	return out
}

func keepNamespace(o *corev1.Namespace) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
}

// keptResources are the node resources the capacity check reads.
var keptResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}

func keepResourceList(l corev1.ResourceList) corev1.ResourceList {
	var out corev1.ResourceList
	for _, name := range keptResources {
		if q, ok := l[name]; ok {
			if out == nil {
				out = corev1.ResourceList{}
			}
			out[name] = q.DeepCopy()
		}
	}
	return out
}

func keepNode(o *corev1.Node) *corev1.Node {
	n := &corev1.Node{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{labels: allLabels})}
	n.Spec.Unschedulable = o.Spec.Unschedulable
	for _, t := range o.Spec.Taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	n.Status.Capacity = keepResourceList(o.Status.Capacity)
	n.Status.Allocatable = keepResourceList(o.Status.Allocatable)
	for _, c := range o.Status.Conditions {
		k := corev1.NodeCondition{Type: c.Type, Status: c.Status}
		if c.Type == corev1.NodeReady { // a node not Ready is reported with why
			k.Reason, k.Message = c.Reason, c.Message
		}
		n.Status.Conditions = append(n.Status.Conditions, k)
	}
	n.Status.NodeInfo.KubeletVersion = o.Status.NodeInfo.KubeletVersion
	n.Status.NodeInfo.KubeProxyVersion = o.Status.NodeInfo.KubeProxyVersion //nolint:staticcheck // read where no kube-proxy pod says better
	return n
}

func keepService(o *corev1.Service) *corev1.Service {
	s := &corev1.Service{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	s.Spec.Type = o.Spec.Type
	return s
}

// owned is the metadata of workloads: their controller is followed up
// (ReplicaSet → Deployment) and listed.
var owned = metaKeep{owner: true}

func keepDeployment(o *appsv1.Deployment) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: keepMeta(&o.ObjectMeta, owned)}
	d.Spec.Replicas = copyPtr(o.Spec.Replicas)
	d.Status.ObservedGeneration = o.Status.ObservedGeneration
	d.Status.ReadyReplicas = o.Status.ReadyReplicas
	return d
}

func keepReplicaSet(o *appsv1.ReplicaSet) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{ObjectMeta: keepMeta(&o.ObjectMeta, owned)}
	r.Spec.Replicas = copyPtr(o.Spec.Replicas)
	return r
}

func keepStatefulSet(o *appsv1.StatefulSet) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{ObjectMeta: keepMeta(&o.ObjectMeta, owned)}
	s.Spec.Replicas = copyPtr(o.Spec.Replicas)
	s.Status.ObservedGeneration = o.Status.ObservedGeneration
	s.Status.ReadyReplicas = o.Status.ReadyReplicas
	return s
}

func keepDaemonSet(o *appsv1.DaemonSet) *appsv1.DaemonSet {
	d := &appsv1.DaemonSet{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	d.Status.ObservedGeneration = o.Status.ObservedGeneration
	d.Status.CurrentNumberScheduled = o.Status.CurrentNumberScheduled
	d.Status.DesiredNumberScheduled = o.Status.DesiredNumberScheduled
	d.Status.NumberReady = o.Status.NumberReady
	return d
}

func keepJob(o *batchv1.Job) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: keepMeta(&o.ObjectMeta, owned)}
}

func keepReplicationController(o *corev1.ReplicationController) *corev1.ReplicationController {
	r := &corev1.ReplicationController{ObjectMeta: keepMeta(&o.ObjectMeta, owned)}
	r.Spec.Replicas = copyPtr(o.Spec.Replicas)
	return r
}

func keepPodDisruptionBudget(o *policyv1.PodDisruptionBudget) *policyv1.PodDisruptionBudget {
	p := &policyv1.PodDisruptionBudget{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	if o.Spec.Selector != nil {
		p.Spec.Selector = o.Spec.Selector.DeepCopy()
	}
	p.Spec.MinAvailable = copyPtr(o.Spec.MinAvailable)
	p.Spec.MaxUnavailable = copyPtr(o.Spec.MaxUnavailable)
	p.Spec.UnhealthyPodEvictionPolicy = copyPtr(o.Spec.UnhealthyPodEvictionPolicy)
	s := &o.Status
	p.Status = policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: s.ObservedGeneration, DisruptionsAllowed: s.DisruptionsAllowed,
		CurrentHealthy: s.CurrentHealthy, DesiredHealthy: s.DesiredHealthy, ExpectedPods: s.ExpectedPods,
	}
	// Only whether there are conditions is read (a status written by the
	// disruption controller, as opposed to none).
	for _, c := range s.Conditions {
		p.Status.Conditions = append(p.Status.Conditions, metav1.Condition{Type: c.Type, Status: c.Status})
	}
	return p
}

// keepPersistentVolume keeps which volume source the volume has, as the
// safety checks name it (pvSource), and the path of hostPath and local
// volumes; nothing of the source's settings.
func keepPersistentVolume(o *corev1.PersistentVolume) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	s, k := &o.Spec.PersistentVolumeSource, &v.Spec.PersistentVolumeSource
	switch {
	case s.HostPath != nil:
		k.HostPath = &corev1.HostPathVolumeSource{Path: s.HostPath.Path}
	case s.Local != nil:
		k.Local = &corev1.LocalVolumeSource{Path: s.Local.Path}
	case s.CSI != nil:
		k.CSI = &corev1.CSIPersistentVolumeSource{}
	case s.NFS != nil:
		k.NFS = &corev1.NFSVolumeSource{}
	case s.ISCSI != nil:
		k.ISCSI = &corev1.ISCSIPersistentVolumeSource{}
	case s.FC != nil:
		k.FC = &corev1.FCVolumeSource{}
	}
	return v
}

func keepPersistentVolumeClaim(o *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	c.Spec.VolumeName = o.Spec.VolumeName
	return c
}

// keepClientConfig keeps the Service a webhook calls; a webhook called by
// URL keeps nothing (it is not judged).
func keepClientConfig(cc admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.WebhookClientConfig {
	if cc.Service == nil {
		return admissionregistrationv1.WebhookClientConfig{}
	}
	return admissionregistrationv1.WebhookClientConfig{
		Service: &admissionregistrationv1.ServiceReference{Namespace: cc.Service.Namespace, Name: cc.Service.Name},
	}
}

func keepValidatingWebhooks(o *admissionregistrationv1.ValidatingWebhookConfiguration) *admissionregistrationv1.ValidatingWebhookConfiguration {
	c := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	for _, w := range o.Webhooks {
		c.Webhooks = append(c.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: w.Name, FailurePolicy: copyPtr(w.FailurePolicy), ClientConfig: keepClientConfig(w.ClientConfig),
		})
	}
	return c
}

func keepMutatingWebhooks(o *admissionregistrationv1.MutatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
	c := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{})}
	for _, w := range o.Webhooks {
		c.Webhooks = append(c.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name: w.Name, FailurePolicy: copyPtr(w.FailurePolicy), ClientConfig: keepClientConfig(w.ClientConfig),
		})
	}
	return c
}

// serviceNameLabel keeps of an EndpointSlice's labels the Service it
// serves.
func serviceNameLabel(l map[string]string) map[string]string {
	if v, ok := l[discoveryv1.LabelServiceName]; ok {
		return map[string]string{discoveryv1.LabelServiceName: v}
	}
	return nil
}

func keepEndpointSlice(o *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: keepMeta(&o.ObjectMeta, metaKeep{labels: serviceNameLabel})}
	if o.Endpoints != nil {
		s.Endpoints = make([]discoveryv1.Endpoint, len(o.Endpoints))
		for i, e := range o.Endpoints {
			s.Endpoints[i].Conditions.Ready = copyPtr(e.Conditions.Ready)
		}
	}
	return s
}

// copyPtr is a pointer to a copy of *p, nil for nil: kept objects share
// nothing with the object they were copied from.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

package inventory

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// How a snapshot writes the kinds but Pod: the fields keep.go keeps, in
// their Kubernetes places, and nothing else. Encoding a kept object as its
// own type would still write every field its type does not mark omitempty,
// empty: a workload's emptied pod template
// ("template":{"metadata":{},"spec":{"containers":null}}), a selector of
// null, an owner reference's empty uid, a node's empty machine and boot
// IDs, conditions' null timestamps. The readers decode these items with
// the kinds' own types into the same objects keep.go builds
// (TestSnapshotWritesWhatIsKept).

type metaOut struct {
	Name            string            `json:"name,omitempty"`
	GenerateName    string            `json:"generateName,omitempty"`
	Namespace       string            `json:"namespace,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	OwnerReferences []ownerOut        `json:"ownerReferences,omitempty"`
}

type ownerOut struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Controller *bool  `json:"controller,omitempty"`
}

func metaOf(m *metav1.ObjectMeta) metaOut {
	out := metaOut{Name: m.Name, GenerateName: m.GenerateName, Namespace: m.Namespace, Labels: m.Labels, Annotations: m.Annotations}
	for _, r := range m.OwnerReferences {
		out.OwnerReferences = append(out.OwnerReferences, ownerOut{Kind: r.Kind, Name: r.Name, Controller: r.Controller})
	}
	return out
}

// conditionOut is a condition's type and status, and for a node's Ready
// condition its reason and message.
type conditionOut struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// metaOnly is a kind of which only metadata is kept.
type metaOnly struct {
	Metadata metaOut `json:"metadata"`
}

// replicasOut is spec.replicas.
type replicasOut struct {
	Replicas *int32 `json:"replicas,omitempty"`
}

func writeNamespace(o *corev1.Namespace) any { return metaOnly{metaOf(&o.ObjectMeta)} }

func writeNode(o *corev1.Node) any {
	type nodeInfo struct {
		KubeletVersion   string `json:"kubeletVersion,omitempty"`
		KubeProxyVersion string `json:"kubeProxyVersion,omitempty"`
	}
	type out struct {
		Metadata metaOut `json:"metadata"`
		Spec     struct {
			Unschedulable bool           `json:"unschedulable,omitempty"`
			Taints        []corev1.Taint `json:"taints,omitempty"`
		} `json:"spec,omitzero"`
		Status struct {
			Capacity    corev1.ResourceList `json:"capacity,omitempty"`
			Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
			Conditions  []conditionOut      `json:"conditions,omitempty"`
			NodeInfo    nodeInfo            `json:"nodeInfo,omitzero"`
		} `json:"status,omitzero"`
	}
	n := out{Metadata: metaOf(&o.ObjectMeta)}
	n.Spec.Unschedulable, n.Spec.Taints = o.Spec.Unschedulable, o.Spec.Taints
	n.Status.Capacity, n.Status.Allocatable = o.Status.Capacity, o.Status.Allocatable
	for _, c := range o.Status.Conditions {
		n.Status.Conditions = append(n.Status.Conditions, conditionOut{string(c.Type), string(c.Status), c.Reason, c.Message})
	}
	n.Status.NodeInfo = nodeInfo{o.Status.NodeInfo.KubeletVersion, o.Status.NodeInfo.KubeProxyVersion} //nolint:staticcheck // kept as read
	return n
}

func writeService(o *corev1.Service) any {
	type out struct {
		Metadata metaOut `json:"metadata"`
		Spec     struct {
			Type corev1.ServiceType `json:"type,omitempty"`
		} `json:"spec,omitzero"`
	}
	s := out{Metadata: metaOf(&o.ObjectMeta)}
	s.Spec.Type = o.Spec.Type
	return s
}

// generationReady is the status of Deployments and StatefulSets that is read.
type generationReady struct {
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	ReadyReplicas      int32 `json:"readyReplicas,omitempty"`
}

// replicasReady is a workload written with its replicas and readiness.
type replicasReady struct {
	Metadata metaOut         `json:"metadata"`
	Spec     replicasOut     `json:"spec,omitzero"`
	Status   generationReady `json:"status,omitzero"`
}

func writeDeployment(o *appsv1.Deployment) any {
	return replicasReady{metaOf(&o.ObjectMeta), replicasOut{o.Spec.Replicas},
		generationReady{o.Status.ObservedGeneration, o.Status.ReadyReplicas}}
}

func writeStatefulSet(o *appsv1.StatefulSet) any {
	return replicasReady{metaOf(&o.ObjectMeta), replicasOut{o.Spec.Replicas},
		generationReady{o.Status.ObservedGeneration, o.Status.ReadyReplicas}}
}

// replicasOnly is a workload written with its replicas alone.
type replicasOnly struct {
	Metadata metaOut     `json:"metadata"`
	Spec     replicasOut `json:"spec,omitzero"`
}

func writeReplicaSet(o *appsv1.ReplicaSet) any {
	return replicasOnly{metaOf(&o.ObjectMeta), replicasOut{o.Spec.Replicas}}
}

func writeReplicationController(o *corev1.ReplicationController) any {
	return replicasOnly{metaOf(&o.ObjectMeta), replicasOut{o.Spec.Replicas}}
}

func writeDaemonSet(o *appsv1.DaemonSet) any {
	type out struct {
		Metadata metaOut `json:"metadata"`
		Status   struct {
			ObservedGeneration     int64 `json:"observedGeneration,omitempty"`
			CurrentNumberScheduled int32 `json:"currentNumberScheduled,omitempty"`
			DesiredNumberScheduled int32 `json:"desiredNumberScheduled,omitempty"`
			NumberReady            int32 `json:"numberReady,omitempty"`
		} `json:"status,omitzero"`
	}
	d := out{Metadata: metaOf(&o.ObjectMeta)}
	s := &o.Status
	d.Status.ObservedGeneration, d.Status.CurrentNumberScheduled = s.ObservedGeneration, s.CurrentNumberScheduled
	d.Status.DesiredNumberScheduled, d.Status.NumberReady = s.DesiredNumberScheduled, s.NumberReady
	return d
}

func writeJob(o *batchv1.Job) any { return metaOnly{metaOf(&o.ObjectMeta)} }

// budgetSpec and budgetStatus are what a PodDisruptionBudget keeps of its
// spec and status: what snapshots write, and what readers decode
// (budgetIn), the tags' omitempty being for writing only.
type budgetSpec struct {
	Selector                   *metav1.LabelSelector                    `json:"selector,omitempty"`
	MinAvailable               *intstr.IntOrString                      `json:"minAvailable,omitempty"`
	MaxUnavailable             *intstr.IntOrString                      `json:"maxUnavailable,omitempty"`
	UnhealthyPodEvictionPolicy *policyv1.UnhealthyPodEvictionPolicyType `json:"unhealthyPodEvictionPolicy,omitempty"`
}

type budgetStatus struct {
	ObservedGeneration int64          `json:"observedGeneration,omitempty"`
	DisruptionsAllowed int32          `json:"disruptionsAllowed,omitempty"`
	CurrentHealthy     int32          `json:"currentHealthy,omitempty"`
	DesiredHealthy     int32          `json:"desiredHealthy,omitempty"`
	ExpectedPods       int32          `json:"expectedPods,omitempty"`
	Conditions         []conditionOut `json:"conditions,omitempty"`
}

func writePodDisruptionBudget(o *policyv1.PodDisruptionBudget) any {
	type out struct {
		Metadata metaOut      `json:"metadata"`
		Spec     budgetSpec   `json:"spec,omitzero"`
		Status   budgetStatus `json:"status,omitzero"`
	}
	p := out{Metadata: metaOf(&o.ObjectMeta)}
	p.Spec = budgetSpec{Selector: o.Spec.Selector, MinAvailable: o.Spec.MinAvailable, MaxUnavailable: o.Spec.MaxUnavailable,
		UnhealthyPodEvictionPolicy: o.Spec.UnhealthyPodEvictionPolicy}
	s := &o.Status
	p.Status = budgetStatus{ObservedGeneration: s.ObservedGeneration, DisruptionsAllowed: s.DisruptionsAllowed,
		CurrentHealthy: s.CurrentHealthy, DesiredHealthy: s.DesiredHealthy, ExpectedPods: s.ExpectedPods}
	for _, c := range s.Conditions {
		p.Status.Conditions = append(p.Status.Conditions, conditionOut{Type: c.Type, Status: string(c.Status)})
	}
	return p
}

// writePersistentVolume writes the volume source as keepPersistentVolume
// leaves it: the source's key, with the path of hostPath and local ones.
func writePersistentVolume(o *corev1.PersistentVolume) any {
	type path struct {
		Path string `json:"path,omitempty"`
	}
	type out struct {
		Metadata metaOut `json:"metadata"`
		Spec     struct {
			HostPath *path     `json:"hostPath,omitempty"`
			Local    *path     `json:"local,omitempty"`
			CSI      *struct{} `json:"csi,omitempty"`
			NFS      *struct{} `json:"nfs,omitempty"`
			ISCSI    *struct{} `json:"iscsi,omitempty"`
			FC       *struct{} `json:"fc,omitempty"`
		} `json:"spec,omitzero"`
	}
	v := out{Metadata: metaOf(&o.ObjectMeta)}
	s := &o.Spec.PersistentVolumeSource
	switch {
	case s.HostPath != nil:
		v.Spec.HostPath = &path{s.HostPath.Path}
	case s.Local != nil:
		v.Spec.Local = &path{s.Local.Path}
	case s.CSI != nil:
		v.Spec.CSI = &struct{}{}
	case s.NFS != nil:
		v.Spec.NFS = &struct{}{}
	case s.ISCSI != nil:
		v.Spec.ISCSI = &struct{}{}
	case s.FC != nil:
		v.Spec.FC = &struct{}{}
	}
	return v
}

func writePersistentVolumeClaim(o *corev1.PersistentVolumeClaim) any {
	type out struct {
		Metadata metaOut `json:"metadata"`
		Spec     struct {
			VolumeName string `json:"volumeName,omitempty"`
		} `json:"spec,omitzero"`
	}
	c := out{Metadata: metaOf(&o.ObjectMeta)}
	c.Spec.VolumeName = o.Spec.VolumeName
	return c
}

// webhookOut is one webhook as kept: its name, failure policy and the
// Service it calls.
type webhookOut struct {
	Name          string                                     `json:"name"`
	FailurePolicy *admissionregistrationv1.FailurePolicyType `json:"failurePolicy,omitempty"`
	ClientConfig  struct {
		Service *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"service,omitempty"`
	} `json:"clientConfig"`
}

type webhooksOut struct {
	Metadata metaOut      `json:"metadata"`
	Webhooks []webhookOut `json:"webhooks,omitempty"`
}

func webhookOf(name string, fp *admissionregistrationv1.FailurePolicyType, cc admissionregistrationv1.WebhookClientConfig) webhookOut {
	w := webhookOut{Name: name, FailurePolicy: fp}
	if s := cc.Service; s != nil {
		w.ClientConfig.Service = &struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		}{s.Namespace, s.Name}
	}
	return w
}

func writeValidatingWebhooks(o *admissionregistrationv1.ValidatingWebhookConfiguration) any {
	c := webhooksOut{Metadata: metaOf(&o.ObjectMeta)}
	for _, w := range o.Webhooks {
		c.Webhooks = append(c.Webhooks, webhookOf(w.Name, w.FailurePolicy, w.ClientConfig))
	}
	return c
}

func writeMutatingWebhooks(o *admissionregistrationv1.MutatingWebhookConfiguration) any {
	c := webhooksOut{Metadata: metaOf(&o.ObjectMeta)}
	for _, w := range o.Webhooks {
		c.Webhooks = append(c.Webhooks, webhookOf(w.Name, w.FailurePolicy, w.ClientConfig))
	}
	return c
}

func writeEndpointSlice(o *discoveryv1.EndpointSlice) any {
	type endpoint struct {
		Conditions struct {
			Ready *bool `json:"ready,omitempty"`
		} `json:"conditions"`
	}
	type out struct {
		Metadata  metaOut    `json:"metadata"`
		Endpoints []endpoint `json:"endpoints"`
	}
	s := out{Metadata: metaOf(&o.ObjectMeta)}
	if o.Endpoints != nil {
		s.Endpoints = make([]endpoint, len(o.Endpoints))
		for i, e := range o.Endpoints {
			s.Endpoints[i].Conditions.Ready = e.Conditions.Ready
		}
	}
	return s
}

package synth

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/upgate-dev/upgate/inventory"
)

// compact returns a copy of o cut down to what a minimal real object of
// its kind carries and the checks read (ManifestOptions.Compact). Every
// kind loses what scrubAsInput drops (managedFields, most annotations,
// pod templates, ...) and, from its metadata, resourceVersion,
// creationTimestamp, generateName and the owner references'
// blockOwnerDeletion (name, namespace, uid, labels, generation, owner
// references and the annotations Scrub keeps stay). Workloads also lose
// their status conditions, and WriteManifests leaves out their emptied
// templates. Pods and nodes, half of a dump's bytes, are written from
// small types of their own:
//   - pods: containers' name, image and resources; nodeName, nodeSelector,
//     affinity, tolerations, pod-level overhead and resources, and the
//     emptyDir, hostPath and persistentVolumeClaim volumes; phase, the
//     Ready condition and each
//     container status' name, readiness, restart count and state (a
//     waiting or terminated state's reason and message);
//   - nodes: unschedulable and taints; capacity, allocatable, conditions
//     (type, status, reason, message) and the kubelet, kube-proxy and
//     container runtime versions.
//
// About 1.2 KB a pod (978 bytes an object on average at 5,000 nodes),
// against 3.9 KB for the full pod. That is more than the ~540-byte
// objects of issue 14's own compact dump: this cluster's pods carry four
// labels, an owner reference and two tolerations, which checks read.
// TestCompactDumpKeepsFindings (cli) holds a compact dump to the same
// findings as the full one of the same cluster: a field a check starts
// to read must be kept here.
func compact(o object) any {
	r, ok := o.ptr.(runtime.Object)
	if !ok {
		return o.ptr
	}
	c := r.DeepCopyObject()
	scrubAsInput(c)
	if m, ok := c.(metav1.ObjectMetaAccessor); ok {
		compactMeta(m.GetObjectMeta().(*metav1.ObjectMeta))
	}
	switch x := c.(type) {
	case *corev1.Pod:
		return compactPod(x)
	case *corev1.Node:
		return compactNode(x)
	case *appsv1.Deployment:
		x.Status.Conditions = nil
	case *appsv1.ReplicaSet:
		x.Status.Conditions = nil
	case *appsv1.StatefulSet:
		x.Status.Conditions = nil
	case *appsv1.DaemonSet:
		x.Status.Conditions = nil
	case *policyv1.PodDisruptionBudget:
		for i := range x.Status.Conditions {
			x.Status.Conditions[i].LastTransitionTime = metav1.Time{}
		}
	}
	return c
}

// scrubAsInput drops from c what inventory.Scrub drops from a pod, and
// from the other kinds what it dropped before it kept only the fields
// the checks read (managedFields, annotations but those Scrub keeps, pod
// templates, a node's images, a PersistentVolume's driver settings): a
// compact dump stays what a minimal real object looks like, the input
// the check-vs-floor benchmarks read, whatever the inventory keeps of it.
func scrubAsInput(c runtime.Object) {
	m, ok := c.(metav1.Object)
	if _, pod := c.(*corev1.Pod); pod || !ok {
		inventory.Scrub(c)
		return
	}
	kept := c.DeepCopyObject()
	inventory.Scrub(kept)
	m.SetManagedFields(nil)
	m.SetAnnotations(kept.(metav1.Object).GetAnnotations())
	switch x := c.(type) {
	case *corev1.Node:
		x.Status.Images = nil
	case *appsv1.Deployment:
		x.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.ReplicaSet:
		x.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.StatefulSet:
		x.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.DaemonSet:
		x.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.Job:
		x.Spec.Template = corev1.PodTemplateSpec{}
	case *corev1.ReplicationController:
		x.Spec.Template = nil
	case *corev1.PersistentVolume:
		if x.Spec.FlexVolume != nil {
			x.Spec.FlexVolume.Options = nil
		}
		if x.Spec.CSI != nil {
			x.Spec.CSI.VolumeAttributes = nil
		}
	}
}

func compactMeta(m *metav1.ObjectMeta) {
	m.ResourceVersion, m.GenerateName = "", ""
	m.CreationTimestamp = metav1.Time{}
	for i := range m.OwnerReferences {
		m.OwnerReferences[i].BlockOwnerDeletion = nil
	}
}

// cMeta is the metadata compact objects keep.
type cMeta struct {
	Name            string                  `json:"name"`
	Namespace       string                  `json:"namespace,omitempty"`
	UID             string                  `json:"uid,omitempty"`
	Generation      int64                   `json:"generation,omitempty"`
	Labels          map[string]string       `json:"labels,omitempty"`
	Annotations     map[string]string       `json:"annotations,omitempty"`
	OwnerReferences []metav1.OwnerReference `json:"ownerReferences,omitempty"`
}

func cmeta(m *metav1.ObjectMeta) cMeta {
	return cMeta{Name: m.Name, Namespace: m.Namespace, UID: string(m.UID), Generation: m.Generation,
		Labels: m.Labels, Annotations: m.Annotations, OwnerReferences: m.OwnerReferences}
}

type cPod struct {
	Metadata cMeta      `json:"metadata"`
	Spec     cPodSpec   `json:"spec"`
	Status   cPodStatus `json:"status"`
}

type cPodSpec struct {
	InitContainers []cContainer                 `json:"initContainers,omitempty"`
	Containers     []cContainer                 `json:"containers"`
	Volumes        []corev1.Volume              `json:"volumes,omitempty"`
	NodeName       string                       `json:"nodeName,omitempty"`
	NodeSelector   map[string]string            `json:"nodeSelector,omitempty"`
	Affinity       *corev1.Affinity             `json:"affinity,omitempty"`
	Tolerations    []corev1.Toleration          `json:"tolerations,omitempty"`
	Overhead       corev1.ResourceList          `json:"overhead,omitempty"`
	Resources      *corev1.ResourceRequirements `json:"resources,omitempty"`
}

type cContainer struct {
	Name      string                      `json:"name"`
	Image     string                      `json:"image,omitempty"`
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`
}

type cPodStatus struct {
	Phase                 corev1.PodPhase    `json:"phase,omitempty"`
	Conditions            []cCondition       `json:"conditions,omitempty"`
	InitContainerStatuses []cContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []cContainerStatus `json:"containerStatuses,omitempty"`
}

type cCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type cContainerStatus struct {
	Name         string `json:"name"`
	Ready        bool   `json:"ready"`
	RestartCount int32  `json:"restartCount"`
	State        cState `json:"state"`
}

type cState struct {
	Running    *struct{}    `json:"running,omitempty"`
	Waiting    *cCondition  `json:"waiting,omitempty"`
	Terminated *cTerminated `json:"terminated,omitempty"`
}

type cTerminated struct {
	ExitCode int32  `json:"exitCode"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
}

func compactPod(p *corev1.Pod) cPod {
	s := &p.Spec
	out := cPod{Metadata: cmeta(&p.ObjectMeta)}
	cs := func(l []corev1.Container) []cContainer {
		var o []cContainer
		for _, c := range l {
			o = append(o, cContainer{Name: c.Name, Image: c.Image, Resources: c.Resources})
		}
		return o
	}
	out.Spec = cPodSpec{InitContainers: cs(s.InitContainers), Containers: cs(s.Containers), NodeName: s.NodeName,
		NodeSelector: s.NodeSelector, Affinity: s.Affinity, Tolerations: s.Tolerations, Overhead: s.Overhead, Resources: s.Resources}
	for _, v := range s.Volumes {
		if v.EmptyDir != nil || v.HostPath != nil || v.PersistentVolumeClaim != nil {
			out.Spec.Volumes = append(out.Spec.Volumes, v)
		}
	}
	st := &p.Status
	out.Status.Phase = st.Phase
	for _, c := range st.Conditions {
		if c.Type == corev1.PodReady {
			out.Status.Conditions = append(out.Status.Conditions, cCondition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message})
		}
	}
	css := func(l []corev1.ContainerStatus) []cContainerStatus {
		var o []cContainerStatus
		for _, c := range l {
			x := cContainerStatus{Name: c.Name, Ready: c.Ready, RestartCount: c.RestartCount}
			switch {
			case c.State.Waiting != nil:
				x.State.Waiting = &cCondition{Reason: c.State.Waiting.Reason, Message: c.State.Waiting.Message}
			case c.State.Terminated != nil:
				t := c.State.Terminated
				x.State.Terminated = &cTerminated{ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message}
			case c.State.Running != nil:
				x.State.Running = &struct{}{}
			}
			o = append(o, x)
		}
		return o
	}
	out.Status.InitContainerStatuses = css(st.InitContainerStatuses)
	out.Status.ContainerStatuses = css(st.ContainerStatuses)
	return out
}

type cNode struct {
	Metadata cMeta       `json:"metadata"`
	Spec     cNodeSpec   `json:"spec,omitzero"`
	Status   cNodeStatus `json:"status"`
}

type cNodeSpec struct {
	Unschedulable bool           `json:"unschedulable,omitempty"`
	Taints        []corev1.Taint `json:"taints,omitempty"`
}

type cNodeStatus struct {
	Capacity    corev1.ResourceList `json:"capacity,omitempty"`
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	Conditions  []cCondition        `json:"conditions,omitempty"`
	NodeInfo    cNodeInfo           `json:"nodeInfo"`
}

type cNodeInfo struct {
	ContainerRuntimeVersion string `json:"containerRuntimeVersion,omitempty"`
	KubeletVersion          string `json:"kubeletVersion,omitempty"`
	KubeProxyVersion        string `json:"kubeProxyVersion,omitempty"`
}

func compactNode(n *corev1.Node) cNode {
	out := cNode{Metadata: cmeta(&n.ObjectMeta)}
	out.Spec = cNodeSpec{Unschedulable: n.Spec.Unschedulable, Taints: n.Spec.Taints}
	out.Status = cNodeStatus{Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable, NodeInfo: cNodeInfo{
		ContainerRuntimeVersion: n.Status.NodeInfo.ContainerRuntimeVersion,
		KubeletVersion:          n.Status.NodeInfo.KubeletVersion,
		KubeProxyVersion:        n.Status.NodeInfo.KubeProxyVersion, //nolint:staticcheck // read where no kube-proxy pod says better
	}}
	for _, c := range n.Status.Conditions {
		out.Status.Conditions = append(out.Status.Conditions, cCondition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	return out
}

package inventory

import (
	"encoding/json"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The many small objects of a big cluster (ReplicaSets, Deployments,
// Services, EndpointSlices, budgets: 185,000 at 5,000 nodes) are decoded
// through input types that name only the fields their keep function reads
// (keep.go), in their API places: encoding/json steps over the rest
// without building it. Decoding them into their API types instead zeroed
// and filled structs of several KB each (a workload carries an empty pod
// template), most of reading's garbage. Each input fills a (scratch) API
// object that the kind's keep function then copies as for any other
// source, so that what is kept is decided in one place; TestDecodeMatchesScrub
// holds these decoders to decoding the full types and keeping them.

// wireHead is an object's type and metadata as the model decodes them.
type wireHead struct {
	TypeMeta
	Metadata metaWire `json:"metadata"`
}

func (h *wireHead) head() *wireHead { return h }

// apiMeta is the decoded metadata as the API's type, for keepMeta.
func (m *metaWire) apiMeta() metav1.ObjectMeta {
	om := metav1.ObjectMeta{
		Name: m.Name, GenerateName: m.GenerateName, Namespace: m.Namespace,
		Labels: m.Labels, Annotations: m.Annotations, DeletionTimestamp: m.DeletionTimestamp,
	}
	for _, o := range m.OwnerReferences {
		om.OwnerReferences = append(om.OwnerReferences, metav1.OwnerReference{
			APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Controller: o.Controller,
		})
	}
	return om
}

// input is a kind's input type: its head, and the API object it fills.
type input[T any] interface {
	head() *wireHead
	fill(*T)
}

// small builds the decodeFunc of a kind decoded through its input type W,
// kept by keep. The API object that keep reads is a scratch one, reused:
// an API struct is about 1 KB (a workload's has an empty pod template),
// and allocating one per object to drop it at once was, at 100,000
// ReplicaSets and Deployments, a tenth of reading's garbage. keep copies
// what it keeps and never holds on to its argument's own memory.
func small[W any, PW interface {
	*W
	input[T]
}, T any](keep func(*T) *T, add func(*Inventory, *T)) decodeFunc {
	scratch := sync.Pool{New: func() any { return new(T) }}
	return func(raw []byte) (typedObject, error) {
		w := PW(new(W))
		if err := json.Unmarshal(raw, w); err != nil {
			return typedObject{}, err
		}
		h := w.head()
		t := typedObject{
			obj:  scrubbed{},
			tm:   metav1.TypeMeta{APIVersion: h.APIVersion, Kind: h.Kind},
			meta: h.Metadata.usageMeta(),
		}
		api := scratch.Get().(*T)
		w.fill(api)
		o := keep(api)
		var zero T
		*api = zero
		scratch.Put(api)
		t.add = func(inv *Inventory) { add(inv, o) }
		return t, nil
	}
}

type nodeIn struct {
	wireHead
	Spec struct {
		Unschedulable bool           `json:"unschedulable"`
		Taints        []corev1.Taint `json:"taints"`
	} `json:"spec"`
	Status struct {
		Capacity    corev1.ResourceList `json:"capacity"`
		Allocatable corev1.ResourceList `json:"allocatable"`
		Conditions  []struct {
			Type    corev1.NodeConditionType `json:"type"`
			Status  corev1.ConditionStatus   `json:"status"`
			Reason  string                   `json:"reason"`
			Message string                   `json:"message"`
		} `json:"conditions"`
		NodeInfo struct {
			KubeletVersion   string `json:"kubeletVersion"`
			KubeProxyVersion string `json:"kubeProxyVersion"`
		} `json:"nodeInfo"`
	} `json:"status"`
}

func (w *nodeIn) fill(n *corev1.Node) {
	n.ObjectMeta = w.Metadata.apiMeta()
	n.Spec.Unschedulable, n.Spec.Taints = w.Spec.Unschedulable, w.Spec.Taints
	n.Status.Capacity, n.Status.Allocatable = w.Status.Capacity, w.Status.Allocatable
	for _, c := range w.Status.Conditions {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message})
	}
	n.Status.NodeInfo.KubeletVersion = w.Status.NodeInfo.KubeletVersion
	n.Status.NodeInfo.KubeProxyVersion = w.Status.NodeInfo.KubeProxyVersion //nolint:staticcheck // kept, see keepNode
}

type serviceIn struct {
	wireHead
	Spec struct {
		Type corev1.ServiceType `json:"type"`
	} `json:"spec"`
}

func (w *serviceIn) fill(s *corev1.Service) {
	s.ObjectMeta, s.Spec.Type = w.Metadata.apiMeta(), w.Spec.Type
}

// replicasIn is spec.replicas.
type replicasIn struct {
	Replicas *int32 `json:"replicas"`
}

// workloadStatusIn is what a Deployment's or StatefulSet's status keeps.
type workloadStatusIn struct {
	ObservedGeneration int64 `json:"observedGeneration"`
	ReadyReplicas      int32 `json:"readyReplicas"`
}

type deploymentIn struct {
	wireHead
	Spec   replicasIn       `json:"spec"`
	Status workloadStatusIn `json:"status"`
}

func (w *deploymentIn) fill(d *appsv1.Deployment) {
	d.ObjectMeta = w.Metadata.apiMeta()
	d.Spec.Replicas = w.Spec.Replicas
	d.Status.ObservedGeneration, d.Status.ReadyReplicas = w.Status.ObservedGeneration, w.Status.ReadyReplicas
}

type replicaSetIn struct {
	wireHead
	Spec replicasIn `json:"spec"`
}

func (w *replicaSetIn) fill(r *appsv1.ReplicaSet) {
	r.ObjectMeta, r.Spec.Replicas = w.Metadata.apiMeta(), w.Spec.Replicas
}

type statefulSetIn struct {
	wireHead
	Spec   replicasIn       `json:"spec"`
	Status workloadStatusIn `json:"status"`
}

func (w *statefulSetIn) fill(s *appsv1.StatefulSet) {
	s.ObjectMeta = w.Metadata.apiMeta()
	s.Spec.Replicas = w.Spec.Replicas
	s.Status.ObservedGeneration, s.Status.ReadyReplicas = w.Status.ObservedGeneration, w.Status.ReadyReplicas
}

type daemonSetIn struct {
	wireHead
	Status struct {
		ObservedGeneration     int64 `json:"observedGeneration"`
		CurrentNumberScheduled int32 `json:"currentNumberScheduled"`
		DesiredNumberScheduled int32 `json:"desiredNumberScheduled"`
		NumberReady            int32 `json:"numberReady"`
	} `json:"status"`
}

func (w *daemonSetIn) fill(d *appsv1.DaemonSet) {
	d.ObjectMeta = w.Metadata.apiMeta()
	s := &w.Status
	d.Status = appsv1.DaemonSetStatus{ObservedGeneration: s.ObservedGeneration, CurrentNumberScheduled: s.CurrentNumberScheduled,
		DesiredNumberScheduled: s.DesiredNumberScheduled, NumberReady: s.NumberReady}
}

type jobIn struct{ wireHead }

func (w *jobIn) fill(j *batchv1.Job) { j.ObjectMeta = w.Metadata.apiMeta() }

type budgetIn struct {
	wireHead
	Spec   budgetSpec   `json:"spec"`
	Status budgetStatus `json:"status"`
}

func (w *budgetIn) fill(p *policyv1.PodDisruptionBudget) {
	p.ObjectMeta = w.Metadata.apiMeta()
	p.Spec = policyv1.PodDisruptionBudgetSpec{Selector: w.Spec.Selector, MinAvailable: w.Spec.MinAvailable,
		MaxUnavailable: w.Spec.MaxUnavailable, UnhealthyPodEvictionPolicy: w.Spec.UnhealthyPodEvictionPolicy}
	s := &w.Status
	p.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: s.ObservedGeneration, DisruptionsAllowed: s.DisruptionsAllowed,
		CurrentHealthy: s.CurrentHealthy, DesiredHealthy: s.DesiredHealthy, ExpectedPods: s.ExpectedPods}
	for _, c := range s.Conditions {
		p.Status.Conditions = append(p.Status.Conditions, metav1.Condition{Type: c.Type, Status: metav1.ConditionStatus(c.Status)})
	}
}

type endpointSliceIn struct {
	wireHead
	Endpoints []struct {
		Conditions struct {
			Ready *bool `json:"ready"`
		} `json:"conditions"`
	} `json:"endpoints"`
}

func (w *endpointSliceIn) fill(s *discoveryv1.EndpointSlice) {
	s.ObjectMeta = w.Metadata.apiMeta()
	if w.Endpoints != nil {
		s.Endpoints = make([]discoveryv1.Endpoint, len(w.Endpoints))
		for i, e := range w.Endpoints {
			s.Endpoints[i].Conditions.Ready = e.Conditions.Ready
		}
	}
}

package inventory

import (
	"encoding/json"
	"maps"
	"slices"
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod is what upgate keeps of a pod: the fields the checks and the
// executor read, and nothing else. Pods are most of a cluster's objects
// (150,000 at 5,000 nodes) and of its bytes (3-8 KB each as an API server
// sends them), so they are not kept as k8s.io/api objects: a corev1.Pod
// carries some 200 fields, and building them is most of what reading a
// cluster costs.
//
// The fields keep the API's names and JSON paths, so code reads
// p.Spec.NodeName and p.Status.Phase as it would on a corev1.Pod, and a
// Pod's JSON (a snapshot item) is a valid, smaller pod manifest that every
// reader decodes, jq paths included. Kept:
//   - metadata: name, generateName, namespace, labels, the annotations
//     Scrub keeps, owner references (apiVersion, kind, name, controller)
//     and deletionTimestamp;
//   - spec: nodeName, nodeSelector, required node affinity, tolerations,
//     overhead and pod-level resources; of each container and init
//     container its name, image, resources and restartPolicy; the
//     emptyDir, hostPath and persistentVolumeClaim volumes (no other
//     volume is read);
//   - status: phase, the Ready condition (every condition when there is
//     no Ready one: the pod is still being set up), and of each container
//     and init container status its name, readiness, restart count and a
//     waiting or terminated state's reason and message.
//
// A check that starts to read another field of a pod adds it here (and
// to podWire's decoding); TestPodKeepsWhatChecksRead holds the list to
// what the checks read.
type Pod struct {
	// ObjectMeta is the API's type, so that a Pod is a metav1.Object
	// (the informer's cache keys objects by it); only the fields above
	// are ever set.
	metav1.ObjectMeta
	Spec   PodSpec
	Status PodStatus
}

// PodSpec is what is kept of a pod's spec: its node and volumes, and the
// PodShape it shares with the other pods of its template.
type PodSpec struct {
	NodeName string `json:"nodeName,omitempty"`
	PodShape
	Volumes []Volume `json:"volumes,omitempty"`
}

// PodShape is the part of a pod's spec that the pods of one template (a
// ReplicaSet's, a DaemonSet's) have in common: where they may run, what
// they request, what they run. A snapshot writes it once per template
// (PodTemplate), and pods read from one share it.
type PodShape struct {
	NodeSelector   map[string]string   `json:"nodeSelector,omitempty"`
	Affinity       *Affinity           `json:"affinity,omitempty"`
	Tolerations    []corev1.Toleration `json:"tolerations,omitempty"`
	InitContainers []Container         `json:"initContainers,omitempty"`
	Containers     []Container         `json:"containers,omitempty"`
	Overhead       corev1.ResourceList `json:"overhead,omitempty"`
	// Resources are the pod-level requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// Affinity keeps of a pod's affinity its required node affinity, the only
// part that decides where it may run again.
type Affinity struct {
	NodeAffinity *NodeAffinity `json:"nodeAffinity,omitempty"`
}

// NodeAffinity keeps the required node selector terms.
type NodeAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution *corev1.NodeSelector `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// Container is what is kept of a container or init container.
type Container struct {
	Name      string                      `json:"name"`
	Image     string                      `json:"image,omitempty"`
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`
	// RestartPolicy Always marks a sidecar init container, whose requests
	// the scheduler counts as a container's.
	RestartPolicy *corev1.ContainerRestartPolicy `json:"restartPolicy,omitempty"`
}

// Volume is a pod volume of a kind the safety checks read.
type Volume struct {
	Name                  string                                    `json:"name"`
	EmptyDir              *corev1.EmptyDirVolumeSource              `json:"emptyDir,omitempty"`
	HostPath              *corev1.HostPathVolumeSource              `json:"hostPath,omitempty"`
	PersistentVolumeClaim *corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
}

// PodStatus is what is kept of a pod's status.
type PodStatus struct {
	Phase                 corev1.PodPhase   `json:"phase,omitempty"`
	Conditions            []PodCondition    `json:"conditions,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
}

// PodCondition is a pod condition's type, status and reason.
type PodCondition struct {
	Type   corev1.PodConditionType `json:"type"`
	Status corev1.ConditionStatus  `json:"status"`
	Reason string                  `json:"reason,omitempty"`
}

// ContainerStatus is what is kept of a container's status.
type ContainerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready,omitempty"`
	RestartCount int32          `json:"restartCount,omitempty"`
	State        ContainerState `json:"state,omitzero"`
}

// ContainerState keeps a waiting or terminated state's reason and message
// (a running container has nothing the checks read).
type ContainerState struct {
	Waiting    *corev1.ContainerStateWaiting `json:"waiting,omitempty"`
	Terminated *ContainerStateTerminated     `json:"terminated,omitempty"`
}

// ContainerStateTerminated is a terminated state's exit code, reason and
// message.
type ContainerStateTerminated struct {
	ExitCode int32  `json:"exitCode"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
}

// podWire is a pod's JSON: the API's, of which encoding/json decodes only
// the fields named here, stepping over the rest without building it; and
// what a snapshot writes of a Pod.
type podWire struct {
	TypeMeta
	Metadata metaWire  `json:"metadata"`
	Spec     PodSpec   `json:"spec"`
	Status   PodStatus `json:"status"`
	// Template is, in a snapshot, the index of the pod's PodTemplate.
	Template *int `json:"template,omitempty"`
}

// TypeMeta is an object's apiVersion and kind.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// metaWire is object metadata as decoded for the model: what is kept,
// and of managedFields only their API versions (recorded as usages).
type metaWire struct {
	Name              string            `json:"name,omitempty"`
	GenerateName      string            `json:"generateName,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	OwnerReferences   []ownerWire       `json:"ownerReferences,omitempty"`
	DeletionTimestamp *metav1.Time      `json:"deletionTimestamp,omitempty"`
	ManagedFields     []struct {
		APIVersion string `json:"apiVersion"`
	} `json:"managedFields,omitempty"`
}

// ownerWire is what is kept of an owner reference: the checks follow
// owners by kind and name within the namespace, never by uid.
type ownerWire struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Controller *bool  `json:"controller,omitempty"`
}

// usageMeta is the metadata RecordUsages reads.
func (m *metaWire) usageMeta() metav1.ObjectMeta {
	om := metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name, GenerateName: m.GenerateName, Annotations: m.Annotations}
	if m.ManagedFields != nil {
		om.ManagedFields = make([]metav1.ManagedFieldsEntry, len(m.ManagedFields))
		for i, f := range m.ManagedFields {
			om.ManagedFields[i].APIVersion = f.APIVersion
		}
	}
	return om
}

// objectMeta is the kept metadata. With in, the strings that many pods
// repeat (namespaces, label keys, owner kinds) are interned: one copy is
// kept, not one per pod. Strings of a few pods each (label values, owner
// names) are not: interning a new string costs more than it saves.
func (m *metaWire) objectMeta(in bool) metav1.ObjectMeta {
	om := metav1.ObjectMeta{
		Name: m.Name, GenerateName: m.GenerateName, Namespace: m.Namespace,
		Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp,
	}
	if in {
		om.Namespace, om.Labels = intern(m.Namespace), internKeys(m.Labels)
	}
	if m.Annotations != nil {
		om.Annotations = scrubAnnotations(m.Annotations)
	}
	if m.OwnerReferences != nil {
		om.OwnerReferences = make([]metav1.OwnerReference, len(m.OwnerReferences))
		for i, o := range m.OwnerReferences {
			r := metav1.OwnerReference{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Controller: o.Controller}
			if in {
				r.APIVersion, r.Kind = intern(o.APIVersion), intern(o.Kind)
			}
			om.OwnerReferences[i] = r
		}
	}
	return om
}

func metaWireOf(om *metav1.ObjectMeta) metaWire {
	m := metaWire{
		Name: om.Name, GenerateName: om.GenerateName, Namespace: om.Namespace,
		Labels: om.Labels, Annotations: om.Annotations, DeletionTimestamp: om.DeletionTimestamp,
	}
	if om.OwnerReferences != nil {
		m.OwnerReferences = make([]ownerWire, len(om.OwnerReferences))
		for i, o := range om.OwnerReferences {
			m.OwnerReferences[i] = ownerWire{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Controller: o.Controller}
		}
	}
	return m
}

// intern returns the canonical copy of s.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// internKeys interns a map's keys in place.
func internKeys(m map[string]string) map[string]string {
	for k, v := range m {
		m[intern(k)] = v // the same key: replaces it with the interned one
	}
	return m
}

// MarshalJSON writes the pod as a pod manifest of only its kept fields.
func (p *Pod) MarshalJSON() ([]byte, error) {
	return json.Marshal(podWire{Metadata: metaWireOf(&p.ObjectMeta), Spec: p.Spec, Status: p.Status})
}

// UnmarshalJSON reads a pod manifest, keeping what a Pod keeps.
func (p *Pod) UnmarshalJSON(raw []byte) error {
	var w podWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return err
	}
	*p = *w.pod(true)
	return nil
}

// pod builds the model of a decoded pod; in interns its common strings
// (objectMeta).
func (w *podWire) pod(in bool) *Pod {
	p := &Pod{ObjectMeta: w.Metadata.objectMeta(in), Spec: w.Spec, Status: w.Status}
	if a := p.Spec.Affinity; a != nil && (a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil) {
		p.Spec.Affinity = nil
	}
	if in {
		p.Spec.NodeName = intern(p.Spec.NodeName)
		p.Spec.NodeSelector = internKeys(p.Spec.NodeSelector)
		for _, cs := range [][]Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range cs {
				cs[i].Name = intern(cs[i].Name)
			}
		}
	}
	p.Spec.Volumes = keptVolumes(p.Spec.Volumes)
	p.Status.Conditions = keptConditions(p.Status.Conditions)
	return p
}

// keptVolumes drops, in place, the volumes of kinds no check reads (the
// decoder leaves their name alone).
func keptVolumes(vs []Volume) []Volume {
	out := vs[:0]
	for _, v := range vs {
		if v.EmptyDir != nil || v.HostPath != nil || v.PersistentVolumeClaim != nil {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// keptConditions keeps the Ready condition alone when there is one: the
// checks read only it, and the others only for whether there are any.
func keptConditions(cs []PodCondition) []PodCondition {
	for _, c := range cs {
		if c.Type == corev1.PodReady {
			return []PodCondition{c}
		}
	}
	return cs
}

// PodOf is the model of an API pod: what the collector keeps of each pod
// it reads.
func PodOf(o *corev1.Pod) *Pod {
	w := podWire{Metadata: metaWireOf(&o.ObjectMeta)}
	w.Metadata.Annotations = nil
	if o.Annotations != nil {
		ann := make(map[string]string, len(o.Annotations))
		for k, v := range o.Annotations {
			ann[k] = v // scrubAnnotations works in place: not on the caller's map
		}
		w.Metadata.Annotations = ann
	}
	if o.Labels != nil {
		w.Metadata.Labels = make(map[string]string, len(o.Labels))
		for k, v := range o.Labels {
			w.Metadata.Labels[k] = v
		}
	}
	s := &o.Spec
	w.Spec = PodSpec{NodeName: s.NodeName, PodShape: PodShape{
		Tolerations:    s.Tolerations,
		InitContainers: containersOf(s.InitContainers), Containers: containersOf(s.Containers),
		Overhead: s.Overhead, Resources: s.Resources,
	}}
	if len(s.NodeSelector) > 0 {
		w.Spec.NodeSelector = make(map[string]string, len(s.NodeSelector))
		for k, v := range s.NodeSelector {
			w.Spec.NodeSelector[k] = v
		}
	}
	if a := s.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		w.Spec.Affinity = &Affinity{NodeAffinity: &NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution}}
	}
	for _, v := range s.Volumes {
		w.Spec.Volumes = append(w.Spec.Volumes, Volume{
			Name: v.Name, EmptyDir: v.EmptyDir, HostPath: v.HostPath, PersistentVolumeClaim: v.PersistentVolumeClaim,
		})
	}
	w.Status.Phase = o.Status.Phase
	for _, c := range o.Status.Conditions {
		w.Status.Conditions = append(w.Status.Conditions, PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason})
	}
	w.Status.InitContainerStatuses = statusesOf(o.Status.InitContainerStatuses)
	w.Status.ContainerStatuses = statusesOf(o.Status.ContainerStatuses)
	return w.pod(true)
}

// PodsOf is PodOf of each pod.
func PodsOf(pods []*corev1.Pod) []*Pod {
	if pods == nil {
		return nil
	}
	out := make([]*Pod, len(pods))
	for i, p := range pods {
		out[i] = PodOf(p)
	}
	return out
}

func containersOf(cs []corev1.Container) []Container {
	if cs == nil {
		return nil
	}
	out := make([]Container, len(cs))
	for i, c := range cs {
		out[i] = Container{Name: c.Name, Image: c.Image, Resources: c.Resources, RestartPolicy: c.RestartPolicy}
	}
	return out
}

func statusesOf(ss []corev1.ContainerStatus) []ContainerStatus {
	if ss == nil {
		return nil
	}
	out := make([]ContainerStatus, len(ss))
	for i, s := range ss {
		out[i] = ContainerStatus{Name: s.Name, Ready: s.Ready, RestartCount: s.RestartCount}
		if w := s.State.Waiting; w != nil {
			out[i].State.Waiting = &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
		}
		if t := s.State.Terminated; t != nil {
			out[i].State.Terminated = &ContainerStateTerminated{ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message}
		}
	}
	return out
}

// decodePod decodes a pod straight into the model. A snapshot's pod item
// names its template (PodTemplate) in tt, the snapshot's table.
func decodePod(raw []byte, tt templateTable) (typedObject, error) {
	var w podWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return typedObject{}, err
	}
	t := typedObject{
		obj:  scrubbed{},
		tm:   metav1.TypeMeta{APIVersion: w.APIVersion, Kind: w.Kind},
		meta: w.Metadata.usageMeta(),
	}
	var p *Pod
	if w.Template != nil {
		var err error
		if p, err = tt.pod(&w); err != nil {
			return typedObject{}, err
		}
		t.meta.GenerateName = p.GenerateName
	} else {
		p = w.pod(true)
	}
	t.add = func(inv *Inventory) { inv.Pods = append(inv.Pods, p) }
	return t, nil
}

// DeepCopy returns a copy of the pod that shares nothing with it (the
// embedded ObjectMeta's own DeepCopy would copy only the metadata).
func (p *Pod) DeepCopy() *Pod {
	if p == nil {
		return nil
	}
	c := &Pod{ObjectMeta: *p.ObjectMeta.DeepCopy(), Status: p.Status}
	s := &p.Spec
	c.Spec = PodSpec{NodeName: s.NodeName, PodShape: PodShape{NodeSelector: maps.Clone(s.NodeSelector), Overhead: s.Overhead.DeepCopy()}}
	if s.Affinity != nil && s.Affinity.NodeAffinity != nil {
		c.Spec.Affinity = &Affinity{NodeAffinity: &NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: s.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.DeepCopy(),
		}}
	}
	if s.Tolerations != nil {
		c.Spec.Tolerations = make([]corev1.Toleration, len(s.Tolerations))
		for i := range s.Tolerations {
			s.Tolerations[i].DeepCopyInto(&c.Spec.Tolerations[i])
		}
	}
	copyContainers := func(cs []Container) []Container {
		if cs == nil {
			return nil
		}
		out := make([]Container, len(cs))
		for i, x := range cs {
			out[i] = Container{Name: x.Name, Image: x.Image, Resources: *x.Resources.DeepCopy()}
			if x.RestartPolicy != nil {
				rp := *x.RestartPolicy
				out[i].RestartPolicy = &rp
			}
		}
		return out
	}
	c.Spec.InitContainers, c.Spec.Containers = copyContainers(s.InitContainers), copyContainers(s.Containers)
	if s.Volumes != nil {
		c.Spec.Volumes = make([]Volume, len(s.Volumes))
		for i, v := range s.Volumes {
			c.Spec.Volumes[i] = Volume{Name: v.Name, EmptyDir: v.EmptyDir.DeepCopy(), HostPath: v.HostPath.DeepCopy(),
				PersistentVolumeClaim: v.PersistentVolumeClaim.DeepCopy()}
		}
	}
	if s.Resources != nil {
		c.Spec.Resources = s.Resources.DeepCopy()
	}
	c.Status.Conditions = slices.Clone(p.Status.Conditions)
	copyStatuses := func(ss []ContainerStatus) []ContainerStatus {
		if ss == nil {
			return nil
		}
		out := slices.Clone(ss)
		for i := range out {
			if w := out[i].State.Waiting; w != nil {
				out[i].State.Waiting = w.DeepCopy()
			}
			if t := out[i].State.Terminated; t != nil {
				tc := *t
				out[i].State.Terminated = &tc
			}
		}
		return out
	}
	c.Status.InitContainerStatuses = copyStatuses(p.Status.InitContainerStatuses)
	c.Status.ContainerStatuses = copyStatuses(p.Status.ContainerStatuses)
	return c
}

package inventory

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Decoding what Scrub keeps, and nothing else.
//
// Pods, nodes and workloads (templates) make up nearly all of a big
// cluster's bytes, and most of those bytes are fields no check reads
// (Scrub's list). Decoding them into their full types and then scrubbing
// builds, then discards, probes, mounts, image lists, managedFields and
// the like: at 150,000 pods that is most of the reading time and of the
// garbage. The types below shadow those fields with skip, which
// encoding/json steps over without building anything, so that
//
//	decodeX(raw) == Scrub(json.Unmarshal(raw, &x))
//
// field for field (TestDecodeMatchesScrub). Everything not shadowed is
// decoded by the real types, so a field added to the API is kept.

// skip is a JSON value that is read past and dropped.
type skip struct{}

func (*skip) UnmarshalJSON([]byte) error { return nil }

// metaJSON keeps of managedFields only what RecordUsages reads.
type metaJSON struct {
	metav1.ObjectMeta
	ManagedFields []struct {
		APIVersion string `json:"apiVersion"`
	} `json:"managedFields"`
}

// meta is the object metadata, managedFields reduced to their API versions
// (for recording usages; Scrub drops them).
func (m *metaJSON) meta() metav1.ObjectMeta {
	om := m.ObjectMeta
	om.ManagedFields = nil
	if m.ManagedFields != nil {
		om.ManagedFields = make([]metav1.ManagedFieldsEntry, len(m.ManagedFields))
		for i, f := range m.ManagedFields {
			om.ManagedFields[i].APIVersion = f.APIVersion
		}
	}
	return om
}

// scrubbedMeta is the metadata Scrub leaves.
func (m *metaJSON) scrubbed() metav1.ObjectMeta {
	om := m.ObjectMeta
	om.ManagedFields = nil
	if om.Annotations != nil {
		om.Annotations = scrubAnnotations(om.Annotations)
	}
	return om
}

type containerJSON struct {
	corev1.Container
	Command                  skip `json:"command"`
	Args                     skip `json:"args"`
	Ports                    skip `json:"ports"`
	LivenessProbe            skip `json:"livenessProbe"`
	ReadinessProbe           skip `json:"readinessProbe"`
	StartupProbe             skip `json:"startupProbe"`
	Lifecycle                skip `json:"lifecycle"`
	VolumeMounts             skip `json:"volumeMounts"`
	VolumeDevices            skip `json:"volumeDevices"`
	SecurityContext          skip `json:"securityContext"`
	TerminationMessagePath   skip `json:"terminationMessagePath"`
	TerminationMessagePolicy skip `json:"terminationMessagePolicy"`
}

type ephemeralJSON struct {
	corev1.EphemeralContainer
	Command                  skip `json:"command"`
	Args                     skip `json:"args"`
	Ports                    skip `json:"ports"`
	LivenessProbe            skip `json:"livenessProbe"`
	ReadinessProbe           skip `json:"readinessProbe"`
	StartupProbe             skip `json:"startupProbe"`
	Lifecycle                skip `json:"lifecycle"`
	VolumeMounts             skip `json:"volumeMounts"`
	VolumeDevices            skip `json:"volumeDevices"`
	SecurityContext          skip `json:"securityContext"`
	TerminationMessagePath   skip `json:"terminationMessagePath"`
	TerminationMessagePolicy skip `json:"terminationMessagePolicy"`
}

type volumeJSON struct {
	corev1.Volume
	Projected *struct {
		corev1.ProjectedVolumeSource
		Sources skip `json:"sources"`
	} `json:"projected"`
	ConfigMap *struct {
		corev1.ConfigMapVolumeSource
		Items skip `json:"items"`
	} `json:"configMap"`
	Secret *struct {
		corev1.SecretVolumeSource
		Items skip `json:"items"`
	} `json:"secret"`
	DownwardAPI *struct {
		corev1.DownwardAPIVolumeSource
		Items skip `json:"items"`
	} `json:"downwardAPI"`
	FlexVolume *struct {
		corev1.FlexVolumeSource
		Options skip `json:"options"`
	} `json:"flexVolume"`
	CSI *struct {
		corev1.CSIVolumeSource
		VolumeAttributes skip `json:"volumeAttributes"`
	} `json:"csi"`
}

type podSpecJSON struct {
	corev1.PodSpec
	InitContainers      []containerJSON `json:"initContainers"`
	Containers          []containerJSON `json:"containers"`
	EphemeralContainers []ephemeralJSON `json:"ephemeralContainers"`
	Volumes             []volumeJSON    `json:"volumes"`
}

func (j *podSpecJSON) spec() corev1.PodSpec {
	s := j.PodSpec
	s.InitContainers = containers(j.InitContainers)
	s.Containers = containers(j.Containers)
	s.EphemeralContainers = nil
	if j.EphemeralContainers != nil {
		s.EphemeralContainers = make([]corev1.EphemeralContainer, len(j.EphemeralContainers))
		for i := range j.EphemeralContainers {
			s.EphemeralContainers[i] = j.EphemeralContainers[i].EphemeralContainer
			blankEnv(s.EphemeralContainers[i].Env)
		}
	}
	s.Volumes = nil
	if j.Volumes != nil {
		s.Volumes = make([]corev1.Volume, len(j.Volumes))
		for i := range j.Volumes {
			v := &j.Volumes[i]
			s.Volumes[i] = v.Volume
			vs := &s.Volumes[i].VolumeSource
			vs.Projected, vs.ConfigMap, vs.Secret, vs.DownwardAPI, vs.FlexVolume, vs.CSI = nil, nil, nil, nil, nil, nil
			if v.Projected != nil {
				vs.Projected = &v.Projected.ProjectedVolumeSource
			}
			if v.ConfigMap != nil {
				vs.ConfigMap = &v.ConfigMap.ConfigMapVolumeSource
			}
			if v.Secret != nil {
				vs.Secret = &v.Secret.SecretVolumeSource
			}
			if v.DownwardAPI != nil {
				vs.DownwardAPI = &v.DownwardAPI.DownwardAPIVolumeSource
			}
			if v.FlexVolume != nil {
				vs.FlexVolume = &v.FlexVolume.FlexVolumeSource
			}
			if v.CSI != nil {
				vs.CSI = &v.CSI.CSIVolumeSource
			}
		}
	}
	return s
}

func containers(js []containerJSON) []corev1.Container {
	if js == nil {
		return nil
	}
	out := make([]corev1.Container, len(js))
	for i := range js {
		out[i] = js[i].Container
		blankEnv(out[i].Env)
	}
	return out
}

func blankEnv(env []corev1.EnvVar) {
	for i := range env {
		env[i].Value = ""
	}
}

type containerStatusJSON struct {
	corev1.ContainerStatus
	ImageID                  skip `json:"imageID"`
	ContainerID              skip `json:"containerID"`
	LastTerminationState     skip `json:"lastState"`
	AllocatedResources       skip `json:"allocatedResources"`
	Resources                skip `json:"resources"`
	VolumeMounts             skip `json:"volumeMounts"`
	User                     skip `json:"user"`
	AllocatedResourcesStatus skip `json:"allocatedResourcesStatus"`
}

func statuses(js []containerStatusJSON) []corev1.ContainerStatus {
	if js == nil {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(js))
	for i := range js {
		out[i] = js[i].ContainerStatus
	}
	return out
}

type podJSON struct {
	corev1.Pod
	Metadata metaJSON    `json:"metadata"`
	Spec     podSpecJSON `json:"spec"`
	Status   struct {
		corev1.PodStatus
		InitContainerStatuses      []containerStatusJSON `json:"initContainerStatuses"`
		ContainerStatuses          []containerStatusJSON `json:"containerStatuses"`
		EphemeralContainerStatuses []containerStatusJSON `json:"ephemeralContainerStatuses"`
	} `json:"status"`
}

type nodeJSON struct {
	corev1.Node
	Metadata metaJSON `json:"metadata"`
	Status   struct {
		corev1.NodeStatus
		Images skip `json:"images"`
	} `json:"status"`
}

type deploymentJSON struct {
	appsv1.Deployment
	Metadata metaJSON `json:"metadata"`
	Spec     struct {
		appsv1.DeploymentSpec
		Template skip `json:"template"`
	} `json:"spec"`
}

type replicaSetJSON struct {
	appsv1.ReplicaSet
	Metadata metaJSON `json:"metadata"`
	Spec     struct {
		appsv1.ReplicaSetSpec
		Template skip `json:"template"`
	} `json:"spec"`
}

type statefulSetJSON struct {
	appsv1.StatefulSet
	Metadata metaJSON `json:"metadata"`
	Spec     struct {
		appsv1.StatefulSetSpec
		Template skip `json:"template"`
	} `json:"spec"`
}

type daemonSetJSON struct {
	appsv1.DaemonSet
	Metadata metaJSON `json:"metadata"`
	Spec     struct {
		appsv1.DaemonSetSpec
		Template skip `json:"template"`
	} `json:"spec"`
}

type jobJSON struct {
	batchv1.Job
	Metadata metaJSON `json:"metadata"`
	Spec     struct {
		batchv1.JobSpec
		Template skip `json:"template"`
	} `json:"spec"`
}

// lean builds the decodeFunc of a kind decoded through its shadow type J:
// build turns the shadow into the scrubbed object.
func lean[J any, T any](build func(*J) *T, add func(*Inventory, *T)) decodeFunc {
	return func(raw []byte) (typedObject, error) {
		j := new(J)
		if err := json.Unmarshal(raw, j); err != nil {
			return typedObject{}, err
		}
		var t typedObject
		t.tm, t.meta = leanMeta(j)
		// A copy of what build made: the object must not keep the whole
		// shadow it was built in alive.
		o := *build(j)
		t.obj = scrubbed{}
		t.add = func(inv *Inventory) { add(inv, &o) }
		return t, nil
	}
}

// scrubbed marks an object lean decoding built already scrubbed: Scrub has
// nothing to do on it.
type scrubbed struct{}

// leanMeta returns the type and the usage-recording metadata of a shadow.
func leanMeta(j any) (metav1.TypeMeta, metav1.ObjectMeta) {
	switch j := j.(type) {
	case *podJSON:
		return j.TypeMeta, j.Metadata.meta()
	case *nodeJSON:
		return j.TypeMeta, j.Metadata.meta()
	case *deploymentJSON:
		return j.TypeMeta, j.Metadata.meta()
	case *replicaSetJSON:
		return j.TypeMeta, j.Metadata.meta()
	case *statefulSetJSON:
		return j.TypeMeta, j.Metadata.meta()
	case *daemonSetJSON:
		return j.TypeMeta, j.Metadata.meta()
	case *jobJSON:
		return j.TypeMeta, j.Metadata.meta()
	}
	return metav1.TypeMeta{}, metav1.ObjectMeta{}
}

func buildPod(j *podJSON) *corev1.Pod {
	p := &j.Pod
	p.ObjectMeta = j.Metadata.scrubbed()
	p.Spec = j.Spec.spec()
	p.Status = j.Status.PodStatus
	p.Status.InitContainerStatuses = statuses(j.Status.InitContainerStatuses)
	p.Status.ContainerStatuses = statuses(j.Status.ContainerStatuses)
	p.Status.EphemeralContainerStatuses = statuses(j.Status.EphemeralContainerStatuses)
	return p
}

func buildNode(j *nodeJSON) *corev1.Node {
	n := &j.Node
	n.ObjectMeta = j.Metadata.scrubbed()
	n.Status = j.Status.NodeStatus
	n.Status.Images = nil
	return n
}

func buildDeployment(j *deploymentJSON) *appsv1.Deployment {
	o := &j.Deployment
	o.ObjectMeta = j.Metadata.scrubbed()
	o.Spec = j.Spec.DeploymentSpec
	o.Spec.Template = corev1.PodTemplateSpec{}
	return o
}

func buildReplicaSet(j *replicaSetJSON) *appsv1.ReplicaSet {
	o := &j.ReplicaSet
	o.ObjectMeta = j.Metadata.scrubbed()
	o.Spec = j.Spec.ReplicaSetSpec
	o.Spec.Template = corev1.PodTemplateSpec{}
	return o
}

func buildStatefulSet(j *statefulSetJSON) *appsv1.StatefulSet {
	o := &j.StatefulSet
	o.ObjectMeta = j.Metadata.scrubbed()
	o.Spec = j.Spec.StatefulSetSpec
	o.Spec.Template = corev1.PodTemplateSpec{}
	return o
}

func buildDaemonSet(j *daemonSetJSON) *appsv1.DaemonSet {
	o := &j.DaemonSet
	o.ObjectMeta = j.Metadata.scrubbed()
	o.Spec = j.Spec.DaemonSetSpec
	o.Spec.Template = corev1.PodTemplateSpec{}
	return o
}

func buildJob(j *jobJSON) *batchv1.Job {
	o := &j.Job
	o.ObjectMeta = j.Metadata.scrubbed()
	o.Spec = j.Spec.JobSpec
	o.Spec.Template = corev1.PodTemplateSpec{}
	return o
}

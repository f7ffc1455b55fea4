package inventory

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scrub drops from an object what no check reads and what could be
// sensitive: managedFields (their API versions are recorded as usages
// first), the body of kubectl's last-applied-configuration (only its
// apiVersion and kind stay), environment variable values and command lines
// in pod specs, and the bulk no check reads (listed below), which is most
// of a real object: at 150,000 pods it is what decoding time and memory
// are spent on. The collector calls it on every object; Read calls it on
// manifests, and decodes pods, nodes and workloads so that it never even
// builds what Scrub would drop (decode.go; TestDecodeMatchesScrub holds
// the two to the same result).
//
// Dropped because no check reads them (a check that needs one must take
// it off these lists, here and in decode.go):
//   - containers (init and ephemeral too):
//     ports, liveness/readiness/startup probes, lifecycle hooks,
//     volumeMounts, volumeDevices, securityContext,
//     terminationMessagePath and terminationMessagePolicy;
//   - the pod templates of Deployments, ReplicaSets, StatefulSets,
//     DaemonSets, Jobs and ReplicationControllers: checks read the pods
//     themselves, and at scale templates are a third of all bytes (every
//     Deployment keeps old ReplicaSets, each with its template);
//   - volumes: the sources of projected volumes (the service account
//     token, CA bundle and namespace every pod mounts), the items of
//     configMap, secret and downwardAPI volumes;
//   - pod status, per container: imageID, containerID,
//     lastState, allocatedResources, resources, volumeMounts, user,
//     allocatedResourcesStatus;
//   - node status: images (the node's image list).
func Scrub(obj any) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if ann := m.GetAnnotations(); ann != nil {
			if la, ok := ann[LastAppliedAnnotation]; ok {
				ann[LastAppliedAnnotation] = trimLastApplied(la)
			}
		}
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		scrubPodSpec(&o.Spec)
		for _, l := range [][]corev1.ContainerStatus{o.Status.InitContainerStatuses, o.Status.ContainerStatuses, o.Status.EphemeralContainerStatuses} {
			for i := range l {
				scrubContainerStatus(&l[i])
			}
		}
	case *corev1.Node:
		o.Status.Images = nil
	case *appsv1.Deployment:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.ReplicaSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.StatefulSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.DaemonSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *corev1.ReplicationController:
		o.Spec.Template = nil
	}
}

func trimLastApplied(la string) string {
	var h struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind,omitempty"`
	}
	_ = json.Unmarshal([]byte(la), &h) // malformed: keep nothing of it
	b, _ := json.Marshal(h)
	return string(b)
}

func scrubPodSpec(spec *corev1.PodSpec) {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			scrubContainer(&cs[i])
		}
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		for j := range c.Env {
			c.Env[j].Value = ""
		}
		c.Args, c.Command = nil, nil
		c.Ports, c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil, nil
		c.VolumeMounts, c.VolumeDevices, c.SecurityContext = nil, nil, nil
		c.TerminationMessagePath, c.TerminationMessagePolicy = "", ""
	}
	for i := range spec.Volumes {
		scrubVolume(&spec.Volumes[i].VolumeSource)
	}
}

func scrubContainer(c *corev1.Container) {
	for j := range c.Env {
		c.Env[j].Value = ""
	}
	c.Args, c.Command = nil, nil
	c.Ports, c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil, nil
	c.VolumeMounts, c.VolumeDevices, c.SecurityContext = nil, nil, nil
	c.TerminationMessagePath, c.TerminationMessagePolicy = "", ""
}

func scrubVolume(v *corev1.VolumeSource) {
	if v.Projected != nil {
		v.Projected.Sources = nil
	}
	if v.ConfigMap != nil {
		v.ConfigMap.Items = nil
	}
	if v.Secret != nil {
		v.Secret.Items = nil
	}
	if v.DownwardAPI != nil {
		v.DownwardAPI.Items = nil
	}
}

func scrubContainerStatus(s *corev1.ContainerStatus) {
	s.ImageID, s.ContainerID = "", ""
	s.LastTerminationState = corev1.ContainerState{}
	s.AllocatedResources, s.Resources, s.VolumeMounts, s.User, s.AllocatedResourcesStatus = nil, nil, nil, nil, nil
}

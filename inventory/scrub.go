package inventory

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scrub cuts an object down to what the inventory keeps of its kind, in
// place. Every kind but Pod keeps a whitelist: the fields something reads,
// which its keep function (keep.go) copies into a fresh object and its
// KindInfo.Keeps describes. From a pod, Scrub drops what no check reads
// and what could be sensitive: managedFields (their API versions are
// recorded as usages first), every annotation but those keepAnnotation
// names, the body of kubectl's last-applied-configuration (only its
// apiVersion and kind stay), environment variable values and command
// lines, the options of flexVolume and the volumeAttributes of CSI volumes
// (driver parameters, which may carry credentials; secret references,
// being names, stay), and the bulk no check reads (listed below), which is
// most of a real pod: at 150,000 pods it is what decoding time and memory
// are spent on. The collector calls it on every object; Read calls it on
// manifests, and decodes pods, nodes and workloads so that it never even
// builds what Scrub would drop (decode.go; TestDecodeMatchesScrub holds
// the two to the same result).
//
// Dropped from pods because no check reads them (a check that needs one
// must take it off these lists, here and in decode.go):
//   - containers (init and ephemeral too):
//     ports, liveness/readiness/startup probes, lifecycle hooks,
//     volumeMounts, volumeDevices, securityContext,
//     terminationMessagePath and terminationMessagePolicy;
//   - volumes: the sources of projected volumes (the service account
//     token, CA bundle and namespace every pod mounts), the items of
//     configMap, secret and downwardAPI volumes;
//   - pod status, per container: imageID, containerID,
//     lastState, allocatedResources, resources, volumeMounts, user,
//     allocatedResourcesStatus.
func Scrub(obj any) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if ann := m.GetAnnotations(); ann != nil {
			m.SetAnnotations(scrubAnnotations(ann))
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
	default:
		keepInPlace(obj)
	}
}

// keepInPlace replaces *obj by what its kind keeps of it (KindInfo.keep).
func keepInPlace(obj any) {
	for _, k := range Kinds {
		if k.scrub != nil && k.scrub(obj) {
			return
		}
	}
}

// keptAnnotations are the annotations a check, the ignore rules or the
// executor reads; every other annotation is dropped. Annotations are free
// text anyone can write, and some hold what must not leave the cluster
// (a vault.hashicorp.com/ agent's settings, cloud load-balancer
// configuration): a snapshot keeps only what it is read for.
//   - upgate.dev/ (prefix): upgate.dev/ignore, and the executor's progress
//     on nodes (executor/progress.go);
//   - kubectl.kubernetes.io/last-applied-configuration, cut to its
//     apiVersion and kind (the API version it names is a usage);
//   - kubernetes.io/config.mirror: a mirror pod, which no drain evicts.
//
// A check that reads another annotation must add it here.
func keepAnnotation(key string) bool {
	switch key {
	case LastAppliedAnnotation, MirrorAnnotation:
		return true
	}
	return strings.HasPrefix(key, "upgate.dev/")
}

// scrubAnnotations drops from ann, in place, what keepAnnotation does not
// keep and cuts last-applied-configuration down; nil when nothing is left.
func scrubAnnotations(ann map[string]string) map[string]string {
	for k, v := range ann {
		switch {
		case !keepAnnotation(k):
			delete(ann, k)
		case k == LastAppliedAnnotation:
			ann[k] = trimLastApplied(v)
		}
	}
	if len(ann) == 0 {
		return nil
	}
	return ann
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
	if v.FlexVolume != nil {
		v.FlexVolume.Options = nil
	}
	if v.CSI != nil {
		v.CSI.VolumeAttributes = nil
	}
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

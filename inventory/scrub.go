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
// apiVersion and kind stay), and environment variable values in pod specs.
// The collector calls it on every object; Read calls it on manifests.
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
	case *appsv1.Deployment:
		scrubPodSpec(&o.Spec.Template.Spec)
	case *appsv1.ReplicaSet:
		scrubPodSpec(&o.Spec.Template.Spec)
	case *appsv1.StatefulSet:
		scrubPodSpec(&o.Spec.Template.Spec)
	case *appsv1.DaemonSet:
		scrubPodSpec(&o.Spec.Template.Spec)
	case *batchv1.Job:
		scrubPodSpec(&o.Spec.Template.Spec)
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			scrubPodSpec(&o.Spec.Template.Spec)
		}
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
		c := &spec.EphemeralContainers[i]
		for j := range c.Env {
			c.Env[j].Value = ""
		}
	}
}

func scrubContainer(c *corev1.Container) {
	for j := range c.Env {
		c.Env[j].Value = ""
	}
	c.Args, c.Command = nil, nil
}

package inventory

import (
	jsonv2 "encoding/json/v2"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Decoding what Scrub keeps, and nothing else.
//
// Nodes and workloads (templates) carry many bytes no check reads
// (Scrub's list). Decoding them into their full types and then scrubbing
// builds, then discards, image lists, templates, managedFields and the
// like. The types below shadow those fields with skip, which
// encoding/json steps over without building anything, so that
//
//	decodeX(raw) == Scrub(json.Unmarshal(raw, &x))
//
// field for field (TestDecodeMatchesScrub). Everything not shadowed is
// decoded by the real types, so a field added to the API is kept.
//
// Pods, most of a cluster's objects, are not API objects in the
// inventory at all: they decode straight into the model's Pod (pod.go).

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
// build turns the shadow into the kept object, a fresh one (keep.go) that
// holds nothing of the shadow.
func lean[J any, T any](build func(*J) *T, add func(*Inventory, *T)) decodeFunc {
	return func(raw []byte) (typedObject, error) {
		j := new(J)
		if err := jsonv2.Unmarshal(raw, j); err != nil {
			return typedObject{}, err
		}
		var t typedObject
		t.tm, t.meta = leanMeta(j)
		o := build(j)
		t.obj = scrubbed{}
		t.add = func(inv *Inventory) { add(inv, o) }
		return t, nil
	}
}

// scrubbed marks an object lean decoding built already scrubbed: Scrub has
// nothing to do on it.
type scrubbed struct{}

// leanMeta returns the type and the usage-recording metadata of a shadow.
func leanMeta(j any) (metav1.TypeMeta, metav1.ObjectMeta) {
	switch j := j.(type) {
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

// The builders of the kinds but Pod hand what they decoded to the kind's
// keep function (keep.go), which copies the kept fields out of it.

func buildNode(j *nodeJSON) *corev1.Node {
	n := &j.Node
	n.ObjectMeta = j.Metadata.ObjectMeta
	n.Status = j.Status.NodeStatus
	return keepNode(n)
}

func buildDeployment(j *deploymentJSON) *appsv1.Deployment {
	o := &j.Deployment
	o.ObjectMeta = j.Metadata.ObjectMeta
	o.Spec = j.Spec.DeploymentSpec
	return keepDeployment(o)
}

func buildReplicaSet(j *replicaSetJSON) *appsv1.ReplicaSet {
	o := &j.ReplicaSet
	o.ObjectMeta = j.Metadata.ObjectMeta
	o.Spec = j.Spec.ReplicaSetSpec
	return keepReplicaSet(o)
}

func buildStatefulSet(j *statefulSetJSON) *appsv1.StatefulSet {
	o := &j.StatefulSet
	o.ObjectMeta = j.Metadata.ObjectMeta
	o.Spec = j.Spec.StatefulSetSpec
	return keepStatefulSet(o)
}

func buildDaemonSet(j *daemonSetJSON) *appsv1.DaemonSet {
	o := &j.DaemonSet
	o.ObjectMeta = j.Metadata.ObjectMeta
	o.Spec = j.Spec.DaemonSetSpec
	return keepDaemonSet(o)
}

func buildJob(j *jobJSON) *batchv1.Job {
	o := &j.Job
	o.ObjectMeta = j.Metadata.ObjectMeta
	o.Spec = j.Spec.JobSpec
	return keepJob(o)
}

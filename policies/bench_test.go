package policies

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// syntheticCluster builds nodes workers plus 3 control-plane nodes and
// podsPerNode Deployment pods on each worker (every tenth with an emptyDir),
// plus kube-proxy and control-plane pods, like SCALE.md's prototype.
func syntheticCluster(nodes, podsPerNode int) *inventory.Inventory {
	inv := &inventory.Inventory{ServerVersion: "v1.35.2"}
	yes := true
	one := int32(1)
	three := int32(3)
	for i := 0; i < 3; i++ {
		n := fmt.Sprintf("cp-%d", i)
		inv.Nodes = append(inv.Nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{inventory.LabelControlPlane: ""}},
			Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.2"}},
		})
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
			inv.Pods = append(inv.Pods, inventory.PodOf(&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: c + "-" + n, Labels: map[string]string{"component": c},
					Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}},
				Spec:   corev1.PodSpec{NodeName: n, Containers: []corev1.Container{{Name: c, Image: "registry.k8s.io/" + c + ":v1.35.2"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			}))
		}
	}
	deps := nodes * podsPerNode / 3
	for d := 0; d < deps; d++ {
		name := fmt.Sprintf("app-%d", d)
		ns := fmt.Sprintf("ns-%d", d%200)
		r := three
		if d%50 == 0 {
			r = one
		}
		inv.Deployments = append(inv.Deployments, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{Replicas: &r}})
		inv.ReplicaSets = append(inv.ReplicaSets, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-abc", OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: name, Controller: &yes}}},
			Spec:       appsv1.ReplicaSetSpec{Replicas: &r},
		})
	}
	p := 0
	for i := 0; i < nodes; i++ {
		n := fmt.Sprintf("worker-%d", i)
		inv.Nodes = append(inv.Nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n},
			Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.2"}},
		})
		inv.Pods = append(inv.Pods, inventory.PodOf(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy-" + n, Labels: map[string]string{"k8s-app": "kube-proxy"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "kube-proxy", Controller: &yes}}},
			Spec:   corev1.PodSpec{NodeName: n, Containers: []corev1.Container{{Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:v1.35.2"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}))
		for j := 0; j < podsPerNode; j++ {
			d := p / 3
			if d >= deps {
				d = deps - 1
			}
			pod := corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", d%200), Name: fmt.Sprintf("app-%d-abc-%d", d, p),
					OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: fmt.Sprintf("app-%d-abc", d), Controller: &yes}}},
				Spec:   corev1.PodSpec{NodeName: n, Containers: []corev1.Container{{Name: "main", Image: "app:1"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			}
			if p%10 == 0 {
				pod.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			}
			inv.Pods = append(inv.Pods, inventory.PodOf(&pod))
			p++
		}
	}
	return inv
}

// go test -run XXX -bench Evaluate -benchtime 1x ./policies/
func BenchmarkEvaluate(b *testing.B) {
	for _, size := range []struct{ nodes, perNode int }{{500, 30}, {5000, 30}} {
		inv := syntheticCluster(size.nodes, size.perNode)
		e, err := New(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		req := Request{Inventory: inv, Current: mustVerB(b, "1.35.2"), Target: mustVerB(b, "1.36.0"), Phase: finding.PhasePreflight}
		b.Run(fmt.Sprintf("%dnodes-%dpods", size.nodes, len(inv.Pods)), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res, err := e.Evaluate(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(res.Findings)), "findings")
			}
		})
	}
}

func mustVerB(b *testing.B, s string) *version.Version {
	v, err := kubever.Parse(s)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

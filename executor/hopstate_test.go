package executor

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// TestAtHopShowsTheStateEachHopStartsFrom: in a 1.33 -> 1.37 plan, the
// third hop starts with the control plane, kube-proxy and the
// cloud-controller-manager at its From, the control-plane node's kubelet
// moved by the earlier hops, a worker no earlier hop moved still at 1.33,
// and other pods and etcd untouched; afterwards the state is as before.
func TestAtHopShowsTheStateEachHopStartsFrom(t *testing.T) {
	cp := map[string]string{inventory.LabelControlPlane: ""}
	withImage := func(p *corev1.Pod, container, image string) *corev1.Pod {
		p.Spec.Containers = []corev1.Container{{Name: container, Image: image}}
		return p
	}
	inv := &inventory.Inventory{
		ServerVersion: "v1.33.4",
		Nodes:         []*corev1.Node{kubeletNode("cp-1", "v1.33.4", cp), kubeletNode("w-1", "v1.33.4", nil)},
		Pods: inventory.PodsOf([]*corev1.Pod{
			withImage(pod("kube-system", "kube-apiserver-cp-1", "cp-1", map[string]string{"component": "kube-apiserver"}), "kube-apiserver", "registry.k8s.io/kube-apiserver:v1.33.4"),
			withImage(pod("kube-system", "etcd-cp-1", "cp-1", map[string]string{"component": "etcd"}), "etcd", "registry.k8s.io/etcd:3.5.21-0"),
			withImage(pod("kube-system", "kube-proxy-a", "w-1", map[string]string{"k8s-app": "kube-proxy"}), "kube-proxy", "registry.k8s.io/kube-proxy:v1.33.4"),
			withImage(pod("kube-system", "ccm-1", "cp-1", map[string]string{"component": "cloud-controller-manager"}), "ccm", "example.com/ccm:v1.33.0"),
			withImage(pod("shop", "web-1", "w-1", map[string]string{"component": "kube-apiserver"}), "web", "example.com/web:v1.33.4"),
		}),
	}
	before := &inventory.Inventory{}
	*before = *inv
	before.Nodes = make([]*corev1.Node, len(inv.Nodes))
	for i := range inv.Nodes {
		before.Nodes[i] = inv.Nodes[i].DeepCopy()
	}
	before.Pods = make([]*inventory.Pod, len(inv.Pods))
	for i := range inv.Pods {
		before.Pods[i] = inv.Pods[i].DeepCopy()
	}
	current, _ := kubever.Parse("v1.33.4")
	target, _ := kubever.Parse("v1.37")
	p := NewPlan(inv, current, target, "v1.37", nil, PlanOptions{Rules: testRules})
	if hops, _ := hopsOf(p); hops != "v1.33.4>v1.34.0 v1.34.0>v1.35.0 v1.35.0>v1.36.6 v1.36.6>v1.37" {
		t.Fatalf("hops %s", hops)
	}
	images := func(inv *inventory.Inventory) map[string]string {
		out := map[string]string{}
		for _, p := range inv.Pods {
			out[p.Name] = p.Spec.Containers[0].Image
		}
		return out
	}
	errSeen := errors.New("seen")
	err := AtHop(inv, p, 2, func(inv *inventory.Inventory) error {
		want := map[string]string{
			"kube-apiserver-cp-1": "registry.k8s.io/kube-apiserver:v1.35.0",
			"etcd-cp-1":           "registry.k8s.io/etcd:3.5.21-0",
			"kube-proxy-a":        "registry.k8s.io/kube-proxy:v1.35.0",
			"ccm-1":               "example.com/ccm:v1.35.0",
			"web-1":               "example.com/web:v1.33.4",
		}
		if got := images(inv); !reflect.DeepEqual(got, want) {
			t.Errorf("images at hop 3: %v, want %v", got, want)
		}
		if inv.ServerVersion != "v1.35.0" {
			t.Errorf("server version at hop 3: %s", inv.ServerVersion)
		}
		kubelets := map[string]string{}
		for _, n := range inv.Nodes {
			kubelets[n.Name] = n.Status.NodeInfo.KubeletVersion
		}
		if want := map[string]string{"cp-1": "v1.35.0", "w-1": "v1.33.4"}; !reflect.DeepEqual(kubelets, want) {
			t.Errorf("kubelets at hop 3: %v, want %v", kubelets, want)
		}
		return errSeen
	})
	if !errors.Is(err, errSeen) {
		t.Fatalf("AtHop returned %v, not f's error", err)
	}
	if !reflect.DeepEqual(inv, before) {
		t.Errorf("the state was not restored after the hop:\n%+v\nwant\n%+v", inv, before)
	}
}

package executor

import (
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// hopComponents are the kube-system components every hop moves to its
// version before the next hop starts: the control plane, the
// cloud-controller-manager and (in the add-on stage) kube-proxy. etcd has
// versions of its own and is left as it is.
var hopComponents = map[string]bool{
	inventory.ComponentAPIServer:         true,
	inventory.ComponentControllerManager: true,
	inventory.ComponentScheduler:         true,
	inventory.ComponentCloudController:   true,
	inventory.ComponentKubeProxy:         true,
}

// AtHop calls f with the cluster as hop i of p would find it when it
// starts: every earlier hop finished, so the control plane, the
// cloud-controller-manager and kube-proxy at hop i's From, and each node's
// kubelet at the version of the last earlier hop that moved it (as it is
// now where none did). Hop 0 starts from the state as it is. The policies
// judge each hop on this state against the hop's own version: that is how
// a plan to a target several minors away is judged by the skew rules hop
// by hop, not all at once.
//
// At 150,000 pods a copy of the state per hop would cost hundreds of
// megabytes, so inv itself is changed for f's duration and restored when
// f returns: f must not keep inv, and nothing may read it concurrently.
func AtHop(inv *inventory.Inventory, p *Plan, i int, f func(*inventory.Inventory) error) error {
	if i <= 0 || i >= len(p.Hops) {
		return f(inv)
	}
	from := p.Hops[i].From
	kubelet := map[string]string{}
	for _, h := range p.Hops[:i] {
		for _, st := range h.Stages {
			for _, n := range st.Nodes {
				kubelet[n.Name] = h.To
			}
		}
	}
	var undo []func()
	defer func() {
		for k := len(undo) - 1; k >= 0; k-- {
			undo[k]()
		}
	}()
	set := func(field *string, v string) {
		old := *field
		*field = v
		undo = append(undo, func() { *field = old })
	}
	set(&inv.ServerVersion, from)
	for j := range inv.Nodes {
		info := &inv.Nodes[j].Status.NodeInfo
		if v, ok := kubelet[inv.Nodes[j].Name]; ok {
			set(&info.KubeletVersion, v)
		}
		if info.KubeProxyVersion != "" { //nolint:staticcheck // moved as the add-on stage moves kube-proxy
			set(&info.KubeProxyVersion, from) //nolint:staticcheck // as above
		}
	}
	for j := range inv.Pods {
		pod := inv.Pods[j]
		if pod.Namespace != "kube-system" {
			continue
		}
		name := pod.Labels["component"]
		if pod.Labels["k8s-app"] == inventory.ComponentKubeProxy {
			name = inventory.ComponentKubeProxy
		}
		if !hopComponents[name] {
			continue
		}
		img := inventory.ComponentImage(pod, name)
		if _, _, ok := kubever.FromImage(img); !ok {
			continue
		}
		for k := range pod.Spec.Containers {
			if c := &pod.Spec.Containers[k]; c.Image == img {
				set(&c.Image, retag(img, from))
			}
		}
	}
	return f(inv)
}

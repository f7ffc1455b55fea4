package inventory

import (
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/kubever"
)

// Role labels and component names, as the contract derives them.
const (
	LabelControlPlane = "node-role.kubernetes.io/control-plane"
	LabelMaster       = "node-role.kubernetes.io/master"
	LabelEtcd         = "node-role.kubernetes.io/etcd"
	LabelIngress      = "node-role.kubernetes.io/ingress"
	LabelStorage      = "node-role.kubernetes.io/storage"

	ComponentAPIServer         = "kube-apiserver"
	ComponentControllerManager = "kube-controller-manager"
	ComponentScheduler         = "kube-scheduler"
	ComponentEtcd              = "etcd"
	ComponentCloudController   = "cloud-controller-manager"
	ComponentKubelet           = "kubelet"
	ComponentKubeProxy         = "kube-proxy"
)

// ControlPlaneComponents are the kube-system pods labelled component=NAME
// whose image tags give the control plane's versions.
var ControlPlaneComponents = []string{
	ComponentAPIServer, ComponentControllerManager, ComponentScheduler, ComponentEtcd, ComponentCloudController,
}

// Roles is what a node does in the cluster. A node may hold several.
type Roles struct {
	ControlPlane bool `json:"controlPlane"`
	Etcd         bool `json:"etcd"`
	Worker       bool `json:"worker"`
	Ingress      bool `json:"ingress"`
	Storage      bool `json:"storage"`
}

// Component is one running instance of a Kubernetes component and the
// version it reports; Version is nil when it cannot be read (a `latest` tag,
// a digest), and no skew rule may guess then.
type Component struct {
	Name      string           `json:"name"`
	Node      string           `json:"node"`
	Namespace string           `json:"namespace,omitempty"`
	Pod       string           `json:"pod,omitempty"`
	Raw       string           `json:"raw"`
	Version   *version.Version `json:"-"`
}

// Known reports whether the component's version could be read.
func (c Component) Known() bool { return c.Version != nil }

// RoleSelectors override how roles are derived (the contract's "selectors
// in config"): a nil selector keeps the default rule for its role; a set
// one makes the role exactly the nodes whose labels it matches.
type RoleSelectors struct {
	ControlPlane, Etcd, Ingress, Storage labels.Selector
}

// ParseRoleSelectors reads label selectors as kubectl -l writes them; an
// empty string leaves that role's default rule.
func ParseRoleSelectors(controlPlane, etcd, ingress, storage string) (RoleSelectors, error) {
	var rs RoleSelectors
	for _, f := range []struct {
		name, in string
		out      *labels.Selector
	}{
		{"controlPlane", controlPlane, &rs.ControlPlane}, {"etcd", etcd, &rs.Etcd},
		{"ingress", ingress, &rs.Ingress}, {"storage", storage, &rs.Storage},
	} {
		if f.in == "" {
			continue
		}
		s, err := labels.Parse(f.in)
		if err != nil {
			return RoleSelectors{}, fmt.Errorf("%w: role selector %s: %v", ErrBadInput, f.name, err)
		}
		*f.out = s
	}
	return rs, nil
}

// NodeRoles derives every node's roles: labels first, then the control-plane
// and etcd pods it hosts. A node that is neither control plane nor etcd is a
// worker.
func (inv *Inventory) NodeRoles() map[string]Roles {
	roles := make(map[string]Roles, len(inv.Nodes))
	sel := inv.RoleSelectors
	for _, n := range inv.Nodes {
		r := Roles{}
		_, cp := n.Labels[LabelControlPlane]
		_, master := n.Labels[LabelMaster]
		_, etcd := n.Labels[LabelEtcd]
		_, r.Ingress = n.Labels[LabelIngress]
		_, r.Storage = n.Labels[LabelStorage]
		r.ControlPlane, r.Etcd = cp || master, etcd
		set := labels.Set(n.Labels)
		for _, o := range []struct {
			sel  labels.Selector
			role *bool
		}{{sel.ControlPlane, &r.ControlPlane}, {sel.Etcd, &r.Etcd}, {sel.Ingress, &r.Ingress}, {sel.Storage, &r.Storage}} {
			if o.sel != nil {
				*o.role = o.sel.Matches(set)
			}
		}
		roles[n.Name] = r
	}
	for i := range inv.Pods {
		p := inv.Pods[i]
		if p.Namespace != "kube-system" || p.Spec.NodeName == "" {
			continue
		}
		r, ok := roles[p.Spec.NodeName]
		if !ok {
			continue
		}
		// A selector from the config is the whole rule for its role: the
		// pods a node hosts only add roles no selector decides.
		switch p.Labels["component"] {
		case ComponentAPIServer:
			r.ControlPlane = r.ControlPlane || sel.ControlPlane == nil
		case ComponentEtcd:
			r.Etcd = r.Etcd || sel.Etcd == nil
		}
		roles[p.Spec.NodeName] = r
	}
	for name, r := range roles {
		r.Worker = !r.ControlPlane && !r.Etcd
		roles[name] = r
	}
	return roles
}

// Components lists every component instance with its version: control-plane
// pods by their image tag, kubelets from node status, and kube-proxy from
// the image of the kube-proxy pod on each node, falling back to the
// deprecated nodeInfo.kubeProxyVersion only where no such pod exists.
// The result is sorted by component, node and pod.
func (inv *Inventory) Components() []Component {
	var out []Component
	proxyOnNode := map[string]bool{}
	// Thousands of kubelets and kube-proxy pods share a few versions:
	// each text is parsed once. Versions are never changed once parsed.
	versions := map[string]*version.Version{}
	parse := func(s string) *version.Version {
		v, ok := versions[s]
		if !ok {
			if pv, err := kubever.Parse(s); err == nil {
				v = pv
			}
			versions[s] = v
		}
		return v
	}
	images := map[string]*version.Version{}
	fromImage := func(img string) *version.Version {
		v, ok := images[img]
		if !ok {
			if _, iv, ok := kubever.FromImage(img); ok {
				v = iv
			}
			images[img] = v
		}
		return v
	}
	for i := range inv.Pods {
		p := inv.Pods[i]
		if p.Namespace != "kube-system" {
			continue
		}
		name := p.Labels["component"]
		if p.Labels["k8s-app"] == ComponentKubeProxy {
			name = ComponentKubeProxy
			proxyOnNode[p.Spec.NodeName] = true
		}
		if !isComponent(name) {
			continue
		}
		img := ComponentImage(p, name)
		c := Component{Name: name, Node: p.Spec.NodeName, Namespace: p.Namespace, Pod: p.Name, Raw: img}
		c.Version = fromImage(img)
		out = append(out, c)
	}
	for _, n := range inv.Nodes {
		kv := n.Status.NodeInfo.KubeletVersion
		c := Component{Name: ComponentKubelet, Node: n.Name, Raw: kv, Version: parse(kv)}
		out = append(out, c)
		if !proxyOnNode[n.Name] && n.Status.NodeInfo.KubeProxyVersion != "" {
			pv := n.Status.NodeInfo.KubeProxyVersion //nolint:staticcheck // only where no kube-proxy pod says better
			c := Component{Name: ComponentKubeProxy, Node: n.Name, Raw: pv, Version: parse(pv)}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Pod < b.Pod
	})
	return out
}

func isComponent(name string) bool {
	if name == ComponentKubeProxy {
		return true
	}
	for _, c := range ControlPlaneComponents {
		if c == name {
			return true
		}
	}
	return false
}

// ComponentImage picks the container that runs the component: the one named
// after it, else the first.
func ComponentImage(p *Pod, name string) string {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return c.Image
		}
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Image
	}
	return ""
}

// ErrUnknownVersion means the current control-plane version could not be
// found; the message tells the user to pass --server-version.
var ErrUnknownVersion = errors.New("the current control-plane version is unknown: pass --server-version (for example --server-version v1.35.2)")

// CurrentVersion finds the control plane's current version, in the
// contract's order: the override (--server-version), the recorded server
// version, then the oldest kube-apiserver image tag among kube-system pods
// labelled component=kube-apiserver. It also says where the version came from.
func (inv *Inventory) CurrentVersion(override string) (*version.Version, string, error) {
	if override != "" {
		v, err := kubever.Parse(override)
		if err != nil {
			return nil, "", fmt.Errorf("%w: --server-version: %v", ErrBadInput, err)
		}
		return v, "--server-version", nil
	}
	if inv.ServerVersion != "" {
		v, err := kubever.Parse(inv.ServerVersion)
		if err != nil {
			return nil, "", fmt.Errorf("%w: recorded server version: %v", ErrBadInput, err)
		}
		return v, "server version", nil
	}
	var oldest *version.Version
	for _, c := range inv.Components() {
		if c.Name == ComponentAPIServer && c.Known() && (oldest == nil || c.Version.LessThan(oldest)) {
			oldest = c.Version
		}
	}
	if oldest == nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadInput, ErrUnknownVersion)
	}
	return oldest, "kube-apiserver image", nil
}

// MirrorAnnotation marks the API server's mirror of a kubelet's static pod.
const MirrorAnnotation = "kubernetes.io/config.mirror"

// Evictable reports whether a drain would evict the pod: bound to a node,
// not a mirror/static pod, not owned by a DaemonSet, not finished.
func Evictable(p *Pod) bool {
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, mirror := p.Annotations[MirrorAnnotation]; mirror {
		return false
	}
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller && (o.Kind == "DaemonSet" || o.Kind == "Node") {
			return false
		}
	}
	return true
}

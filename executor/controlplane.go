package executor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// ControlPlaneVersion is the control plane's version as upgate derives it:
// the oldest image tag of the kube-system pods labelled
// component=kube-apiserver, else the API server's /version. from says
// which, naming the pods.
func ControlPlaneVersion(ctx context.Context, client kubernetes.Interface) (v *version.Version, from string, err error) {
	pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "component=" + inventory.ComponentAPIServer})
	if err != nil {
		return nil, "", fmt.Errorf("list kube-apiserver pods: %w", err)
	}
	var seen []string
	for i := range pods.Items {
		p := &pods.Items[i]
		img := inventory.ComponentImage(inventory.PodOf(p), inventory.ComponentAPIServer)
		_, pv, ok := kubever.FromImage(img)
		if !ok {
			continue
		}
		seen = append(seen, p.Name+" "+kubever.Canonical(pv))
		if v == nil || pv.LessThan(v) {
			v = pv
		}
	}
	if v != nil {
		sort.Strings(seen)
		return v, "kube-apiserver pods: " + strings.Join(seen, ", "), nil
	}
	info, err := client.Discovery().ServerVersion()
	if err != nil {
		return nil, "", fmt.Errorf("read the API server's /version: %w", err)
	}
	if v, err = kubever.Parse(info.GitVersion); err != nil {
		return nil, "", fmt.Errorf("the API server's /version: %w", err)
	}
	return v, "the API server's /version " + info.GitVersion, nil
}

// nodeControlPlaneVersion is the oldest version of the control-plane
// components (kube-apiserver, controller-manager, scheduler) whose
// kube-system pods run on the node, else its kubelet's: what a hop moves
// on an etcd or control-plane node.
func nodeControlPlaneVersion(ctx context.Context, client kubernetes.Interface, node *corev1.Node) (*version.Version, error) {
	pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{
		LabelSelector: "component in (" + strings.Join(kwokComponents, ",") + ")",
		FieldSelector: "spec.nodeName=" + node.Name,
	})
	if err != nil {
		return nil, fmt.Errorf("list control-plane pods on %s: %w", node.Name, err)
	}
	var v *version.Version
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName != node.Name {
			continue
		}
		if _, pv, ok := kubever.FromImage(inventory.ComponentImage(inventory.PodOf(p), p.Labels["component"])); ok && (v == nil || pv.LessThan(v)) {
			v = pv
		}
	}
	if v != nil {
		return v, nil
	}
	return kubever.Parse(node.Status.NodeInfo.KubeletVersion)
}

// waitControlPlane waits, looking every PollInterval for up to
// ControlPlaneTimeout, until the control plane reports the hop's version.
func (r *Runner) waitControlPlane(parent context.Context, hop HopRef, t Target) error {
	ctx, cancel := context.WithTimeout(parent, r.ControlPlaneTimeout)
	defer cancel()
	var last string
	for {
		v, from, err := ControlPlaneVersion(ctx, r.Client)
		switch {
		case err != nil:
			last = err.Error()
		case atOrPast(v, t):
			r.printf("[%s] control plane at %s (%s)\n", hop, kubever.Canonical(v), from)
			return nil
		default:
			last = kubever.Canonical(v) + " (" + from + ")"
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("%w: %s: interrupted (%v) while waiting for the control plane to report %s; no node of the next stage was touched", ErrStopped, hop, context.Cause(parent), t.Label)
			}
			return fmt.Errorf("%w: %s: the control plane did not report %s within %s (last seen: %s); no node of the next hop was touched: once it does, `upgate run` again continues",
				ErrControlPlaneBehind, hop, t.Label, r.ControlPlaneTimeout, last)
		case <-time.After(r.PollInterval):
		}
	}
}

package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// KwokDriver simulates an upgrade on kwok nodes: it sets the node's
// nodeInfo.kubeletVersion (and kubeProxyVersion) to the target through the
// status subresource and, on a control-plane node, the image tags of its
// kube-system mirror pods (component=kube-apiserver, kube-controller-manager,
// kube-scheduler). A target given as a minor (v1.37) becomes its .0 release.
//
// In the cloud-controller-manager stage it sets the image tag of the CCM
// container of every kube-system Deployment and DaemonSet labelled
// component=cloud-controller-manager (and of such mirror pods) to the hop's
// version, and waits until the rollout has replaced every pod.
type KwokDriver struct {
	Client kubernetes.Interface
	Out    io.Writer
	// RolloutTimeout bounds the wait for a CCM Deployment or DaemonSet to
	// finish its rollout. Zero means 5m.
	RolloutTimeout time.Duration
	// PollInterval is how often that wait looks again. Zero means 1s.
	PollInterval time.Duration
}

var (
	_ Driver                  = (*KwokDriver)(nil)
	_ AddonUpgrader           = (*KwokDriver)(nil)
	_ CloudControllerUpgrader = (*KwokDriver)(nil)
)

// kwokComponents are the mirror pods the kwok driver moves to the target.
var kwokComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// EtcdBackup has nothing to back up: a kwok cluster's nodes hold no etcd
// data. It says so rather than pretending.
func (d *KwokDriver) EtcdBackup(context.Context) error {
	_, err := fmt.Fprintf(d.Out, "[%s] kwok driver: simulated nodes hold no etcd data, so there is nothing to back up; the driver took no backup of its own\n", StageEtcdBackup)
	return err
}

// Upgrade sets the node's versions to the target.
func (d *KwokDriver) Upgrade(ctx context.Context, node *corev1.Node, target string) error {
	t, err := ParseTarget(target)
	if err != nil {
		return err
	}
	v := t.Full()
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"nodeInfo": map[string]any{
		"kubeletVersion": v, "kubeProxyVersion": v,
	}}})
	if err != nil {
		return err
	}
	if _, err := d.Client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patch node %s status: %w", node.Name, err)
	}
	pods, err := d.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{
		LabelSelector: "component in (" + strings.Join(kwokComponents, ",") + ")",
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node.Name).String(),
	})
	if err != nil {
		return fmt.Errorf("list control-plane pods on %s: %w", node.Name, err)
	}
	for _, p := range pods.Items {
		var containers []map[string]string
		for _, c := range p.Spec.Containers {
			if img := retag(c.Image, v); img != c.Image {
				containers = append(containers, map[string]string{"name": c.Name, "image": img})
			}
		}
		if len(containers) == 0 {
			continue
		}
		patch, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": containers}})
		if err != nil {
			return err
		}
		if _, err := d.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("set image of %s/%s: %w", p.Namespace, p.Name, err)
		}
		fmt.Fprintf(d.Out, "[%s %s] kwok driver: %s/%s image tag -> %s\n", StageOf(ctx), node.Name, p.Namespace, p.Name, v)
	}
	fmt.Fprintf(d.Out, "[%s %s] kwok driver: kubelet and kube-proxy versions -> %s\n", StageOf(ctx), node.Name, v)
	return nil
}

// UpgradeAddons sets the image tag of the kube-system kube-proxy DaemonSet
// (label k8s-app=kube-proxy) to the target; its controller then replaces
// the pods, which kwok runs. Other add-ons (CoreDNS) follow their own
// versions, not Kubernetes', and are left alone.
func (d *KwokDriver) UpgradeAddons(ctx context.Context, target string) error {
	t, err := ParseTarget(target)
	if err != nil {
		return err
	}
	v := t.Full()
	dss, err := d.Client.AppsV1().DaemonSets("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-proxy"})
	if err != nil {
		return fmt.Errorf("list kube-proxy DaemonSets: %w", err)
	}
	for _, ds := range dss.Items {
		var containers []map[string]string
		for _, c := range ds.Spec.Template.Spec.Containers {
			if img := retag(c.Image, v); img != c.Image {
				containers = append(containers, map[string]string{"name": c.Name, "image": img})
			}
		}
		if len(containers) == 0 {
			continue
		}
		patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": containers}}}})
		if err != nil {
			return err
		}
		if _, err := d.Client.AppsV1().DaemonSets(ds.Namespace).Patch(ctx, ds.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("set image of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		fmt.Fprintf(d.Out, "[%s] kwok driver: DaemonSet %s/%s image tag -> %s\n", StageAddons, ds.Namespace, ds.Name, v)
	}
	return nil
}

// UpgradeCloudController moves the cloud-controller-manager to the target:
// the image tag of the CCM container (the one named
// cloud-controller-manager, else the first, as the roles read a pod's
// version) of every kube-system Deployment and DaemonSet labelled
// component=cloud-controller-manager, then waits until each rollout has
// replaced every pod, which kwok runs; and the image of such mirror pods
// (static pods), as Upgrade does for the control plane's. It is
// idempotent: a tag at or past the target is left as it is (the rollout
// is still waited for), so a resumed run's second call changes nothing.
// A digest, or a tag that is no version, is left alone and said so.
func (d *KwokDriver) UpgradeCloudController(ctx context.Context, target string) error {
	t, err := ParseTarget(target)
	if err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: CloudControllerSelector}
	deps, err := d.Client.AppsV1().Deployments("kube-system").List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list cloud-controller-manager Deployments: %w", err)
	}
	dss, err := d.Client.AppsV1().DaemonSets("kube-system").List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list cloud-controller-manager DaemonSets: %w", err)
	}
	pods, err := d.Client.CoreV1().Pods("kube-system").List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list cloud-controller-manager pods: %w", err)
	}
	found := false
	for _, dep := range deps.Items {
		found = true
		name := "Deployment " + dep.Namespace + "/" + dep.Name
		if err := d.retagTemplate(name, &dep.Spec.Template.Spec, t, func(patch []byte) error {
			_, err := d.Client.AppsV1().Deployments(dep.Namespace).Patch(ctx, dep.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		}); err != nil {
			return err
		}
		if err := d.waitRollout(ctx, name, func(ctx context.Context) (bool, string, error) {
			x, err := d.Client.AppsV1().Deployments(dep.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			return deploymentRolledOut(x)
		}); err != nil {
			return err
		}
	}
	for _, ds := range dss.Items {
		found = true
		name := "DaemonSet " + ds.Namespace + "/" + ds.Name
		if err := d.retagTemplate(name, &ds.Spec.Template.Spec, t, func(patch []byte) error {
			_, err := d.Client.AppsV1().DaemonSets(ds.Namespace).Patch(ctx, ds.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		}); err != nil {
			return err
		}
		if err := d.waitRollout(ctx, name, func(ctx context.Context) (bool, string, error) {
			x, err := d.Client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			return daemonSetRolledOut(x)
		}); err != nil {
			return err
		}
	}
	for _, p := range pods.Items {
		if _, mirror := p.Annotations[inventory.MirrorAnnotation]; !mirror {
			continue
		}
		found = true
		name := "mirror pod " + p.Namespace + "/" + p.Name
		if err := d.retagCCM(name, p.Spec.Containers, t, func(containers []map[string]string) error {
			patch, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": containers}})
			if err != nil {
				return err
			}
			_, err = d.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		}); err != nil {
			return err
		}
	}
	if !found {
		fmt.Fprintf(d.Out, "[%s] kwok driver: no Deployment, DaemonSet or mirror pod in kube-system labelled %s: nothing to move\n", StageCloudCtrl, CloudControllerSelector)
	}
	return nil
}

// retagTemplate sets the CCM container's image tag in a pod template to
// the target through patch (a strategic merge of spec.template.spec).
func (d *KwokDriver) retagTemplate(name string, spec *corev1.PodSpec, t Target, patch func([]byte) error) error {
	return d.retagCCM(name, spec.Containers, t, func(containers []map[string]string) error {
		b, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": containers}}}})
		if err != nil {
			return err
		}
		return patch(b)
	})
}

// retagCCM moves the CCM container among containers to the target through
// apply, unless its tag is at or past the target already or is no version.
func (d *KwokDriver) retagCCM(name string, containers []corev1.Container, t Target, apply func([]map[string]string) error) error {
	i := ccmContainer(containers)
	if i < 0 {
		fmt.Fprintf(d.Out, "[%s] kwok driver: %s has no container: left as it is\n", StageCloudCtrl, name)
		return nil
	}
	c := containers[i]
	tag, v, ok := kubever.FromImage(c.Image)
	switch {
	case !ok:
		fmt.Fprintf(d.Out, "[%s] kwok driver: %s image %s carries no version tag (%q): left as it is\n", StageCloudCtrl, name, c.Image, tag)
		return nil
	case atOrPast(v, t):
		fmt.Fprintf(d.Out, "[%s] kwok driver: %s already at %s\n", StageCloudCtrl, name, tag)
		return nil
	}
	img := retag(c.Image, t.Full())
	if err := apply([]map[string]string{{"name": c.Name, "image": img}}); err != nil {
		return fmt.Errorf("set image of %s: %w", name, err)
	}
	fmt.Fprintf(d.Out, "[%s] kwok driver: %s image tag %s -> %s\n", StageCloudCtrl, name, tag, t.Full())
	return nil
}

// ccmContainer is the index of the cloud-controller-manager container: the
// one so named, else the first; -1 when there is none.
func ccmContainer(cs []corev1.Container) int {
	for i, c := range cs {
		if c.Name == inventory.ComponentCloudController {
			return i
		}
	}
	if len(cs) > 0 {
		return 0
	}
	return -1
}

// waitRollout looks every PollInterval, for up to RolloutTimeout, until
// done says the workload's rollout is finished.
func (d *KwokDriver) waitRollout(parent context.Context, name string, done func(context.Context) (bool, string, error)) error {
	timeout, every := d.RolloutTimeout, d.PollInterval
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if every <= 0 {
		every = time.Second
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	var last string
	for {
		ok, status, err := done(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case ok:
			fmt.Fprintf(d.Out, "[%s] kwok driver: %s rolled out (%s)\n", StageCloudCtrl, name, status)
			return nil
		default:
			last = status
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("%s: rollout not finished when the stage stopped (%v); last seen: %s", name, context.Cause(parent), last)
			}
			return fmt.Errorf("%s: rollout not finished within %s; last seen: %s", name, timeout, last)
		case <-time.After(every):
		}
	}
}

// deploymentRolledOut is kubectl rollout status's test: the controller
// saw the latest spec, every replica is updated and available, and no old
// one is left.
func deploymentRolledOut(x *appsv1.Deployment) (bool, string, error) {
	want := int32(1)
	if x.Spec.Replicas != nil {
		want = *x.Spec.Replicas
	}
	st := x.Status
	status := fmt.Sprintf("%d of %d replicas updated, %d available, %d in all, generation %d observed %d",
		st.UpdatedReplicas, want, st.AvailableReplicas, st.Replicas, x.Generation, st.ObservedGeneration)
	return st.ObservedGeneration >= x.Generation && st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want, status, nil
}

// daemonSetRolledOut: the controller saw the latest spec and every
// scheduled pod is updated and available.
func daemonSetRolledOut(x *appsv1.DaemonSet) (bool, string, error) {
	st := x.Status
	status := fmt.Sprintf("%d of %d pods updated, %d available, generation %d observed %d",
		st.UpdatedNumberScheduled, st.DesiredNumberScheduled, st.NumberAvailable, x.Generation, st.ObservedGeneration)
	return st.ObservedGeneration >= x.Generation && st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberAvailable == st.DesiredNumberScheduled, status, nil
}

// retag replaces an image's tag (a registry port is not a tag; a digest
// reference is left alone).
func retag(image, tag string) string {
	if strings.Contains(image, "@") {
		return image
	}
	name, _, _ := kubever.SplitImage(image)
	return name + ":" + tag
}

// DefaultKillGrace is how long a driver command's processes have between
// SIGTERM and SIGKILL, as a Pod's default termination grace period gives
// its containers 30s and kubelet's own shutdown far less: 10s lets a
// script's trap clean up without keeping a stopped run waiting long.
const DefaultKillGrace = 10 * time.Second

// CommandDriver runs a shell command for each node (and once for the etcd
// backup) with UPGATE_NODE, UPGATE_TARGET and UPGATE_STAGE in its
// environment; its output is streamed with a node prefix, and a non-zero
// exit fails the node.
//
// The command runs in a process group of its own, and the group dies with
// the call: when the context is done (the run stopped, the lock was lost,
// the driver timeout passed) every process in it gets SIGTERM, then
// SIGKILL after KillGrace, and the call returns. A script's children must
// not go on upgrading a node after upgate has marked it failed and given
// the lock to the next run. Processes a command leaves behind when it
// exits are ended the same way.
type CommandDriver struct {
	// Command is run with /bin/sh -c.
	Command     string
	Out, ErrOut io.Writer
	// KillGrace is the time between SIGTERM and SIGKILL to the command's
	// processes once they must stop. Zero means 10s.
	KillGrace time.Duration

	mu     sync.Mutex
	backup backupScanner // where the etcd backup is kept, if it says
}

var (
	_ Driver                  = (*CommandDriver)(nil)
	_ AddonUpgrader           = (*CommandDriver)(nil)
	_ CloudControllerUpgrader = (*CommandDriver)(nil)
)

// UpgradeCloudController runs the command once per hop with
// UPGATE_STAGE=cloud-controller-manager, the hop's version in
// UPGATE_TARGET and no node, after the control plane and before any
// worker. A resumed run calls it again unless every cloud-controller-manager
// pod is already at the hop's version: the command must be idempotent.
func (d *CommandDriver) UpgradeCloudController(ctx context.Context, target string) error {
	return d.run(ctx, "", target, StageCloudCtrl)
}

// UpgradeAddons runs the command once with UPGATE_STAGE=addons and no node.
func (d *CommandDriver) UpgradeAddons(ctx context.Context, target string) error {
	return d.run(ctx, "", target, StageAddons)
}

// EtcdBackup runs the command with UPGATE_STAGE=etcd-backup and no node;
// UPGATE_ETCD_SNAPSHOT is the path of the snapshot upgate just took, when
// it took one (--etcd-endpoints).
func (d *CommandDriver) EtcdBackup(ctx context.Context) error {
	d.backup.reset()
	return d.run(ctx, "", "", StageEtcdBackup)
}

// Upgrade runs the command for the node.
func (d *CommandDriver) Upgrade(ctx context.Context, node *corev1.Node, target string) error {
	return d.run(ctx, node.Name, target, StageOf(ctx))
}

func (d *CommandDriver) run(ctx context.Context, node, target string, stage StageName) error {
	grace := d.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", d.Command)
	cmd.Env = append(os.Environ(), "UPGATE_NODE="+node, "UPGATE_TARGET="+target, "UPGATE_STAGE="+string(stage))
	if snap := EtcdSnapshotOf(ctx); snap != "" {
		cmd.Env = append(cmd.Env, "UPGATE_ETCD_SNAPSHOT="+snap)
	}
	label := string(stage)
	if node != "" {
		label += " " + node
	}
	out := &prefixWriter{mu: &d.mu, w: d.Out, prefix: "[" + label + "] | "}
	errOut := &prefixWriter{mu: &d.mu, w: d.ErrOut, prefix: "[" + label + "] | "}
	cmd.Stdout, cmd.Stderr = out, errOut
	if stage == StageEtcdBackup {
		cmd.Stdout = io.MultiWriter(out, &d.backup)
	}
	group := ownProcessGroup(cmd)
	// Once the group was told to stop, Wait gives it the grace, then kills
	// the shell and stops waiting for output from the rest.
	cmd.WaitDelay = grace
	err := cmd.Run()
	left := group.end(grace)
	out.Flush()
	errOut.Flush()
	if ctx.Err() != nil {
		return fmt.Errorf("driver command %q stopped: %w; it was sent SIGTERM, and SIGKILL after %s, with every process it started", d.Command, context.Cause(ctx), grace)
	}
	if left {
		_, _ = fmt.Fprintf(errOut, "driver command left processes running when it exited; they were stopped (SIGTERM, SIGKILL after %s)\n", grace)
		errOut.Flush()
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited 0; a process it left behind held its output open.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("driver command %q: %v", d.Command, err)
	}
	return nil
}

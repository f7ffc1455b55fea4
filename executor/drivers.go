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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// KwokDriver simulates an upgrade on kwok nodes: it sets the node's
// nodeInfo.kubeletVersion (and kubeProxyVersion) to the target through the
// status subresource and, on a control-plane node, the image tags of its
// kube-system mirror pods (component=kube-apiserver, kube-controller-manager,
// kube-scheduler). A target given as a minor (v1.37) becomes its .0 release.
type KwokDriver struct {
	Client kubernetes.Interface
	Out    io.Writer
}

var (
	_ Driver        = (*KwokDriver)(nil)
	_ AddonUpgrader = (*KwokDriver)(nil)
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

// retag replaces an image's tag (a registry port is not a tag; a digest
// reference is left alone).
func retag(image, tag string) string {
	if strings.Contains(image, "@") {
		return image
	}
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		image = image[:colon]
	}
	return image + ":" + tag
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
	_ Driver        = (*CommandDriver)(nil)
	_ AddonUpgrader = (*CommandDriver)(nil)
)

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

package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// testRules are the Kubernetes skew policy's kubelet windows with a little
// release data: 1.36's newest known patch is 1.36.6.
var testRules = HopRules{
	LatestPatch:           map[string]int{"1.36": 6},
	KubeletMaxMinorsOlder: 3, KubeletLegacyBelowMinor: 25, KubeletLegacyMaxMinorsOlder: 2,
}

func kubeletNode(name, kubelet string, labels map[string]string) *corev1.Node {
	n := node(name, labels)
	n.Status.NodeInfo.KubeletVersion = kubelet
	return n
}

// hopsOf renders a plan's hops as "from>to" and, per node, the versions
// it is taken to: "cp-1: v1.36.6 v1.37".
func hopsOf(p *Plan) (hops string, moves map[string]string) {
	var hs []string
	moves = map[string]string{}
	for _, h := range p.Hops {
		hs = append(hs, h.From+">"+h.To)
		for _, st := range h.Stages {
			for _, n := range st.Nodes {
				moves[n.Name] = strings.TrimSpace(moves[n.Name] + " " + h.To)
			}
		}
	}
	return strings.Join(hs, " "), moves
}

// TestHopSchedule: control-plane nodes move in every hop of the control
// plane; a worker only when staying would leave it outside the kubelet
// window of the next hop's control plane (3 minors, 2 below 1.25), and
// always in the last hop.
func TestHopSchedule(t *testing.T) {
	cp := map[string]string{inventory.LabelControlPlane: ""}
	tests := []struct {
		name            string
		current, target string
		cpKubelet       string
		workers         map[string]string // worker -> kubelet
		rules           HopRules
		wantHops        string
		want            map[string]string // node -> hop versions it moves in
	}{
		{
			name: "1.35 -> 1.37: workers in the last hop only", current: "v1.35.2", target: "v1.37", cpKubelet: "v1.35.2",
			workers:  map[string]string{"w-1": "v1.35.2"},
			wantHops: "v1.35.2>v1.36.6 v1.36.6>v1.37",
			want:     map[string]string{"cp-1": "v1.36.6 v1.37", "w-1": "v1.37"},
		},
		{
			name: "1.33 -> 1.37: a 1.33 kubelet must move before 1.37's control plane", current: "v1.33.4", target: "v1.37", cpKubelet: "v1.33.4",
			workers:  map[string]string{"w-33": "v1.33.4", "w-34": "v1.34.1"},
			wantHops: "v1.33.4>v1.34.0 v1.34.0>v1.35.0 v1.35.0>v1.36.6 v1.36.6>v1.37",
			want: map[string]string{
				"cp-1": "v1.34.0 v1.35.0 v1.36.6 v1.37",
				"w-33": "v1.36.6 v1.37", // 1.37 would be 4 minors ahead of 1.33
				"w-34": "v1.37",         // 1.37 is 3 ahead of 1.34: inside
			},
		},
		{
			name: "1.22 -> 1.26: below 1.25 a kubelet may be only 2 minors behind", current: "v1.22.3", target: "v1.26", cpKubelet: "v1.22.3",
			workers:  map[string]string{"w-22": "v1.22.3", "w-23": "v1.23.1"},
			wantHops: "v1.22.3>v1.23.0 v1.23.0>v1.24.0 v1.24.0>v1.25.0 v1.25.0>v1.26",
			want: map[string]string{
				"cp-1": "v1.23.0 v1.24.0 v1.25.0 v1.26",
				"w-22": "v1.24.0 v1.26", // 1.25 is 3 ahead of 1.22; 1.26 is 2 ahead of 1.24
				"w-23": "v1.25.0 v1.26", // 1.26 is 3 ahead of 1.23, a pre-1.25 kubelet
			},
		},
		{
			name: "1.22 -> 1.26 if every window were 3", current: "v1.22.3", target: "v1.26", cpKubelet: "v1.22.3",
			workers:  map[string]string{"w-22": "v1.22.3"},
			rules:    HopRules{KubeletMaxMinorsOlder: 3, KubeletLegacyMaxMinorsOlder: 3},
			wantHops: "v1.22.3>v1.23.0 v1.23.0>v1.24.0 v1.24.0>v1.25.0 v1.25.0>v1.26",
			want:     map[string]string{"cp-1": "v1.23.0 v1.24.0 v1.25.0 v1.26", "w-22": "v1.25.0 v1.26"},
		},
		{
			name: "zero windows move every worker in every hop", current: "v1.35.2", target: "v1.37", cpKubelet: "v1.35.2",
			workers:  map[string]string{"w-1": "v1.35.2"},
			rules:    HopRules{},
			wantHops: "v1.35.2>v1.36.0 v1.36.0>v1.37",
			want:     map[string]string{"cp-1": "v1.36.0 v1.37", "w-1": "v1.36.0 v1.37"},
		},
		{
			name: "a worker at the edge of the window catches up before the control plane moves", current: "v1.24.17", target: "v1.26", cpKubelet: "v1.24.17",
			workers:  map[string]string{"w-22": "v1.22.3"},
			wantHops: "v1.24.17>v1.24.17 v1.24.17>v1.25.0 v1.25.0>v1.26",
			want:     map[string]string{"cp-1": "v1.25.0 v1.26", "w-22": "v1.24.17 v1.26"},
		},
		{
			name: "control plane at the target: one hop for the nodes behind", current: "v1.37.0", target: "v1.37", cpKubelet: "v1.37.0",
			workers:  map[string]string{"w-old": "v1.35.2", "w-new": "v1.37.1"},
			wantHops: "v1.37.0>v1.37",
			want:     map[string]string{"w-old": "v1.37"},
		},
		{
			name: "one minor: one hop, control-plane kubelets behind their API server go with it", current: "v1.36.3", target: "v1.37", cpKubelet: "v1.35.2",
			workers:  map[string]string{"w-1": "v1.35.2"},
			wantHops: "v1.36.3>v1.37",
			want:     map[string]string{"cp-1": "v1.37", "w-1": "v1.37"},
		},
		{
			name: "downgrade: no hops", current: "v1.36.3", target: "v1.35", cpKubelet: "v1.36.3",
			workers: map[string]string{"w-1": "v1.36.3"}, wantHops: "", want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{Nodes: []*corev1.Node{kubeletNode("cp-1", tt.cpKubelet, cp)}}
			for name, k := range tt.workers {
				inv.Nodes = append(inv.Nodes, kubeletNode(name, k, nil))
			}
			rules := testRules
			if tt.rules.KubeletMaxMinorsOlder != 0 || tt.name == "zero windows move every worker in every hop" {
				rules = tt.rules
			}
			c, _ := kubever.Parse(tt.current)
			g, _ := kubever.Parse(tt.target)
			p := NewPlan(inv, c, g, tt.target, nil, PlanOptions{Rules: rules})
			hops, moves := hopsOf(p)
			if hops != tt.wantHops {
				t.Errorf("hops %q, want %q", hops, tt.wantHops)
			}
			if fmt.Sprint(moves) != fmt.Sprint(tt.want) {
				t.Errorf("moves %v, want %v", moves, tt.want)
			}
		})
	}
}

// hopCluster is a fake cluster whose control-plane nodes carry
// kube-apiserver mirror pods, and the inventory a plan is made from.
type hopCluster struct {
	cs  *fake.Clientset
	inv *inventory.Inventory
}

func newHopCluster(t *testing.T, cpNodes, workers []string, kubelet string, ann map[string]map[string]string) *hopCluster {
	t.Helper()
	var objs []runtime.Object
	inv := &inventory.Inventory{}
	for _, name := range cpNodes {
		n := liveNode(name, kubelet, ann[name], ann[name][AnnotationCordonedBy] == CordonedByUpgate)
		n.Labels = map[string]string{inventory.LabelControlPlane: ""}
		if v := ann[name]["test/kubelet"]; v != "" {
			n.Status.NodeInfo.KubeletVersion = v
		}
		apiTag := n.Status.NodeInfo.KubeletVersion
		if v := ann[name]["test/apiserver"]; v != "" {
			apiTag = v
		}
		pod := corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-apiserver-" + name,
				Labels:      map[string]string{"component": "kube-apiserver"},
				Annotations: map[string]string{inventory.MirrorAnnotation: "x"}},
			Spec: corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{Name: "kube-apiserver", Image: "registry.k8s.io/kube-apiserver:" + apiTag}}},
		}
		objs = append(objs, n, &pod)
		inv.Nodes = append(inv.Nodes, n.DeepCopy())
		inv.Pods = append(inv.Pods, inventory.PodOf(pod.DeepCopy()))
	}
	for _, name := range workers {
		n := liveNode(name, kubelet, ann[name], false)
		objs = append(objs, n)
		inv.Nodes = append(inv.Nodes, n.DeepCopy())
	}
	return &hopCluster{cs: fake.NewClientset(objs...), inv: inv}
}

func (c *hopCluster) plan(t *testing.T, current, target string, opts PlanOptions) *Plan {
	t.Helper()
	cv, err := kubever.Parse(current)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := kubever.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Rules.LatestPatch == nil {
		opts.Rules = testRules
	}
	return NewPlan(c.inv, cv, tv, target, nil, opts)
}

// driverCall is one call a recordingDriver saw, with the cluster as it
// was when the call came.
type driverCall struct {
	stage     StageName
	node      string
	version   string
	hop       HopRef
	apiserver string // the control plane's version (oldest kube-apiserver)
	nodeCP    string // the node's own kube-apiserver, for control-plane nodes
	ccm       string // the oldest cloud-controller-manager pod's version, if any
}

func (c driverCall) String() string {
	if c.node == "" {
		return fmt.Sprintf("%s@%s", c.stage, c.version)
	}
	return fmt.Sprintf("%s/%s@%s", c.stage, c.node, c.version)
}

// recordingDriver records every call and does what a real upgrade does to
// what upgate can see: the kubelet version moves at once; the node's
// kube-apiserver mirror pod follows later, as a restarting static pod's
// would: only once upgate has looked at the control plane's version twice
// more. So a run that does not wait sees the old version.
type recordingDriver struct {
	client *fake.Clientset
	// frozen: the mirror pods never move (a control plane that does not
	// come up at the new version).
	frozen bool
	// ccmFrozen: the cloud-controller-manager pods never move (a CCM
	// whose rollout does not finish).
	ccmFrozen bool

	mu      sync.Mutex
	calls   []driverCall
	pending []*lateImage
}

// lateImage is a pod's new image, set after left more looks at the pods
// its selector lists.
type lateImage struct {
	pod, image, selector string
	left                 int
}

func newRecordingDriver(c *hopCluster) *recordingDriver {
	d := &recordingDriver{client: c.cs}
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	c.cs.PrependReactor("list", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		l, ok := a.(clienttesting.ListAction)
		if !ok || l.GetNamespace() != "kube-system" {
			return false, nil, nil
		}
		sel := l.GetListRestrictions().Labels.String()
		d.mu.Lock()
		defer d.mu.Unlock()
		var still []*lateImage
		for _, li := range d.pending {
			if li.selector != sel {
				still = append(still, li)
				continue
			}
			if li.left--; li.left > 0 {
				still = append(still, li)
				continue
			}
			obj, err := c.cs.Tracker().Get(gvr, "kube-system", li.pod)
			if err != nil {
				return true, nil, err
			}
			pod := obj.(*corev1.Pod).DeepCopy()
			pod.Spec.Containers[0].Image = li.image
			if err := c.cs.Tracker().Update(gvr, pod, "kube-system"); err != nil {
				return true, nil, err
			}
		}
		d.pending = still
		return false, nil, nil
	})
	return d
}

func (d *recordingDriver) record(ctx context.Context, stage StageName, node *corev1.Node, version string) {
	hop, _ := HopOf(ctx)
	c := driverCall{stage: stage, version: version, hop: hop}
	if v, _, err := ControlPlaneVersion(ctx, d.client); err == nil {
		c.apiserver = kubever.Canonical(v)
	}
	if pods, err := d.client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "ccm-test=true"}); err == nil {
		for _, p := range pods.Items {
			_, v, ok := kubever.FromImage(p.Spec.Containers[0].Image)
			if old, err := kubever.Parse(c.ccm); ok && (err != nil || v.LessThan(old)) {
				c.ccm = kubever.Canonical(v)
			}
		}
	}
	if node != nil {
		c.node = node.Name
		if pod, err := d.client.CoreV1().Pods("kube-system").Get(ctx, "kube-apiserver-"+node.Name, metav1.GetOptions{}); err == nil {
			_, v, _ := kubever.FromImage(pod.Spec.Containers[0].Image)
			c.nodeCP = kubever.Canonical(v)
		}
	}
	d.mu.Lock()
	d.calls = append(d.calls, c)
	d.mu.Unlock()
}

func (d *recordingDriver) EtcdBackup(ctx context.Context) error {
	hop, _ := HopOf(ctx)
	d.record(ctx, StageEtcdBackup, nil, hop.To)
	return nil
}

func (d *recordingDriver) UpgradeAddons(ctx context.Context, target string) error {
	d.record(ctx, StageAddons, nil, target)
	return nil
}

// UpgradeCloudController records the call and moves the
// cloud-controller-manager pods' images to the target late, as a rollout
// would: after two more looks at them.
func (d *recordingDriver) UpgradeCloudController(ctx context.Context, target string) error {
	d.record(ctx, StageCloudCtrl, nil, target)
	if d.ccmFrozen {
		return nil
	}
	pods, err := d.client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "ccm-test=true"})
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range pods.Items {
		d.pending = append(d.pending, &lateImage{pod: p.Name, image: retag(p.Spec.Containers[0].Image, mustTargetNoT(target).Full()),
			selector: CloudControllerSelector, left: 2})
	}
	return nil
}

func (d *recordingDriver) Upgrade(ctx context.Context, n *corev1.Node, target string) error {
	d.record(ctx, StageOf(ctx), n, target)
	full := mustTargetNoT(target).Full()
	node, err := d.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	node.Status.NodeInfo.KubeletVersion = full
	if _, err := d.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return err
	}
	pod, err := d.client.CoreV1().Pods("kube-system").Get(ctx, "kube-apiserver-"+n.Name, metav1.GetOptions{})
	if err != nil || d.frozen {
		return nil // a worker, or a control plane that does not move
	}
	d.mu.Lock()
	d.pending = append(d.pending, &lateImage{pod: pod.Name, image: retag(pod.Spec.Containers[0].Image, full), selector: "component=kube-apiserver", left: 2})
	d.mu.Unlock()
	return nil
}

func (d *recordingDriver) sequence() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.calls {
		out = append(out, c.String())
	}
	return strings.Join(out, " ")
}

func hopRunner(t *testing.T, c *hopCluster, d Driver) (*Runner, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	r, err := NewRunner(&Runner{Client: c.cs, Out: &out, ErrOut: &out, Driver: d, Gate: noFindings,
		PollInterval: time.Millisecond, ReadyTimeout: 2 * time.Second, ControlPlaneTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r, &out
}

// checkCalls holds every call to the contract: the driver gets the
// version of the hop it is called in; a control-plane node's API server
// never goes more than one minor at once; the control plane is never
// more than one minor behind a call; and no worker is taken past the
// control plane, which has reported the hop's version before any worker
// of the hop is touched.
func checkCalls(t *testing.T, d *recordingDriver) {
	t.Helper()
	for _, c := range d.calls {
		if c.hop.To != c.version {
			t.Errorf("%s: called in %s with another version", c, c.hop)
		}
		v, _ := kubever.Parse(c.version)
		api, err := kubever.Parse(c.apiserver)
		if err != nil {
			t.Errorf("%s: no control-plane version recorded", c)
			continue
		}
		if minorsAhead(v, api) > 1 {
			t.Errorf("%s: the control plane was at %s, two minors away", c, c.apiserver)
		}
		switch c.stage {
		case StageEtcd, StageControlPlane:
			own, _ := kubever.Parse(c.nodeCP)
			if own == nil || minorsAhead(v, own) != 1 {
				t.Errorf("%s: the node's kube-apiserver was at %s: not one minor below the call", c, c.nodeCP)
			}
		case StageCloudCtrl:
			if !atOrPast(api, mustTargetNoT(c.version)) {
				t.Errorf("%s: the control plane was at %s: the cloud-controller-manager would be newer than kube-apiserver", c, c.apiserver)
			}
		case StageWorkers:
			if !atOrPast(api, mustTargetNoT(c.version)) {
				t.Errorf("%s: the control plane was at %s: a worker would be newer than kube-apiserver", c, c.apiserver)
			}
			if ccm, err := kubever.Parse(c.ccm); c.ccm != "" && (err != nil || minorsAhead(v, ccm) > 0) {
				t.Errorf("%s: the cloud-controller-manager was at %s: a worker started before it reached the hop's minor", c, c.ccm)
			}
		}
	}
}

// TestRunTwoHopsCallsTheDriverHopByHop: kubelets and kube-apiservers at
// v1.35.2, target v1.37. Each hop's control-plane nodes go first, the run
// waits until the (late) mirror pods report the hop's version, and the
// workers go once, in the last hop, after the control plane is at v1.37.
// Without the wait, hop 2 would find a kube-apiserver still at v1.35.2.
func TestRunTwoHopsCallsTheDriverHopByHop(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1", "cp-2"}, []string{"w-1", "w-2"}, "v1.35.2", nil)
	p := c.plan(t, "v1.35.2", "v1.37", PlanOptions{})
	d := newRecordingDriver(c)
	r, out := hopRunner(t, c, d)
	res, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	want := "etcd-backup@v1.36.6 control-plane/cp-1@v1.36.6 control-plane/cp-2@v1.36.6 addons@v1.36.6 " +
		"etcd-backup@v1.37 control-plane/cp-1@v1.37 control-plane/cp-2@v1.37 workers/w-1@v1.37 workers/w-2@v1.37 addons@v1.37"
	if got := d.sequence(); got != want {
		t.Errorf("driver calls\n got %s\nwant %s", got, want)
	}
	checkCalls(t, d)
	// Hop 2 began only with the control plane at hop 1's version.
	for _, call := range d.calls {
		if call.hop.Number == 2 && call.apiserver == "v1.35.2" {
			t.Errorf("%s: hop 2 started with a kube-apiserver still at v1.35.2", call)
		}
	}
	for _, line := range []string{
		"[hop 1/2 v1.35.2 -> v1.36.6] control plane at v1.36.6",
		"[hop 2/2 v1.36.6 -> v1.37] control plane at v1.37.0",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks the control-plane wait %q:\n%s", line, out)
		}
	}
	var hops []string
	for _, o := range res.Outcomes {
		hops = append(hops, o.Node+"@"+o.Hop+"="+o.Result)
	}
	if got := strings.Join(hops, " "); got != "cp-1@v1.36.6=done cp-2@v1.36.6=done cp-1@v1.37=done cp-2@v1.37=done w-1@v1.37=done w-2@v1.37=done" {
		t.Errorf("outcomes %s", got)
	}
	for _, name := range []string{"cp-1", "cp-2", "w-1", "w-2"} {
		n, _ := c.cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if p := ReadProgress(n); p.Phase != PhaseDone || p.Target != "v1.37" || n.Annotations[AnnotationRunTarget] != "v1.37" || n.Spec.Unschedulable {
			t.Errorf("%s: progress %+v, run-target %q, unschedulable %t", name, p, n.Annotations[AnnotationRunTarget], n.Spec.Unschedulable)
		}
	}
}

// TestRunResumesTheHopItWasIn: a run to v1.37 stopped in hop 1 with cp-1
// done at v1.36.6 and cp-2 drained on its way there. The API server that
// answers /version may already say v1.36.6; the plan still starts from
// the oldest kube-apiserver, so the rerun finishes hop 1 (cp-2 first,
// cp-1 left alone) and then runs hop 2. A rerun after hop 1 finished skips it.
func TestRunResumesTheHopItWasIn(t *testing.T) {
	ann := map[string]map[string]string{
		"cp-1": {AnnotationPhase: "done", AnnotationTarget: "v1.36.6", AnnotationRunTarget: "v1.37", "test/kubelet": "v1.36.6"},
		"cp-2": {AnnotationPhase: "drained", AnnotationTarget: "v1.36.6", AnnotationRunTarget: "v1.37",
			AnnotationCordonedBy: CordonedByUpgate, AnnotationReason: "cordoned by upgate run", AnnotationHolder: "crashed-run"},
	}
	c := newHopCluster(t, []string{"cp-1", "cp-2"}, []string{"w-1"}, "v1.35.2", ann)
	p := c.plan(t, "v1.36.6", "v1.37", PlanOptions{})
	if hops, _ := hopsOf(p); hops != "v1.35.2>v1.36.6 v1.36.6>v1.37" {
		t.Fatalf("plan hops %q: the plan must start from the oldest kube-apiserver", hops)
	}
	d := newRecordingDriver(c)
	r, out := hopRunner(t, c, d)
	_, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("rerun refused or failed: %v\n%s", err, out)
	}
	want := "etcd-backup@v1.36.6 control-plane/cp-2@v1.36.6 addons@v1.36.6 " +
		"etcd-backup@v1.37 control-plane/cp-1@v1.37 control-plane/cp-2@v1.37 workers/w-1@v1.37 addons@v1.37"
	if got := d.sequence(); got != want {
		t.Errorf("driver calls\n got %s\nwant %s", got, want)
	}
	checkCalls(t, d)
	if !strings.Contains(out.String(), "Resuming cp-2 first: in flight at phase drained (hop to v1.36.6)") {
		t.Errorf("cp-2 was not resumed in hop 1:\n%s", out)
	}
	if n, _ := c.cs.CoreV1().Nodes().Get(context.Background(), "cp-2", metav1.GetOptions{}); n.Spec.Unschedulable || ReadProgress(n).Phase != PhaseDone {
		t.Errorf("cp-2 after the rerun: unschedulable %t, phase %s", n.Spec.Unschedulable, ReadProgress(n).Phase)
	}

	t.Run("after a crash between hops, the finished hop is skipped", func(t *testing.T) {
		ann := map[string]map[string]string{
			"cp-1": {AnnotationPhase: "done", AnnotationTarget: "v1.36.6", "test/kubelet": "v1.36.6"},
			"cp-2": {AnnotationPhase: "done", AnnotationTarget: "v1.36.6", "test/kubelet": "v1.36.6"},
		}
		c := newHopCluster(t, []string{"cp-1", "cp-2"}, []string{"w-1"}, "v1.35.2", ann)
		d := newRecordingDriver(c)
		r, out := hopRunner(t, c, d)
		_, err := r.Run(context.Background(), c.plan(t, "v1.36.6", "v1.37", PlanOptions{}), mustTarget(t, "v1.37"))
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		if got, want := d.sequence(), "etcd-backup@v1.37 control-plane/cp-1@v1.37 control-plane/cp-2@v1.37 workers/w-1@v1.37 addons@v1.37"; got != want {
			t.Errorf("driver calls\n got %s\nwant %s", got, want)
		}
	})
}

// TestRunWaitsForTheControlPlane: when the kube-apiservers never report
// the hop's version, the run stops before any worker and before the next
// hop, resumably.
func TestRunWaitsForTheControlPlane(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1"}, []string{"w-1"}, "v1.35.2", nil)
	d := newRecordingDriver(c)
	d.frozen = true
	r, out := hopRunner(t, c, d)
	r.ControlPlaneTimeout = 50 * time.Millisecond
	_, err := r.Run(context.Background(), c.plan(t, "v1.35.2", "v1.37", PlanOptions{}), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrControlPlaneBehind) || !strings.Contains(err.Error(), "v1.36.6") {
		t.Fatalf("err %v, want ErrControlPlaneBehind naming v1.36.6\n%s", err, out)
	}
	if got := d.sequence(); got != "etcd-backup@v1.36.6 control-plane/cp-1@v1.36.6" {
		t.Errorf("driver calls %s: nothing may follow a control plane that did not arrive", got)
	}
}

// TestRunRefusesAHopThatSkipsAMinor: a plan made from another version than
// the cluster has (one hop to v1.37 while kube-apiserver is at v1.35)
// stops before anything is touched: no gate may let a node go two minors.
func TestRunRefusesAHopThatSkipsAMinor(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1"}, []string{"w-1"}, "v1.35.2", nil)
	stale := c.plan(t, "v1.36.3", "v1.37", PlanOptions{})
	stale.Hops = []Hop{{From: "v1.36.3", To: "v1.37", Stages: stale.Stages}}
	d := newRecordingDriver(c)
	r, _ := hopRunner(t, c, d)
	_, err := r.Run(context.Background(), stale, mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "path.minor-skip") {
		t.Fatalf("err %v, want ErrBlocked for path.minor-skip", err)
	}
	if len(d.calls) != 0 {
		t.Errorf("driver called: %s", d.sequence())
	}
}

// TestRunStopsWhenAWorkerThatMustMoveIsSkipped: with --partial-ok a
// flagged worker is skipped, but not one that must reach an intermediate
// hop: the next hop would leave it outside the skew policy.
func TestRunStopsWhenAWorkerThatMustMoveIsSkipped(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1"}, []string{"w-1"}, "v1.33.4", nil)
	p := c.plan(t, "v1.33.4", "v1.37", PlanOptions{})
	gate := func(_ context.Context, node string) ([]finding.Finding, error) {
		if node == "w-1" {
			return []finding.Finding{{Check: "safety.emptydir", Severity: finding.SeverityBlock, Node: node, Message: "data"}}, nil
		}
		return nil, nil
	}
	d := newRecordingDriver(c)
	r, out := hopRunner(t, c, d)
	r.Gate, r.PartialOK = gate, true
	_, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "w-1") || !strings.Contains(err.Error(), "v1.36.6") {
		t.Fatalf("err %v, want ErrBlocked naming w-1 and v1.36.6\n%s", err, out)
	}
	if strings.Contains(d.sequence(), "@v1.37") {
		t.Errorf("the last hop started: %s", d.sequence())
	}
}

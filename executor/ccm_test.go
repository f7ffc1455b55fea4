package executor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// withCCM gives the cluster a cloud-controller-manager pod at version v on
// the first control-plane node (a static pod: no drain evicts it), and makes that node an etcd node too, so
// that every stage of a hop has something to do.
func withCCM(t *testing.T, c *hopCluster, v string) {
	t.Helper()
	ctx := context.Background()
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cloud-controller-manager-abc",
			Labels:      map[string]string{"component": inventory.ComponentCloudController, "ccm-test": "true"},
			Annotations: map[string]string{inventory.MirrorAnnotation: "x"}},
		Spec: corev1.PodSpec{NodeName: "cp-1", Containers: []corev1.Container{
			{Name: inventory.ComponentCloudController, Image: "registry.example.com/cloud-controller-manager:" + v}}},
	}
	if _, err := c.cs.CoreV1().Pods("kube-system").Create(ctx, &pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.inv.Pods = append(c.inv.Pods, inventory.PodOf(&pod))
	n, err := c.cs.CoreV1().Nodes().Get(ctx, "cp-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Labels[inventory.LabelEtcd] = ""
	if _, err := c.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range c.inv.Nodes {
		if c.inv.Nodes[i].Name == "cp-1" {
			c.inv.Nodes[i].Labels[inventory.LabelEtcd] = ""
		}
	}
}

// ccmGate stands in for the CLI's addon.ccm-behind-target gate: a finding
// for each cloud-controller-manager pod whose minor is below the hop's
// (HopOf(ctx).To, not the run's target). It records the hop of each call
// and the calls that found the CCM behind.
type ccmGate struct {
	cs    *fake.Clientset
	mu    sync.Mutex
	hops  []string
	fired int
}

func (g *ccmGate) gate(ctx context.Context) ([]finding.Finding, error) {
	hop, ok := HopOf(ctx)
	if !ok {
		return nil, errors.New("the gate was called outside a hop")
	}
	pods, err := cloudControllerPods(ctx, g.cs)
	if err != nil {
		return nil, err
	}
	var fs []finding.Finding
	for _, p := range pods {
		if p.version != nil && minorsAhead(mustTargetNoT(hop.To).Version, p.version) > 0 {
			fs = append(fs, finding.Finding{Check: "addon.ccm-behind-target", Severity: finding.SeverityWarn,
				Subject: finding.Subject{Kind: "Pod", Namespace: "kube-system", Name: p.name},
				Message: "cloud-controller-manager kube-system/" + p.name + " is at " + kubever.Canonical(p.version) + ", below " + hop.To})
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hops = append(g.hops, hop.To)
	if len(fs) > 0 {
		g.fired++
	}
	return fs, nil
}

// TestRunCloudControllerStageHopByHop: kubelets, kube-apiservers and the
// cloud-controller-manager at v1.35.2, target v1.37. In each hop the
// driver is called etcd -> control-plane -> cloud-controller-manager ->
// workers, the CCM with the hop's version (v1.36.6, then v1.37: never two
// minors at once), after the control plane reports it; the CCM's rollout
// is late, so the check still fires after the driver, and the workers
// start only once it no longer does.
func TestRunCloudControllerStageHopByHop(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1", "cp-2"}, []string{"w-1", "w-2"}, "v1.35.2", nil)
	withCCM(t, c, "v1.35.2")
	p := c.plan(t, "v1.35.2", "v1.37", PlanOptions{})
	d := newRecordingDriver(c)
	g := &ccmGate{cs: c.cs}
	r, out := hopRunner(t, c, d)
	r.CloudControllerGate = g.gate
	res, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	want := "etcd-backup@v1.36.6 etcd/cp-1@v1.36.6 control-plane/cp-2@v1.36.6 cloud-controller-manager@v1.36.6 addons@v1.36.6 " +
		"etcd-backup@v1.37 etcd/cp-1@v1.37 control-plane/cp-2@v1.37 cloud-controller-manager@v1.37 workers/w-1@v1.37 workers/w-2@v1.37 addons@v1.37"
	if got := d.sequence(); got != want {
		t.Errorf("driver calls\n got %s\nwant %s", got, want)
	}
	checkCalls(t, d)
	for _, call := range d.calls {
		if call.stage == StageWorkers && call.ccm != "v1.37.0" {
			t.Errorf("%s: the cloud-controller-manager was at %s", call, call.ccm)
		}
	}
	// The gate fired after each driver call until the late rollout
	// arrived.
	// Hop 1 is judged against v1.36.6, never the run's v1.37: at least
	// once firing and once clear, then hop 2 likewise.
	first37 := slices.Index(g.hops, "v1.37")
	if first37 < 2 || slices.ContainsFunc(g.hops[:first37], func(h string) bool { return h != "v1.36.6" }) ||
		len(g.hops)-first37 < 2 || slices.Contains(g.hops[first37:], "v1.36.6") {
		t.Errorf("gate hops %q", g.hops)
	}
	if g.fired < 2 {
		t.Errorf("the gate fired %d times: the wait after the driver was not exercised", g.fired)
	}
	var stages []string
	for _, s := range res.Stages {
		stages = append(stages, string(s.Stage)+"@"+s.Hop+"="+s.Result)
		if s.End.Before(s.Start) {
			t.Errorf("stage %+v ends before it starts", s)
		}
	}
	if got := strings.Join(stages, " "); got != "cloud-controller-manager@v1.36.6=ok cloud-controller-manager@v1.37=ok" {
		t.Errorf("stage records %s", got)
	}
	for _, line := range []string{
		"[cloud-controller-manager] upgrading kube-system/cloud-controller-manager-abc at v1.35.2 to v1.36.6 through the driver",
		"[cloud-controller-manager] the cloud-controller-manager is at v1.37: the workers may start",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}

	t.Run("the plan says what the stage will do", func(t *testing.T) {
		for _, h := range p.Hops {
			for _, st := range h.Stages {
				if st.Name == StageCloudCtrl && !strings.Contains(st.Note, "cloud-controller-manager-abc at v1.35.2 to "+h.To) {
					t.Errorf("hop to %s: note %q", h.To, st.Note)
				}
			}
		}
	})
}

// TestRunWorkersWaitWhileTheCCMCheckFires: a cloud-controller-manager whose
// rollout never arrives keeps every worker of the hop from starting; the
// run stops resumably (ErrBlocked) naming the check. The next run, with
// the CCM moved in the meantime, does not call the driver for it again
// and upgrades the workers.
func TestRunWorkersWaitWhileTheCCMCheckFires(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1"}, []string{"w-1"}, "v1.36.3", nil)
	withCCM(t, c, "v1.36.3")
	d := newRecordingDriver(c)
	d.ccmFrozen = true
	g := &ccmGate{cs: c.cs}
	r, out := hopRunner(t, c, d)
	r.CloudControllerGate, r.CloudControllerTimeout = g.gate, 50*time.Millisecond
	res, err := r.Run(context.Background(), c.plan(t, "v1.36.3", "v1.37", PlanOptions{}), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "addon.ccm-behind-target") || !strings.Contains(err.Error(), "no worker of the hop was touched") {
		t.Fatalf("err %v, want ErrBlocked naming addon.ccm-behind-target\n%s", err, out)
	}
	if got := d.sequence(); got != "etcd-backup@v1.37 etcd/cp-1@v1.37 cloud-controller-manager@v1.37" {
		t.Errorf("driver calls %s: no worker may follow a CCM behind the hop", got)
	}
	if n, _ := c.cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{}); n.Spec.Unschedulable || len(n.Annotations) > 0 {
		t.Errorf("w-1 was touched: cordoned %t, annotations %v", n.Spec.Unschedulable, n.Annotations)
	}
	if len(res.Stages) != 1 || res.Stages[0].Result != StepBlocked || !strings.Contains(res.Stages[0].Message, "addon.ccm-behind-target") {
		t.Errorf("stage records %+v", res.Stages)
	}
	rec := NewRunRecord(RecordInput{Plan: c.plan(t, "v1.36.3", "v1.37", PlanOptions{}), Result: res, Err: err})
	if rec.Verdict != RunBlocked || len(rec.Stages) != 1 {
		t.Errorf("run record: verdict %s, stages %+v", rec.Verdict, rec.Stages)
	}

	t.Run("resumed with the CCM at the hop's version: the stage is not run again", func(t *testing.T) {
		ctx := context.Background()
		pod, _ := c.cs.CoreV1().Pods("kube-system").Get(ctx, "cloud-controller-manager-abc", metav1.GetOptions{})
		pod.Spec.Containers[0].Image = retag(pod.Spec.Containers[0].Image, "v1.37.0")
		if _, err := c.cs.CoreV1().Pods("kube-system").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		d := newRecordingDriver(c)
		r, out := hopRunner(t, c, d)
		r.CloudControllerGate = g.gate
		res, err := r.Run(ctx, c.plan(t, "v1.37.0", "v1.37", PlanOptions{}), mustTarget(t, "v1.37"))
		if err != nil {
			t.Fatalf("rerun: %v\n%s", err, out)
		}
		if got := d.sequence(); strings.Contains(got, string(StageCloudCtrl)) || !strings.Contains(got, "workers/w-1@v1.37") {
			t.Errorf("driver calls %s: want the workers and no second CCM call", got)
		}
		if len(res.Stages) != 1 || res.Stages[0].Result != StepSkipped || !strings.Contains(res.Stages[0].Message, "already at or past v1.37") {
			t.Errorf("stage records %+v", res.Stages)
		}
	})
}

// TestRunWithoutCCMSaysSo: a cluster without a cloud-controller-manager
// pod has nothing for the stage to do: the driver is not called, the gate
// not waited for, and the run says so.
func TestRunWithoutCCMSaysSo(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1"}, []string{"w-1"}, "v1.36.3", nil)
	d := newRecordingDriver(c)
	r, out := hopRunner(t, c, d)
	r.CloudControllerGate = func(context.Context) ([]finding.Finding, error) {
		return nil, errors.New("the gate must not be evaluated without a CCM")
	}
	p := c.plan(t, "v1.36.3", "v1.37", PlanOptions{})
	res, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if strings.Contains(d.sequence(), string(StageCloudCtrl)) {
		t.Errorf("driver called for the CCM: %s", d.sequence())
	}
	if !strings.Contains(out.String(), "[cloud-controller-manager] no cloud-controller-manager in the cluster") {
		t.Errorf("the run does not say there is no CCM:\n%s", out)
	}
	if len(res.Stages) != 1 || res.Stages[0].Result != StepSkipped {
		t.Errorf("stage records %+v", res.Stages)
	}
	if note := p.Hops[0].Stages[2].Note; p.Hops[0].Stages[2].Name != StageCloudCtrl || !strings.Contains(note, "nothing to do") {
		t.Errorf("plan stage %s note %q", p.Hops[0].Stages[2].Name, note)
	}
}

// TestRunDryRunCCM: a dry run says what the stage would do, between the
// control-plane nodes and the workers, and changes nothing.
func TestRunDryRunCCM(t *testing.T) {
	c := newHopCluster(t, []string{"cp-1"}, []string{"w-1"}, "v1.36.3", nil)
	withCCM(t, c, "v1.36.3")
	var writes int
	c.cs.PrependReactor("*", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			writes++
		}
		return false, nil, nil
	})
	d := newRecordingDriver(c)
	r, out := hopRunner(t, c, d)
	r.DryRun = true
	if _, err := r.Run(context.Background(), c.plan(t, "v1.36.3", "v1.37", PlanOptions{}), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if writes != 0 || len(d.calls) != 0 {
		t.Errorf("the dry run wrote to the cluster %d times, called the driver: %s", writes, d.sequence())
	}
	s := out.String()
	ccm := strings.Index(s, "cloud-controller-manager: would upgrade kube-system/cloud-controller-manager-abc at v1.36.3 to v1.37 through the driver")
	cp, w := strings.Index(s, "etcd cp-1:"), strings.Index(s, "workers w-1:")
	if ccm < 0 || cp < 0 || w < 0 || !(cp < ccm && ccm < w) {
		t.Errorf("dry run output not in the order etcd, cloud-controller-manager, workers:\n%s", s)
	}
}

// TestKwokDriverMovesTheCCM: the kwok driver retags the CCM container of
// Deployments and DaemonSets labelled component=cloud-controller-manager
// (not their other containers, not unlabelled ones), waits for their
// rollout, and is idempotent: a second call patches nothing.
func TestKwokDriverMovesTheCCM(t *testing.T) {
	labels := map[string]string{"component": inventory.ComponentCloudController}
	two := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "ccm", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "sidecar", Image: "registry.example.com/sidecar:v1.0.0"},
			{Name: inventory.ComponentCloudController, Image: "registry.example.com:5000/cloud/ccm:v1.36.3"},
		}}}},
		Status: appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2},
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "ccm-ds", Labels: labels},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "manager", Image: "registry.example.com/ccm:v1.36.3"},
		}}}},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3},
	}
	other := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "coredns", Image: "registry.k8s.io/coredns:v1.11.1"},
		}}}},
	}
	cs := fake.NewClientset(dep, ds, other)
	var patches int
	cs.PrependReactor("patch", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		patches++
		return false, nil, nil
	})
	var out strings.Builder
	d := &KwokDriver{Client: cs, Out: &out, PollInterval: time.Millisecond}
	ctx := context.Background()
	if err := d.UpgradeCloudController(ctx, "v1.37"); err != nil {
		t.Fatalf("UpgradeCloudController: %v\n%s", err, out.String())
	}
	got, _ := cs.AppsV1().Deployments("kube-system").Get(ctx, "ccm", metav1.GetOptions{})
	if img := got.Spec.Template.Spec.Containers[1].Image; img != "registry.example.com:5000/cloud/ccm:v1.37.0" {
		t.Errorf("Deployment CCM image %s", img)
	}
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/sidecar:v1.0.0" {
		t.Errorf("sidecar image %s: only the CCM container moves", img)
	}
	gotDS, _ := cs.AppsV1().DaemonSets("kube-system").Get(ctx, "ccm-ds", metav1.GetOptions{})
	if img := gotDS.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/ccm:v1.37.0" {
		t.Errorf("DaemonSet CCM image %s", img)
	}
	gotOther, _ := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if img := gotOther.Spec.Template.Spec.Containers[0].Image; img != "registry.k8s.io/coredns:v1.11.1" {
		t.Errorf("an unlabelled Deployment was moved: %s", img)
	}
	if patches != 2 || !strings.Contains(out.String(), "Deployment kube-system/ccm rolled out") {
		t.Errorf("%d patches, want 2\n%s", patches, out.String())
	}

	t.Run("idempotent", func(t *testing.T) {
		patches = 0
		out.Reset()
		if err := d.UpgradeCloudController(ctx, "v1.37"); err != nil {
			t.Fatal(err)
		}
		if patches != 0 || !strings.Contains(out.String(), "already at v1.37.0") {
			t.Errorf("second call: %d patches\n%s", patches, out.String())
		}
	})

	t.Run("a rollout that does not finish errors clearly", func(t *testing.T) {
		got.Status.UpdatedReplicas = 1
		if _, err := cs.AppsV1().Deployments("kube-system").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		d := &KwokDriver{Client: cs, Out: &out, PollInterval: time.Millisecond, RolloutTimeout: 20 * time.Millisecond}
		err := d.UpgradeCloudController(ctx, "v1.37")
		if err == nil || !strings.Contains(err.Error(), "Deployment kube-system/ccm: rollout not finished within 20ms") || !strings.Contains(err.Error(), "1 of 2 replicas updated") {
			t.Errorf("err %v", err)
		}
	})

	t.Run("nothing labelled: nothing to move", func(t *testing.T) {
		out.Reset()
		d := &KwokDriver{Client: fake.NewClientset(other), Out: &out}
		if err := d.UpgradeCloudController(ctx, "v1.37"); err != nil || !strings.Contains(out.String(), "nothing to move") {
			t.Errorf("err %v\n%s", err, out.String())
		}
	})
}

package rolloutmetrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/internal/tooltest"
)

func node(name, kubelet string, ann map[string]string, cordoned bool) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
		Spec:       corev1.NodeSpec{Unschedulable: cordoned},
		Status: corev1.NodeStatus{
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: kubelet},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

// kubeletDriver "upgrades" a node by setting its kubelet version.
type kubeletDriver struct {
	cs      *fake.Clientset
	failFor string
}

func (d *kubeletDriver) EtcdBackup(context.Context) error { return nil }

func (d *kubeletDriver) Upgrade(ctx context.Context, n *corev1.Node, target string) error {
	if n.Name == d.failFor {
		return errors.New("boom")
	}
	got, err := d.cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	got.Status.NodeInfo.KubeletVersion = target + ".0"
	_, err = d.cs.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{})
	return err
}

func noFindings(context.Context, string) ([]finding.Finding, error) { return nil, nil }

// run runs cp-1 (etcd) and the workers to v1.37 with m observing.
func run(t *testing.T, m *Metrics, cs *fake.Clientset, d executor.Driver, hold func() error, workers ...string) error {
	t.Helper()
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.37.0"}
	var out bytes.Buffer
	r, err := executor.NewRunner(&executor.Runner{Client: cs, Out: &out, ErrOut: &out, Driver: d, Gate: noFindings, Validate: noFindings,
		Holder: "test-run", Hold: hold, PollInterval: time.Millisecond, ReadyTimeout: time.Second, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	var ws []executor.PlannedNode
	for _, w := range workers {
		ws = append(ws, executor.PlannedNode{Name: w})
	}
	p := &executor.Plan{Stages: []executor.Stage{{Name: executor.StageEtcdBackup},
		{Name: executor.StageEtcd, Nodes: []executor.PlannedNode{{Name: "cp-1"}}},
		{Name: executor.StageWorkers, Nodes: ws}}}
	target, err := executor.ParseTarget("v1.37")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(context.Background(), p, target)
	return err
}

// scrape serves m on a free port, as run does, and returns its /metrics.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", m.Handler())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// value is the sample series (name and labels as exposed) has in body; ok
// is false when it is not there.
func value(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, found := strings.CutPrefix(line, series+" "); found {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func wantValues(t *testing.T, body string, want map[string]float64) {
	t.Helper()
	for series, w := range want {
		if got, ok := value(body, series); !ok || got != w {
			t.Errorf("%s = %v (present %t), want %v", series, got, ok, w)
		}
	}
}

func nodeCounts(pending, inProgress, done, skipped, failed, quarantined float64) map[string]float64 {
	return map[string]float64{
		`upgate_rollout_nodes{state="pending"}`:     pending,
		`upgate_rollout_nodes{state="in-progress"}`: inProgress,
		`upgate_rollout_nodes{state="done"}`:        done,
		`upgate_rollout_nodes{state="skipped"}`:     skipped,
		`upgate_rollout_nodes{state="failed"}`:      failed,
		`upgate_rollout_nodes{state="quarantined"}`: quarantined,
	}
}

// TestMetricsBeforeAnyRun: every series of the contract is there from the
// start, with every label value, and the exposition passes promtool.
func TestMetricsBeforeAnyRun(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	wantValues(t, body, nodeCounts(0, 0, 0, 0, 0, 0))
	wantValues(t, body, map[string]float64{
		`upgate_rollout_paused{reason="alert"}`:                       0,
		`upgate_rollout_paused{reason="window"}`:                      0,
		`upgate_rollout_paused{reason="gate"}`:                        0,
		`upgate_rollout_paused{reason="query"}`:                       0,
		`upgate_rollout_step_duration_seconds_count{step="gate"}`:     0,
		`upgate_rollout_step_duration_seconds_count{step="validate"}`: 0,
		`upgate_rollout_last_progress_timestamp_seconds`:              0,
	})
	promtoolCheckMetrics(t, body)
}

// TestMetricsThroughARun scrapes the endpoint after a run of three nodes:
// all done, a duration observed for every step of every node, the info
// series at the last stage, progress at the run's last step; promtool
// check metrics passes the body.
func TestMetricsThroughARun(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(node("cp-1", "v1.36.3", nil, false), node("w-1", "v1.36.3", nil, false), node("w-2", "v1.36.3", nil, false))
	start := time.Now()
	if err := run(t, m, cs, &kubeletDriver{cs: cs}, nil, "w-1", "w-2"); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	wantValues(t, body, nodeCounts(0, 0, 3, 0, 0, 0))
	for _, step := range []string{"gate", "cordon", "drain", "upgrade", "ready", "uncordon", "validate"} {
		wantValues(t, body, map[string]float64{
			`upgate_rollout_step_duration_seconds_count{step="` + step + `"}`:            3,
			`upgate_rollout_step_duration_seconds_bucket{step="` + step + `",le="+Inf"}`: 3,
		})
	}
	wantValues(t, body, map[string]float64{`upgate_rollout_info{hop="v1.37",stage="addons",target_version="v1.37"}`: 1})
	if strings.Count(body, "upgate_rollout_info{") != 1 {
		t.Errorf("more than one info series:\n%s", body)
	}
	if ts, ok := value(body, "upgate_rollout_last_progress_timestamp_seconds"); !ok || ts < float64(start.Unix()) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("last progress %v, want within the run (from %d)", ts, start.Unix())
	}
	for _, want := range []string{"go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	promtoolCheckMetrics(t, body)
}

// TestMetricsOfAFailedNode: the failed node is counted, the nodes after it
// stay pending.
func TestMetricsOfAFailedNode(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(node("cp-1", "v1.36.3", nil, false), node("w-1", "v1.36.3", nil, false), node("w-2", "v1.36.3", nil, false))
	if err := run(t, m, cs, &kubeletDriver{cs: cs, failFor: "w-1"}, nil, "w-1", "w-2"); !errors.Is(err, executor.ErrNodeFailed) {
		t.Fatalf("err %v, want ErrNodeFailed", err)
	}
	body := scrape(t, m)
	wantValues(t, body, nodeCounts(1, 0, 1, 0, 1, 0))
	wantValues(t, body, map[string]float64{`upgate_rollout_step_duration_seconds_count{step="upgrade"}`: 2})
}

// TestMetricsOfARestartedRun: a run started again reports, before it
// changes anything (here it cannot: it holds no lock), the nodes an
// earlier run left done, failed and quarantined.
func TestMetricsOfARestartedRun(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	earlier := func(phase string) map[string]string {
		return map[string]string{"upgate.dev/phase": phase, "upgate.dev/target": "v1.37", "upgate.dev/holder": "earlier", "upgate.dev/cordoned-by": "upgate"}
	}
	cs := fake.NewClientset(
		node("cp-1", "v1.37.0", map[string]string{"upgate.dev/phase": "done", "upgate.dev/target": "v1.37", "upgate.dev/holder": "earlier"}, false),
		node("w-1", "v1.36.3", earlier("failed"), true),
		node("w-2", "v1.36.3", earlier("quarantined"), true),
		node("w-3", "v1.36.3", earlier("drained"), true),
		node("w-4", "v1.36.3", nil, false),
	)
	noLock := func() error { return errors.New("no lock") }
	if err := run(t, m, cs, &kubeletDriver{cs: cs}, noLock, "w-1", "w-2", "w-3", "w-4"); !errors.Is(err, executor.ErrStopped) {
		t.Fatalf("err %v, want ErrStopped", err)
	}
	wantValues(t, scrape(t, m), nodeCounts(1, 1, 1, 0, 1, 1))
}

// TestListenRefusesABoundAddress: an address in use is an error naming it;
// Close frees the address.
func TestListenRefusesABoundAddress(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	first, err := Listen("127.0.0.1:0", m.Handler())
	if err != nil {
		t.Fatal(err)
	}
	addr := first.Addr()
	if s, err := Listen(addr, m.Handler()); err == nil || !strings.Contains(err.Error(), addr) {
		_ = s.Close()
		t.Errorf("second listen on %s: %v, want an error naming it", addr, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Listen(addr, m.Handler())
	if err != nil {
		t.Fatalf("the address is still bound after Close: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Error(err)
	}
	var nilServer *Server
	if err := nilServer.Close(); err != nil {
		t.Errorf("closing no server: %v", err)
	}
}

func TestCordonedByUpgate(t *testing.T) {
	ours := map[string]string{"upgate.dev/cordoned-by": "upgate", "upgate.dev/phase": "failed"}
	nodes := []*corev1.Node{
		node("failed, cordoned by upgate", "v1.36.3", ours, true),
		node("quarantined", "v1.36.3", map[string]string{"upgate.dev/cordoned-by": "upgate", "upgate.dev/phase": "quarantined"}, true),
		node("uncordoned by hand since", "v1.36.3", ours, false),
		node("cordoned by someone else", "v1.36.3", map[string]string{"upgate.dev/was-cordoned": "true", "upgate.dev/phase": "drained"}, true),
		node("someone else's, and a stale cordoned-by", "v1.36.3", map[string]string{"upgate.dev/was-cordoned": "true", "upgate.dev/cordoned-by": "upgate"}, true),
		node("cordoned, no upgate record", "v1.36.3", nil, true),
	}
	if got := CordonedByUpgate(nodes); got != 2 {
		t.Errorf("counted %d, want 2 (the failed and the quarantined node)", got)
	}
	c := NewCordons()
	c.Observe(nodes)
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.reg.Register(c.Collector()); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	wantValues(t, body, map[string]float64{"upgate_nodes_cordoned_by_upgate": 2})
	promtoolCheckMetrics(t, body)
}

func promtoolCheckMetrics(t *testing.T, body string) {
	t.Helper()
	lint := exec.Command(tooltest.Require(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(body)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

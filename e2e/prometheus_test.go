//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/upgate-dev/upgate/internal/tooltest"
)

// TestPrometheusDuringTheRollout upgrades every node (kwok's, in the
// simulated sense) with a real Prometheus server (Debian's package)
// watching, as the chart's users run one: Prometheus scrapes `upgate serve` and `upgate run`, and
// the run is gated on Prometheus' alerts and on a PromQL query.
//
//  1. A query on a metric the test controls (e2e_release, from a small
//     exporter of the test's own) is false: the run holds before its
//     first node (pause reason "query") until the test makes it true.
//  2. While the first worker's driver call is held, the test seeds a hazard
//     (a singleton Deployment); serve finds it, and a rule of the test's
//     fires on upgate_findings{check="safety.singleton"}. When that
//     worker is done, the run pauses before the next (pause reason "alert");
//     removing the hazard resolves the alert and the run finishes.
//  3. Prometheus' own upgate_rollout_nodes{state="done"} rises to the
//     node count, and the signed run record verifies with cosign.
//
// The holds inside driver calls (the test's driver waits for a file) make
// the order of events certain: nothing depends on a scrape landing in time.
func TestPrometheusDuringTheRollout(t *testing.T) {
	promBin := tooltest.Require(t, "prometheus")
	cosignBin := tooltest.Require(t, "cosign")
	withoutHazards(t)
	resetVersions(t, allNodes)
	t.Cleanup(func() {
		kubectl(t, "", "delete", "namespace", "e2e-prom", "--ignore-not-found", "--wait=true")
		restoreCluster(t)
	})
	dir := t.TempDir()
	cfg := runConfig(t)

	// The metric the query gate reads: 0 holds the run, 1 lets it go.
	release := prometheus.NewGauge(prometheus.GaugeOpts{Name: "e2e_release", Help: "1 lets the e2e run go."})
	reg := prometheus.NewRegistry()
	reg.MustRegister(release)
	exporter := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(exporter.Close)

	serveAddr := freeAddr(t)
	startServe(t, serveAddr, []string{"KUBECONFIG=" + kubeconfig}, 60*time.Second,
		"serve", "--target", runTarget, "--listen", serveAddr, "--interval", "2s", "--config", cfg)
	runMetrics := freeAddr(t)
	prom := startPrometheus(t, promBin, dir, map[string]string{
		"upgate-serve":   serveAddr,
		"upgate-run":     runMetrics,
		"e2e-controller": strings.TrimPrefix(exporter.URL, "http://"),
	})
	prom.waitValue(t, `up{job="upgate-serve"}`, 1, time.Minute)
	prom.waitValue(t, `e2e_release`, 0, time.Minute)
	if v, ok := prom.value(t, `upgate_findings{check="safety.singleton"}`); ok {
		t.Fatalf("before the run serve already reports safety.singleton (%g): the hazard must be the test's", v)
	}

	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	gen := exec.Command(cosignBin, "generate-key-pair")
	gen.Dir = keys
	gen.Env = append(os.Environ(), "COSIGN_PASSWORD=e2e")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}

	holds := filepath.Join(dir, "holds")
	if err := os.Mkdir(holds, 0o755); err != nil {
		t.Fatal(err)
	}
	driver := filepath.Join(dir, "driver.sh")
	script := fmt.Sprintf(`#!/bin/sh
# hack/cluster-driver.sh's simulated upgrade (kubelet version and the
# control-plane pods' image tags) for every node, without swapping the
# local control plane's binaries; the first worker and the add-on stage
# wait until the test releases them.
set -e
hold() { : > %[1]s/holding-$1; while [ ! -e %[1]s/release-$1 ]; do sleep 0.2; done; }
case "$UPGATE_STAGE" in
etcd|control-plane|workers)
  if [ "$UPGATE_STAGE" = workers ] && [ ! -e %[1]s/holding-worker ]; then hold worker; fi
  UPGATE_STAGE=workers exec %[2]s ;;
addons)
  hold addons
  exec %[2]s ;;
*)
  exec %[2]s ;;
esac
`, holds, filepath.Join(repoRoot, "hack", "cluster-driver.sh"))
	if err := os.WriteFile(driver, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	holding := func(what string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			if _, err := os.Stat(filepath.Join(holds, "holding-"+what)); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the driver did not reach %s within %s", what, within)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	releaseHold := func(what string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(holds, "release-"+what), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	record := filepath.Join(dir, "run.json")
	run := startLogged(t, []string{"KUBECONFIG=" + kubeconfig, "COSIGN_PASSWORD=e2e"},
		"run", "--yes", "--config", cfg, "--target", runTarget,
		"--driver", "command", "--driver-command", driver,
		"--drain-timeout", "60s", "--ready-timeout", "30s", "--gate-wait", "20s",
		"--metrics-bind-address", runMetrics,
		"--alert-url", prom.url+"/api/v1/alerts", "--alert-filter", "^Upgate", "--alert-wait", "5m",
		"--prometheus-url", prom.url, "--gate-query", "release=e2e_release > 0", "--gate-query-wait", "5m",
		"--output", record, "--sign-key", filepath.Join(keys, "cosign.key"))
	t.Cleanup(run.stop)

	// Prometheus' view of the rollout, sampled through the whole run.
	done := prom.sample(`upgate_rollout_nodes{state="done"}`)

	// 1. The query gate holds the run before its first node.
	run.waitOutput(t, "PAUSED (query)", 2*time.Minute)
	prom.waitValue(t, `upgate_rollout_paused{reason="query"}`, 1, 30*time.Second)
	var first string
	for _, n := range allNodes {
		node := getNode(t, n)
		if node.Spec.Unschedulable || node.Status.NodeInfo.KubeletVersion != seededKubelet {
			t.Fatalf("node %s was touched while the query gate held the run: cordoned %t, kubelet %s",
				n, node.Spec.Unschedulable, node.Status.NodeInfo.KubeletVersion)
		}
		if a, ok := node.Annotations["upgate.dev/paused"]; ok {
			first = n
			if !strings.HasPrefix(a, "query") || !strings.Contains(a, "release") {
				t.Errorf("%s, the node the run waits before, has upgate.dev/paused %q, want the query named", n, a)
			}
		}
	}
	if first == "" {
		t.Fatalf("no node carries upgate.dev/paused while the query gate holds the run")
	}
	time.Sleep(2 * time.Second)
	release.Set(1)
	run.waitOutputCount(t, "RESUMED", 1, time.Minute)

	// 2. A hazard seeded while the first worker is being upgraded fires
	// an alert; the run pauses before the next.
	holding("worker", 3*time.Minute)
	kubectl(t, singletonHazard, "apply", "-f", "-")
	prom.waitAlert(t, "E2ESeededSingleton", time.Minute)
	releaseHold("worker")
	run.waitOutput(t, "PAUSED (alert)", time.Minute)
	prom.waitValue(t, `upgate_rollout_paused{reason="alert"}`, 1, 30*time.Second)
	// Only the node the run waits before carries the notice.
	var next string
	for _, n := range allNodes {
		node := getNode(t, n)
		a, ok := node.Annotations["upgate.dev/paused"]
		if !ok {
			continue
		}
		if next != "" {
			t.Fatalf("both %s and %s carry upgate.dev/paused", next, n)
		}
		next = n
		if !strings.HasPrefix(a, "alert") || !strings.Contains(a, "E2ESeededSingleton") {
			t.Errorf("%s has upgate.dev/paused %q, want the alert named", n, a)
		}
		if node.Spec.Unschedulable || node.Status.NodeInfo.KubeletVersion != seededKubelet {
			t.Errorf("%s was touched while the alert fired: cordoned %t, kubelet %s", n, node.Spec.Unschedulable, node.Status.NodeInfo.KubeletVersion)
		}
	}
	if next == "" {
		t.Fatalf("no node carries upgate.dev/paused while the run is paused for the alert")
	}
	if v, _ := prom.value(t, `upgate_rollout_nodes{state="done"}`); v < 4 {
		t.Errorf("Prometheus sees %g nodes done while the run waits before %s, want at least 4 (cp-1..3 and the first worker)", v, next)
	}
	time.Sleep(2 * time.Second)
	kubectl(t, "", "delete", "namespace", "e2e-prom", "--wait=true")
	run.waitOutputCount(t, "RESUMED", 2, 2*time.Minute)

	// 3. Every node is done before the add-on stage: Prometheus sees it.
	holding("addons", 3*time.Minute)
	prom.waitValue(t, `upgate_rollout_nodes{state="done"}`, float64(len(allNodes)), 30*time.Second)
	releaseHold("addons")
	code, out := run.wait(t, 5*time.Minute)
	if code != 0 {
		t.Fatalf("upgate run exit %d, want 0\n%s", code, out)
	}
	seen := done()
	t.Logf("upgate_rollout_nodes{state=\"done\"} as Prometheus saw it during the run: %v", seen)
	if len(seen) == 0 || seen[len(seen)-1] != float64(len(allNodes)) {
		t.Errorf("Prometheus' done count ended at %v, want it to rise to %d", seen, len(allNodes))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("the done count went down: %v", seen)
		}
	}
	for _, n := range allNodes {
		node := getNode(t, n)
		// cluster-driver.sh takes the newest patch of the target's minor.
		if !strings.HasPrefix(node.Status.NodeInfo.KubeletVersion, runTarget+".") || node.Spec.Unschedulable {
			t.Errorf("after the run %s: kubelet %s, cordoned %t", n, node.Status.NodeInfo.KubeletVersion, node.Spec.Unschedulable)
		}
		if a, ok := node.Annotations["upgate.dev/paused"]; ok {
			t.Errorf("%s still carries upgate.dev/paused %q after the run", n, a)
		}
	}

	// The run record says the run paused twice, and why, and is signed.
	var rec struct {
		Verdict string `json:"verdict"`
		Pauses  []struct {
			Reason string    `json:"reason"`
			Before string    `json:"before"`
			Alerts []string  `json:"alerts"`
			Start  time.Time `json:"start"`
			End    time.Time `json:"end"`
			Result string    `json:"result"`
		} `json:"pauses"`
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("run record: %v", err)
	}
	if rec.Verdict != "done" {
		t.Errorf("run record verdict %q, want done", rec.Verdict)
	}
	var sawQuery, sawAlert bool
	for _, p := range rec.Pauses {
		t.Logf("pause %s before %s: %s (%s, alerts %v)", p.Reason, p.Before, p.End.Sub(p.Start).Round(time.Millisecond), p.Result, p.Alerts)
		switch {
		case p.Reason == "query" && strings.HasSuffix(p.Before, " "+first) && p.Result == "resumed":
			sawQuery = true
		case p.Reason == "alert" && strings.HasSuffix(p.Before, " "+next) && p.Result == "resumed" &&
			strings.Contains(strings.Join(p.Alerts, ","), "E2ESeededSingleton"):
			sawAlert = true
		}
	}
	if !sawQuery || !sawAlert {
		t.Errorf("run record pauses %+v: want a resumed query pause before %s and a resumed alert pause before %s naming E2ESeededSingleton", rec.Pauses, first, next)
	}
	pub := filepath.Join(keys, "cosign.pub")
	if out, err := exec.Command(cosignBin, "verify-blob", "--key", pub, "--signature", record+".sig",
		"--insecure-ignore-tlog=true", record).CombinedOutput(); err != nil {
		t.Errorf("cosign verify-blob rejects the signed run record: %v\n%s", err, out)
	}
	if code, _, stderr := upgate(t, "verify", record, "--key", pub); code != 0 {
		t.Errorf("upgate verify of the run record: exit %d %s", code, stderr)
	}
	tampered := filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(tampered, bytes.Replace(b, []byte(`"done"`), []byte(`"failed"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cosignBin, "verify-blob", "--key", pub, "--signature", record+".sig",
		"--insecure-ignore-tlog=true", tampered).CombinedOutput(); err == nil {
		t.Errorf("cosign verify-blob accepts a tampered run record\n%s", out)
	}
	if code, _, _ := upgate(t, "verify", tampered, "--key", pub, "--signature", record+".sig"); code == 0 {
		t.Errorf("upgate verify accepts a tampered run record")
	}

	// The chart's rules, loaded beside the test's, evaluated without error
	// on the real series.
	prom.rulesHealthy(t)
}

// singletonHazard is the hazard the alert fires on: a Deployment of one
// replica (safety.singleton).
const singletonHazard = `apiVersion: v1
kind: Namespace
metadata:
  name: e2e-prom
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: db
  namespace: e2e-prom
spec:
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: registry.k8s.io/pause:3.10
`

// promServer is a Prometheus server the test started on loopback.
type promServer struct {
	url string
}

// startPrometheus runs Debian's prometheus with a config of the test's:
// every target scraped each second, rules evaluated each second, the
// test's rule and the chart's rules loaded.
func startPrometheus(t *testing.T, bin, dir string, targets map[string]string) *promServer {
	t.Helper()
	addr := freeAddr(t)
	rules := filepath.Join(dir, "e2e.rules.yaml")
	if err := os.WriteFile(rules, []byte(`groups:
- name: e2e
  rules:
  - alert: E2ESeededSingleton
    expr: upgate_findings{check="safety.singleton",severity="block"} > 0
    labels:
      severity: critical
    annotations:
      summary: a workload of one replica appeared during the upgrade
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n- %s\n- %s\nscrape_configs:\n",
		rules, filepath.Join(repoRoot, "charts", "upgate", "files", "upgate.rules.yaml"))
	for job, target := range targets {
		fmt.Fprintf(&cfg, "- job_name: %s\n  static_configs:\n  - targets: [%q]\n", job, target)
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	p := &promServer{url: "http://" + addr}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited at start:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 1m:\n%s", log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// api GETs a Prometheus API path and decodes its data.
func (p *promServer) api(path string, params url.Values, data any) error {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s", path, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// value is the single sample an instant query returns now; false when it
// returns none.
func (p *promServer) value(t *testing.T, query string) (float64, bool) {
	t.Helper()
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {query}}, &data); err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	if len(data.Result) == 0 {
		return 0, false
	}
	if len(data.Result) > 1 {
		t.Fatalf("query %s: %d series, want one", query, len(data.Result))
	}
	s, _ := data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v", query, data.Result[0].Value)
	}
	return v, true
}

// waitValue waits until query returns want.
func (p *promServer) waitValue(t *testing.T, query string, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, ok := p.value(t, query)
		if ok && v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus: %s = %g (present %t) after %s, want %g", query, v, ok, within, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitAlert waits until the alert fires.
func (p *promServer) waitAlert(t *testing.T, name string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if err := p.api("/api/v1/alerts", nil, &data); err != nil {
			t.Fatal(err)
		}
		for _, a := range data.Alerts {
			if a.Labels["alertname"] == name && a.State == "firing" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert %s not firing after %s: %+v", name, within, data.Alerts)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sample queries every 500ms until the returned func is called, which
// returns each value that differed from the one before.
func (p *promServer) sample(query string) func() []float64 {
	var (
		mu   sync.Mutex
		seen []float64
	)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			var data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			}
			if err := p.api("/api/v1/query", url.Values{"query": {query}}, &data); err == nil && len(data.Result) == 1 {
				s, _ := data.Result[0].Value[1].(string)
				if v, err := strconv.ParseFloat(s, 64); err == nil {
					mu.Lock()
					if len(seen) == 0 || seen[len(seen)-1] != v {
						seen = append(seen, v)
					}
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() []float64 {
		close(stop)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return append([]float64(nil), seen...)
	}
}

// rulesHealthy fails the test for any rule Prometheus could not evaluate.
func (p *promServer) rulesHealthy(t *testing.T) {
	t.Helper()
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.api("/api/v1/rules", nil, &data); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s/%s: health %s %s", g.Name, r.Name, r.Health, r.LastError)
			}
		}
	}
	if n < 2 {
		t.Errorf("Prometheus loaded %d rules, want the test's and the chart's", n)
	}
}

// loggedRun is an upgate process in the background whose output the test
// reads while it runs.
type loggedRun struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLogged starts upgate with args; stdout and stderr go to one buffer.
func startLogged(t *testing.T, env []string, args ...string) *loggedRun {
	t.Helper()
	r := &loggedRun{cmd: exec.Command(upgateBin, args...), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start upgate %v: %v", args, err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	return r
}

// waitOutput waits until the output holds s.
func (r *loggedRun) waitOutput(t *testing.T, s string, within time.Duration) {
	t.Helper()
	r.waitOutputCount(t, s, 1, within)
}

// waitOutputCount waits until the output holds s n times.
func (r *loggedRun) waitOutputCount(t *testing.T, s string, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		if strings.Count(r.out.String(), s) >= n {
			return
		}
		select {
		case <-r.done:
			if strings.Count(r.out.String(), s) >= n {
				return
			}
			t.Fatalf("upgate ended (%v) before printing %q %d times:\n%s", r.err, s, n, r.out.String())
		case <-deadline:
			t.Fatalf("upgate did not print %q %d times within %s:\n%s", s, n, within, r.out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// wait returns the exit code and output once it ends.
func (r *loggedRun) wait(t *testing.T, within time.Duration) (int, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		r.stop()
		t.Fatalf("upgate did not end within %s:\n%s", within, r.out.String())
	}
	t.Logf("upgate output:\n%s", r.out.String())
	if ee, ok := r.err.(*exec.ExitError); ok {
		return ee.ExitCode(), r.out.String()
	}
	if r.err != nil {
		t.Fatalf("upgate: %v", r.err)
	}
	return 0, r.out.String()
}

// stop ends the process if it still runs (SIGTERM, then SIGKILL).
func (r *loggedRun) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

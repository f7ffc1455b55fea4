package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRunMetricsBindAddress: run serves its rollout metrics while it runs
// and frees the address after; an address it cannot bind stops it before
// anything changes, exit 3 (exit 2 when it is not HOST:PORT), one line.
func TestRunMetricsBindAddress(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		cs := fakeCluster(t)
		code, _, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--metrics-bind-address", "nonsense")...)
		if code != 2 || !strings.Contains(stderr, "--metrics-bind-address") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 2 and one line naming the flag", code, stderr)
		}
		untouched(t, cs)
	})
	t.Run("malformed, from the environment", func(t *testing.T) {
		// Bound into the typed Config like every flag: UPGATE_METRICS_BIND_ADDRESS.
		t.Setenv("UPGATE_METRICS_BIND_ADDRESS", "127.0.0.1")
		cs := fakeCluster(t)
		code, _, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes")...)
		if code != 2 || !strings.Contains(stderr, `--metrics-bind-address: "127.0.0.1" is not HOST:PORT`) {
			t.Errorf("exit %d, stderr %q; want 2 naming the flag and the value", code, stderr)
		}
		untouched(t, cs)
	})
	t.Run("in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cs := fakeCluster(t)
		code, _, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--metrics-bind-address", ln.Addr().String())...)
		if code != 3 || !strings.Contains(stderr, "--metrics-bind-address") || !strings.Contains(stderr, "nothing was changed") ||
			strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 3 and one line naming the flag", code, stderr)
		}
		untouched(t, cs)
	})
	t.Run("served while the run runs", func(t *testing.T) {
		addr := freeAddr(t)
		cs := fakeCluster(t)
		// Scrape as Prometheus would, as often as it can, until the run ends.
		done := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bodies []string
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: time.Second}
			for {
				select {
				case <-done:
					return
				case <-time.After(2 * time.Millisecond):
				}
				resp, err := client.Get("http://" + addr + "/metrics")
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
			}
		}()
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--metrics-bind-address", addr)...)
		close(done)
		wg.Wait()
		if code != 0 {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
		}
		if !strings.Contains(out, "Serving the rollout metrics on http://"+addr+"/metrics") {
			t.Errorf("the output does not say where the metrics are:\n%s", out)
		}
		if len(bodies) == 0 {
			t.Fatal("no scrape of /metrics succeeded while the run ran")
		}
		if last := bodies[len(bodies)-1]; !strings.Contains(last, `upgate_rollout_nodes{state="pending"}`) || !strings.Contains(last, "upgate_rollout_last_progress_timestamp_seconds") {
			t.Errorf("/metrics during the run lacks the rollout series:\n%s", last)
		}
		// Stopped with the run: the address is free again.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s still bound after the run: %v", addr, err)
		}
		ln.Close()
	})
}

// TestServeCountsUpgateCordons: serve's /metrics counts the nodes under
// upgate's own cordon, not a cordon of someone else's: what the chart's
// UpgateExecutorGone reads once a run and its metrics are gone.
func TestServeCountsUpgateCordons(t *testing.T) {
	cs := fakeCluster(t)
	for name, ann := range map[string]map[string]string{
		"worker-1": {"upgate.dev/phase": "failed", "upgate.dev/target": "v1.36", "upgate.dev/cordoned-by": "upgate", "upgate.dev/holder": "a-run"},
		"worker-2": {"upgate.dev/was-cordoned": "true", "upgate.dev/phase": "drained"},
	} {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Annotations, n.Spec.Unschedulable = ann, true
		if _, err := cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	srv := startServe(t, seams{clientset: func() (kubernetes.Interface, error) { return cs, nil }},
		"--target", "v1.36", "--interval", "1h")
	stderr := srv.stderr
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := srv.get("/metrics")
		// The value's line, not the HELP line ("upgate_check_up 1 when").
		if strings.Contains(body, "\nupgate_check_up 1\n") {
			if !strings.Contains(body, "\nupgate_nodes_cordoned_by_upgate 1\n") {
				t.Errorf("/metrics after a check, want upgate_nodes_cordoned_by_upgate 1 (worker-1, not worker-2):\n%s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful check within 30s; serve's stderr:\n%s\n%s", stderr.String(), body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package rolloutmetrics

import (
	"bytes"
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/executor"
)

// TestMetricsOfAnAlertPause: while the alert gate holds the run before a
// worker, /metrics says upgate_rollout_paused{reason="alert"} 1 (and the
// gate's 0); once the alert resolves and the run ends, 0.
func TestMetricsOfAnAlertPause(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(node("cp-1", "v1.36.3", nil, false), node("w-1", "v1.36.3", nil, false))
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.37.0"}
	looks := 0
	var during string
	alerts := func(ctx context.Context) ([]string, error) {
		if executor.StageOf(ctx) != executor.StageWorkers {
			return nil, nil
		}
		looks++
		switch looks {
		case 1:
			return []string{"NodeDown"}, nil
		case 2:
			during = scrape(t, m)
			return []string{"NodeDown"}, nil
		}
		return nil, nil
	}
	var out bytes.Buffer
	r, err := executor.NewRunner(&executor.Runner{Client: cs, Out: &out, ErrOut: &out, Driver: &kubeletDriver{cs: cs}, Gate: noFindings,
		Holder: "test-run", PollInterval: time.Millisecond, ReadyTimeout: time.Second, Observer: m,
		AlertGate: alerts, AlertWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := &executor.Plan{Stages: []executor.Stage{{Name: executor.StageEtcdBackup},
		{Name: executor.StageEtcd, Nodes: []executor.PlannedNode{{Name: "cp-1"}}},
		{Name: executor.StageWorkers, Nodes: []executor.PlannedNode{{Name: "w-1"}}}}}
	target, err := executor.ParseTarget("v1.37")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), p, target); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	wantValues(t, during, map[string]float64{`upgate_rollout_paused{reason="alert"}`: 1, `upgate_rollout_paused{reason="gate"}`: 0})
	wantValues(t, scrape(t, m), map[string]float64{`upgate_rollout_paused{reason="alert"}`: 0})
}

// TestMetricsOfAQueryPause: while a query gate holds the run after the
// last worker's validation, /metrics says
// upgate_rollout_paused{reason="query"} 1 (and the alert's 0); once the
// query passes and the run ends, 0.
func TestMetricsOfAQueryPause(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(node("cp-1", "v1.36.3", nil, false), node("w-1", "v1.36.3", nil, false))
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.37.0"}
	looks := 0
	var during string
	queries := func(ctx context.Context) []executor.QueryRecord {
		if executor.StageOf(ctx) != executor.StageWorkers {
			return nil
		}
		looks++
		switch looks {
		case 2: // after w-1's validation
			return []executor.QueryRecord{{Name: "budget", Query: "x < 0.01", Error: "no data (the result is empty)"}}
		case 3:
			during = scrape(t, m)
			return []executor.QueryRecord{{Name: "budget", Query: "x < 0.01", Error: "no data (the result is empty)"}}
		}
		return nil
	}
	var out bytes.Buffer
	r, err := executor.NewRunner(&executor.Runner{Client: cs, Out: &out, ErrOut: &out, Driver: &kubeletDriver{cs: cs}, Gate: noFindings,
		Holder: "test-run", PollInterval: time.Millisecond, ReadyTimeout: time.Second, Observer: m,
		QueryGate: queries, QueryWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := &executor.Plan{Stages: []executor.Stage{{Name: executor.StageEtcdBackup},
		{Name: executor.StageEtcd, Nodes: []executor.PlannedNode{{Name: "cp-1"}}},
		{Name: executor.StageWorkers, Nodes: []executor.PlannedNode{{Name: "w-1"}}}}}
	target, err := executor.ParseTarget("v1.37")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), p, target); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	wantValues(t, during, map[string]float64{`upgate_rollout_paused{reason="query"}`: 1, `upgate_rollout_paused{reason="alert"}`: 0})
	wantValues(t, scrape(t, m), map[string]float64{`upgate_rollout_paused{reason="query"}`: 0})
}

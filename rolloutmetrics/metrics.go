// Package rolloutmetrics provides the Prometheus series of a rollout: those
// `upgate run --metrics-bind-address` serves while it runs (Metrics, the
// executor's Observer, and Server), and the count of nodes under upgate's
// own cordon that `upgate serve` exports (Cordons), which outlives the run:
// the chart's UpgateExecutorGone alert reads it once the run's series are
// gone.
package rolloutmetrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/upgate-dev/upgate/executor"
)

// StepBuckets are the bounds of upgate_rollout_step_duration_seconds: from
// a cordon (a fraction of a second) to a driver upgrade that takes the
// whole default --driver-timeout (30m) and beyond.
var StepBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// steps are the node steps the histogram has a series for from the start
// (zero observations), so that rate() and histogram_quantile() see every
// step before the first node reaches it: the contract's six, and uncordon,
// which the run record and the Events name too.
var steps = []string{executor.StepGate, executor.StepCordon, executor.StepDrain, executor.StepUpgrade,
	executor.StepReady, executor.StepUncordon, executor.StepValidate}

// Metrics are a run's rollout series in their own registry, with the Go
// runtime's and the process's (as upgate serve has them). It is the
// executor's Observer: give it to Runner.Observer and serve Handler.
type Metrics struct {
	reg          *prometheus.Registry
	nodes        *prometheus.GaugeVec
	info         *prometheus.GaugeVec
	steps        *prometheus.HistogramVec
	paused       *prometheus.GaugeVec
	lastProgress prometheus.Gauge

	mu sync.Mutex
	// pauses counts the pauses under way by reason: workers in parallel
	// may each wait for their gate, and the gauge says 1 while any does.
	pauses map[string]int
	// last is the last-progress time set.
	last float64
}

var _ executor.Observer = (*Metrics)(nil)

// New registers the rollout series, every label value of the contract
// present from the start: a pending count of 0 is an answer, an absent
// series is not.
func New() (*Metrics, error) {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "rollout_nodes",
			Help: "Nodes of the run's plan by state (pending, in-progress, done, skipped, failed, quarantined), read from each node's upgate.dev/phase and kubelet at the start of the run and of each hop and after each change: a restarted run counts what earlier runs did.",
		}, []string{"state"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "rollout_info",
			Help: "The hop (its version), the stage the run is in and the run's target version (always 1; one series).",
		}, []string{"hop", "stage", "target_version"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "upgate", Name: "rollout_step_duration_seconds",
			Help:    "Time each node step took (gate, cordon, drain, upgrade, ready, uncordon, validate), however it ended.",
			Buckets: StepBuckets,
		}, []string{"step"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "rollout_paused",
			Help: "1 while the run is paused, by reason: gate (a node's gate blocks and the run looks again within --gate-wait, or the workers wait for the cloud-controller-manager check); alert (alerts fire, or the --alert-url cannot be read, and the run looks again within --alert-wait); query (a --gate-query does not pass, before a node or after its validation, and the run looks again within --gate-query-wait); window stays 0 until maintenance windows exist.",
		}, []string{"reason"}),
		lastProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "rollout_last_progress_timestamp_seconds",
			Help: "Unix time the run last moved: its start, each node step completed, each stage finished.",
		}),
		pauses: map[string]int{},
	}
	for _, s := range executor.NodeStates {
		m.nodes.WithLabelValues(string(s)).Set(0)
	}
	for _, s := range steps {
		m.steps.WithLabelValues(s)
	}
	for _, r := range executor.PauseReasons {
		m.paused.WithLabelValues(r).Set(0)
	}
	for _, c := range []prometheus.Collector{m.nodes, m.info, m.steps, m.paused, m.lastProgress,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Gatherer is the registry, for tests and other handlers.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Nodes sets the count of each state.
func (m *Metrics) Nodes(counts map[executor.NodeState]int) {
	for s, n := range counts {
		m.nodes.WithLabelValues(string(s)).Set(float64(n))
	}
}

// Stage replaces the info series: one series, the run's position now.
func (m *Metrics) Stage(hop string, stage executor.StageName, target string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.info.Reset()
	m.info.WithLabelValues(hop, string(stage), target).Set(1)
}

// Step observes a node step's duration.
func (m *Metrics) Step(step, _ string, d time.Duration) {
	m.steps.WithLabelValues(step).Observe(d.Seconds())
}

// Progress moves the last-progress time forward (never back: parallel
// workers may report out of order).
func (m *Metrics) Progress(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ts := float64(t.UnixNano()) / 1e9; ts > m.last {
		m.last = ts
		m.lastProgress.Set(ts)
	}
}

// Paused counts a pause for reason in or out; the gauge is 1 while one is
// under way.
func (m *Metrics) Paused(reason string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.pauses[reason]++
	} else if m.pauses[reason] > 0 {
		m.pauses[reason]--
	}
	v := 0.0
	if m.pauses[reason] > 0 {
		v = 1
	}
	m.paused.WithLabelValues(reason).Set(v)
}

package service

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/upgate-dev/upgate/finding"
)

// metrics are upgate's series, namespaced and with few labels: a check ID
// and a severity are bounded sets; subjects are never labels.
type metrics struct {
	up        prometheus.GaugeFunc
	blocked   prometheus.Gauge
	findings  *prometheus.GaugeVec
	runs      *prometheus.CounterVec
	triggers  *prometheus.CounterVec
	duration  prometheus.Histogram
	lastCheck prometheus.Gauge
	info      *prometheus.GaugeVec
}

// newMetrics registers upgate's series; up is read at each scrape, so a
// report going stale shows without waiting for the next check.
func newMetrics(reg prometheus.Registerer, up func() float64) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "check_up",
			Help: "1 when the last check could read the cluster and evaluate the policies and is not stale, 0 when it failed, timed out or is stale.",
		}, up),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "upgrade_blocked",
			Help: "1 when the last successful check blocked the upgrade, 0 when it passed.",
		}),
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "findings",
			Help: "Findings of the last successful check by check ID and severity (ignored findings have severity \"ignored\").",
		}, []string{"check", "severity"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "upgate", Name: "check_runs_total",
			Help: "Checks run, by result: passed, blocked or error.",
		}, []string{"result"}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "upgate", Name: "check_triggers_total",
			Help: "Checks started by upgate serve's loop, by what started them: start (the first), interval, or change (changes in the cluster, once they settled).",
		}, []string{"trigger"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "upgate", Name: "check_duration_seconds",
			Help:    "Time to collect the state and evaluate the policies.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		lastCheck: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "last_check_timestamp_seconds",
			Help: "Unix time of the last successful check.",
		}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "check_info",
			Help: "Versions of the last successful check (always 1).",
		}, []string{"current_version", "target_version"}),
	}
	// The Go runtime's and the process's own series (go_*, process_*),
	// as every Go exporter has them: memory, goroutines, CPU, open files.
	goc := collectors.NewGoCollector()
	proc := collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	for _, c := range []prometheus.Collector{m.up, m.blocked, m.findings, m.runs, m.triggers, m.duration, m.lastCheck, m.info, goc, proc} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, t := range triggers {
		m.triggers.WithLabelValues(string(t))
	}
	return m, nil
}

func (m *metrics) record(r *finding.Report) {
	m.runs.WithLabelValues(string(r.Verdict)).Inc()
	if r.Blocked() {
		m.blocked.Set(1)
	} else {
		m.blocked.Set(0)
	}
	// Reset so a check that stopped firing drops to absent, not stale.
	m.findings.Reset()
	for _, f := range r.Findings {
		sev := string(f.Severity)
		if f.Ignored {
			sev = "ignored"
		}
		m.findings.WithLabelValues(f.Check, sev).Inc()
	}
	m.lastCheck.Set(float64(r.GeneratedAt.Unix()))
	m.info.Reset()
	m.info.WithLabelValues(r.CurrentVersion, r.TargetVersion).Set(1)
}

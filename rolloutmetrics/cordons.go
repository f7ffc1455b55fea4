package rolloutmetrics

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upgate-dev/upgate/executor"
)

// Cordons is upgate serve's count of nodes under upgate's own cordon. A
// run's metrics go when the run ends, and a run that stopped on a failed
// node, or was killed, leaves nodes cordoned behind it: this series, read
// from the cluster at each check, is what still says so.
type Cordons struct {
	g prometheus.Gauge
}

// NewCordons makes the gauge upgate_nodes_cordoned_by_upgate; register
// Collector with serve's registry.
func NewCordons() *Cordons {
	return &Cordons{g: prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "upgate", Name: "nodes_cordoned_by_upgate",
		Help: "Nodes unschedulable under a cordon an upgate run recorded as its own (upgate.dev/cordoned-by=upgate, not upgate.dev/was-cordoned), at the last successful check: a run under way, or nodes a stopped run left cordoned (failed, quarantined, interrupted).",
	})}
}

// Collector is the gauge, for a registry.
func (c *Cordons) Collector() prometheus.Collector { return c.g }

// Observe counts the nodes under upgate's cordon among nodes.
func (c *Cordons) Observe(nodes []*corev1.Node) {
	c.g.Set(float64(CordonedByUpgate(nodes)))
}

// CordonedByUpgate counts the nodes that are unschedulable under a cordon
// an upgate run recorded as its own. Done clears the record, so a node
// left cordoned by someone else after its upgrade is not counted.
func CordonedByUpgate(nodes []*corev1.Node) int {
	n := 0
	for _, node := range nodes {
		if p := executor.ReadProgress(node); node.Spec.Unschedulable && p.CordonedByUs && !p.WasCordoned {
			n++
		}
	}
	return n
}

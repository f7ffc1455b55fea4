package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/kubever"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/reports"
	"github.com/upgate-dev/upgate/synth"
)

// BenchmarkScaleRunNodeGate is what `upgate run` spends on each node
// beyond the cluster's own waits, on synth's clusters (500 and 5,000
// nodes, 30 pods each) served by client-go's fake clientset: the state
// read from the run's watched informers (no list), the node's gate before
// it is touched and its validation after, each as liveGate computes them.
// Beside it, one whole check of the same state. Issue 11's goals: gate/
// check at most 0.1 at 5,000 nodes, and node-s (gate and validation
// together) under 2 s.
//
//	go test -run '^$' -bench ScaleRunNodeGate -benchtime 3x ./cli/
func BenchmarkScaleRunNodeGate(b *testing.B) {
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			// The fake clientset keeps its own copies: the generated
			// inventory is dropped, so that the process holds what a run
			// holds (the informers' caches) plus the fake API server.
			inv := synth.Cluster(synth.Options{Nodes: nodes})
			cs := fake.NewClientset(synth.Objects(inv)...)
			cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: inv.ServerVersion}
			node := inv.Nodes[len(inv.Nodes)/2].Name
			inv = nil
			a := &app{
				streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard},
				log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
				seams:   seams{clientset: func() (kubernetes.Interface, error) { return cs, nil }},
			}
			cfg := &Config{Target: "v1.36", MaxUnavailable: 2, Timeout: time.Minute}
			ctx := context.Background()
			engine, err := policies.New(ctx, policies.Options{})
			if err != nil {
				b.Fatal(err)
			}
			watched, state, err := a.watch(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer watched.Stop()
			baseline, err := state(ctx, "")
			if err != nil {
				b.Fatal(err)
			}
			target, err := kubever.Parse(cfg.Target)
			if err != nil {
				b.Fatal(err)
			}
			g := &liveGate{a: a, cfg: cfg, engine: engine, baseline: baseline, state: state}
			b.ReportAllocs()
			b.ResetTimer()
			var check, gate, validate time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				now, err := state(ctx, "")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := judge(ctx, cfg, engine, now, target, reports.PhasePreflight, nil); err != nil {
					b.Fatal(err)
				}
				check += time.Since(start)
				start = time.Now()
				if _, err := g.gate(ctx, node); err != nil {
					b.Fatal(err)
				}
				gate += time.Since(start)
				start = time.Now()
				if _, err := g.validate(ctx, node); err != nil {
					b.Fatal(err)
				}
				validate += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(check.Seconds()/n, "check-s")
			b.ReportMetric(gate.Seconds()/n, "gate-s")
			b.ReportMetric(validate.Seconds()/n, "validate-s")
			b.ReportMetric((gate+validate).Seconds()/n, "node-s")
			b.ReportMetric(gate.Seconds()/check.Seconds(), "gate/check")
		})
	}
}

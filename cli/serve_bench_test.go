package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/synth"
)

// BenchmarkServeSteadyState is `upgate serve` on a live cluster of synth's
// sizes (500 and 5,000 nodes, 30 pods each) served by client-go's fake
// clientset: the first check starts serve's watch (every kind listed
// once); each iteration is then one check as serve's loop runs it (the
// watched state read, the policies evaluated, the report made), with no
// list. Run it alone at 5,000 nodes with
//
//	UPGATE_BENCH_NODES=5000 go test -run '^$' -bench ServeSteadyState -benchtime 3x ./cli/
//
// It reports check-s, one steady check, and of it state-s (reading the
// watched state), evaluate-s (the policies) and report-s (the report,
// which hashes the state's snapshot encoding: its snapshotDigest);
// first-check-s, the first check, the watch's lists included; MB-heap,
// the heap in use after the checks (runtime.ReadMemStats after GC,
// HeapInuse), the last report held as serve holds it; MB-fake, the same
// before serve started: the fake API server, whose tracker keeps its own
// copy of every object, and the compiled policies, which a real serve
// does not hold; and MB-serve, MB-heap minus MB-fake: what serve itself
// keeps (the informers' caches, scrubbed, and the watch's views over
// them).
func BenchmarkServeSteadyState(b *testing.B) {
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			inv := synth.Cluster(synth.Options{Nodes: nodes})
			cs := fake.NewClientset(synth.Objects(inv)...)
			cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: inv.ServerVersion}
			inv = nil
			a := &app{
				streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard},
				log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
				seams:   seams{clientset: func() (kubernetes.Interface, error) { return cs, nil }},
			}
			cfg := &Config{Target: "v1.36", MaxUnavailable: 2, Timeout: time.Minute}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			engine, err := policies.New(ctx, policies.Options{})
			if err != nil {
				b.Fatal(err)
			}
			fakeHeap := heapInUse()
			live := &servedState{a: a, cfg: cfg, life: ctx, changed: func() {}}
			defer live.stop()
			// A check as serve's eval runs it, its parts timed: the state
			// read from the watch, the policies' evaluation, the report
			// (which hashes the state's snapshot encoding: its
			// snapshotDigest).
			var stateT, reportT time.Duration
			load := func(ctx context.Context) (*inventory.Inventory, error) {
				start := time.Now()
				defer func() { stateT += time.Since(start) }()
				return live.inventory(ctx)
			}
			check := func() *finding.Report {
				ev, err := a.evaluateFrom(ctx, cfg, finding.PhasePreflight, engine, load)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				rep, err := a.report(ev, cfg, finding.PhasePreflight)
				if err != nil {
					b.Fatal(err)
				}
				reportT += time.Since(start)
				return rep
			}
			lists := func() int {
				n := 0
				for _, act := range cs.Actions() {
					if act.GetVerb() == "list" {
						n++
					}
				}
				return n
			}
			start := time.Now()
			last := check()
			first := time.Since(start)
			listed := lists()
			// The first check's garbage (the lists) is not the next's.
			goruntime.GC()
			stateT, reportT = 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				last = check()
			}
			b.StopTimer()
			steady := b.Elapsed()
			if n := lists(); n != listed {
				b.Fatalf("the steady checks listed %d times: serve must read its watch", n-listed)
			}
			heap := heapInUse()
			goruntime.KeepAlive(last)
			mb := func(n uint64) float64 { return float64(n) / 1e6 }
			n := float64(b.N)
			b.ReportMetric(steady.Seconds()/n, "check-s")
			b.ReportMetric(stateT.Seconds()/n, "state-s")
			b.ReportMetric(reportT.Seconds()/n, "report-s")
			b.ReportMetric((steady-stateT-reportT).Seconds()/n, "evaluate-s")
			b.ReportMetric(first.Seconds(), "first-check-s")
			b.ReportMetric(mb(heap), "MB-heap")
			b.ReportMetric(mb(fakeHeap), "MB-fake")
			b.ReportMetric(mb(heap)-mb(fakeHeap), "MB-serve")
		})
	}
}

// heapInUse is the heap in use once the garbage is collected.
func heapInUse() uint64 {
	goruntime.GC()
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapInuse
}

package policies

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// Policy input building and evaluation at scale, on synth's clusters of
// synth.BenchNodes() nodes (500 and 5,000 by default, 30 pods per node)
// shaped as the collector leaves them (synth.Collected). bench_test.go's
// BenchmarkEvaluate runs a smaller hand-made cluster; these add the phases
// apart and each topic alone. hack/bench.sh runs them.
//
//	go test -run '^$' -bench Scale -benchtime 1x ./policies/

var (
	scaleMu   sync.Mutex
	scaleInvs = map[int]*inventory.Inventory{}
)

// scaleInventory generates (once per size and process) a collected cluster.
func scaleInventory(b *testing.B, nodes int) *inventory.Inventory {
	b.Helper()
	scaleMu.Lock()
	defer scaleMu.Unlock()
	if inv, ok := scaleInvs[nodes]; ok {
		return inv
	}
	inv := synth.Collected(synth.Cluster(synth.Options{Nodes: nodes}))
	scaleInvs[nodes] = inv
	return inv
}

func scaleRequest(b *testing.B, nodes int) Request {
	inv := scaleInventory(b, nodes)
	return Request{Inventory: inv, Current: mustVerB(b, "1.35.2"), Target: mustVerB(b, "1.36"), Phase: finding.PhasePreflight, MaxUnavailable: 1}
}

func reportPods(b *testing.B, req Request) {
	b.ReportMetric(float64(len(req.Inventory.Pods))*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}

// BenchmarkScaleBuildInput is building the ast.Value input (joins in Go).
func BenchmarkScaleBuildInput(b *testing.B) {
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			req := scaleRequest(b, nodes)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := buildInput(&req, nil); err != nil {
					b.Fatal(err)
				}
			}
			reportPods(b, req)
		})
	}
}

// BenchmarkScaleSections is each input section alone.
func BenchmarkScaleSections(b *testing.B) {
	for _, nodes := range synth.BenchNodes() {
		for _, name := range sortedSectionNames() {
			b.Run(fmt.Sprintf("nodes=%d/%s", nodes, name), func(b *testing.B) {
				req := scaleRequest(b, nodes)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := sections[name](newIndex(req.Inventory, &req)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkScaleEvaluate is the whole Engine.Evaluate: input and every
// preflight topic.
func BenchmarkScaleEvaluate(b *testing.B) {
	e, err := New(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			req := scaleRequest(b, nodes)
			b.ReportAllocs()
			b.ResetTimer()
			var findings int
			for i := 0; i < b.N; i++ {
				res, err := e.Evaluate(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				findings = len(res.Findings)
			}
			reportPods(b, req)
			b.ReportMetric(float64(findings), "findings")
		})
	}
}

// BenchmarkScaleRego is the Rego evaluation alone, input built beforehand,
// one sub-benchmark per topic (a quadratic rule shows as one topic growing
// 100x from 500 to 5,000 nodes) and "all" for every preflight topic.
func BenchmarkScaleRego(b *testing.B) {
	e, err := New(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, nodes := range synth.BenchNodes() {
		req := scaleRequest(b, nodes)
		input, err := buildInput(&req, nil)
		if err != nil {
			b.Fatal(err)
		}
		var topics []*topic
		for _, t := range e.topics {
			if t.phases[finding.PhasePreflight] {
				topics = append(topics, t)
			}
		}
		run := func(b *testing.B, ts []*topic) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, t := range ts {
					if _, err := t.query.Eval(context.Background(), rego.EvalParsedInput(input)); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportPods(b, req)
		}
		b.Run(fmt.Sprintf("nodes=%d/all", nodes), func(b *testing.B) { run(b, topics) })
		for _, t := range topics {
			b.Run(fmt.Sprintf("nodes=%d/%s", nodes, strings.TrimPrefix(t.pkg, "data.upgate.")), func(b *testing.B) {
				run(b, []*topic{t})
			})
		}
	}
}

func sortedSectionNames() []string {
	names := make([]string, 0, len(sections))
	for n := range sections {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BenchmarkScaleNodeGate is one whole check (input and every preflight
// topic) against one node's gate as upgate run computes it: the
// node-restricted evaluation (Request.Node: only the topics that declare
// scope node, on the input restricted to the node, with the run's Memo of
// what each pod gave the gates before), then the node's findings
// (Result.NodeGate). gate/check is their ratio; issue 11 wants it at most
// 0.1 at 5,000 nodes. The gate is measured on a node in the middle of the
// list, with two nodes drained at once (its capacity row places its
// window's pods too). The checks run first, then the gates, after a
// collection: a run gates node after node, with no whole check between
// them to leave garbage behind. One gate before the timings fills the
// memo, as a run's first node does once for the whole run.
func BenchmarkScaleNodeGate(b *testing.B) {
	e, err := New(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			req := scaleRequest(b, nodes)
			req.MaxUnavailable = 2
			node := req.Inventory.Nodes[len(req.Inventory.Nodes)/2].Name
			nreq := req
			nreq.Node, nreq.Memo = node, NewMemo()
			gateOnce := func() {
				res, err := e.Evaluate(context.Background(), nreq)
				if err != nil {
					b.Fatal(err)
				}
				_ = res.NodeGate(node)
			}
			gateOnce()
			b.ReportAllocs()
			b.ResetTimer()
			var check, gate time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := e.Evaluate(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				check += time.Since(start)
			}
			b.StopTimer()
			runtime.GC()
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				gateOnce()
				gate += time.Since(start)
			}
			b.ReportMetric(check.Seconds()/float64(b.N), "check-s")
			b.ReportMetric(gate.Seconds()/float64(b.N), "gate-s")
			b.ReportMetric(gate.Seconds()/check.Seconds(), "gate/check")
		})
	}
}

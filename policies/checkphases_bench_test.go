package policies

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// BenchmarkCheckPhases splits the whole check of cli's
// BenchmarkCheckVsFloor into its phases, each timed on the wall clock
// apart, on the same files (issue 14's map of where the time goes):
// reading the file into the inventory (inventory.Read: decoding into
// k8s.io/api types, scrubbing, sorting, recording API usages, hashing),
// compiling the policies (New), building the policy input as ast values
// (buildInput: joins in Go, facts per pod), the Rego evaluation of every
// preflight topic on that input, and Engine.Evaluate whole (input, Rego
// and decoding the findings). alloc-MB is what each phase allocates,
// live-MB what the inventory holds after a collection.
//
//	go test -run '^$' -bench CheckPhases -benchtime 1x ./policies/
func BenchmarkCheckPhases(b *testing.B) {
	type file struct {
		label, format string
		opts          synth.Options
	}
	var files []file
	for _, n := range synth.BenchNodes() {
		files = append(files, file{fmt.Sprintf("compact/nodes=%d", n), synth.FormatCompact, synth.Options{Nodes: n}})
	}
	for _, n := range synth.BenchRealNodes() {
		files = append(files, file{fmt.Sprintf("real/nodes=%d", n), synth.FormatAPIServer, synth.Options{Nodes: n, ManagedFields: true}})
	}
	for _, n := range synth.BenchNodes() {
		files = append(files, file{fmt.Sprintf("snapshot/nodes=%d", n), synth.FormatSnapshot, synth.Options{Nodes: n}})
	}
	for _, f := range files {
		b.Run(f.label, func(b *testing.B) {
			path, err := synth.CachedFile(synth.BenchDir(), f.format, f.opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				var inv *inventory.Inventory
				read, readAlloc := phase(func() { inv, err = inventory.Read([]string{path}, nil) })
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				live := float64(ms.HeapAlloc) / 1e6
				var e *Engine
				compile, _ := phase(func() { e, err = New(ctx, Options{}) })
				if err != nil {
					b.Fatal(err)
				}
				req := Request{Inventory: inv, Current: mustVerB(b, "1.35.2"), Target: mustVerB(b, "1.36"), Phase: finding.PhasePreflight, MaxUnavailable: 1}
				var input ast.Value
				in, inAlloc := phase(func() { input, err = buildInput(&req, nil) })
				if err != nil {
					b.Fatal(err)
				}
				var topics []*topic
				for _, t := range e.topics {
					if t.phases[finding.PhasePreflight] {
						topics = append(topics, t)
					}
				}
				var perTopic []string
				regoT, regoAlloc := phase(func() {
					for _, t := range topics {
						start := time.Now()
						if _, err = t.query.Eval(ctx, rego.EvalParsedInput(input)); err != nil {
							return
						}
						perTopic = append(perTopic, fmt.Sprintf("%s %.2fs", strings.TrimPrefix(t.pkg, "data.upgate."), time.Since(start).Seconds()))
					}
				})
				if err != nil {
					b.Fatal(err)
				}
				input = nil
				var res *Result
				eval, evalAlloc := phase(func() { res, err = e.Evaluate(ctx, req) })
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(read.Seconds(), "read-s")
				b.ReportMetric(readAlloc, "read-alloc-MB")
				b.ReportMetric(live, "live-MB")
				b.ReportMetric(compile.Seconds(), "compile-s")
				b.ReportMetric(in.Seconds(), "input-s")
				b.ReportMetric(inAlloc, "input-alloc-MB")
				b.ReportMetric(regoT.Seconds(), "rego-s")
				b.ReportMetric(regoAlloc, "rego-alloc-MB")
				b.ReportMetric(eval.Seconds(), "evaluate-s")
				b.ReportMetric(evalAlloc, "evaluate-alloc-MB")
				b.ReportMetric(float64(len(res.Findings)), "findings")
				b.Logf("%s: read %.2fs, compile %.2fs, input %.2fs, rego %.2fs (%s), evaluate %.2fs; %d findings; load %s",
					f.label, read.Seconds(), compile.Seconds(), in.Seconds(), regoT.Seconds(), strings.Join(perTopic, ", "),
					eval.Seconds(), len(res.Findings), loadavg())
				runtime.KeepAlive(inv)
			}
		})
	}
}

// phase runs fn after a collection and returns its wall time and the MB
// it allocated.
func phase(fn func()) (time.Duration, float64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	start := time.Now()
	fn()
	d := time.Since(start)
	metrics.Read(s)
	return d, float64(s[0].Value.Uint64()-before) / 1e6
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

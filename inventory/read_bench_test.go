package inventory_test

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// Reading cluster state at scale: synthetic clusters of synth.BenchNodes()
// nodes (500 and 5,000 by default, 30 pods per node), generated once into
// synth.BenchDir() and reused. hack/bench.sh runs these.
//
//	go test -run '^$' -bench ReadScale -benchtime 1x ./inventory/

func benchFile(b *testing.B, nodes int, format string) string {
	b.Helper()
	start := time.Now()
	path, err := synth.CachedFile(synth.BenchDir(), format, synth.Options{Nodes: nodes})
	if err != nil {
		b.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		b.Logf("generated %s in %s", path, d.Round(time.Millisecond))
	}
	return path
}

func fileSize(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// BenchmarkReadScale is inventory.Read of one snapshot or manifests file:
// the whole decode, scrub and sort.
func BenchmarkReadScale(b *testing.B) {
	for _, format := range []string{synth.FormatSnapshot, synth.FormatManifests} {
		for _, nodes := range sizes(format) {
			b.Run(fmt.Sprintf("%s/nodes=%d", format, nodes), func(b *testing.B) {
				path := benchFile(b, nodes, format)
				b.SetBytes(fileSize(b, path))
				b.ReportAllocs()
				b.ResetTimer()
				var inv *inventory.Inventory
				for i := 0; i < b.N; i++ {
					inv = nil
					var err error
					if inv, err = inventory.Read([]string{path}, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(inv.Pods))*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
				b.ReportMetric(liveMB(), "live-MB")
				runtime.KeepAlive(inv)
			})
		}
	}
}

// BenchmarkJSONFloorScale decodes the same files with encoding/json into
// untyped values: the floor any JSON reader of them pays, and the yardstick
// the policy evaluation is held to.
func BenchmarkJSONFloorScale(b *testing.B) {
	for _, format := range []string{synth.FormatSnapshot, synth.FormatManifests} {
		for _, nodes := range sizes(format) {
			b.Run(fmt.Sprintf("%s/nodes=%d", format, nodes), func(b *testing.B) {
				path := benchFile(b, nodes, format)
				b.SetBytes(fileSize(b, path))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					f, err := os.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					var v map[string]any
					err = json.NewDecoder(f).Decode(&v)
					f.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSnapshotScale is encoding an inventory as a snapshot (what
// `upgate snapshot` writes and what `check` hashes for its report).
func BenchmarkSnapshotScale(b *testing.B) {
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			inv := synth.Collected(synth.Cluster(synth.Options{Nodes: nodes}))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := inv.WriteSnapshot(discard{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(inv.Pods))*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// sizes is the node counts a format is benchmarked at.
func sizes(format string) []int {
	if format == synth.FormatManifests {
		return synth.BenchManifestNodes()
	}
	return synth.BenchNodes()
}

// liveMB is the heap still in use after a collection: what the result
// holds.
func liveMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

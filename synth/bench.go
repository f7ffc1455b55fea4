package synth

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// BenchDir is where benchmarks keep generated clusters: $UPGATE_BENCH_DIR,
// else $UPGATE_CACHE/bench, else $HOME/.cache/upgate/bench (outside the
// repository: the files run to gigabytes).
func BenchDir() string {
	if d := os.Getenv("UPGATE_BENCH_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("UPGATE_CACHE"); d != "" {
		return filepath.Join(d, "bench")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "upgate-bench")
	}
	return filepath.Join(home, ".cache", "upgate", "bench")
}

// BenchManifestNodes is the sizes benchmarks read manifests at:
// $UPGATE_BENCH_MANIFEST_NODES, else 500 only. A kubectl List of 5,000
// nodes is about 2.8 GB of indented JSON whose items come before its kind,
// so the reader must keep them all before decoding: several GB of memory
// on a shared machine, for a path snapshots avoid.
func BenchManifestNodes() []int {
	return nodesFrom("UPGATE_BENCH_MANIFEST_NODES", []int{500})
}

// BenchNodes is the cluster sizes benchmarks run at: $UPGATE_BENCH_NODES
// (comma-separated node counts), else 500 and 5,000 (30 pods per node:
// 15,000 and 150,000 pods, the latter Kubernetes' published limit).
func BenchNodes() []int {
	return nodesFrom("UPGATE_BENCH_NODES", []int{500, 5000})
}

func nodesFrom(env string, def []int) []int {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 1 {
			out = append(out, n)
		}
	}
	return out
}

// BenchRealNodes is the sizes the check-against-floor benchmark reads the
// real-shaped dump at (FormatAPIServer with managedFields):
// $UPGATE_BENCH_REAL_NODES, else 1,000 only. At 5,000 nodes that dump is
// about 1.5 GB, and decoding it into untyped values (the floor) alone
// takes several GB: too much for a shared machine by default.
func BenchRealNodes() []int {
	return nodesFrom("UPGATE_BENCH_REAL_NODES", []int{1000})
}

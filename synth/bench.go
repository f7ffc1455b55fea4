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

// BenchNodes is the cluster sizes benchmarks run at: $UPGATE_BENCH_NODES
// (comma-separated node counts), else 500 and 5,000 (30 pods per node:
// 15,000 and 150,000 pods, the latter Kubernetes' published limit).
func BenchNodes() []int {
	s := os.Getenv("UPGATE_BENCH_NODES")
	if s == "" {
		return []int{500, 5000}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 1 {
			out = append(out, n)
		}
	}
	return out
}

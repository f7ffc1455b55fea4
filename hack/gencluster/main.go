// Command gencluster writes a synthetic cluster (package synth) as an
// upgate snapshot or as kubectl-style manifests (one `kind: List` JSON
// document), for benchmarks and scale tests:
//
//	go run ./hack/gencluster -nodes 5000 -pods-per-node 30 -format snapshot -o /tmp/c5000.json
//	go run ./hack/gencluster -nodes 5000 -format compact -o /tmp/compact5000.json        # small objects, 328 MB
//	go run ./hack/gencluster -nodes 1000 -format apiserver -managed-fields -o /tmp/real1000.json # as an API server sends it
//	go run ./hack/gencluster -nodes 1000 -pods-per-node 10 -format manifests -kwok -roots -o /tmp/live.json
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/upgate-dev/upgate/synth"
)

func main() {
	var (
		opts  synth.Options
		mopts synth.ManifestOptions
		out   string
		fmtS  string
		seed  uint64
	)
	flag.IntVar(&opts.Nodes, "nodes", 500, "nodes, 3 of them control-plane (1 below 6 nodes)")
	flag.IntVar(&opts.PodsPerNode, "pods-per-node", 30, "average pods per node, DaemonSet and control-plane pods included")
	flag.IntVar(&opts.Namespaces, "namespaces", 0, "application namespaces (default nodes/10, at least 4)")
	flag.Uint64Var(&seed, "seed", 1, "random seed: the same flags always give the same bytes")
	flag.StringVar(&opts.Version, "version", "v1.35.2", "control-plane and kubelet version")
	flag.BoolVar(&opts.ManagedFields, "managed-fields", false, "add managedFields to every object, as a real API server returns them")
	flag.BoolVar(&opts.Kwok, "kwok", false, "shape nodes for kwok: annotation kwok.x-k8s.io/node: fake, no addresses, pod CIDRs in 127.0.0.0/8")
	flag.BoolVar(&mopts.Roots, "roots", false, "manifests: only what a user creates (no controller-made pods, ReplicaSets, EndpointSlices, Jobs; no uids or status), to apply to a live cluster")
	flag.StringVar(&fmtS, "format", synth.FormatSnapshot, "snapshot; manifests (kubectl get -o json, indented); "+
		"compact (a List of small objects: only what a minimal real object carries and the checks read, one a line); "+
		"apiserver (manifests unindented, as an API server sends them; add -managed-fields for a real-shaped dump)")
	flag.StringVar(&out, "o", "", "output file (this or -cached is required)")
	cached := flag.String("cached", "", "generate into this directory under the name benchmarks use, unless it is there already, and print its path")
	flag.Parse()
	opts.Seed = seed
	if *cached != "" && out == "" && flag.NArg() == 0 && !mopts.Roots {
		path, err := synth.CachedFile(*cached, fmtS, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gencluster:", err)
			os.Exit(1)
		}
		fmt.Println(path)
		return
	}
	if out == "" || flag.NArg() > 0 || *cached != "" {
		fmt.Fprintln(os.Stderr, "gencluster: give -o FILE or -cached DIR (and no arguments; -cached takes no -roots); see -h")
		os.Exit(2)
	}
	start := time.Now()
	if err := synth.WriteFile(out, fmtS, opts, mopts); err != nil {
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
	st, err := os.Stat(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gencluster: wrote %s (%s, %d nodes x %d pods/node, %.1f MB) in %s\n",
		out, fmtS, opts.Nodes, opts.PodsPerNode, float64(st.Size())/1e6, time.Since(start).Round(time.Millisecond))
}

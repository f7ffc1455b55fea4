// Package synth generates synthetic, deterministic cluster state of any
// size for benchmarks and scale tests: nodes with roles and kubelet
// versions, kube-system mirror pods, DaemonSets on every node, Deployments
// with their ReplicaSets and pods, StatefulSets with PersistentVolumeClaims
// bound to PersistentVolumes, Jobs, PodDisruptionBudgets, Services with
// their EndpointSlices and admission webhooks, with field content shaped
// like what a real API server returns (labels, requests, probes, owner
// references, conditions, container statuses, optionally managedFields).
//
// The same Options always give the same objects, byte for byte: every
// random choice comes from a PCG source seeded with Options.Seed, and every
// timestamp is derived from a fixed epoch.
//
//	st := synth.Cluster(synth.Options{Nodes: 5000})           // 150,000 pods
//	err := synth.WriteManifests(w, inv, synth.ManifestOptions{}) // kubectl get -o json, kind: List
//	err = synth.WriteSnapshot(w, inv)                          // what `upgate snapshot` writes
package synth

import (
	"fmt"
	corev1 "k8s.io/api/core/v1"
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/upgate-dev/upgate/inventory"
)

// Options shape the cluster. Zero values take the documented defaults.
type Options struct {
	// Nodes is the number of nodes, control-plane nodes included (default
	// 500, at least 2). Clusters of 6 nodes or more get 3 control-plane
	// nodes, smaller ones 1.
	Nodes int
	// PodsPerNode is the average number of pods per node (default 30): the
	// cluster holds Nodes*PodsPerNode pods in all, DaemonSet and
	// control-plane pods included, the rest spread over the workers.
	PodsPerNode int
	// Seed makes a different but equally deterministic cluster (default 1).
	Seed uint64
	// Version is the control plane's and most kubelets' version (default
	// v1.35.2); about one node in twenty runs the previous minor's kubelet.
	Version string
	// Namespaces is the number of application namespaces (default
	// Nodes/10, at least 4).
	Namespaces int
	// ManagedFields adds a managedFields entry to every object, as a real
	// API server returns them (kubectl get -o json shows them). They are
	// what makes real dumps large; the collector drops them.
	ManagedFields bool
	// Kwok shapes nodes for kwok (annotation kwok.x-k8s.io/node: fake, no
	// addresses, pod CIDRs in 127.0.0.0/8) so the manifests can be applied
	// to a local kwok cluster.
	Kwok bool
}

func (o Options) withDefaults() Options {
	if o.Nodes == 0 {
		o.Nodes = 500
	}
	if o.Nodes < 2 {
		o.Nodes = 2
	}
	if o.PodsPerNode == 0 {
		o.PodsPerNode = 30
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Version == "" {
		o.Version = "v1.35.2"
	}
	if o.Namespaces == 0 {
		o.Namespaces = max(4, o.Nodes/10)
	}
	return o
}

// String names the options, for file names of cached clusters.
func (o Options) String() string {
	o = o.withDefaults()
	s := fmt.Sprintf("n%d-p%d-s%d-%s-ns%d", o.Nodes, o.PodsPerNode, o.Seed, o.Version, o.Namespaces)
	if o.ManagedFields {
		s += "-mf"
	}
	if o.Kwok {
		s += "-kwok"
	}
	return s
}

// epoch is the fixed "now" every timestamp is derived from.
var epoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// State is a generated cluster as an API server would return it: the
// inventory's lists of every kind, and the pods as the API serves them
// (Pods shadows the inventory's model pods, which Cluster and Collected
// build from them: writers need the whole pod).
type State struct {
	*inventory.Inventory
	Pods []*corev1.Pod
}

// Cluster generates the cluster state Options describe, as an API server
// would return it: managedFields present when asked for, no API usages
// recorded and nothing scrubbed (Collected does what the collector does).
func Cluster(opts Options) *State {
	g := newGen(opts.withDefaults())
	g.build()
	inventory.SortObjects(g.st.Pods)
	g.st.Inventory.Pods = inventory.PodsOf(g.st.Pods)
	g.st.Inventory.Sort()
	return g.st
}

// Collected records every object's API usages and scrubs it, as the live
// collector does, and returns the inventory the collector would have
// built (pods as the model keeps them): the shape `upgate snapshot`
// writes and Read returns. It changes st in place.
func Collected(st *State) *inventory.Inventory {
	inv := st.Inventory
	inv.APIUsages = nil
	each(st, func(apiVersion, kind string, o object) {
		m := o.meta()
		inv.RecordUsages("", apiVersion, kind, m)
		inventory.Scrub(o.ptr)
	})
	inv.Pods = inventory.PodsOf(st.Pods)
	inv.Sort()
	return inv
}

// gen holds the generator's state.
type gen struct {
	o  Options
	r  *rand.Rand
	st *State
	// seq numbers objects for uids and resource versions.
	seq uint64
}

func newGen(o Options) *gen {
	return &gen{
		o:  o,
		r:  rand.New(rand.NewPCG(o.Seed, 0x5eed_c1a5+o.Seed)),
		st: &State{Inventory: &inventory.Inventory{ServerVersion: o.Version, CollectedAt: epoch}},
	}
}

// uid is a deterministic RFC 4122 version 4 UID.
func (g *gen) uid() string {
	g.seq++
	a, b := g.r.Uint64(), g.r.Uint64()
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func (g *gen) resourceVersion() string {
	g.seq++
	return fmt.Sprintf("%d", 100000+g.seq*7)
}

// hash is a lowercase alphanumeric suffix like the ones controllers and
// generateName produce.
func (g *gen) hash(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

// ago is a timestamp d before the epoch, to the second.
func ago(d time.Duration) time.Time { return epoch.Add(-d).Truncate(time.Second) }

func (g *gen) agoDays(lo, hi int) time.Time {
	return ago(time.Duration(lo*24*3600+g.r.IntN((hi-lo)*24*3600+1)) * time.Second)
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }

// pick returns one of choices, each weighted.
func pick[T any](r *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.w
	}
	n := r.IntN(total)
	for _, c := range choices {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	return choices[len(choices)-1].v
}

type weighted[T any] struct {
	w int
	v T
}

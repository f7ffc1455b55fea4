package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/synth"
)

// BenchmarkScaleRunNodeGate is what `upgate run` spends on each node
// beyond the cluster's own waits, on synth's clusters (500 and 5,000
// nodes, 30 pods each) served by client-go's fake clientset: the state
// read from the run's watched informers (no list), the node's gate before
// it is touched and its validation after, each as liveGate computes them,
// with the run's memo. Between the two, outside the timings, the node is
// drained as a run drains it: each of its evictable pods is deleted and
// a new one created on another node, and its ReplicaSet's status moves.
// So each gate and validation reads a state that changed since the last,
// as in a run, and iteration i gates the i-th node after the middle one.
// Beside it, one whole check of the same state, timed first (see
// BenchmarkScaleNodeGate for why, and for the memo's first fill). Issue 11's goals: gate/
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
			byNode := servePodsByNode(b, cs)
			cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: inv.ServerVersion}
			var names []string
			for _, n := range inv.Nodes[len(inv.Nodes)/2:] {
				names = append(names, n.Name)
			}
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
			g := &liveGate{a: a, cfg: cfg, engine: engine, baseline: baseline, state: state, memo: policies.NewMemo()}
			// The run's first gate fills the memo, once for the run.
			if _, err := g.gate(ctx, names[len(names)-1]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var check, gate, validate time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				now, err := state(ctx, "")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := judge(ctx, cfg, engine, now, target, finding.PhasePreflight, nil); err != nil {
					b.Fatal(err)
				}
				check += time.Since(start)
			}
			// Then node after node, as a run goes, with no whole check
			// between them to leave its garbage to the collector.
			b.StopTimer()
			goruntime.GC()
			b.StartTimer()
			moved := 0
			for i := 0; i < b.N; i++ {
				node := names[i%(len(names)-1)]
				start := time.Now()
				if _, err := g.gate(ctx, node); err != nil {
					b.Fatal(err)
				}
				gate += time.Since(start)
				b.StopTimer()
				moved += benchDrain(ctx, b, cs, byNode, state, node, names[i%(len(names)-1)+1])
				b.StartTimer()
				start = time.Now()
				if _, err := g.validate(ctx, node); err != nil {
					b.Fatal(err)
				}
				validate += time.Since(start)
			}
			if byNode.lists == 0 {
				b.Fatal("no gate or validation listed its node's pods: the index served nothing and this benchmark measures another path than a run's")
			}
			n := float64(b.N)
			b.ReportMetric(check.Seconds()/n, "check-s")
			b.ReportMetric(gate.Seconds()/n, "gate-s")
			b.ReportMetric(validate.Seconds()/n, "validate-s")
			b.ReportMetric((gate+validate).Seconds()/n, "node-s")
			b.ReportMetric(gate.Seconds()/check.Seconds(), "gate/check")
			b.ReportMetric(float64(moved)/n, "pods-moved")
		})
	}
}

// podsByNode answers the one list a run makes per node, its pods by
// spec.nodeName (collector's podsCaughtUp), as a real API server does:
// from an index of its watch cache. client-go's fake clientset ignores
// field selectors and copies all 150,000 pods on each list, which at
// 5,000 nodes costs seconds that no run pays (measured here: a node's
// gate and validation at 7.5 s with the fake's own list, 2026-12-03).
// The index holds the pods as the fake's tracker stored them, versions
// included, and benchDrain keeps it in step with its moves.
type podsByNode struct {
	mu    sync.Mutex
	pods  map[string]map[string]*corev1.Pod // node -> namespace/name -> pod
	lists int
}

func servePodsByNode(b *testing.B, cs *fake.Clientset) *podsByNode {
	b.Helper()
	all, err := cs.CoreV1().Pods(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	idx := &podsByNode{pods: map[string]map[string]*corev1.Pod{}}
	for i := range all.Items {
		idx.add(&all.Items[i])
	}
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		fs := a.(k8stesting.ListAction).GetListRestrictions().Fields
		node, ok := fs.RequiresExactMatch("spec.nodeName")
		if !ok || a.GetNamespace() != metav1.NamespaceAll {
			return false, nil, nil
		}
		idx.mu.Lock()
		defer idx.mu.Unlock()
		idx.lists++
		list := &corev1.PodList{}
		for _, p := range idx.pods[node] {
			list.Items = append(list.Items, *p.DeepCopy())
		}
		return true, list, nil
	})
	return idx
}

func (x *podsByNode) add(p *corev1.Pod) {
	if x.pods[p.Spec.NodeName] == nil {
		x.pods[p.Spec.NodeName] = map[string]*corev1.Pod{}
	}
	x.pods[p.Spec.NodeName][p.Namespace+"/"+p.Name] = p
}

func (x *podsByNode) move(from, to *corev1.Pod) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.pods[from.Spec.NodeName], from.Namespace+"/"+from.Name)
	x.add(to)
}

// benchDrain moves the node's evictable pods to another node, as its
// drain and the scheduler would: each is deleted and a new pod created in
// its place, and its ReplicaSet's status is written again. It waits until
// the watched state has seen the moves, and returns how many pods moved.
func benchDrain(ctx context.Context, b *testing.B, cs kubernetes.Interface, byNode *podsByNode, state func(context.Context, string) (*inventory.Inventory, error), node, to string) int {
	b.Helper()
	inv, err := state(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	moved := map[string]bool{}
	for _, p := range inv.Pods {
		if p.Spec.NodeName != node || !inventory.Evictable(p) {
			continue
		}
		live, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		np := live.DeepCopy()
		np.Name, np.Spec.NodeName, np.ResourceVersion, np.UID = p.Name+"-m", to, "", ""
		created, err := cs.CoreV1().Pods(np.Namespace).Create(ctx, np, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		byNode.move(live, created)
		moved[np.Namespace+"/"+np.Name] = true
		for _, o := range p.OwnerReferences {
			if o.Kind != "ReplicaSet" {
				continue
			}
			rs, err := cs.AppsV1().ReplicaSets(p.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
			if err != nil {
				b.Fatal(err)
			}
			rs.Status.ObservedGeneration++
			if _, err := cs.AppsV1().ReplicaSets(p.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// The watch delivers the moves in a few milliseconds.
	for deadline := time.Now().Add(30 * time.Second); ; {
		inv, err := state(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		seen := 0
		for _, p := range inv.Pods {
			if moved[p.Namespace+"/"+p.Name] {
				seen++
			}
		}
		if seen == len(moved) {
			return len(moved)
		}
		if time.Now().After(deadline) {
			b.Fatalf("the watch saw %d of the %d pods moved off %s", seen, len(moved), node)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

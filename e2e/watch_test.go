//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// rolloutWatcher records, through watches started before a run, every
// moment that matters to the invariants a rollout must keep: how many
// healthy pods each PodDisruptionBudget had, how many workers were
// unschedulable at once, and whether a node that must not be touched was.
// Unlike polling, a watch sees every state the API server stored, however
// briefly it lasted.
type rolloutWatcher struct {
	mu sync.Mutex

	namespace string
	workers   map[string]bool // nodes counted as workers
	untouched map[string]string

	pdbs       map[string]*policyv1.PodDisruptionBudget
	minHealthy map[string]int // PDB -> fewest healthy pods seen
	violations []string       // moments a PDB's healthy pods were below its minimum
	// cordons holds each worker's unschedulable states as the watch saw
	// them, by resourceVersion: the moment the API server stored each.
	cordons map[string][]cordon
	touched []string // what happened to a node that must stay untouched

	podStore cache.Store
	stop     context.CancelFunc
	// armed is set once every watch has synced: before that, a PDB seen
	// before its pods would count as a PDB with no healthy pod.
	armed bool
}

// kubeClient is a client for the suite's cluster.
func kubeClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// watchRollout starts watching pods and PDBs in namespace and all nodes.
// workers are the nodes whose cordons count against --max-unavailable;
// untouched maps nodes that must never be cordoned or upgraded to their
// kubelet version now.
func watchRollout(t *testing.T, c kubernetes.Interface, namespace string, workers []string, untouched map[string]string) *rolloutWatcher {
	t.Helper()
	w := &rolloutWatcher{
		namespace: namespace, workers: map[string]bool{}, untouched: untouched,
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, minHealthy: map[string]int{},
		cordons: map[string][]cordon{},
	}
	for _, n := range workers {
		w.workers[n] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(namespace))
	nf := informers.NewSharedInformerFactory(c, 0)
	pods := f.Core().V1().Pods().Informer()
	pdbs := f.Policy().V1().PodDisruptionBudgets().Informer()
	nodes := nf.Core().V1().Nodes().Informer()
	w.podStore = pods.GetStore()

	onPDB := func(obj any) {
		if p, ok := obj.(*policyv1.PodDisruptionBudget); ok {
			w.mu.Lock()
			w.pdbs[p.Name] = p
			w.mu.Unlock()
			w.checkPDBs()
		}
	}
	mustAdd(t, pdbs, cache.ResourceEventHandlerFuncs{AddFunc: onPDB, UpdateFunc: func(_, o any) { onPDB(o) }})
	onPod := func(any) { w.checkPDBs() }
	mustAdd(t, pods, cache.ResourceEventHandlerFuncs{AddFunc: onPod, UpdateFunc: func(_, o any) { onPod(o) }, DeleteFunc: onPod})
	onNode := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			w.node(n)
		}
	}
	mustAdd(t, nodes, cache.ResourceEventHandlerFuncs{AddFunc: onNode, UpdateFunc: func(_, o any) { onNode(o) }})
	f.Start(ctx.Done())
	nf.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("watch %v did not sync", typ)
		}
	}
	for typ, ok := range nf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("watch %v did not sync", typ)
		}
	}
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
	w.checkPDBs()
	t.Cleanup(cancel)
	return w
}

func mustAdd(t *testing.T, inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	t.Helper()
	if _, err := inf.AddEventHandler(h); err != nil {
		t.Fatalf("add event handler: %v", err)
	}
}

// checkPDBs counts each PDB's healthy pods: Ready, not being deleted.
// Only minAvailable budgets are judged (the soak's workloads use them):
// their minimum needs no knowledge of the controller's scale.
func (w *rolloutWatcher) checkPDBs() {
	objs := w.podStore.List()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed {
		return
	}
	for name, pdb := range w.pdbs {
		if pdb.Spec.MinAvailable == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			continue
		}
		healthy := 0
		for _, o := range objs {
			p, ok := o.(*corev1.Pod)
			if !ok || p.DeletionTimestamp != nil || !sel.Matches(labels.Set(p.Labels)) || !podReady(p) {
				continue
			}
			healthy++
		}
		if m, ok := w.minHealthy[name]; !ok || healthy < m {
			w.minHealthy[name] = healthy
		}
		if min := pdb.Spec.MinAvailable.IntValue(); healthy < min {
			w.violations = append(w.violations, fmt.Sprintf("%s %s: %d healthy pods, minAvailable %d",
				time.Now().Format("15:04:05.000"), name, healthy, min))
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (w *rolloutWatcher) node(n *corev1.Node) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if want, ok := w.untouched[n.Name]; ok {
		if n.Spec.Unschedulable {
			w.touched = append(w.touched, n.Name+" was cordoned")
		}
		if got := n.Status.NodeInfo.KubeletVersion; got != want {
			w.touched = append(w.touched, fmt.Sprintf("%s kubelet moved %s -> %s", n.Name, want, got))
		}
	}
	if !w.workers[n.Name] {
		return
	}
	rv, err := strconv.ParseUint(n.ResourceVersion, 10, 64)
	if err != nil {
		w.touched = append(w.touched, fmt.Sprintf("%s has resourceVersion %q, not an etcd revision: the watcher cannot order it", n.Name, n.ResourceVersion))
		return
	}
	h := w.cordons[n.Name]
	if len(h) > 0 && h[len(h)-1].rv >= rv {
		return // the same version listed again after a broken watch
	}
	w.cordons[n.Name] = append(h, cordon{rv: rv, on: n.Spec.Unschedulable})
}

// cordon is one version of a worker: its resourceVersion and whether it
// was unschedulable.
type cordon struct {
	rv uint64
	on bool
}

// mostUnschedulable is the largest set of workers unschedulable at one
// moment. Moments are etcd revisions, not the order in which the watch
// handed the versions over: after the API server was away, the informer
// lists again and hands the nodes over one by one, so between two of them
// its view mixes two moments (a worker uncordoned before the outage's end
// read as still cordoned beside two cordoned after it). Each node's
// versions are replayed in revision order across all nodes instead; a
// node's state between two of its seen versions is the earlier one.
func (w *rolloutWatcher) mostUnschedulable() []string {
	type change struct {
		cordon
		node string
	}
	var all []change
	for name, h := range w.cordons {
		for _, c := range h {
			all = append(all, change{c, name})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].rv < all[j].rv })
	now := map[string]bool{}
	var most []string
	for i, c := range all {
		now[c.node] = c.on
		if i+1 < len(all) && all[i+1].rv == c.rv {
			continue // versions of one revision are one moment
		}
		var set []string
		for name, on := range now {
			if on {
				set = append(set, name)
			}
		}
		if len(set) > len(most) {
			sort.Strings(set)
			most = set
		}
	}
	return most
}

// watchSummary is what the watcher saw.
type watchSummary struct {
	MinHealthy    map[string]int
	MinAvailable  map[string]int
	Violations    []string
	MaxUnsched    int
	MaxUnschedSet string
	Touched       []string
}

func (w *rolloutWatcher) summary() watchSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := watchSummary{MinHealthy: map[string]int{}, MinAvailable: map[string]int{},
		Violations: append([]string(nil), w.violations...), Touched: append([]string(nil), w.touched...)}
	most := w.mostUnschedulable()
	s.MaxUnsched, s.MaxUnschedSet = len(most), strings.Join(most, ",")
	for k, v := range w.minHealthy {
		s.MinHealthy[k] = v
	}
	for k, p := range w.pdbs {
		if p.Spec.MinAvailable != nil {
			s.MinAvailable[k] = p.Spec.MinAvailable.IntValue()
		}
	}
	return s
}

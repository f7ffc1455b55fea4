package policies

import (
	"encoding/json"
	"maps"
	"math/bits"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/upgate-dev/upgate/inventory"
)

// input.capacity: for each node to be drained, whether the other
// schedulable nodes can take its evictable pods. The fit is worked out in
// Go; the rules only read its result.
//
//	input.capacity.max_unavailable = 2   // nodes drained at once (workers)
//	input.capacity.nodes = [{            // only nodes whose pods do not all fit
//	    "node": "worker-1",
//	    "window": ["worker-2"],          // drained at the same time; omitted alone
//	    "evictable": 12,                 // the node's evictable pods
//	    "targets": 4,                    // schedulable nodes outside the window
//	                                     // that admit at least one of the pods
//	                                     // to move
//	    "need": {"cpu_m", "memory", "pods"}, // requests of every pod to move
//	                                     // (the node's and its window's):
//	                                     // millicores, bytes, pod count
//	    "free": {"cpu_m", "memory", "pods"}, // summed over those targets:
//	                                     // allocatable minus the requests of
//	                                     // the pods already on them
//	    "unplaced": 3,                   // the node's pods that found no room
//	    "unplaced_pods": ["ns/name", ...],   // the first five of them
//	    "no_eligible": 1,                // of those, pods no target admits at
//	                                     // all (nodeSelector, required node
//	                                     // affinity, NoSchedule/NoExecute taints)
//	    "unchecked": true,               // the bounded computation gave up
//	                                     // before this node (no other fields)
//	}]
//
// How the fit is computed (an approximation of the scheduler, on purpose):
//   - A node can take pods when it is Ready and not cordoned, and is not
//     being drained with the node (its window). Its room is its allocatable
//     cpu, memory and pods (capacity when allocatable is missing; 110 pods
//     when both are) minus the requests of the non-terminal pods bound to it.
//   - A pod's requests are the scheduler's (component-helpers PodRequests:
//     init and sidecar containers, pod-level resources, overhead); it needs
//     one pod slot. It may go to a node that meets its nodeSelector and
//     required node affinity and whose NoSchedule/NoExecute taints it
//     tolerates. Pod (anti-)affinity, topology spread, ports, volumes and
//     extended resources are not considered.
//   - Pods are placed first-fit decreasing (by cpu, then memory) on the
//     targets ordered by free cpu, the window's other pods before the
//     node's own, so the node is charged with what does not fit.
//   - --max-unavailable N: the executor drains workers N at a time, other
//     stages one node at a time, in the run's upgrade order
//     (inventory.SortUpgradeOrder: fewer evictable pods first, then by
//     name). Its batches are not known here, so a worker's window is
//     itself and the next N-1 workers in that order (the last N when it is
//     near the end): roughly the nodes it will be drained with. Etcd and
//     control-plane nodes are drained alone.
//   - The work is bounded: scheduling constraints are evaluated once per
//     distinct (nodeSelector, affinity, tolerations) and target, narrowed
//     by label index for pods pinned to nodes; a pod larger than the
//     roomiest target is rejected at once; a failed (constraints, requests)
//     is not retried within a window. Past capaBudget probes the remaining
//     nodes are reported unchecked (fail closed), never passed.
func init() { registerSection("capacity", buildCapacity) }

// capaBudget bounds the probes (a pod tried on a target) of one Evaluate;
// Request.capaProbes, when set (tests), bounds them instead.
const capaBudget = 50_000_000

// capaDefaultPods is the kubelet's default maxPods, used when a node
// reports neither allocatable nor capacity pods.
const capaDefaultPods = 110

// capaRes is an amount of the three resources: cpu millicores, memory
// bytes, pods.
type capaRes struct{ cpu, mem, pods int64 }

func (a capaRes) add(b capaRes) capaRes {
	return capaRes{a.cpu + b.cpu, a.mem + b.mem, a.pods + b.pods}
}
func (a capaRes) sub(b capaRes) capaRes {
	return capaRes{a.cpu - b.cpu, a.mem - b.mem, a.pods - b.pods}
}
func (a capaRes) fits(in capaRes) bool {
	return a.cpu <= in.cpu && a.mem <= in.mem && a.pods <= in.pods
}
func (a capaRes) nonNeg() capaRes { return capaRes{max(a.cpu, 0), max(a.mem, 0), max(a.pods, 0)} }

func (a capaRes) term() *ast.Term {
	return obj(kv("cpu_m", num(int(a.cpu))), kv("memory", num(int(a.mem))), kv("pods", num(int(a.pods))))
}

type capaTarget struct {
	node   *corev1.Node
	free   capaRes
	taints []corev1.Taint // NoSchedule and NoExecute only
}

type capaPod struct {
	pod   *inventory.Pod
	req   capaRes
	class *capaClass
}

// capaClass is the scheduling constraints pods share, and the targets
// they admit (a bitset over the target list, computed on first use).
type capaClass struct {
	id          int
	nodeSel     map[string]string
	affinity    nodeaffinity.RequiredNodeAffinity
	required    *corev1.NodeSelector
	tolerations []corev1.Toleration
	admits      []uint64
	done        bool
}

type capaState struct {
	ix      *index
	targets []capaTarget
	byName  map[string]int
	maxFree capaRes
	labels  map[string]map[string][]int
	classes map[string]*capaClass
	budget  int

	// last is the pod class asked for last: a workload's pods are next
	// to each other and share their scheduling terms.
	last      *inventory.Pod
	lastClass *capaClass
}

func buildCapacity(ix *index) (ast.Value, error) {
	inv := ix.inv
	if len(inv.Nodes) == 0 {
		return nil, nil
	}
	maxUnavailable := 1
	if ix.req != nil && ix.req.MaxUnavailable > 1 {
		maxUnavailable = ix.req.MaxUnavailable
	}
	budget := capaBudget
	if ix.req != nil && ix.req.capaProbes > 0 {
		budget = ix.req.capaProbes
	}
	s := &capaState{ix: ix, byName: map[string]int{}, classes: map[string]*capaClass{}, budget: budget}

	// What the non-terminal pods bound to each node request, in one pass
	// over the pods (a node's gate pays it too: its targets are every
	// other node).
	requested := make(map[string]capaRes, len(inv.Nodes))
	for _, f := range ix.podFacts() {
		if f.running() {
			requested[f.node] = requested[f.node].add(f.req)
		}
	}

	// Targets and their room.
	for i := range inv.Nodes {
		n := inv.Nodes[i]
		if ready, _ := healthNodeReady(n); !ready || n.Spec.Unschedulable {
			continue
		}
		t := capaTarget{node: n, free: capaAllocatable(n).sub(requested[n.Name])}
		for _, taint := range n.Spec.Taints {
			if taint.Effect == corev1.TaintEffectNoSchedule || taint.Effect == corev1.TaintEffectNoExecute {
				t.taints = append(t.taints, taint)
			}
		}
		s.targets = append(s.targets, t)
	}
	sort.SliceStable(s.targets, func(i, j int) bool {
		a, b := s.targets[i], s.targets[j]
		if a.free.cpu != b.free.cpu {
			return a.free.cpu > b.free.cpu
		}
		if a.free.mem != b.free.mem {
			return a.free.mem > b.free.mem
		}
		return a.node.Name < b.node.Name
	})
	s.labels = map[string]map[string][]int{}
	for i, t := range s.targets {
		s.byName[t.node.Name] = i
		free := t.free.nonNeg()
		s.maxFree = capaRes{max(s.maxFree.cpu, free.cpu), max(s.maxFree.mem, free.mem), max(s.maxFree.pods, free.pods)}
		for k, v := range t.node.Labels {
			if s.labels[k] == nil {
				s.labels[k] = map[string][]int{}
			}
			s.labels[k][v] = append(s.labels[k][v], i)
		}
	}

	// Stage groups, in the order the run upgrades them
	// (inventory.SortUpgradeOrder: workers with fewer evictable pods
	// first).
	evictableOn := map[string]int{}
	for _, f := range ix.podFacts() {
		if f.evictable {
			evictableOn[f.node]++
		}
	}
	groups := map[string][]string{}
	stageOf := map[string]string{}
	for i := range inv.Nodes {
		name := inv.Nodes[i].Name
		r := ix.roles[name]
		st := "workers"
		switch {
		case r.Etcd:
			st = "etcd"
		case r.ControlPlane:
			st = "control-plane"
		}
		stageOf[name] = st
		groups[st] = append(groups[st], name)
	}
	position := map[string]int{}
	for st, g := range groups {
		inventory.SortUpgradeOrder(g, func(n string) string { return n }, st == "workers", func(n string) int { return evictableOn[n] })
		for i, n := range g {
			position[n] = i
		}
	}
	// The nodes whose rows are computed: every node, or in a
	// node-restricted input the focus node alone (rows are independent:
	// each places its pods afresh), whose placement needs its window's pods.
	rows := inv.Nodes
	needed := func(string) bool { return true }
	if ix.focus != "" {
		rows = nil
		for i := range inv.Nodes {
			if inv.Nodes[i].Name == ix.focus {
				rows = inv.Nodes[i : i+1]
			}
		}
		if len(rows) == 0 {
			return nil, nil
		}
		want := map[string]bool{ix.focus: true}
		for _, w := range capaWindow(groups[stageOf[ix.focus]], position[ix.focus], stageOf[ix.focus], maxUnavailable) {
			want[w] = true
		}
		needed = func(name string) bool { return want[name] }
	}

	// Evictable pods by node, largest first.
	evictable := map[string][]capaPod{}
	podsOn := ix.nodePods
	if ix.focus != "" {
		// Only the window's pods: no map of every node's pods.
		podsOn = func() map[string][]*inventory.Pod {
			on := map[string][]*inventory.Pod{}
			for i, f := range ix.podFacts() {
				if f.node != "" && needed(f.node) {
					on[f.node] = append(on[f.node], inv.Pods[i])
				}
			}
			return on
		}
	}
	for name, pods := range podsOn() {
		if !needed(name) {
			continue
		}
		var list []capaPod
		for _, p := range pods {
			if !inventory.Evictable(p) {
				continue
			}
			r := ix.facts(p).req
			list = append(list, capaPod{pod: p, req: r, class: s.class(p)})
		}
		sort.SliceStable(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if a.req.cpu != b.req.cpu {
				return a.req.cpu > b.req.cpu
			}
			if a.req.mem != b.req.mem {
				return a.req.mem > b.req.mem
			}
			if a.pod.Namespace != b.pod.Namespace {
				return a.pod.Namespace < b.pod.Namespace
			}
			return a.pod.Name < b.pod.Name
		})
		evictable[name] = list
	}

	var results []*ast.Term
	for i := range rows {
		name := rows[i].Name
		own := evictable[name]
		if len(own) == 0 {
			continue
		}
		if s.budget <= 0 {
			results = append(results, obj(kv("node", str(name)), kv("unchecked", ast.BooleanTerm(true))))
			continue
		}
		window := capaWindow(groups[stageOf[name]], position[name], stageOf[name], maxUnavailable)
		r := s.place(name, own, window, evictable)
		if s.budget <= 0 {
			// The budget ran out during this node: its result is partial.
			r = obj(kv("node", str(name)), kv("unchecked", ast.BooleanTerm(true)))
		}
		if r != nil {
			results = append(results, r)
		}
	}
	var f fields
	f.num("max_unavailable", maxUnavailable)
	f.term("nodes", ast.ArrayTerm(results...))
	return f.obj().Value, nil
}

// capaWindow is the other nodes drained together with the node at index
// i of its stage's group (in upgrade order): for workers the next n-1
// (the last n near the end of the group), none for other stages.
func capaWindow(group []string, i int, stage string, n int) []string {
	if stage != "workers" || n <= 1 || len(group) <= 1 {
		return nil
	}
	n = min(n, len(group))
	start := min(i, len(group)-n)
	var out []string
	for j, g := range group[start : start+n] {
		if start+j != i {
			out = append(out, g)
		}
	}
	return out
}

// place fits the window's pods, then the node's own, on the targets left
// and returns the node's result, or nil when all its pods fit.
func (s *capaState) place(name string, own []capaPod, window []string, evictable map[string][]capaPod) *ast.Term {
	excluded := map[int]bool{}
	for _, w := range append([]string{name}, window...) {
		if i, ok := s.byName[w]; ok {
			excluded[i] = true
		}
	}
	used := map[int]capaRes{}
	type failKey struct {
		class    int
		cpu, mem int64
	}
	failed := map[failKey]bool{}
	var need capaRes
	// try places p and reports whether it fit, and whether any target
	// admits it at all.
	try := func(p capaPod) (bool, bool) {
		fk := failKey{p.class.id, p.req.cpu, p.req.mem}
		admits := s.admitsAny(p.class, excluded)
		if !admits {
			return false, false
		}
		if failed[fk] || !p.req.fits(s.maxFree) {
			return false, true
		}
		ok := false
		s.each(p.class, func(i int) bool {
			s.budget--
			if excluded[i] {
				return true
			}
			room := s.targets[i].free.sub(used[i])
			if p.req.fits(room) {
				used[i] = used[i].add(p.req)
				ok = true
				return false
			}
			return s.budget > 0
		})
		if !ok {
			failed[fk] = true
		}
		return ok, true
	}
	for _, w := range window {
		for _, p := range evictable[w] {
			need = need.add(p.req)
			try(p)
		}
	}
	var unplaced []string
	noEligible := 0
	for _, p := range own {
		need = need.add(p.req)
		ok, admits := try(p)
		if ok {
			continue
		}
		unplaced = append(unplaced, p.pod.Namespace+"/"+p.pod.Name)
		if !admits {
			noEligible++
		}
	}
	if len(unplaced) == 0 {
		return nil
	}
	// The targets that could take at least one of the pods, and their room
	// before any was placed.
	eligible := make([]uint64, (len(s.targets)+63)/64)
	seen := map[int]bool{}
	for _, list := range append([][]capaPod{own}, capaPodsOf(window, evictable)...) {
		for _, p := range list {
			if seen[p.class.id] {
				continue
			}
			seen[p.class.id] = true
			s.admitted(p.class)
			for w := range eligible {
				eligible[w] |= p.class.admits[w]
			}
		}
	}
	var free capaRes
	targets := 0
	for w, word := range eligible {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if excluded[i] {
				continue
			}
			targets++
			free = free.add(s.targets[i].free.nonNeg())
		}
	}
	var f fields
	f.str("node", name)
	f.term("window", strs(window))
	f.num("evictable", len(own))
	f.num("targets", targets)
	f.term("need", need.term())
	f.term("free", free.term())
	f.num("unplaced", len(unplaced))
	f.term("unplaced_pods", strs(unplaced[:min(len(unplaced), 5)]))
	if noEligible > 0 {
		f.num("no_eligible", noEligible)
	}
	return f.obj()
}

func capaPodsOf(nodes []string, evictable map[string][]capaPod) [][]capaPod {
	out := make([][]capaPod, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, evictable[n])
	}
	return out
}

// admitsAny reports whether some target outside excluded admits the class.
func (s *capaState) admitsAny(c *capaClass, excluded map[int]bool) bool {
	found := false
	s.each(c, func(i int) bool {
		if !excluded[i] {
			found = true
			return false
		}
		return true
	})
	return found
}

// each calls fn on every target the class admits, in target order, until
// fn returns false.
func (s *capaState) each(c *capaClass, fn func(int) bool) {
	s.admitted(c)
	for w, word := range c.admits {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			if !fn(i) {
				return
			}
			word &= word - 1
		}
	}
}

// admitted computes, once per class, the targets it admits: the label
// index narrows the candidates for pods pinned by nodeSelector or by an In
// expression in every required term; each candidate is then checked in
// full (component-helpers' required node affinity, and taints).
func (s *capaState) admitted(c *capaClass) {
	if c.done {
		return
	}
	c.done = true
	c.admits = make([]uint64, (len(s.targets)+63)/64)
	cands := s.candidates(c)
	check := func(i int) {
		s.budget--
		t := &s.targets[i]
		if ok, err := c.affinity.Match(t.node); err != nil || !ok {
			return
		}
		for k := range t.taints {
			if !capaTolerates(c.tolerations, &t.taints[k]) {
				return
			}
		}
		c.admits[i/64] |= 1 << (i % 64)
	}
	if cands == nil {
		for i := range s.targets {
			check(i)
		}
		return
	}
	for _, i := range cands {
		check(i)
	}
}

// candidates narrows the targets a class may admit with the label index;
// nil means no narrowing (every target).
func (s *capaState) candidates(c *capaClass) []int {
	var best []int
	narrowed := false
	take := func(list []int) {
		if !narrowed || len(list) < len(best) {
			best, narrowed = list, true
		}
	}
	for k, v := range c.nodeSel {
		take(s.labels[k][v])
	}
	if c.required != nil && len(c.required.NodeSelectorTerms) > 0 {
		var union []int
		all := true
		for _, term := range c.required.NodeSelectorTerms {
			list, ok := s.termCandidates(term)
			if !ok {
				all = false
				break
			}
			union = append(union, list...)
		}
		if all {
			sort.Ints(union)
			take(slicesCompactInts(union))
		}
	}
	if !narrowed {
		return nil
	}
	if best == nil {
		return []int{}
	}
	return best
}

// termCandidates is the targets one node selector term can match, from its
// first `In` expression on a label or on metadata.name; ok is false when
// the term has none.
func (s *capaState) termCandidates(t corev1.NodeSelectorTerm) ([]int, bool) {
	for _, e := range t.MatchExpressions {
		if e.Operator != corev1.NodeSelectorOpIn {
			continue
		}
		var out []int
		for _, v := range e.Values {
			out = append(out, s.labels[e.Key][v]...)
		}
		return out, true
	}
	for _, e := range t.MatchFields {
		if e.Operator != corev1.NodeSelectorOpIn || e.Key != "metadata.name" {
			continue
		}
		var out []int
		for _, v := range e.Values {
			if i, ok := s.byName[v]; ok {
				out = append(out, i)
			}
		}
		return out, true
	}
	return nil, false
}

func slicesCompactInts(s []int) []int {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// class returns the pod's scheduling class, by its nodeSelector, required
// node affinity and tolerations.
func (s *capaState) class(p *inventory.Pod) *capaClass {
	if s.last != nil && sameScheduling(&s.last.Spec.PodShape, &p.Spec.PodShape) {
		s.last = p
		return s.lastClass
	}
	c := s.classOf(p)
	s.last, s.lastClass = p, c
	return c
}

// sameScheduling says whether two pods are certainly of one scheduling
// class: equal node selectors and tolerations (but for
// tolerationSeconds) and the same required node affinity, by identity
// (pods read from one template share it) or both none.
func sameScheduling(a, b *inventory.PodShape) bool {
	if !maps.Equal(a.NodeSelector, b.NodeSelector) || requiredAffinity(a) != requiredAffinity(b) || len(a.Tolerations) != len(b.Tolerations) {
		return false
	}
	for i := range a.Tolerations {
		x, y := &a.Tolerations[i], &b.Tolerations[i]
		if x.Key != y.Key || x.Operator != y.Operator || x.Value != y.Value || x.Effect != y.Effect {
			return false
		}
	}
	return true
}

func requiredAffinity(s *inventory.PodShape) *corev1.NodeSelector {
	if a := s.Affinity; a != nil && a.NodeAffinity != nil {
		return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

// classOf works out the pod's class by its key.
func (s *capaState) classOf(p *inventory.Pod) *capaClass {
	var b strings.Builder
	keys := make([]string, 0, len(p.Spec.NodeSelector))
	for k := range p.Spec.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p.Spec.NodeSelector[k])
		b.WriteByte(0)
	}
	b.WriteByte(1)
	required := requiredAffinity(&p.Spec.PodShape)
	if required != nil {
		j, _ := json.Marshal(required)
		b.Write(j)
	}
	b.WriteByte(1)
	for _, t := range p.Spec.Tolerations {
		// tolerationSeconds does not change what a node admits.
		b.WriteString(t.Key)
		b.WriteByte(0)
		b.WriteString(string(t.Operator))
		b.WriteByte(0)
		b.WriteString(t.Value)
		b.WriteByte(0)
		b.WriteString(string(t.Effect))
		b.WriteByte(2)
	}
	key := b.String()
	if c, ok := s.classes[key]; ok {
		return c
	}
	c := &capaClass{
		id:          len(s.classes),
		nodeSel:     p.Spec.NodeSelector,
		affinity:    nodeaffinity.GetRequiredNodeAffinity(schedulingPod(p)),
		required:    required,
		tolerations: p.Spec.Tolerations,
	}
	s.classes[key] = c
	return c
}

// capaTolerates reports whether some toleration tolerates the taint.
// Gt/Lt operators are honoured: the API server only accepts them when the
// feature is on.
func capaTolerates(tols []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(logr.Discard(), taint, true) {
			return true
		}
	}
	return false
}

// capaRequests is the pod's cpu and memory requests as the scheduler
// counts them.
func capaRequests(p *inventory.Pod) capaRes {
	if len(p.Spec.InitContainers) == 0 && p.Spec.Overhead == nil && p.Spec.Resources == nil {
		// What PodRequests computes for such a pod (the sum of its
		// containers' requests), without its maps: a node's gate sums
		// the requests of every pod in the cluster (the targets' room).
		if len(p.Spec.Containers) == 1 {
			req := p.Spec.Containers[0].Resources.Requests
			cpu, mem := req[corev1.ResourceCPU], req[corev1.ResourceMemory]
			return capaRes{cpu: cpu.MilliValue(), mem: mem.Value(), pods: 1}
		}
		var cpu, mem resource.Quantity
		for i := range p.Spec.Containers {
			req := p.Spec.Containers[i].Resources.Requests
			if q, ok := req[corev1.ResourceCPU]; ok {
				cpu.Add(q)
			}
			if q, ok := req[corev1.ResourceMemory]; ok {
				mem.Add(q)
			}
		}
		return capaRes{cpu: cpu.MilliValue(), mem: mem.Value(), pods: 1}
	}
	r := resourcehelper.PodRequests(requestsPod(p), resourcehelper.PodResourcesOptions{})
	return capaRes{cpu: r.Cpu().MilliValue(), mem: r.Memory().Value(), pods: 1}
}

// capaAllocatable is the node's allocatable cpu, memory and pods, each
// falling back to capacity; pods to the kubelet default.
func capaAllocatable(n *corev1.Node) capaRes {
	get := func(name corev1.ResourceName) (resource.Quantity, bool) {
		if q, ok := n.Status.Allocatable[name]; ok {
			return q, true
		}
		q, ok := n.Status.Capacity[name]
		return q, ok
	}
	var r capaRes
	if q, ok := get(corev1.ResourceCPU); ok {
		r.cpu = q.MilliValue()
	}
	if q, ok := get(corev1.ResourceMemory); ok {
		r.mem = q.Value()
	}
	r.pods = capaDefaultPods
	if q, ok := get(corev1.ResourcePods); ok {
		r.pods = q.Value()
	}
	return r
}

// schedulingPod is the API pod component-helpers' node affinity reads:
// the model's nodeSelector and required node affinity.
func schedulingPod(p *inventory.Pod) *corev1.Pod {
	o := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: p.Spec.NodeSelector}}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		o.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		}}
	}
	return o
}

// requestsPod is the API pod component-helpers' PodRequests reads: the
// containers' resources (and sidecars' restart policy), overhead and
// pod-level resources.
func requestsPod(p *inventory.Pod) *corev1.Pod {
	containers := func(cs []inventory.Container) []corev1.Container {
		out := make([]corev1.Container, len(cs))
		for i, c := range cs {
			out[i] = corev1.Container{Name: c.Name, Resources: c.Resources, RestartPolicy: c.RestartPolicy}
		}
		return out
	}
	return &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: containers(p.Spec.InitContainers),
		Containers:     containers(p.Spec.Containers),
		Overhead:       p.Spec.Overhead,
		Resources:      p.Spec.Resources,
	}}
}

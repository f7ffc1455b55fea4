package policies

import (
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/upgate-dev/upgate/inventory"
)

// Memo keeps what input building works out of each pod (its controller,
// its requests as the scheduler counts them) from one evaluation to the
// next. A run evaluates a node's gate and validation on states read from
// its informers, which share their objects from one read to the next and
// never change one in place (an update stores a new object): a pod met at
// the same address is the same pod. So each node's gate works out these
// facts for the few pods a drain changed, not for all 150,000.
//
// Never give a Memo inventories whose objects are changed between
// evaluations: it would answer from the object as it was.
type Memo struct {
	mu   sync.Mutex
	pods map[*inventory.Pod]*podFacts
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{} }

// podFacts is what is worked out of one pod alone: what the sections'
// passes over every pod test, in one small record, so that those passes
// read it rather than the pod (1.2 KB, its fields on several cache lines).
type podFacts struct {
	node       string // spec.nodeName
	terminal   bool   // Succeeded or Failed
	evictable  bool   // inventory.Evictable
	kubeSystem bool   // in kube-system
	controlled bool
	ctrl       objRef  // its controller (a ReplicaSet, Job, ...)
	req        capaRes // capaRequests
}

func newPodFacts(p *inventory.Pod) *podFacts {
	f := &podFacts{
		node:       p.Spec.NodeName,
		terminal:   p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed,
		evictable:  inventory.Evictable(p),
		kubeSystem: p.Namespace == "kube-system",
		req:        capaRequests(p),
	}
	f.ctrl, f.controlled = podController(p)
	return f
}

// running is bound to a node and not terminal.
func (f *podFacts) running() bool { return f.node != "" && !f.terminal }

// lock takes the memo for one evaluation's input building, dropping the
// pods of earlier states once they outnumber those of this one.
func (m *Memo) lock(pods int) {
	m.mu.Lock()
	if m.pods == nil || len(m.pods) > 2*pods+1024 {
		m.pods = make(map[*inventory.Pod]*podFacts, pods)
	}
}

func (m *Memo) unlock() { m.mu.Unlock() }

// podFacts returns the facts of every pod, in the inventory's order.
func (ix *index) podFacts() []*podFacts {
	if ix.factList == nil {
		ix.factList = make([]*podFacts, len(ix.inv.Pods))
		for i, p := range ix.inv.Pods {
			ix.factList[i] = ix.facts(p)
		}
	}
	return ix.factList
}

// facts returns the pod's facts, remembered when the index has a memo.
func (ix *index) facts(p *inventory.Pod) *podFacts {
	if ix.memo == nil {
		return newPodFacts(p)
	}
	f, ok := ix.memo.pods[p]
	if !ok {
		f = newPodFacts(p)
		ix.memo.pods[p] = f
	}
	return f
}

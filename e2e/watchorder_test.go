//go:build e2e

package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The watcher judges --max-unavailable by the order the API server stored
// the cordons in, not the order a relist hands them over.
func TestWatcherOrdersCordonsByRevision(t *testing.T) {
	node := func(name string, rv string, cordoned bool) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}, Spec: corev1.NodeSpec{Unschedulable: cordoned}}
	}
	for _, tc := range []struct {
		name   string
		seen   []*corev1.Node
		want   string
		broken bool
	}{{
		// worker-5 cordoned, the API server away; meanwhile worker-5 is
		// uncordoned (20), then worker-2 (21) and worker-3 (22) cordoned;
		// the relist hands them over by name.
		name: "relist after an outage",
		seen: []*corev1.Node{node("worker-5", "10", true), node("worker-2", "21", true), node("worker-3", "22", true), node("worker-5", "20", false)},
		want: "worker-2,worker-3",
	}, {
		name: "three cordoned at once",
		seen: []*corev1.Node{node("worker-5", "10", true), node("worker-2", "21", true), node("worker-3", "22", true), node("worker-5", "23", false)},
		want: "worker-2,worker-3,worker-5",
	}, {
		name: "the same version listed again",
		seen: []*corev1.Node{node("worker-1", "10", true), node("worker-1", "11", false), node("worker-1", "10", true), node("worker-2", "12", true)},
		want: "worker-1",
	}, {
		name: "not a worker",
		seen: []*corev1.Node{node("cp-1", "10", true), node("worker-1", "11", true)},
		want: "worker-1",
	}, {
		name:   "a version that is not a revision",
		seen:   []*corev1.Node{node("worker-1", "abc", true)},
		want:   "",
		broken: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := &rolloutWatcher{workers: map[string]bool{}, cordons: map[string][]cordon{}}
			for _, n := range []string{"worker-1", "worker-2", "worker-3", "worker-5"} {
				w.workers[n] = true
			}
			for _, n := range tc.seen {
				w.node(n)
			}
			s := w.summary()
			if s.MaxUnschedSet != tc.want || s.MaxUnsched != len(strings.Split(tc.want, ",")) && tc.want != "" {
				t.Errorf("most unschedulable %d (%s), want %s", s.MaxUnsched, s.MaxUnschedSet, tc.want)
			}
			if got := len(s.Touched) > 0; got != tc.broken {
				t.Errorf("touched %v, want a complaint %t", s.Touched, tc.broken)
			}
		})
	}
}

package collector

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// podWatches serves the pods' watches with fake watchers the test ends
// (as an API server ends a watch), and the pods' lists as the test says.
type podWatches struct {
	mu      sync.Mutex
	current *watch.RaceFreeFakeWatcher
	opened  int
	listErr error // answers the pods' lists when set
}

func controlPodWatches(cs *fake.Clientset) *podWatches {
	pw := &podWatches{}
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		pw.mu.Lock()
		defer pw.mu.Unlock()
		pw.current = watch.NewRaceFreeFake()
		pw.opened++
		return true, pw.current, nil
	})
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		pw.mu.Lock()
		defer pw.mu.Unlock()
		return pw.listErr != nil, nil, pw.listErr
	})
	return pw
}

func (pw *podWatches) failLists(err error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.listErr = err
}

// breakWatch ends the open watch with an error event, as an API server
// does when etcd compacted past it or the watch cache is reset.
func (pw *podWatches) breakWatch() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.current.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonInternalError, Message: "watch cache reset"})
}

func (pw *podWatches) count() int {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.opened
}

// A broken watch is never read as the cluster's state: once the pods'
// watch ended and the informer cannot list them again, Inventory fails,
// at once when forbidden, at the sync timeout otherwise; and it reads
// the state again once the watch is back. Before, Inventory read the
// cache whatever became of its watch: a pass on state of any age.
func TestWatchInventoryFailsClosedOnABrokenWatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		listErr error
		want    []string
	}{
		{"forbidden", apiForbidden(schema.GroupResource{Resource: "pods"}), []string{"watch pods: ", "forbidden", "(the checker's RBAC needs list and watch on it)"}},
		{"unavailable", apierrors.NewServiceUnavailable("etcd is away"), []string{"watch pods: not watched again within 500ms", "etcd is away"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A Watched each: the informer's backoff grows with each
			// failure.
			cs := newFake(everyKind()...)
			pw := controlPodWatches(cs)
			w := watchFor(t, NewForClient(cs, Options{SyncTimeout: 500 * time.Millisecond}))
			if _, err := w.Inventory(t.Context(), ""); err != nil {
				t.Fatal(err)
			}
			pw.failLists(tc.listErr)
			pw.breakWatch()
			// Inventory fails from the moment the watch's end reached
			// the informer; the informer lists again with a backoff, and
			// the error it meets then is named.
			var err error
			failed := false
			for deadline := time.Now().Add(20 * time.Second); ; {
				_, err = w.Inventory(t.Context(), "")
				if err == nil && failed {
					t.Fatal("Inventory read the state of a broken watch")
				}
				failed = failed || err != nil
				if err != nil && strings.Contains(err.Error(), tc.listErr.Error()) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Inventory after a broken watch: %v, want it to name %q", err, tc.listErr)
				}
			}
			if apierrors.IsForbidden(tc.listErr) {
				start := time.Now()
				if _, err := w.Inventory(t.Context(), ""); !apierrors.IsForbidden(err) {
					t.Errorf("Inventory = %v, want Forbidden again", err)
				}
				if d := time.Since(start); d > 400*time.Millisecond {
					t.Errorf("Forbidden took %s to fail: it must not wait for the sync timeout", d)
				}
			}
			if !errors.Is(err, ErrCollect) {
				t.Errorf("err = %v, want ErrCollect", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to say %q", err, want)
				}
			}
			// The API server is back: the informer lists and watches
			// again, and the state is read again.
			opened := pw.count()
			pw.failLists(nil)
			for deadline := time.Now().Add(30 * time.Second); ; {
				if _, err = w.Inventory(t.Context(), ""); err == nil && pw.count() > opened {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Inventory once the pods can be listed again: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// A kind that may be listed but not watched fails at Watch, naming the
// verbs the informer needs: its cache would never follow the cluster.
func TestWatchForbiddenWatchFailsAtStart(t *testing.T) {
	cs := newFake(pods(2)...)
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	cs.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, apiForbidden(gr)
	})
	w, err := NewForClient(cs, Options{}).Watch(t.Context())
	if w != nil {
		w.Stop()
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "deployments.apps") || !strings.Contains(err.Error(), "list and watch") {
		t.Fatalf("err = %v, want Forbidden naming deployments.apps and list and watch", err)
	}
}

// OnChange is told of each change after the first list, not of the
// objects listed; the state holds the change when it is told.
func TestWatchOnChange(t *testing.T) {
	cs := newFake(everyKind()...)
	w := watchFor(t, NewForClient(cs, Options{}))
	var n atomic.Int32
	told := make(chan struct{}, 100)
	if err := w.OnChange(func() { n.Add(1); told <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-2"}}
	steps := []struct {
		name string
		do   func() error
		pods int
	}{
		{"create", func() error { _, err := cs.CoreV1().Pods("shop").Create(ctx, p, metav1.CreateOptions{}); return err }, 3},
		{"update", func() error {
			q := p.DeepCopy()
			q.Labels = map[string]string{"v": "2"}
			_, err := cs.CoreV1().Pods("shop").Update(ctx, q, metav1.UpdateOptions{})
			return err
		}, 3},
		{"delete", func() error { return cs.CoreV1().Pods("shop").Delete(ctx, "web-2", metav1.DeleteOptions{}) }, 2},
	}
	for i, step := range steps {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-told:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: OnChange not called", step.name)
		}
		// Notifications come in order: one per change, none for the
		// objects listed first (they would have come before).
		if got := int(n.Load()); got != i+1 {
			t.Errorf("after %s: %d notifications, want %d", step.name, got, i+1)
		}
		inv, err := w.Inventory(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Pods) != step.pods {
			t.Errorf("after %s was notified: %d pods, want %d", step.name, len(inv.Pods), step.pods)
		}
	}
}

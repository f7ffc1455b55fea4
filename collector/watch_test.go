package collector

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/inventory"
)

// everyKind is one object of each kind the collector lists, with what
// Scrub drops and usages are recorded from: managedFields (a repeated and
// an old API version), last-applied-configuration, env values, commands,
// templates, node images, annotations no check reads.
func everyKind() []runtime.Object {
	meta := func(ns, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Namespace: ns, Name: name, Labels: map[string]string{"app": name},
			Annotations: map[string]string{
				inventory.LastAppliedAnnotation:    `{"apiVersion":"extensions/v1beta1","kind":"X","spec":{"password":"hunter2"}}`,
				"vault.hashicorp.com/agent-inject": "true",
				"upgate.dev/ignore":                "health.node-ready",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1beta2"},
				{Manager: "kcm", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1beta2"},
				{Manager: "kcm", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1"},
			},
		}
	}
	spec := corev1.PodSpec{
		NodeName: "n1",
		Containers: []corev1.Container{{
			Name: "c", Image: "app:1", Env: []corev1.EnvVar{{Name: "TOKEN", Value: "hunter2"}},
			Command: []string{"serve", "--password=hunter2"},
		}},
		Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
			Driver: "d", VolumeAttributes: map[string]string{"secret": "x"},
		}}}},
	}
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	one := int32(1)
	return []runtime.Object{
		&corev1.Node{ObjectMeta: meta("", "n1"), Status: corev1.NodeStatus{
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.2"},
			Images:   []corev1.ContainerImage{{Names: []string{"app:1"}}},
		}},
		&corev1.Node{ObjectMeta: meta("", "n0")},
		&corev1.Pod{ObjectMeta: meta("shop", "web-1"), Spec: *spec.DeepCopy(), Status: corev1.PodStatus{
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ImageID: "sha", ContainerID: "cid", Ready: true}},
		}},
		&corev1.Pod{ObjectMeta: meta("shop", "web-0"), Spec: *spec.DeepCopy()},
		&corev1.Namespace{ObjectMeta: meta("", "shop")},
		&corev1.Service{ObjectMeta: meta("shop", "web")},
		&corev1.ReplicationController{ObjectMeta: meta("shop", "rc"), Spec: corev1.ReplicationControllerSpec{Template: tmpl.DeepCopy()}},
		&corev1.PersistentVolume{ObjectMeta: meta("", "pv"), Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h", VolumeAttributes: map[string]string{"k": "v"}},
		}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("shop", "data")},
		&appsv1.Deployment{ObjectMeta: meta("shop", "web"), Spec: appsv1.DeploymentSpec{Replicas: &one, Template: *tmpl.DeepCopy()}},
		&appsv1.ReplicaSet{ObjectMeta: meta("shop", "web-abc"), Spec: appsv1.ReplicaSetSpec{Template: *tmpl.DeepCopy()}},
		&appsv1.StatefulSet{ObjectMeta: meta("shop", "db"), Spec: appsv1.StatefulSetSpec{Template: *tmpl.DeepCopy()}},
		&appsv1.DaemonSet{ObjectMeta: meta("kube-system", "kube-proxy"), Spec: appsv1.DaemonSetSpec{Template: *tmpl.DeepCopy()}},
		&batchv1.Job{ObjectMeta: meta("shop", "migrate"), Spec: batchv1.JobSpec{Template: *tmpl.DeepCopy()}},
		&policyv1.PodDisruptionBudget{ObjectMeta: meta("shop", "web")},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: meta("", "vw")},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: meta("", "mw")},
		&discoveryv1.EndpointSlice{ObjectMeta: meta("shop", "web-xyz")},
	}
}

func watchFor(t *testing.T, c *Collector) *Watched {
	t.Helper()
	w, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// sameState compares two inventories but for the time they were read.
func sameState(t *testing.T, got, want *inventory.Inventory) {
	t.Helper()
	g, w := *got, *want
	g.CollectedAt, w.CollectedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("watched inventory differs from Collect's:\n got %+v\nwant %+v", g, w)
	}
}

func TestWatchInventoryEqualsCollect(t *testing.T) {
	cs := newFake(everyKind()...)
	c := NewForClient(cs, Options{})
	want, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w := watchFor(t, c)
	got, err := w.Inventory(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, got, want)
	if len(got.Pods) != 2 || len(got.APIUsages) == 0 || got.ServerVersion != testVersion {
		t.Errorf("watched inventory: %d pods, %d usages, version %q", len(got.Pods), len(got.APIUsages), got.ServerVersion)
	}
	// Reading it again changes nothing in the caches.
	again, err := w.Inventory(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, again, want)
}

func TestWatchFollowsChangesWithoutListingAgain(t *testing.T) {
	cs := newFake(everyKind()...)
	c := NewForClient(cs, Options{})
	ws := watchFor(t, c)
	lists := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "list" {
				n++
			}
		}
		return n
	}
	if got, want := lists(), len(resources(cs)); got != want {
		t.Errorf("%d lists to start watching, want one per kind (%d)", got, want)
	}
	started := lists()

	// A node cordoned, a pod gone, a pod added: the changes an upgrade makes.
	n1, err := cs.CoreV1().Nodes().Get(t.Context(), "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n1.Spec.Unschedulable = true
	if _, err := cs.CoreV1().Nodes().Update(t.Context(), n1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("shop").Delete(t.Context(), "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-2"}, Spec: corev1.PodSpec{
		NodeName: "n0", Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "TOKEN", Value: "hunter2"}}}},
	}}
	if _, err := cs.CoreV1().Pods("shop").Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got *inventory.Inventory
	for deadline := time.Now().Add(10 * time.Second); ; {
		if got, err = ws.Inventory(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		g, w := *got, *want
		g.CollectedAt, w.CollectedAt = time.Time{}, time.Time{}
		if reflect.DeepEqual(g, w) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sameState(t, got, want)
	if len(got.Pods) != 2 || got.Pods[1].Name != "web-2" || len(got.Pods[1].Spec.Containers) == 0 {
		t.Errorf("pods after the changes: %+v", got.Pods)
	}
	// Collect listed every kind once more; the watched state did not.
	if got, want := lists(), started+len(resources(cs)); got != want {
		t.Errorf("%d lists after reading the watched state, want %d (Collect's only)", got, want)
	}
}

func TestWatchForbiddenFailsClosedNamingResource(t *testing.T) {
	cs := newFake(pods(2)...)
	gr := schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}
	cs.PrependReactor("list", "poddisruptionbudgets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apiForbidden(gr)
	})
	start := time.Now()
	w, err := NewForClient(cs, Options{}).Watch(t.Context())
	if w != nil {
		w.Stop()
		t.Errorf("Watch returned a watched state with an error")
	}
	if !errors.Is(err, ErrCollect) || !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want ErrCollect wrapping Forbidden", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "list poddisruptionbudgets.policy: ") || !strings.HasSuffix(msg, "(the checker's RBAC needs list and watch on it)") {
		t.Errorf("err = %q, want it to name poddisruptionbudgets.policy and the RBAC needed", msg)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Forbidden took %s to fail: it must not wait for the sync timeout", d)
	}
}

func TestWatchSyncTimeoutNamesTheKind(t *testing.T) {
	cs := newFake(pods(2)...)
	cs.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is away")
	})
	_, err := NewForClient(cs, Options{SyncTimeout: 300 * time.Millisecond}).Watch(t.Context())
	if !errors.Is(err, ErrCollect) || !strings.Contains(err.Error(), "list endpointslices.discovery.k8s.io: ") {
		t.Fatalf("err = %v, want ErrCollect naming endpointslices", err)
	}
	if strings.Contains(err.Error(), "list pods") {
		t.Errorf("err = %v names a kind that synced", err)
	}
}

func TestWatchUnreachableServerFailsOnVersion(t *testing.T) {
	cs := newFake()
	cs.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	w, err := NewForClient(cs, Options{}).Watch(t.Context())
	if w != nil || !errors.Is(err, ErrCollect) || !strings.HasPrefix(err.Error(), "get server version: ") {
		t.Fatalf("Watch = %v, %v; want no state and a server version ErrCollect", w, err)
	}
}

func TestWatchInventoryWaitsForTheNodeJustChanged(t *testing.T) {
	for range 20 {
		cs := newFake(everyKind()...)
		w := watchFor(t, NewForClient(cs, Options{}))
		n1, err := cs.CoreV1().Nodes().Get(t.Context(), "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n1.Spec.Unschedulable = true
		if _, err := cs.CoreV1().Nodes().Update(t.Context(), n1, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// No retry: the first read after the change must hold it.
		inv, err := w.Inventory(t.Context(), "n1")
		if err != nil {
			t.Fatal(err)
		}
		if !inv.Nodes[1].Spec.Unschedulable {
			t.Fatalf("node n1 read as schedulable right after it was cordoned")
		}
		w.Stop()
	}
}

// A node's state waits until the watch holds the node's pods at their
// live versions, compared by resourceVersion: the pods the watch keeps (the
// model's Pod) must keep theirs. client-go's fake serves the versions its
// objects were given.
func TestWatchInventoryForANodeComparesPodVersions(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", ResourceVersion: "3"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", ResourceVersion: "7"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c"}}}}
	w := watchFor(t, NewForClient(newFake(node, pod), Options{SyncTimeout: 2 * time.Second}))
	inv, err := w.Inventory(t.Context(), "n1")
	if err != nil {
		t.Fatalf("the state for node n1: %v", err)
	}
	if len(inv.Pods) != 1 || inv.Pods[0].ResourceVersion != "7" {
		t.Fatalf("pods %+v, want web at resourceVersion 7", inv.Pods)
	}
	var snap bytes.Buffer
	if err := inv.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(snap.String(), "resourceVersion") {
		t.Errorf("the snapshot writes a resourceVersion:\n%s", snap.String())
	}
}

func TestOlderVersion(t *testing.T) {
	for _, c := range []struct {
		cached, live string
		want         bool
	}{{"9", "10", true}, {"10", "10", false}, {"11", "10", false}, {"a", "a", false}, {"a", "b", true}} {
		if got := olderVersion(c.cached, c.live); got != c.want {
			t.Errorf("olderVersion(%q, %q) = %v", c.cached, c.live, got)
		}
	}
}

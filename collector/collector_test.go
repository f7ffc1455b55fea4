package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/inventory"
)

func pods(n int) []runtime.Object {
	var objs []runtime.Object
	for i := range n {
		objs = append(objs, &corev1.Pod{ObjectMeta: objMeta("ns", fmt.Sprintf("p%02d", i))})
	}
	return objs
}

func podNames(inv *inventory.Inventory) []string {
	var names []string
	for _, p := range inv.Pods {
		names = append(names, p.Name)
	}
	return names
}

func TestCollectPaginates(t *testing.T) {
	cs := newFake(pods(7)...)
	p := paginate(t, cs, "pods")
	var out bytes.Buffer
	inv, err := NewForClient(cs, Options{PageSize: 3, Progress: &out}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.continues(), []string{"", "3", "6"}; !slices.Equal(got, want) {
		t.Errorf("continue tokens sent = %q, want %q", got, want)
	}
	for _, o := range p.calls {
		if o.Limit != 3 {
			t.Errorf("Limit = %d, want 3", o.Limit)
		}
	}
	if got := podNames(inv); len(got) != 7 || got[0] != "p00" || got[6] != "p06" {
		t.Errorf("pods = %q, want p00..p06", got)
	}
	if !strings.Contains(out.String(), "listed 7 pods (3 pages") {
		t.Errorf("progress = %q, want a line for 7 pods in 3 pages", out.String())
	}
}

func TestCollectRestartsExpiredListOnce(t *testing.T) {
	cs := newFake(pods(7)...)
	p := paginate(t, cs, "pods", "3")
	inv, err := NewForClient(cs, Options{PageSize: 3}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.continues(), []string{"", "3", "", "3", "6"}; !slices.Equal(got, want) {
		t.Errorf("continue tokens sent = %q, want %q", got, want)
	}
	if got := podNames(inv); len(got) != 7 {
		t.Errorf("pods = %q, want 7 without duplicates", got)
	}
	if n := countUsages(inv, "Pod"); n != 7 {
		t.Errorf("pod usages = %d, want 7 (the abandoned pages' usages dropped)", n)
	}
}

func TestCollectFailsWhenListExpiresTwice(t *testing.T) {
	cs := newFake(pods(7)...)
	paginate(t, cs, "pods", "3")
	// A second expiry after the restart is an error, not a third try.
	first := true
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if c := a.(k8stesting.ListActionImpl).ListOptions.Continue; c == "3" && !first {
			return true, nil, apiExpired()
		} else if c == "3" {
			first = false
		}
		return false, nil, nil
	})
	inv, err := NewForClient(cs, Options{PageSize: 3}).Collect(t.Context())
	if inv != nil || !errors.Is(err, ErrCollect) || !apierrors.IsResourceExpired(err) {
		t.Fatalf("Collect = %v, %v; want no inventory and an expired ErrCollect", inv, err)
	}
	if !strings.HasPrefix(err.Error(), "list pods: ") {
		t.Errorf("error %q does not name pods", err)
	}
}

func countUsages(inv *inventory.Inventory, kind string) int {
	n := 0
	for _, u := range inv.APIUsages {
		if u.Kind == kind {
			n++
		}
	}
	return n
}

func TestCollectForbiddenFailsClosedNamingResource(t *testing.T) {
	cs := newFake(pods(2)...)
	gr := schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}
	cs.PrependReactor("list", "poddisruptionbudgets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apiForbidden(gr)
	})
	c := NewForClient(cs, Options{})
	inv, err := c.Collect(t.Context())
	if inv != nil {
		t.Errorf("Collect returned an inventory with an error: partial data must never reach a gate")
	}
	if !errors.Is(err, ErrCollect) || !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want ErrCollect wrapping Forbidden", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "list poddisruptionbudgets.policy: ") || !strings.HasSuffix(msg, "(the checker's RBAC needs list on it)") {
		t.Errorf("err = %q, want it to name poddisruptionbudgets.policy and the RBAC needed", msg)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Op != "list poddisruptionbudgets.policy" {
		t.Errorf("errors.As(*Error) = %+v", ce)
	}
}

func TestCollectUnreachableServerFailsOnVersion(t *testing.T) {
	cs := newFake()
	cs.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	inv, err := NewForClient(cs, Options{}).Collect(t.Context())
	if inv != nil || !errors.Is(err, ErrCollect) || !strings.HasPrefix(err.Error(), "get server version: ") {
		t.Fatalf("Collect = %v, %v; want no inventory and a server version ErrCollect", inv, err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "list" {
			t.Errorf("listed %s after /version failed", a.GetResource().Resource)
		}
	}
}

func TestCollectRecordsUsagesBeforeScrubbing(t *testing.T) {
	lastApplied := `{"apiVersion":"apps/v1beta2","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"TOKEN","value":"hunter2"}]}]}}}}`
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i", Env: []corev1.EnvVar{{Name: "PASSWORD", Value: "init-secret"}}}},
		Containers: []corev1.Container{{
			Name: "c", Env: []corev1.EnvVar{{Name: "TOKEN", Value: "hunter2"}},
			Command: []string{"serve", "--password=hunter2"},
		}},
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "web",
			Annotations: map[string]string{inventory.LastAppliedAnnotation: lastApplied},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "extensions/v1beta1"},
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1"},
			},
		},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
	pod := &corev1.Pod{ObjectMeta: objMeta("shop", "web-1"), Spec: *spec.DeepCopy()}
	inv, err := NewForClient(newFake(d, pod), Options{}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.APIUsage{
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", Via: inventory.ViaServed},
		{APIVersion: "apps/v1beta2", Kind: "Deployment", Namespace: "shop", Name: "web", Via: inventory.ViaLastApplied},
		{APIVersion: "extensions/v1beta1", Kind: "Deployment", Namespace: "shop", Name: "web", Via: inventory.ViaManagedFields},
		{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web-1", Via: inventory.ViaServed},
	}
	if !slices.Equal(inv.APIUsages, want) {
		t.Errorf("APIUsages =\n%+v\nwant\n%+v", inv.APIUsages, want)
	}
	if len(inv.Deployments) != 1 || len(inv.Pods) != 1 {
		t.Fatalf("got %d deployments, %d pods; want 1 each", len(inv.Deployments), len(inv.Pods))
	}
	got := inv.Deployments[0]
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %+v", got.ManagedFields)
	}
	if la := got.Annotations[inventory.LastAppliedAnnotation]; la != `{"apiVersion":"apps/v1beta2","kind":"Deployment"}` {
		t.Errorf("last-applied kept as %q, want only apiVersion and kind", la)
	}
	// A pod is kept as the model's Pod, which has no env or command at all.
	if b, err := json.Marshal(inv.Pods[0]); err != nil || strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "init-secret") || strings.Contains(string(b), "TOKEN") {
		t.Errorf("the pod kept its environment: %s (%v)", b, err)
	}
	for _, s := range []corev1.PodSpec{got.Spec.Template.Spec} {
		for _, c := range append(s.InitContainers, s.Containers...) {
			for _, e := range c.Env {
				if e.Value != "" {
					t.Errorf("container %s env %s value kept: %q", c.Name, e.Name, e.Value)
				}
			}
			if c.Command != nil {
				t.Errorf("container %s command kept: %q", c.Name, c.Command)
			}
		}
	}
}

func TestCollectListsEverythingButSecretsAndConfigMaps(t *testing.T) {
	cs := newFake(
		&corev1.Secret{ObjectMeta: objMeta("ns", "s"), StringData: map[string]string{"k": "v"}},
		&corev1.ConfigMap{ObjectMeta: objMeta("ns", "cm"), Data: map[string]string{"k": "v"}},
		&corev1.Node{ObjectMeta: objMeta("", "n1")},
	)
	inv, err := NewForClient(cs, Options{Concurrency: 2}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, a := range cs.Actions() {
		r := a.GetResource()
		if r.Resource == "secrets" || r.Resource == "configmaps" {
			t.Errorf("%s %s: the collector must never read them", a.GetVerb(), r.Resource)
		}
		if a.GetVerb() == "list" {
			listed = append(listed, schema.GroupResource{Group: r.Group, Resource: r.Resource}.String())
		}
	}
	slices.Sort(listed)
	want := []string{
		"daemonsets.apps", "deployments.apps", "endpointslices.discovery.k8s.io", "jobs.batch",
		"mutatingwebhookconfigurations.admissionregistration.k8s.io", "namespaces", "nodes",
		"persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets.policy", "pods",
		"replicasets.apps", "replicationcontrollers", "services", "statefulsets.apps",
		"validatingwebhookconfigurations.admissionregistration.k8s.io",
	}
	if !slices.Equal(listed, want) {
		t.Errorf("listed\n%q\nwant\n%q", listed, want)
	}
	if inv.ServerVersion != testVersion || inv.CollectedAt.IsZero() || len(inv.Nodes) != 1 {
		t.Errorf("inventory: version %q, collected at %v, %d nodes", inv.ServerVersion, inv.CollectedAt, len(inv.Nodes))
	}
}

func TestResourceNamesMatchTheirLists(t *testing.T) {
	// The name in an error must be the resource actually listed, or the
	// RBAC advice points at the wrong thing.
	for i := range resources(newFake()) {
		cs := newFake()
		r := resources(cs)[i]
		if err := r.collect(t.Context(), NewForClient(cs, Options{}), &inventory.Inventory{}, new(sync.Mutex)); err != nil {
			t.Fatal(err)
		}
		a := cs.Actions()
		if len(a) != 1 {
			t.Fatalf("%s: %d actions, want one list", r.name, len(a))
		}
		gr := schema.GroupResource{Group: a[0].GetResource().Group, Resource: a[0].GetResource().Resource}
		if gr.String() != r.name {
			t.Errorf("resource named %q lists %q", r.name, gr.String())
		}
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(&rest.Config{Host: "https://127.0.0.1:6443"}, Options{PageSize: -1, Timeout: -1}); err == nil ||
		!strings.Contains(err.Error(), "page size -1") || !strings.Contains(err.Error(), "timeout -1ns") {
		t.Errorf("New with negative options: err = %v", err)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	c, err := New(&rest.Config{Host: "https://127.0.0.1:6443/some/path"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.opts.Concurrency != 4 || c.opts.PageSize != 500 || c.opts.Timeout != 0 {
		t.Errorf("defaults = %+v", c.opts)
	}
	if c.host != "https://127.0.0.1:6443" {
		t.Errorf("host = %q", c.host)
	}
	bad := NewForClient(newFake(), Options{Concurrency: -2})
	if inv, err := bad.Collect(t.Context()); inv != nil || err == nil {
		t.Errorf("Collect with invalid options = %v, %v; want an error", inv, err)
	}
	if _, err := bad.DeprecatedRequests(context.Background()); err == nil {
		t.Error("DeprecatedRequests with invalid options succeeded")
	}
}

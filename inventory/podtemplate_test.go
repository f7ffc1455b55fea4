package inventory_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// A snapshot writes each pod template once and each pod against it; read
// back, the pods are the ones written, field for field, and the pods of
// one template share its parts.
func TestSnapshotPodTemplates(t *testing.T) {
	inv := synth.Collected(synth.Cluster(synth.Options{Nodes: 12, PodsPerNode: 20}))
	var snap bytes.Buffer
	if err := inv.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	var head struct {
		APIVersion   string            `json:"apiVersion"`
		PodTemplates []json.RawMessage `json:"podTemplates"`
		Items        []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(snap.Bytes(), &head); err != nil {
		t.Fatal(err)
	}
	if head.APIVersion != inventory.SnapshotAPIVersion || len(head.PodTemplates) == 0 || len(head.PodTemplates)*2 > len(inv.Pods) {
		t.Fatalf("snapshot %s holds %d pod templates for %d pods: want some, and fewer than half", head.APIVersion, len(head.PodTemplates), len(inv.Pods))
	}
	got, err := inventory.Read([]string{"-"}, bytes.NewReader(snap.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// Semantic: a quantity may or may not have cached its string form.
	if !equality.Semantic.DeepEqual(got.Pods, inv.Pods) {
		for i := range got.Pods {
			if !equality.Semantic.DeepEqual(got.Pods[i], inv.Pods[i]) {
				t.Fatalf("pod %d read back as\n%#v\n%#v\nwritten as\n%#v\n%#v", i, got.Pods[i].Spec, got.Pods[i].Status, inv.Pods[i].Spec, inv.Pods[i].Status)
			}
		}
		t.Fatalf("read %d pods, wrote %d", len(got.Pods), len(inv.Pods))
	}
	// Pods of one ReplicaSet share their labels and containers.
	shared := 0
	for i := 1; i < len(got.Pods); i++ {
		a, b := got.Pods[i-1], got.Pods[i]
		if len(a.OwnerReferences) == 0 || len(b.OwnerReferences) == 0 || a.OwnerReferences[0].Name != b.OwnerReferences[0].Name {
			continue
		}
		if reflect.ValueOf(a.Labels).Pointer() == reflect.ValueOf(b.Labels).Pointer() &&
			&a.Spec.Containers[0] == &b.Spec.Containers[0] {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("no two pods of one owner share their template's parts")
	}
	// Writing what was read gives the same bytes.
	var again bytes.Buffer
	got.Sources, got.InputDigest = inv.Sources, inv.InputDigest
	if err := got.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), snap.Bytes()) {
		t.Errorf("a snapshot read and written again differs (%d bytes, was %d)", again.Len(), snap.Len())
	}
}

// A pod item that names a template the snapshot lacks, or that sets what
// its template holds, is bad input: one clear error, nothing guessed.
func TestSnapshotPodTemplateErrors(t *testing.T) {
	snapshot := func(templates, pod string) string {
		return `{"apiVersion":"upgate.dev/v1alpha2","kind":"Snapshot","collectedAt":"2026-11-01T12:00:00Z",` +
			`"podTemplates":` + templates + `,"items":[` + pod + `]}`
	}
	tmpl := `[{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"web:1"}]}}]`
	for _, tc := range []struct{ name, doc, want string }{
		{"index past the table", snapshot(tmpl, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"template":3}`), "pod template 3"},
		{"negative index", snapshot(tmpl, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"template":-1}`), "pod template -1"},
		{"sets its labels too", snapshot(tmpl, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a","labels":{"x":"y"}},"template":0}`), "also sets"},
		{"sets its containers too", snapshot(tmpl, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"spec":{"containers":[{"name":"d"}]},"template":0}`), "also sets"},
		{"no table", snapshot(`[]`, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"template":0}`), "pod template 0"},
		{"a bad table", snapshot(`{"x":1}`, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"template":0}`), "podTemplates"},
		{"outside a snapshot", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"template":0}`, "pod template 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inventory.Read([]string{"-"}, strings.NewReader(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	// The template's parts reach the pod.
	inv, err := inventory.Read([]string{"-"}, strings.NewReader(snapshot(tmpl,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},"spec":{"nodeName":"n1"},"template":0}`)))
	if err != nil {
		t.Fatal(err)
	}
	if p := inv.Pods[0]; p.Labels["app"] != "web" || p.Spec.Containers[0].Image != "web:1" || p.Spec.NodeName != "n1" {
		t.Errorf("pod read as %+v", p)
	}
}

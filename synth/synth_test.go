package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/upgate-dev/upgate/inventory"
)

func TestClusterShapeAndDeterminism(t *testing.T) {
	opts := Options{Nodes: 40, PodsPerNode: 30, ManagedFields: true}
	inv := Cluster(opts)
	if len(inv.Nodes) != 40 || len(inv.Pods) != 40*30 {
		t.Fatalf("got %d nodes and %d pods, want 40 and 1200", len(inv.Nodes), len(inv.Pods))
	}
	roles := inv.NodeRoles()
	cps := 0
	for _, r := range roles {
		if r.ControlPlane {
			cps++
		}
	}
	if cps != 3 {
		t.Errorf("%d control-plane nodes, want 3", cps)
	}
	proxy := map[string]bool{}
	for _, p := range inv.Pods {
		if p.Labels["k8s-app"] == "kube-proxy" {
			proxy[p.Spec.NodeName] = true
		}
	}
	if len(proxy) != 40 {
		t.Errorf("kube-proxy runs on %d nodes, want every one of 40", len(proxy))
	}
	var comps []string
	for _, c := range inv.Components() {
		if c.Name == inventory.ComponentAPIServer {
			comps = append(comps, c.Raw)
		}
	}
	if len(comps) != 3 {
		t.Errorf("kube-apiserver components %v, want 3", comps)
	}
	if len(inv.Deployments) == 0 || len(inv.ReplicaSets) != 2*len(inv.Deployments) || len(inv.PodDisruptionBudgets) == 0 ||
		len(inv.PersistentVolumeClaims) == 0 || len(inv.PersistentVolumes) != len(inv.PersistentVolumeClaims) {
		t.Errorf("workloads: %d deployments, %d replicasets, %d pdbs, %d pvcs, %d pvs", len(inv.Deployments),
			len(inv.ReplicaSets), len(inv.PodDisruptionBudgets), len(inv.PersistentVolumeClaims), len(inv.PersistentVolumes))
	}

	var a, b bytes.Buffer
	if err := WriteManifests(&a, inv, ManifestOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifests(&b, Cluster(opts), ManifestOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same options gave different manifests")
	}
	back, err := inventory.Read([]string{"-"}, bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatalf("read the manifests back: %v", err)
	}
	if len(back.Pods) != len(inv.Pods) || len(back.Nodes) != len(inv.Nodes) {
		t.Errorf("read back %d pods and %d nodes", len(back.Pods), len(back.Nodes))
	}
	var s bytes.Buffer
	if err := WriteSnapshot(&s, Cluster(opts)); err != nil {
		t.Fatal(err)
	}
	snap, err := inventory.Read([]string{"-"}, bytes.NewReader(s.Bytes()))
	if err != nil {
		t.Fatalf("read the snapshot back: %v", err)
	}
	if len(snap.Pods) != len(inv.Pods) || snap.ServerVersion != "v1.35.2" || len(snap.APIUsages) == 0 {
		t.Errorf("snapshot read back: %d pods, server %q, %d usages", len(snap.Pods), snap.ServerVersion, len(snap.APIUsages))
	}
}

func TestRootsManifests(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteManifests(&buf, Cluster(Options{Nodes: 12, Kwok: true}), ManifestOptions{Roots: true}); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, it := range list.Items {
		kind, _ := it["kind"].(string)
		md, _ := it["metadata"].(map[string]any)
		switch kind {
		case "ReplicaSet", "EndpointSlice", "Job":
			t.Errorf("roots hold a %s", kind)
		case "Node":
			if md["annotations"].(map[string]any)["kwok.x-k8s.io/node"] != "fake" {
				t.Errorf("node %v is not for kwok", md["name"])
			}
			if st, _ := it["status"].(map[string]any); st["addresses"] != nil {
				t.Errorf("node %v has addresses", md["name"])
			}
		case "Pod":
			if md["ownerReferences"] != nil || it["status"] != nil && len(it["status"].(map[string]any)) > 0 {
				t.Errorf("pod %v keeps owners or status", md["name"])
			}
		}
		for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields"} {
			if md[k] != nil {
				t.Errorf("%s %v keeps metadata.%s", kind, md["name"], k)
			}
		}
	}
}

// TestCompactManifests: the compact List is deterministic, much smaller
// than the full one, and reads back to the same objects, kind by kind.
// cli's TestCompactDumpKeepsFindings shows it gives the same findings.
func TestCompactManifests(t *testing.T) {
	opts := Options{Nodes: 30}
	write := func(o ManifestOptions) []byte {
		var buf bytes.Buffer
		if err := WriteManifests(&buf, Cluster(opts), o); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := write(ManifestOptions{Compact: true}), write(ManifestOptions{Compact: true})
	if !bytes.Equal(a, b) {
		t.Fatal("the same options gave different compact manifests")
	}
	full := write(ManifestOptions{Unindented: true})
	if len(a)*2 > len(full) {
		t.Errorf("compact List is %d bytes, the full one unindented %d", len(a), len(full))
	}
	if !json.Valid(a) || !json.Valid(full) {
		t.Fatal("not valid JSON")
	}
	ca, err := inventory.Read([]string{"-"}, bytes.NewReader(a))
	if err != nil {
		t.Fatalf("read the compact List: %v", err)
	}
	cf, err := inventory.Read([]string{"-"}, bytes.NewReader(full))
	if err != nil {
		t.Fatalf("read the full List: %v", err)
	}
	if got, want := ca.Counts(), cf.Counts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts: compact %v, full %v", got, want)
	}
	for _, k := range []string{`"managedFields"`, `"livenessProbe"`, `"env"`, `"creationTimestamp"`, `"podIP"`, `"images"`} {
		if bytes.Contains(a, []byte(k)) {
			t.Errorf("compact List holds %s", k)
		}
	}
	pods := len(cf.Pods)
	t.Logf("%d objects, %d pods: compact %d bytes, full (unindented) %d", len(bytes.Split(a, []byte("\n")))-2, pods, len(a), len(full))
}

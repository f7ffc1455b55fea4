package inventory

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// v1alpha1Snapshot is a snapshot as the v1alpha1 writer wrote it (every
// object whole, every usage in the head): a small synthetic cluster with
// a node cordoned and one not ready, and usages of every shape: a
// Deployment seen at three other versions and served with a source, an
// Ingress (a kind no check reads), a ReplicaSet with no usage, a Service
// listed twice. Its extension keeps it out of the reads of the whole
// testdata directory.
const v1alpha1Snapshot = "testdata/v1alpha1.snapshot"

// readV1alpha1 reads v1alpha1Snapshot and writes it again as the current
// version.
func readV1alpha1(t *testing.T) (*Inventory, []byte) {
	t.Helper()
	old, err := Read([]string{v1alpha1Snapshot}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cur bytes.Buffer
	if err := old.WriteSnapshot(&cur); err != nil {
		t.Fatal(err)
	}
	return old, cur.Bytes()
}

// A v1alpha2 snapshot leaves out the served usages its items imply, and a
// reader gives the inventory it was written from: the same as reading
// the v1alpha1 snapshot of the same state, usages included and in order,
// whether read as a file or from a report that recorded it.
func TestSnapshotV1alpha2ReadsAsV1alpha1(t *testing.T) {
	old, cur := readV1alpha1(t)
	var head Snapshot
	if err := json.Unmarshal(cur, &head); err != nil {
		t.Fatal(err)
	}
	if head.APIVersion != SnapshotAPIVersion {
		t.Errorf("written as %s, want %s", head.APIVersion, SnapshotAPIVersion)
	}
	implied := len(old.APIUsages) - len(head.APIUsages)
	if objects := len(head.Items); implied < objects-len(head.NotServed) {
		t.Errorf("%d usages left out of %d, for %d items of which %d not served", implied, len(old.APIUsages), objects, len(head.NotServed))
	}
	rs := old.ReplicaSets[1]
	if want := []ObjectRef{{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name}}; !slices.Equal(head.NotServed, want) {
		t.Errorf("notServed = %v, want %v", head.NotServed, want)
	}
	for _, u := range head.APIUsages {
		if u.Via == ViaServed && u.Source == "" && u.Kind != "Ingress" && canonical[u.Kind].String() == u.APIVersion {
			t.Errorf("an implied usage is written: %+v", u)
		}
	}
	for _, kept := range []string{`"apiVersion":"apps/v1beta1","kind":"Deployment"`, `"via":"last-applied-configuration"`,
		`"via":"managedFields"`, `"source":"state.yaml"`, `"kind":"Ingress"`} {
		if !bytes.Contains(cur, []byte(kept)) {
			t.Errorf("the head lacks %s", kept)
		}
	}

	report := `{"apiVersion":"upgate.dev/v1alpha1","kind":"Report","findings":[],"snapshot":` + string(cur) + `}`
	for name, in := range map[string]string{"snapshot": string(cur), "report": report} {
		t.Run(name, func(t *testing.T) {
			back, err := Read([]string{"-"}, strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.APIUsages, old.APIUsages) {
				t.Errorf("usages differ:\nv1alpha1: %v\nv1alpha2: %v", old.APIUsages, back.APIUsages)
			}
			back.Sources, back.InputDigest = old.Sources, old.InputDigest
			if !reflect.DeepEqual(back, old) {
				t.Errorf("the v1alpha2 snapshot reads as another inventory than the v1alpha1 one")
				kindsDiffer(t, old, back)
			}
		})
	}
}

// kindsDiffer names the kinds whose objects differ between a and b.
func kindsDiffer(t *testing.T, a, b *Inventory) {
	t.Helper()
	for _, k := range Kinds {
		var as, bs []any
		k.Each(a, func(o any) { as = append(as, o) })
		k.Each(b, func(o any) { bs = append(bs, o) })
		if !reflect.DeepEqual(as, bs) {
			x, _ := json.Marshal(as)
			y, _ := json.Marshal(bs)
			t.Errorf("%s:\n%s\n---\n%s", k.Kind, x, y)
		}
	}
}

// What a snapshot writes of each kind reads back as what the kind keeps
// (keep.go, wire.go): writing again gives the same bytes, and no field
// nothing reads is written.
func TestSnapshotWritesWhatIsKept(t *testing.T) {
	_, cur := readV1alpha1(t)
	back, err := Read([]string{"-"}, bytes.NewReader(cur))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	back.Sources = []string{v1alpha1Snapshot}
	if err := back.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cur, again.Bytes()) {
		t.Errorf("the snapshot changed on a round trip:\n%s\n---\n%s", cur, again.Bytes())
	}
	items := cur[bytes.Index(cur, []byte(`"items":[`)):]
	for _, line := range bytes.Split(items, []byte("\n")) {
		if bytes.Contains(line, []byte(`"kind":"Pod"`)) {
			continue
		}
		for _, gone := range []string{`"uid"`, `"resourceVersion"`, `"creationTimestamp"`, `"generation"`, `"template"`,
			`"selector":null`, `"clusterIP"`, `"addresses"`, `"targetRef"`, `"machineID"`, `"lastHeartbeatTime"`,
			`"lastTransitionTime"`, `"apiVersion":"apps/v1","kind":"Deployment","name"`, `"matchLabels":{"app`} {
			if bytes.Contains(line, []byte(gone)) && !(gone == `"matchLabels":{"app` && bytes.Contains(line, []byte(`"PodDisruptionBudget"`))) {
				t.Errorf("an item holds %s: %s", gone, line)
			}
		}
	}
	for _, kept := range []string{`"spec":{"replicas":`, `"status":{"observedGeneration":1,"readyReplicas":`,
		`"ownerReferences":[{"kind":"Deployment","name":`, `"nodeInfo":{"kubeletVersion":"v1.35.2"}`,
		`"reason":"KubeletNotReady","message":"container runtime network not ready"`, `"unschedulable":true`,
		`"labels":{"kubernetes.io/service-name":`, `"conditions":{"ready":true}`, `"clientConfig":{"service":{"namespace":`,
		`"allocatable":{"cpu":`} {
		if !bytes.Contains(items, []byte(kept)) {
			t.Errorf("no item holds %s", kept)
		}
	}
}

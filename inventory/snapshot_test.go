package inventory

import (
	"bytes"
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
